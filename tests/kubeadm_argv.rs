//! Every kubeadm command line in every kubeadm plan (each topology on each OS profile, the book's
//! profile, and a rerun on a formed cluster) is one kubeadm accepts: each flag is one its
//! subcommand has, and beside `--config` stand only the flags kubeadm's ValidateMixedArguments
//! allows. The tables here are read from kubeadm v1.37.2's cmd/kubeadm/app, independently of
//! stdlib/k8s/kubeadm.rhai, so a recipe that builds a command kubeadm would reject fails here.

mod recipes_support;

use recipes_support::{fixture, plan, Job, PROFILES};

plan_worker!();

/// `isAllowedFlag` in cmd/kubeadm/app/apis/kubeadm/validation/validation.go (and `skip-*`).
const MIXABLE: &[&str] = &[
    "config",
    "ignore-preflight-errors",
    "dry-run",
    "kubeconfig",
    "node-name",
    "kubeconfig-dir",
    "upload-certs",
    "print-manifest",
    "allow-missing-template-keys",
    "output",
    "show-managed-fields",
    "print-join-command",
    "rootfs",
    "v",
    "log-file",
    "yes",
];

/// Flags per subcommand, from the cobra commands in cmd/kubeadm/app/cmd (init.go, join.go,
/// config.go, token.go, certs.go, phases/init/*.go), without the globals v/rootfs/log-file.
fn flags_of(sub: &str) -> Option<&'static [&'static str]> {
    Some(match sub {
        "config images list" => &[
            "kubernetes-version",
            "feature-gates",
            "image-repository",
            "config",
            "kubeconfig",
            "output",
            "allow-missing-template-keys",
            "show-managed-fields",
        ],
        "config images pull" => &[
            "kubernetes-version",
            "feature-gates",
            "image-repository",
            "config",
            "kubeconfig",
            "cri-socket",
        ],
        "init" => &[
            "apiserver-advertise-address",
            "apiserver-bind-port",
            "node-name",
            "certificate-key",
            "service-cidr",
            "pod-network-cidr",
            "service-dns-domain",
            "control-plane-endpoint",
            "kubernetes-version",
            "cert-dir",
            "apiserver-cert-extra-sans",
            "feature-gates",
            "config",
            "ignore-preflight-errors",
            "skip-token-print",
            "dry-run",
            "upload-certs",
            "skip-certificate-key-print",
            "patches",
            "cri-socket",
            "image-repository",
            "kubeconfig",
            "kubeconfig-dir",
            "skip-phases",
            "token",
            "token-ttl",
        ],
        "init phase upload-certs" => &[
            "config",
            "kubeconfig",
            "upload-certs",
            "certificate-key",
            "skip-certificate-key-print",
            "dry-run",
        ],
        s if s.starts_with("init phase certs ") => {
            &["cert-dir", "config", "kubernetes-version", "dry-run"]
        }
        "init phase etcd local" => &[
            "cert-dir",
            "config",
            "image-repository",
            "patches",
            "dry-run",
        ],
        "join" => &[
            "node-name",
            "certificate-key",
            "apiserver-advertise-address",
            "apiserver-bind-port",
            "discovery-token",
            "discovery-token-ca-cert-hash",
            "discovery-token-unsafe-skip-ca-verification",
            "discovery-file",
            "tls-bootstrap-token",
            "config",
            "ignore-preflight-errors",
            "token",
            "control-plane",
            "dry-run",
            "patches",
            "cri-socket",
            "skip-phases",
        ],
        "token list" => &[
            "kubeconfig",
            "dry-run",
            "output",
            "allow-missing-template-keys",
            "show-managed-fields",
        ],
        "token create" => &[
            "config",
            "print-join-command",
            "certificate-key",
            "description",
            "ttl",
            "usages",
            "groups",
            "kubeconfig",
            "dry-run",
        ],
        "certs certificate-key" | "alpha certs certificate-key" => &[],
        // upgrade.go, upgrade/{plan,apply,node}.go, certs.go (the day-two recipes).
        "upgrade plan" => &[
            "config",
            "kubeconfig",
            "allow-experimental-upgrades",
            "allow-release-candidate-upgrades",
            "etcd-upgrade",
            "ignore-preflight-errors",
            "output",
            "print-config",
            "allow-missing-template-keys",
            "show-managed-fields",
        ],
        "upgrade apply" => &[
            "config",
            "kubeconfig",
            "allow-experimental-upgrades",
            "allow-release-candidate-upgrades",
            "certificate-renewal",
            "dry-run",
            "etcd-upgrade",
            "force",
            "ignore-preflight-errors",
            "patches",
            "print-config",
            "skip-phases",
            "yes",
        ],
        "upgrade node" => &[
            "config",
            "kubeconfig",
            "certificate-renewal",
            "dry-run",
            "etcd-upgrade",
            "ignore-preflight-errors",
            "patches",
            "skip-phases",
        ],
        "certs check-expiration" => &[
            "cert-dir",
            "config",
            "kubeconfig",
            "output",
            "allow-missing-template-keys",
            "show-managed-fields",
        ],
        "certs renew all" => &["cert-dir", "config", "kubeconfig"],
        "version" => &["output"],
        "reset" => &[
            "cert-dir",
            "cri-socket",
            "force",
            "ignore-preflight-errors",
            "config",
            "dry-run",
            "kubeconfig",
            "skip-phases",
            "cleanup-tmp-dir",
        ],
        _ => return None,
    })
}

/// The subcommands kubeadm runs ValidateMixedArguments for.
fn checks_mixing(sub: &str) -> bool {
    ["init", "join", "reset", "token", "upgrade"]
        .iter()
        .any(|p| sub.starts_with(p))
}

/// What kubeadm would reject in `argv` (["kubeadm", ...]).
fn problems(argv: &[String]) -> Vec<String> {
    let words: Vec<&str> = argv[1..]
        .iter()
        .take_while(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    // The longest known subcommand the leading words name ("join" takes a positional endpoint).
    let sub = (1..=words.len())
        .rev()
        .map(|n| words[..n].join(" "))
        .find(|s| flags_of(s).is_some());
    let Some(sub) = sub else {
        return vec![format!("unknown kubeadm subcommand in {argv:?}")];
    };
    let known = flags_of(&sub).unwrap();
    let given: Vec<&str> = argv
        .iter()
        .filter_map(|a| a.strip_prefix("--"))
        .map(|a| a.split('=').next().unwrap_or(a))
        .collect();
    let mut out = Vec::new();
    for f in &given {
        if !known.contains(f) && !["v", "rootfs", "log-file"].contains(f) {
            out.push(format!("`kubeadm {sub}` has no --{f}"));
        }
    }
    if checks_mixing(&sub) && given.contains(&"config") {
        let bad: Vec<&&str> = given
            .iter()
            .filter(|f| !MIXABLE.contains(f) && !f.starts_with("skip-"))
            .collect();
        if !bad.is_empty() {
            out.push(format!("`kubeadm {sub}` cannot mix --config with {bad:?}"));
        }
    }
    out
}

/// Every kubeadm argv the plan would run (or probes with), with what is wrong with each.
fn check(name: &str, job: Job) -> usize {
    let p = plan(&job);
    assert_eq!(
        p.code,
        0,
        "{name}: plan failed\n{}\n{}",
        p.render(),
        p.stderr
    );
    let mut seen = 0;
    let mut bad = Vec::new();
    for a in p.actions() {
        for c in a["commands"].as_array().into_iter().flatten() {
            let argv: Vec<String> = c
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| x.as_str().unwrap_or("").to_string())
                .collect();
            if argv.first().map(String::as_str) != Some("kubeadm") {
                continue;
            }
            seen += 1;
            for problem in problems(&argv) {
                bad.push(format!("{}: {problem}\n    {}", a["host"], argv.join(" ")));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{name}: kubeadm would refuse:\n  {}",
        bad.join("\n  ")
    );
    seen
}

#[test]
fn the_rule_itself_catches_what_kubeadm_rejects() {
    let v = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    assert!(!problems(&v("kubeadm init --config f --certificate-key k")).is_empty());
    assert!(!problems(&v("kubeadm config images list --cri-socket s")).is_empty());
    assert!(!problems(&v(
        "kubeadm init phase upload-certs --upload-certs --config f --certificate-key k"
    ))
    .is_empty());
    assert!(problems(&v(
        "kubeadm init --config f --upload-certs --skip-phases addon/kube-proxy"
    ))
    .is_empty());
    assert!(problems(&v(
        "kubeadm join 10.0.0.1:6443 --token t --discovery-token-ca-cert-hash h --cri-socket s"
    ))
    .is_empty());
}

#[test]
fn every_topology_on_every_profile() {
    for profile in PROFILES {
        for topology in ["single", "multi", "ha-stacked", "ha-external-etcd"] {
            let n = check(
                &format!("{topology} on {profile}"),
                Job::new("kubeadm").profile(profile).topology(topology),
            );
            assert!(n >= 3, "{topology} on {profile}: only {n} kubeadm commands");
        }
    }
}

#[test]
fn the_book_profile_and_the_other_runtimes() {
    check(
        "book multi",
        Job::new("kubeadm")
            .profile("centos7")
            .set("profile", "book")
            .topology("multi"),
    );
    check(
        "ha-external-etcd with cri-dockerd and a mirror",
        Job::new("kubeadm")
            .profile("ubuntu22.04")
            .topology("ha-external-etcd")
            .set("runtime", "cri-dockerd")
            .set("image_repository", "mirror.example.internal/k8s"),
    );
}

#[test]
fn reset_on_a_formed_cluster() {
    let n = check(
        "reset",
        Job::new("reset")
            .facts(&fixture("converged-rocky9.json"))
            .group("control_plane", &["cp1"])
            .group("workers", &["w1", "w2"]),
    );
    assert_eq!(n, 3, "one kubeadm reset per node");
}

#[test]
fn a_rerun_on_a_formed_cluster_with_control_planes_to_join() {
    // cp1 is formed (the converged facts), cp2/cp3 are not: the certificates are uploaded again.
    let dir = tempfile::tempdir().unwrap();
    let conv = std::fs::read_to_string(fixture("converged-rocky9.json")).unwrap();
    let fresh =
        std::fs::read_to_string(recipes_support::root().join("profiles/rocky9.json")).unwrap();
    for (host, text, n) in [("cp1", &conv, 11), ("cp2", &fresh, 12), ("cp3", &fresh, 13)] {
        let mut f: serde_json::Value = serde_json::from_str(text).unwrap();
        f["facts"]["hostname"] = host.into();
        f["facts"]["product_uuid"] = format!("00000000-0000-4000-8000-0000000000{n}").into();
        f["facts"]["interfaces"] = serde_json::json!([
            { "name": "lo", "mac": "00:00:00:00:00:00", "addresses": ["127.0.0.1/8"] },
            { "name": "eth0", "mac": format!("52:54:00:00:00:{n}"), "addresses": [format!("10.0.0.{n}/24")] },
        ]);
        std::fs::write(dir.path().join(format!("{host}.json")), f.to_string()).unwrap();
    }
    for (host, n) in [("etcd1", 21), ("etcd2", 22), ("etcd3", 23)] {
        let mut f: serde_json::Value = serde_json::from_str(&fresh).unwrap();
        f["facts"]["hostname"] = host.into();
        f["facts"]["product_uuid"] = format!("00000000-0000-4000-8000-0000000000{n}").into();
        f["facts"]["interfaces"] = serde_json::json!([
            { "name": "eth0", "mac": format!("52:54:00:00:00:{n}"), "addresses": [format!("10.0.0.{n}/24")] },
        ]);
        std::fs::write(dir.path().join(format!("{host}.json")), f.to_string()).unwrap();
    }
    let job = Job::new("kubeadm")
        .facts(&dir.path().display().to_string())
        .group("control_plane", &["cp1", "cp2", "cp3"])
        .group("etcd", &["etcd1", "etcd2", "etcd3"])
        .address("etcd1", "10.0.0.21")
        .address("etcd2", "10.0.0.22")
        .address("etcd3", "10.0.0.23")
        .set("control_plane_endpoint", "k8s-api.example.internal:6443")
        .set("topology", "ha-external-etcd");
    let p = plan(&job);
    assert!(
        p.text()
            .contains("kubeadm init phase upload-certs --upload-certs --config"),
        "no upload-certs on the rerun:\n{}",
        p.render()
    );
    check("ha-external-etcd rerun", job);
}

/// The day-two recipes on the running clusters of tests/fixtures/facts/day2: every kubeadm
/// command they would run (upgrade plan/apply/node, certs, reset) is one kubeadm accepts.
#[test]
fn the_day_two_recipes_on_running_clusters() {
    let day2 = |name: &str| fixture(&format!("day2/{name}"));
    for (t, facts) in [
        ("multi", "multi-1.36"),
        ("ha-stacked", "ha-stacked-1.36"),
        ("ha-external-etcd", "ha-external-1.36"),
    ] {
        let on = |recipe: &str| Job::new(recipe).topology(t).facts(&day2(facts));
        let n = check(
            &format!("upgrade {t}"),
            on("upgrade").set("k8s_version", "1.37.2"),
        );
        assert!(n >= 4, "upgrade {t}: only {n} kubeadm commands");
        check(&format!("certs {t}"), on("certs").set("renew", "true"));
        let mut removal = on("remove-node").set("node", "w1");
        removal.sets.retain(|(k, _)| k == "node");
        assert_eq!(
            check(&format!("remove-node {t}"), removal),
            1,
            "one kubeadm reset"
        );
    }
}
