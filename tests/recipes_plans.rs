//! Reviewed plans of every bundled recipe on every built-in OS profile, and of kubeadm in each
//! topology (1, 3 and 3+3+3 hosts). A change to a recipe that changes what it would do shows up
//! here as a snapshot diff to review (`cargo insta review`).

mod recipes_support;

use recipes_support::{plan, Job, PROFILES};

plan_worker!();

fn snapshot(name: &str, job: Job) {
    let p = plan(&job);
    assert!(
        p.code == 0,
        "{name}: plan failed (exit {})\n{}\n{}",
        p.code,
        p.render(),
        p.stderr
    );
    insta::with_settings!({ snapshot_suffix => name.to_string(), prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("plan", p.render());
    });
}

fn each_profile(recipe: &str, f: impl Fn(Job) -> Job) {
    for profile in PROFILES {
        snapshot(
            &format!("{recipe}-{profile}"),
            f(Job::new(recipe).profile(profile)),
        );
    }
}

#[test]
fn docker() {
    each_profile("docker", |j| j);
}

#[test]
fn containerd() {
    each_profile("containerd", |j| j);
}

#[test]
fn minikube() {
    each_profile("minikube", |j| j);
}

#[test]
fn kind() {
    each_profile("kind", |j| j);
}

#[test]
fn cni() {
    each_profile("cni", |j| j);
}

#[test]
fn reset() {
    // A host with a cluster on it, so there is something to reset.
    snapshot(
        "reset-converged",
        Job::new("reset")
            .facts(&recipes_support::fixture("converged-rocky9.json"))
            .group("control_plane", &["cp1"])
            .group("workers", &["w1", "w2"]),
    );
}

#[test]
fn kubeadm_single() {
    each_profile("kubeadm-single", |j| {
        Job {
            recipe: "kubeadm".into(),
            ..j
        }
        .topology("single")
    });
}

#[test]
fn kubeadm_multi() {
    each_profile("kubeadm-multi", |j| {
        Job {
            recipe: "kubeadm".into(),
            ..j
        }
        .topology("multi")
    });
}

#[test]
fn kubeadm_ha_stacked() {
    each_profile("kubeadm-ha-stacked", |j| {
        Job {
            recipe: "kubeadm".into(),
            ..j
        }
        .topology("ha-stacked")
    });
}

#[test]
fn kubeadm_ha_external_etcd() {
    each_profile("kubeadm-ha-external-etcd", |j| {
        Job {
            recipe: "kubeadm".into(),
            ..j
        }
        .topology("ha-external-etcd")
    });
}

#[test]
fn book_profile_on_centos7() {
    for recipe in ["docker", "minikube", "kind", "containerd"] {
        snapshot(
            &format!("{recipe}-book-centos7"),
            Job::new(recipe).profile("centos7").set("profile", "book"),
        );
    }
    snapshot(
        "kubeadm-multi-book-centos7",
        Job::new("kubeadm")
            .profile("centos7")
            .set("profile", "book")
            .topology("multi"),
    );
}
