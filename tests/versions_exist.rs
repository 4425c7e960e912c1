//! Every version stdlib/versions.rhai names is checked against the releases the Go module proxy
//! lists (`go list -m -versions`), the same list `go install` resolves from: each entry of the
//! "current" profile exists and is the newest stable release of its module, each entry of the
//! "book" profile exists, and each Kubernetes minor's release, etcd and CoreDNS exist (the images
//! are also checked against that kubeadm's own constants). Needs `go` and the proxy (CI has both);
//! the failure names the entry that is wrong.
//!
//! Entries whose module the proxy does not serve are listed in [`NOT_ON_PROXY`] with the command
//! and the error it gives; `the_entries_the_proxy_cannot_check_are_still_not_served` fails the day
//! the proxy serves one, so it is checked from then on.

use std::collections::BTreeMap;
use std::process::Command;

/// The module each checked entry of `of("current")` is released as (see the table's comment).
const MODULES: &[(&str, &str)] = &[
    ("k8s", "k8s.io/kubernetes"),
    ("containerd", "github.com/containerd/containerd/v2"),
    ("docker", "github.com/docker/cli"),
    ("kind", "sigs.k8s.io/kind"),
    ("flannel", "github.com/flannel-io/flannel"),
    ("kube_router", "github.com/cloudnativelabs/kube-router/v2"),
    ("cni_plugins", "github.com/containernetworking/plugins"),
];

/// The module of each checked entry of `of("book")`: older major versions live under other paths
/// (containerd 1.x has no /v2).
const BOOK_MODULES: &[(&str, &str)] = &[
    ("k8s", "k8s.io/kubernetes"),
    ("containerd", "github.com/containerd/containerd"),
    ("kind", "sigs.k8s.io/kind"),
    ("cni_plugins", "github.com/containernetworking/plugins"),
];

/// Entries the proxy cannot check, with the module they would be and what it answers. Every
/// `go list -m -versions MODULE` below fails with
/// `reading https://proxy.golang.org/<module>/@v/list: 403 Forbidden / server response: This
/// module version is not available.` (checked on 2026-12 with GOPROXY=https://proxy.golang.org),
/// except Calico, whose module exists but lists no version: its go.mod says
/// `module github.com/projectcalico/calico` with v3 tags, which Go cannot use (no /v3 path, and
/// `go list -m github.com/projectcalico/calico@v3.29.4` answers 403 for v3.29.4.info).
/// `(profile, key, module)`.
const NOT_ON_PROXY: &[(&str, &str, &str)] = &[
    ("current", "minikube", "k8s.io/minikube"),
    ("current", "calico", "github.com/projectcalico/calico"),
    ("current", "cri_dockerd", "github.com/Mirantis/cri-dockerd"),
    // The maintained fork the recipes install; the archived original is not served either.
    ("current", "weave", "github.com/rajch/weave"),
    ("current", "weave", "github.com/weaveworks/weave"),
    ("book", "minikube", "k8s.io/minikube"),
    ("book", "calico", "github.com/projectcalico/calico"),
    ("book", "cri_dockerd", "github.com/Mirantis/cri-dockerd"),
    ("book", "weave", "github.com/rajch/weave"),
    // `go list -m github.com/docker/cli@v19.03.4+incompatible`: 403 for that version's .info
    // (the proxy serves docker/cli's recent releases only).
    (
        "book",
        "docker",
        "github.com/docker/cli@v19.03.4+incompatible",
    ),
    // `go list -m github.com/flannel-io/flannel@v0.11.0` (and +incompatible, and the old path
    // github.com/coreos/flannel): 403.
    ("book", "flannel", "github.com/flannel-io/flannel@v0.11.0"),
    // kube-router 1.x is the module without /v2: `go list -m -versions
    // github.com/cloudnativelabs/kube-router` answers 403.
    (
        "book",
        "kube_router",
        "github.com/cloudnativelabs/kube-router",
    ),
];

fn versions_rhai() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/stdlib/versions.rhai")).unwrap()
}

/// `key: "value"` pairs of the block that starts at the line containing `start`, up to `end`.
fn block(text: &str, start: &str, end: &str) -> BTreeMap<String, String> {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in versions.rhai"));
    let rest = &text[from + start.len()..];
    let body = &rest[..rest.find(end).unwrap()];
    let re = regex::Regex::new(r#"(?m)^\s*([a-z0-9_]+):\s*"([^"]*)""#).unwrap();
    re.captures_iter(body)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect()
}

/// The released (non-prerelease) versions of a module, without the leading v and +incompatible.
fn released(module: &str) -> Vec<String> {
    let out = Command::new("go")
        .args(["list", "-m", "-versions", module])
        .env("GOFLAGS", "-mod=mod")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap_or_else(|e| panic!("`go list -m -versions {module}` could not run ({e}): this test needs Go and the module proxy"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "`go list -m -versions {module}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.split_whitespace()
        .skip(1)
        .map(|v| {
            v.trim_start_matches('v')
                .trim_end_matches("+incompatible")
                .to_string()
        })
        .collect()
}

/// Whether `module` has release `version` (`go list -m module@vX`, `+incompatible` for modules
/// released without a go.mod of their major version, such as docker/cli).
fn exists(module: &str, version: &str) -> bool {
    [format!("v{version}"), format!("v{version}+incompatible")]
        .iter()
        .any(|v| {
            Command::new("go")
                .args(["list", "-m", &format!("{module}@{v}")])
                .current_dir(std::env::temp_dir())
                .output()
                .unwrap_or_else(|e| panic!("`go list -m {module}@{v}` could not run ({e}): this test needs Go and the module proxy"))
                .status
                .success()
        })
}

/// The newest release of `module` (`go list -m MODULE@latest`: the highest non-prerelease tag),
/// without the leading v and +incompatible.
fn latest(module: &str) -> String {
    let out = Command::new("go")
        .args(["list", "-m", &format!("{module}@latest")])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap_or_else(|e| panic!("`go list -m {module}@latest` could not run ({e}): this test needs Go and the module proxy"));
    assert!(
        out.status.success(),
        "`go list -m {module}@latest` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .trim_start_matches('v')
        .trim_end_matches("+incompatible")
        .to_string()
}

/// Every key of a profile is either checked against a module or listed in [`NOT_ON_PROXY`].
fn unclassified(
    profile: &str,
    table: &BTreeMap<String, String>,
    modules: &[(&str, &str)],
) -> Vec<String> {
    table
        .keys()
        .filter(|k| {
            !modules.iter().any(|(m, _)| m == k)
                && !NOT_ON_PROXY.iter().any(|(p, m, _)| *p == profile && m == k)
        })
        .map(|k| format!("{profile}.{k}: neither checked (MODULES) nor listed in NOT_ON_PROXY"))
        .collect()
}

#[test]
fn every_current_version_is_the_newest_release() {
    let text = versions_rhai();
    let current = block(&text, "\"current\" => #{", "},");
    let mut wrong = unclassified("current", &current, MODULES);
    for (key, module) in MODULES {
        let Some(v) = current.get(*key) else {
            wrong.push(format!("versions.rhai current has no `{key}`"));
            continue;
        };
        if !exists(module, v) {
            let list = released(module);
            wrong.push(format!(
                "current.{key} = {v:?}: {module} has no such release (newest listed: {:?})",
                list.iter().rev().take(3).collect::<Vec<_>>()
            ));
            continue;
        }
        let newest = latest(module);
        if &newest != v {
            wrong.push(format!(
                "current.{key} = {v:?}, but the newest stable release of {module} is {newest}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "stdlib/versions.rhai:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn every_book_version_the_proxy_serves_is_a_release() {
    let text = versions_rhai();
    let book = block(&text, "\"book\" => #{", "},");
    let mut wrong = unclassified("book", &book, BOOK_MODULES);
    for (key, module) in BOOK_MODULES {
        match book.get(*key) {
            None => wrong.push(format!("versions.rhai book has no `{key}`")),
            Some(v) if !exists(module, v) => {
                wrong.push(format!("book.{key} = {v:?}: {module} has no such release"))
            }
            Some(_) => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "stdlib/versions.rhai:\n  {}",
        wrong.join("\n  ")
    );
}

/// The module an etcd image tag ("3.7.0-0") was released as: the server module from 3.5 on, the
/// single pre-modules repository before.
fn etcd_module(tag: &str) -> (&'static str, String) {
    let v = tag.split('-').next().unwrap_or(tag).to_string();
    let minor: u32 = v
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if minor >= 5 {
        ("go.etcd.io/etcd/server/v3", v)
    } else {
        ("go.etcd.io/etcd", v)
    }
}

/// etcd and CoreDNS are not bumped to their newest releases: each minor runs the ones its kubeadm
/// pins (`every_minor_pins_the_images_its_kubeadm_pins`). They must still be real releases.
#[test]
fn every_minor_names_etcd_and_coredns_releases() {
    let text = versions_rhai();
    let row = regex::Regex::new(
        r#""(\d+\.\d+)": #\{ release: "[^"]+", pause: "[^"]+", etcd: "([^"]+)", coredns: "([^"]+)" \}"#,
    )
    .unwrap();
    let mut wrong = Vec::new();
    let mut rows = 0;
    for c in row.captures_iter(&text) {
        rows += 1;
        let (module, v) = etcd_module(&c[2]);
        if !exists(module, &v) {
            wrong.push(format!(
                "minor {}: etcd {} is no release of {module}",
                &c[1], &c[2]
            ));
        }
        let coredns = c[3].trim_start_matches('v');
        if !exists("github.com/coredns/coredns", coredns) {
            wrong.push(format!(
                "minor {}: CoreDNS {} is no release of github.com/coredns/coredns",
                &c[1], &c[3]
            ));
        }
    }
    assert!(rows >= 4, "the per-minor table was not found ({rows} rows)");
    assert!(
        wrong.is_empty(),
        "stdlib/versions.rhai:\n  {}",
        wrong.join("\n  ")
    );
}

/// What [`NOT_ON_PROXY`] says stays true: the proxy still serves none of them. When one starts to
/// be served, move it to MODULES (or BOOK_MODULES) so its version is checked.
#[test]
fn the_entries_the_proxy_cannot_check_are_still_not_served() {
    let mut served = Vec::new();
    for (profile, key, module) in NOT_ON_PROXY {
        let args: Vec<&str> = if module.contains('@') {
            vec!["list", "-m", module]
        } else {
            vec!["list", "-m", "-versions", module]
        };
        let out = Command::new("go")
            .args(&args)
            .env("GOFLAGS", "-mod=mod")
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap_or_else(|e| panic!("`go {}` could not run ({e})", args.join(" ")));
        let text = String::from_utf8_lossy(&out.stdout);
        // Success with at least one version listed (or the pinned version found) means served.
        let listed = text.split_whitespace().count() > 1 || module.contains('@');
        if out.status.success() && listed {
            served.push(format!(
                "{profile}.{key}: `go {}` now answers {:?}: check it in MODULES",
                args.join(" "),
                text.trim()
            ));
        }
    }
    assert!(served.is_empty(), "{}", served.join("\n"));
}

#[test]
fn every_minor_names_a_kubernetes_release_and_current_is_the_newest() {
    let text = versions_rhai();
    let list = released("k8s.io/kubernetes");
    let re = regex::Regex::new(r#""(\d+\.\d+)": #\{ release: "([^"]+)""#).unwrap();
    let mut wrong = Vec::new();
    let mut minors = 0;
    for c in re.captures_iter(&text) {
        minors += 1;
        let (minor, release) = (&c[1], &c[2]);
        if !release.starts_with(&format!("{minor}.")) {
            wrong.push(format!(
                "minor {minor}: release {release} is of another minor"
            ));
        }
        if !exists("k8s.io/kubernetes", release) {
            wrong.push(format!(
                "minor {minor}: k8s.io/kubernetes has no release {release}"
            ));
        }
    }
    assert!(
        minors >= 4,
        "the per-minor table was not found ({minors} rows)"
    );
    // The proxy's list may leave older patches out, never the newest.
    let stable: Vec<&String> = list.iter().filter(|v| !v.contains('-')).collect();
    let newest = stable.last().expect("no kubernetes releases listed");
    let current = block(&text, "\"current\" => #{", "},");
    if current.get("k8s") != Some(newest) {
        wrong.push(format!(
            "current.k8s = {:?} but the newest stable release is {newest}",
            current.get("k8s")
        ));
    }
    assert!(
        wrong.is_empty(),
        "stdlib/versions.rhai:\n  {}",
        wrong.join("\n  ")
    );
}

/// The source of a kubernetes release in the module cache (`go mod download` fetches it once).
fn kubernetes_source(release: &str) -> std::path::PathBuf {
    let out = Command::new("go")
        .args([
            "mod",
            "download",
            "-json",
            &format!("k8s.io/kubernetes@v{release}"),
        ])
        .current_dir(std::env::temp_dir())
        .output()
        .expect("go mod download");
    let info: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("go mod download k8s.io/kubernetes@v{release}: {e}"));
    let dir = info["Dir"].as_str().unwrap_or_else(|| {
        panic!(
            "go mod download k8s.io/kubernetes@v{release}: {}",
            info["Error"]
        )
    });
    dir.into()
}

#[test]
fn every_minor_pins_the_images_its_kubeadm_pins() {
    let text = versions_rhai();
    let row = regex::Regex::new(
        r#""(\d+\.\d+)": #\{ release: "([^"]+)", pause: "([^"]+)", etcd: "([^"]+)", coredns: "([^"]+)" \}"#,
    )
    .unwrap();
    let mut wrong = Vec::new();
    let mut rows = 0;
    for c in row.captures_iter(&text) {
        rows += 1;
        let release = &c[2];
        let constants = kubernetes_source(release).join("cmd/kubeadm/app/constants/constants.go");
        let src = std::fs::read_to_string(&constants).unwrap();
        for (name, ours) in [
            ("PauseVersion", &c[3]),
            ("DefaultEtcdVersion", &c[4]),
            ("CoreDNSVersion", &c[5]),
        ] {
            let re = regex::Regex::new(&format!(r#"\b{name}\s*=\s*"([^"]+)""#)).unwrap();
            let theirs = re.captures(&src).map(|m| m[1].to_string());
            if theirs.as_deref() != Some(ours) {
                wrong.push(format!(
                    "minor {}: {name} is {theirs:?} in kubeadm v{release}, the table says {ours:?}",
                    &c[1]
                ));
            }
        }
    }
    assert!(rows >= 4, "the per-minor table was not found ({rows} rows)");
    assert!(
        wrong.is_empty(),
        "stdlib/versions.rhai:\n  {}",
        wrong.join("\n  ")
    );
}
