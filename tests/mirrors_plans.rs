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

/// The day-two recipes that fetch (upgrade: the next minor's package repository; etcd-restore:
/// the etcd release for etcdutl) on the running clusters of tests/fixtures/facts/day2.
#[test]
fn the_day_two_recipes_fetch_only_from_the_mirrors() {
    // The clusters as an air-gapped kubeadm run leaves them: their repositories on the mirror
    // already (the diffs' old lines must not count as fetches).
    let dirs = tempfile::tempdir().unwrap();
    let day2 = |t: &str, facts: &str, recipe: &str| {
        let dir = dirs.path().join(facts);
        if !dir.exists() {
            std::fs::create_dir(&dir).unwrap();
            let from = recipes_support::fixture(&format!("day2/{facts}"));
            for e in std::fs::read_dir(from).unwrap() {
                let path = e.unwrap().path();
                let text = std::fs::read_to_string(&path)
                    .unwrap()
                    .replace("https://pkgs.k8s.io", &format!("{MIRROR}/pkgs.k8s.io"));
                std::fs::write(dir.join(path.file_name().unwrap()), text).unwrap();
            }
        }
        Job::new(recipe)
            .topology(t)
            .facts(&dir.display().to_string())
    };
    let mut seen = 0;
    for (t, facts) in [
        ("multi", "multi-1.36"),
        ("ha-external-etcd", "ha-external-1.36"),
    ] {
        seen += check(
            &format!("upgrade-{t}"),
            day2(t, facts, "upgrade").set("k8s_version", "1.37.2"),
        );
        seen += check(
            &format!("etcd-restore-{t}"),
            day2(t, facts, "etcd-restore")
                .set("snapshot", "/var/backups/etcd/snapshot.db")
                .set("confirm", "true"),
        );
    }
    assert!(
        seen >= 8,
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
