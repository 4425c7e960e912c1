//! Air-gapped plans: every bundled recipe on every profile, and kubeadm in every topology, planned
//! with a URL mirror for every upstream host. Every URL in every command and every written file
//! (taken from the JSON events) must be a mirror's; a URL outside them is a fetch the air-gapped
//! host could not make. URLs that are not fetches (a unit's `Documentation=`, etcd's own peer and
//! client URLs on the hosts' addresses) are named and left out.

mod recipes_support;

use recipes_support::{plan, Job, PROFILES};

plan_worker!();

const MIRROR: &str = "http://mirror.test:8080";

/// Every host the bundled recipes fetch from, current and book versions.
const UPSTREAMS: &[&str] = &[
    "https://download.docker.com",
    "https://pkgs.k8s.io",
    "https://dl.k8s.io",
    "https://github.com",
    "https://raw.githubusercontent.com",
    "https://storage.googleapis.com",
    "https://packages.cloud.google.com",
    "https://apt.kubernetes.io",
    "https://docs.projectcalico.org",
    "https://projectcalico.docs.tigera.io",
    "https://vault.centos.org",
    "https://proxy.golang.org",
    "https://sum.golang.org",
];

fn mirrored(job: Job) -> Job {
    Job {
        mirrors: UPSTREAMS
            .iter()
            .map(|u| format!("{u}={MIRROR}/{}", u.trim_start_matches("https://")))
            .collect(),
        ..job
    }
}

/// Every http(s) URL in a text, minus the ones that are not fetches.
fn urls(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"https?://[^\s"'\\,;)\]]+"#).unwrap();
    text.lines()
        .filter(|l| {
            !l.trim_start_matches(['+', '-', ' '])
                .starts_with("Documentation=")
        })
        .flat_map(|l| re.find_iter(l).map(|m| m.as_str().to_string()))
        .filter(|u| !is_cluster_address(u))
        .collect()
}

/// etcd's peer and client URLs and the API endpoints: the hosts' own addresses (10.0.0.x in the
/// test inventories) and the control-plane endpoint name.
fn is_cluster_address(u: &str) -> bool {
    let host = u.split("://").nth(1).unwrap_or("").split([':', '/']).next();
    matches!(host, Some(h) if h.starts_with("10.0.0.") || h == "k8s-api.example.internal" || h == "127.0.0.1")
}

fn check(name: &str, job: Job) -> usize {
    let p = plan(&mirrored(job));
    assert_eq!(
        p.code,
        0,
        "{name}: plan failed\n{}\n{}",
        p.render(),
        p.stderr
    );
    let mut outside = Vec::new();
    let mut seen = 0;
    for a in p.actions() {
        let mut texts: Vec<String> = a["commands"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c.to_string())
            .collect();
        texts.push(a["diff"].as_str().unwrap_or("").to_string());
        for t in &texts {
            for u in urls(t) {
                seen += 1;
                if !u.starts_with(MIRROR) {
                    outside.push(format!("{} {}: {u}", a["host"], a["primitive"]));
                }
            }
        }
        for m in a["mirrored"].as_array().into_iter().flatten() {
            seen += 1;
            assert!(
                m["to"].as_str().unwrap_or("").starts_with(MIRROR),
                "{name}: {m}"
            );
        }
    }
    assert!(
        outside.is_empty(),
        "{name}: URLs outside the mirrors:\n{}",
        outside.join("\n")
    );
    seen
}

#[test]
fn every_recipe_on_every_profile_fetches_only_from_the_mirrors() {
    let mut seen = 0;
    for recipe in ["docker", "containerd", "minikube", "kind", "cni"] {
        for profile in PROFILES {
            seen += check(
                &format!("{recipe}-{profile}"),
                Job::new(recipe).profile(profile),
            );
        }
    }
    for recipe in ["docker", "minikube", "kind", "containerd"] {
        seen += check(
            &format!("{recipe}-book-centos7"),
            Job::new(recipe).profile("centos7").set("profile", "book"),
        );
    }
    assert!(
        seen > 40,
        "only {seen} mirrored URLs: is the check looking?"
    );
}

#[test]
fn every_kubeadm_topology_fetches_only_from_the_mirrors() {
    let mut seen = 0;
    for topology in ["single", "multi", "ha-stacked", "ha-external-etcd"] {
        for profile in PROFILES {
            seen += check(
                &format!("kubeadm-{topology}-{profile}"),
                Job::new("kubeadm").profile(profile).topology(topology),
            );
        }
    }
    seen += check(
        "kubeadm-multi-book-centos7",
        Job::new("kubeadm")
            .profile("centos7")
            .set("profile", "book")
            .topology("multi"),
    );
    seen += check(
        "kubeadm-binaries-debian12",
        Job::new("kubeadm")
            .profile("debian12")
            .set("install_method", "binary")
            .topology("single"),
    );
    assert!(
        seen > 40,
        "only {seen} mirrored URLs: is the check looking?"
    );
}

/// The check itself finds a URL that no mirror covers (so a green run means something).
#[test]
fn an_unmirrored_upstream_is_caught() {
    let job = Job {
        mirrors: vec![format!("https://pkgs.k8s.io={MIRROR}/pkgs.k8s.io")],
        ..Job::new("docker").profile("debian12")
    };
    let p = plan(&job);
    assert_eq!(p.code, 0, "{}", p.stderr);
    let found: Vec<String> = p
        .actions()
        .iter()
        .flat_map(|a| urls(a["diff"].as_str().unwrap_or("")))
        .filter(|u| !u.starts_with(MIRROR))
        .collect();
    assert!(
        found
            .iter()
            .any(|u| u.starts_with("https://download.docker.com")),
        "{found:?}"
    );
}

/// kind's `go install` fetches modules through the module proxy: behind the mirrors the proxy and
/// the checksum database are the mirrors' and there is no `direct` fallback; without them Go's
/// own default is spelled out, so the URL check above sees it.
#[test]
fn kind_builds_through_the_mirrored_module_proxy() {
    let go_install = |job: Job| -> String {
        let p = plan(&job);
        assert_eq!(p.code, 0, "{}", p.stderr);
        p.actions()
            .iter()
            .flat_map(|a| a["commands"].as_array().cloned().unwrap_or_default())
            .map(|c| c.to_string())
            .find(|c| c.contains("\"go\",\"install\""))
            .expect("a go install")
    };
    let mirrored = go_install(mirrored(Job::new("kind").profile("debian12")));
    assert!(
        mirrored.contains(&format!("\"GOPROXY={MIRROR}/proxy.golang.org\"")),
        "{mirrored}"
    );
    assert!(
        mirrored.contains(&format!(
            "\"GOSUMDB=sum.golang.org {MIRROR}/sum.golang.org\""
        )),
        "{mirrored}"
    );
    let plain = go_install(Job::new("kind").profile("debian12"));
    assert!(
        plain.contains("\"GOPROXY=https://proxy.golang.org,direct\"") && !plain.contains("GOSUMDB"),
        "{plain}"
    );
}
