//! Tier 4, fifth part: the bundled kubeadm recipe forms a real highly available cluster with
//! stacked etcd on testbed nodes with no route out: three control planes behind HAProxy and a
//! keepalived virtual IP on a load-balancer node, installed from the site's Debian mirror; the
//! first control plane runs `kubeadm init` with the certificates uploaded, the others join as
//! control planes one at a time; then a rerun changes nothing. The world is tests/k8s_support/
//! cluster.rs's: the same mirrors and settings as tests/k8s_multi.rs.

mod common;
#[path = "support/testbed.rs"]
mod testbed;

#[path = "k8s_support/cluster.rs"]
mod cluster;
mod k8s_support;

use std::collections::BTreeMap;

use cluster::{changed, ready, running_on, World};

#[test]
fn the_kubeadm_recipe_forms_a_stacked_ha_cluster_behind_a_virtual_ip_and_reruns_unchanged() {
    let w = World::up(4);
    let gw = w.tb.gateway();
    // An address on the bridge that no node holds: keepalived gives it to node4.
    let vip = format!("{}.100", gw.rsplit_once('.').unwrap().0);
    let vip_set = format!("vip={vip}");
    let args = [
        "--set",
        "topology=ha-stacked",
        "--set",
        "cni=flannel",
        "--set",
        &vip_set,
    ];
    let groups: [(&str, &[&str]); 2] = [
        ("control_plane", &["node1", "node2", "node3"]),
        ("lb", &["node4"]),
    ];

    let first = w.kubeadm(&groups, &args);
    first.code(0);
    let made = changed(&first);
    assert!(
        made["node1"]
            .iter()
            .any(|a| a.starts_with("run kubeadm init")),
        "{made:#?}"
    );
    for cp in ["node2", "node3"] {
        assert!(
            made[cp]
                .iter()
                .any(|a| a.starts_with("run kubeadm join") && a.contains("--control-plane")),
            "{cp} did not join as a control plane: {made:#?}"
        );
    }
    assert!(
        made["node4"].iter().any(|a| a.contains("haproxy")),
        "{made:#?}"
    );
    // HAProxy and keepalived came from the site's Debian mirror.
    let fetched = w.files.requests.lock().unwrap().clone();
    for deb in ["haproxy_", "keepalived_"] {
        assert!(
            fetched
                .iter()
                .any(|p| p.starts_with(&format!("/deb.debian.org/debian/pool/main/{deb}"))),
            "{deb} not fetched: {fetched:#?}"
        );
    }
    assert_eq!(w.nodes(), ready(&["node1", "node2", "node3"]));
    let system = w.pods("kube-system");
    for component in [
        "etcd-",
        "kube-apiserver-",
        "kube-controller-manager-",
        "kube-scheduler-",
    ] {
        running_on(&system, component, &["node1", "node2", "node3"])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // One etcd cluster of three members, as etcd itself says.
    let members = w.kubectl(
        "-n kube-system exec etcd-node1 -- etcdctl --endpoints https://127.0.0.1:2379 \
         --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/server.crt \
         --key /etc/kubernetes/pki/etcd/server.key member list",
    );
    assert_eq!(members.lines().count(), 3, "{members}");
    for n in ["node1", "node2", "node3"] {
        assert!(
            members.contains(&format!(", {n}, ")),
            "{n} is no etcd member: {members}"
        );
    }
    // The API answers through the virtual IP, which node4 holds.
    let through_vip = w.kubectl(&format!("--server https://{vip}:6443 get --raw /readyz"));
    assert_eq!(through_vip, "ok");
    let held = w.tb.ssh("node4", "ip -4 -o addr show host0");
    assert!(
        String::from_utf8_lossy(&held.stdout).contains(&format!("{vip}/")),
        "node4 does not hold {vip}: {}",
        String::from_utf8_lossy(&held.stdout)
    );

    let again = w.kubeadm(&groups, &args);
    again.code(0);
    assert_eq!(changed(&again), BTreeMap::new(), "the rerun changed");
}
