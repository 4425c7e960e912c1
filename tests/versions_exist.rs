//! Every version the "current" profile and the per-minor table of stdlib/versions.rhai name
//! exists: checked against the releases the Go module proxy lists (`go list -m -versions`),
//! the same list `go install` resolves from. Needs `go` and the proxy (CI has both); the failure
//! names the entry that is wrong.

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

#[test]
fn every_current_version_is_a_release() {
    let text = versions_rhai();
    let current = block(&text, "\"current\" => #{", "},");
    let mut wrong = Vec::new();
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
        }
    }
    assert!(
        wrong.is_empty(),
        "stdlib/versions.rhai:\n  {}",
        wrong.join("\n  ")
    );
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
