//! Wrong settings stop the kubeadm recipe with a message that says what to do, before any host
//! is touched: no action at all is recorded.

mod recipes_support;

use galley::facts::Fixture;
use recipes_support::{plan, Job, Plan};

plan_worker!();

fn refused(job: Job, wanted: &[&str]) -> Plan {
    let p = plan(&job);
    assert_ne!(p.code, 0, "the plan should have failed:\n{}", p.render());
    let err = p
        .error()
        .unwrap_or_else(|| panic!("no error event:\n{}\n{}", p.render(), p.stderr));
    for w in wanted {
        assert!(err.contains(w), "error lacks {w:?}:\n{err}");
    }
    assert!(
        p.actions().is_empty(),
        "hosts were touched before the error:\n{}",
        p.render()
    );
    p
}

#[test]
fn pod_cidr_that_the_cni_does_not_use() {
    let p = refused(
        Job::new("kubeadm")
            .profile("rocky9")
            .topology("single")
            .set("cni", "flannel")
            .set("pod_cidr", "192.168.0.0/16"),
        &["pod_cidr=192.168.0.0/16", "flannel", "10.244.0.0/16"],
    );
    assert_eq!(p.code, 2, "bad settings are a usage error (refuse)");
    refused(
        Job::new("kubeadm")
            .profile("centos7")
            .topology("single")
            .set("profile", "book")
            .set("pod_cidr", "10.244.0.0/16"),
        &["calico 3.8", "192.168.0.0/16"],
    );
}

#[test]
fn pod_cidr_overlapping_the_hosts_network() {
    // The test inventory's hosts live in 10.0.0.0/24.
    refused(
        Job::new("kubeadm")
            .profile("rocky9")
            .topology("single")
            .set("pod_cidr", "10.0.0.0/16"),
        &["overlaps the hosts' network 10.0.0.11/24"],
    );
}

#[test]
fn docker_runtime_with_a_kubelet_without_dockershim() {
    refused(
        Job::new("kubeadm")
            .profile("rocky9")
            .topology("single")
            .set("runtime", "docker")
            .set("k8s_version", "1.35.4"),
        &[
            "runtime=docker needs Kubernetes before 1.24",
            "1.35.4",
            "cri-dockerd",
        ],
    );
}

#[test]
fn ha_stacked_without_an_endpoint() {
    refused(
        Job::new("kubeadm")
            .profile("rocky9")
            .group("control_plane", &["cp1", "cp2", "cp3"])
            .group("workers", &["w1"])
            .set("topology", "ha-stacked"),
        &[
            "topology=ha-stacked needs a load-balanced endpoint",
            "control_plane_endpoint",
            "vip",
        ],
    );
}

#[test]
fn topology_and_inventory_disagree() {
    refused(
        Job::new("kubeadm")
            .profile("rocky9")
            .topology("multi")
            .set("topology", "single"),
        &["topology=single is one host", "use topology=multi"],
    );
    refused(
        Job::new("kubeadm")
            .profile("rocky9")
            .topology("ha-stacked")
            .set("topology", "ha-external-etcd"),
        &["needs an etcd group"],
    );
}

#[test]
fn duplicate_product_uuid_names_the_clashing_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let base = Fixture::profile("rocky9").unwrap();
    for (i, h) in ["cp1", "w1", "w2"].iter().enumerate() {
        let mut f = base.clone();
        f.facts.hostname = h.to_string();
        if let Some(nic) = f.facts.interfaces.iter_mut().find(|n| n.name != "lo") {
            nic.mac = format!("52:54:00:00:00:{:02x}", i + 1);
            nic.addresses = vec![format!("10.0.0.{}/24", 11 + i)];
        }
        // w1 and w2 are clones: the same product_uuid.
        f.facts.product_uuid = if *h == "cp1" {
            "uuid-cp1-0001".into()
        } else {
            "uuid-clone-0002".into()
        };
        std::fs::write(
            dir.path().join(format!("{h}.json")),
            serde_json::to_string(&f).unwrap(),
        )
        .unwrap();
    }
    refused(
        Job::new("kubeadm")
            .facts(&dir.path().display().to_string())
            .topology("multi"),
        &["product_uuid uuid-clone-0002 is shared by w1, w2", "(P2)"],
    );
}

#[test]
fn duplicate_mac_and_hostname_too() {
    let dir = tempfile::tempdir().unwrap();
    let base = Fixture::profile("debian12").unwrap();
    for (i, h) in ["cp1", "w1", "w2"].iter().enumerate() {
        let mut f = base.clone();
        f.facts.hostname = if *h == "cp1" {
            "cp1".into()
        } else {
            "node".into()
        };
        f.facts.product_uuid = format!("uuid-{h}");
        if let Some(nic) = f.facts.interfaces.iter_mut().find(|n| n.name != "lo") {
            nic.mac = if *h == "cp1" {
                "52:54:00:aa:00:01".into()
            } else {
                "52:54:00:aa:00:02".into()
            };
            nic.addresses = vec![format!("10.0.0.{}/24", 11 + i)];
        }
        std::fs::write(
            dir.path().join(format!("{h}.json")),
            serde_json::to_string(&f).unwrap(),
        )
        .unwrap();
    }
    refused(
        Job::new("kubeadm")
            .facts(&dir.path().display().to_string())
            .topology("multi"),
        &[
            "MAC 52:54:00:aa:00:02 is shared by w1, w2",
            "hostname node is shared by w1, w2",
        ],
    );
}

#[test]
fn unknown_values_list_the_known_ones() {
    refused(
        Job::new("kubeadm")
            .profile("rocky9")
            .topology("single")
            .set("cni", "cilium"),
        &["cni=cilium is not one of", "calico", "kube-router"],
    );
    refused(
        Job::new("kubeadm")
            .profile("rocky9")
            .topology("single")
            .set("topology", "star"),
        &["topology=star is not one of"],
    );
    refused(
        Job::new("kubeadm")
            .profile("rocky9")
            .topology("single")
            .set("profile", "2019"),
        &["unknown profile \"2019\""],
    );
}
