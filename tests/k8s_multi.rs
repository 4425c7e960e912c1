//! Tier 4, fourth part: the bundled kubeadm recipe itself, run from this machine over SSH, forms
//! a real multi-node cluster on testbed nodes that have no route out, changes nothing when run
//! again, and adds a worker given with `--limit` while the other nodes change nothing. Before
//! that, the containerd recipe alone installs and configures containerd on the later worker;
//! after it, the day-two recipes run for real: an etcd snapshot, the certificates renewed, and
//! the added worker removed.
//!
//! Nothing in the recipe is replaced: it adds pkgs.k8s.io's and Docker's apt repositories with
//! their keys, installs containerd.io, kubeadm, kubelet and kubectl from them, configures
//! containerd, runs `kubeadm init` and `kubeadm join`, and applies flannel's release manifest.
//! The nodes reach all of it only through the mirror settings an air-gapped operator gives
//! (`--mirror`, `--registry-mirror`): a plain HTTP server on the testbed's bridge serving the
//! repositories testbed/k8s-repos.sh builds from our Go-module builds (signed with a key of the
//! run's own), and the real registry holding the images. What is checked is checked with the
//! real kubectl on the control plane. What differs from upstream, and why, is in
//! testbed/README.md (the flannel CNI plugin's CNI version, the base userland of the images).

mod common;
#[path = "support/testbed.rs"]
mod testbed;

#[path = "k8s_support/cluster.rs"]
mod cluster;
mod k8s_support;

use std::collections::BTreeMap;

use cluster::{assert_did, changed, ready, running_on, World};
use k8s_support::K8S_VERSION;

#[test]
fn the_kubeadm_recipe_forms_a_cluster_from_mirrors_reruns_unchanged_and_adds_a_worker() {
    let w = World::up(3);
    let multi = ["--set", "topology=multi", "--set", "cni=flannel"];
    let two: [(&str, &[&str]); 2] = [("control_plane", &["node1"]), ("workers", &["node2"])];

    // The containerd recipe alone on node3, from Docker's mirrored repository; again: nothing.
    let runtime = w.galley("containerd", &two, &["--limit", "node3"]);
    runtime.code(0);
    assert!(
        changed(&runtime)["node3"]
            .iter()
            .any(|a| a.starts_with("apt install containerd.io=2.4.2-")),
        "{}",
        runtime.stdout
    );
    let active = w.tb.ssh("node3", "systemctl is-active containerd");
    assert_eq!(String::from_utf8_lossy(&active.stdout).trim(), "active");
    let runtime = w.galley("containerd", &two, &["--limit", "node3"]);
    runtime.code(0);
    assert_eq!(
        changed(&runtime),
        BTreeMap::new(),
        "the containerd rerun changed"
    );

    // node1 and node2 first.
    let first = w.kubeadm(&two, &multi);
    first.code(0);
    let made = changed(&first);
    assert_did(&made, "node1", |a| a.starts_with("run kubeadm init"));
    assert_did(&made, "node2", |a| a.starts_with("run kubeadm join"));
    assert_eq!(w.nodes(), ready(&["node1", "node2"]));
    running_on(
        &w.pods("kube-flannel"),
        "kube-flannel-ds-",
        &["node1", "node2"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // The Service network works from the pod network: CoreDNS (on flannel's network) reaches
    // the API server through kube-proxy's rules for 10.96.0.1, or it never becomes Ready.
    w.kubectl("wait --for=condition=Ready pod -l k8s-app=kube-dns -n kube-system --timeout=180s");
    running_on(&w.pods("kube-system"), "kube-proxy-", &["node1", "node2"])
        .unwrap_or_else(|e| panic!("{e}"));
    // The nodes have no curl or wget: the repositories' keys went through galley's connection.
    assert!(
        first.events().iter().any(|e| e["host"] == "node1"
            && e["primitive"] == "apt_repo"
            && e["summary"]
                .as_str()
                .is_some_and(|s| s.contains("relayed by galley"))),
        "no key was relayed: {}",
        first.stdout
    );
    // The packages came from the mirror's repositories, signed and checked.
    let fetched = w.files.requests.lock().unwrap().clone();
    for path in [
        "/pkgs.k8s.io/core:/stable:/v1.37/deb/Release.key",
        "/pkgs.k8s.io/core:/stable:/v1.37/deb/InRelease",
        "/download.docker.com/linux/debian/gpg",
        "/download.docker.com/linux/debian/dists/bookworm/InRelease",
        "/github.com/flannel-io/flannel/releases/download/v0.28.10/kube-flannel.yml",
    ] {
        assert!(
            fetched.iter().any(|p| p == path),
            "{path} not fetched: {fetched:#?}"
        );
    }
    let installed = w.tb.ssh(
        "node2",
        "dpkg-query -W -f='${Package} ${Version}\\n' kubeadm kubelet kubectl containerd.io",
    );
    let installed = String::from_utf8_lossy(&installed.stdout).to_string();
    let v = K8S_VERSION.trim_start_matches('v');
    for p in ["kubeadm", "kubelet", "kubectl"] {
        assert!(installed.contains(&format!("{p} {v}-1.1")), "{installed}");
    }
    assert!(installed.contains("containerd.io 2.4.2-1"), "{installed}");

    // The same run again changes nothing anywhere.
    let again = w.kubeadm(&two, &multi);
    again.code(0);
    assert_eq!(changed(&again), BTreeMap::new(), "the rerun changed");

    // node3 joins as a worker; node1 and node2 are read, never changed.
    let three: [(&str, &[&str]); 2] = [
        ("control_plane", &["node1"]),
        ("workers", &["node2", "node3"]),
    ];
    let limited = [&multi[..], &["--limit", "node3"]].concat();
    let grow = w.kubeadm(&three, &limited);
    grow.code(0);
    let made = changed(&grow);
    assert_eq!(
        made.keys().collect::<Vec<_>>(),
        ["node3"],
        "only node3 may change: {made:#?}"
    );
    assert_did(&made, "node3", |a| a.starts_with("run kubeadm join"));
    assert_eq!(w.nodes(), ready(&["node1", "node2", "node3"]));

    // The whole inventory, without --limit: the three-node cluster is converged.
    let all = w.kubeadm(&three, &multi);
    all.code(0);
    assert_eq!(changed(&all), BTreeMap::new(), "the full rerun changed");

    // Day two, for real. A snapshot of etcd, checked by etcdutl, on the control plane:
    w.galley("etcd-backup", &three, &["--set", "topology=multi"])
        .code(0);
    let snapshot = sh(&w, "node1", "stat -c '%s %a' /var/backups/etcd/snapshot.db");
    let (size, mode) = snapshot.split_once(' ').unwrap();
    assert!(size.parse::<u64>().unwrap() > 100_000, "{snapshot}");
    assert_eq!(mode, "600");
    // The certificates renewed, the control plane restarted on them, and answering:
    let cert = "sha256sum /etc/kubernetes/pki/apiserver.crt /etc/kubernetes/admin.conf";
    let before = sh(&w, "node1", cert);
    w.galley(
        "certs",
        &three,
        &["--set", "topology=multi", "--set", "renew=true"],
    )
    .code(0);
    assert_ne!(sh(&w, "node1", cert), before, "nothing was renewed");
    assert_eq!(w.kubectl("get --raw /readyz"), "ok");
    // node3 removed: drained, deleted, reset.
    w.galley("remove-node", &three, &["--set", "node=node3"])
        .code(0);
    assert_eq!(w.nodes(), ready(&["node1", "node2"]));
    assert_eq!(
        sh(
            &w,
            "node3",
            "test -e /etc/kubernetes/kubelet.conf && echo left || echo reset"
        ),
        "reset"
    );
}

fn sh(w: &World, node: &str, cmd: &str) -> String {
    let out = w.tb.ssh(node, cmd);
    assert!(
        out.status.success(),
        "{node}: `{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
