//! Tier 4, fourth part: the bundled recipes themselves, run from this machine over SSH on three
//! testbed nodes that have no route out, through a cluster's life:
//! - the containerd recipe alone installs containerd on node3, then the docker recipe Docker
//!   Engine, which runs a container (reruns change nothing); with Docker's docker0 bridge up,
//!   the kubeadm recipe makes node3 a `single` cluster on node3's own address that runs a
//!   workload and takes `kubectl exec`; the reset recipe undoes it (and Docker, restarted after
//!   the iptables flush, has its NAT rule back);
//! - the kubeadm recipe forms a `multi` cluster of node1 and node2 at the previous minor
//!   (1.36), and changes nothing when run again; node3 (Docker still running) joins as a
//!   worker given with `--limit`, on its own address, while the other nodes change nothing;
//! - the upgrade recipe moves the three to 1.37 with both workers in one batch (`batch=2`):
//!   first a PodDisruptionBudget blocks a drain and the run stops naming it; with the budget
//!   gone the same command resumes where it stopped (the control plane not upgraded again,
//!   both workers drained before either's kubelet moves, then uncordoned); it changes nothing
//!   when run again, nor does the kubeadm recipe at 1.37, and a plan from `galley facts --save`
//!   of the three nodes says so too (as `--check` does); a workload spread over both workers
//!   answers pod to pod across nodes (flannel)
//!   and through its Service's ClusterIP (kube-proxy);
//! - the day-two recipes: an etcd snapshot (also fetched here), restored (objects made since are gone, deleted ones
//!   back), the certificates renewed, the added worker removed.
//!
//! Nothing in the recipes is replaced: they add pkgs.k8s.io's and Docker's apt repositories
//! with their keys, install containerd.io, kubeadm, kubelet and kubectl from them, configure
//! containerd, run kubeadm, and apply flannel's release manifest. The nodes reach all of it only
//! through the mirror settings an air-gapped operator gives (`--mirror`, `--registry-mirror`): a
//! plain HTTP server on the testbed's bridge serving the repositories testbed/k8s-repos.sh
//! builds from our Go-module builds (signed with a key of the run's own), and the real registry
//! holding the images (the workload is agnhost, Kubernetes' own e2e image, built from the
//! kubernetes module). What is checked is checked with the real kubectl on a control plane.
//! What differs from upstream, and why, is in testbed/README.md (the flannel CNI plugin's CNI
//! version, the base userland of the images).

mod common;
#[path = "support/testbed.rs"]
mod testbed;

#[path = "k8s_support/cluster.rs"]
mod cluster;
mod k8s_support;

use std::collections::BTreeMap;

use cluster::{
    assert_did, changed, dial, guarded, netexec, plan_from_saved_facts_agrees, pods_of, ready,
    ready_at, running_on, World,
};
use k8s_support::{K8S_PREVIOUS, K8S_VERSION};

#[test]
fn a_cluster_from_mirrors_formed_upgraded_grown_and_kept_by_the_bundled_recipes() {
    let w = World::up_with(3, &[K8S_PREVIOUS, K8S_VERSION]);
    let old = format!("k8s_version={}", K8S_PREVIOUS.trim_start_matches('v'));
    let new = format!("k8s_version={}", K8S_VERSION.trim_start_matches('v'));
    let multi_old = [
        "--set",
        "topology=multi",
        "--set",
        "cni=flannel",
        "--set",
        &old,
    ];
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

    // The book's order: Docker first (the docker recipe, from the same mirrored repository:
    // Moby's dockerd and the docker CLI built from their modules), so node3 has Docker's bridge
    // docker0 (172.17.0.1, alphabetically before eth0) and Docker's iptables rules before any
    // kubeadm. A rerun changes nothing.
    // Docker mirrors docker.io only: its mirror is the testbed's registry, where agnhost is
    // copied under the name an official docker.io image has (library/).
    let gw = w.tb.gateway();
    let hub = format!("docker.io=http://{gw}:5000");
    let docker = [
        "--limit",
        "node3",
        "--set",
        "docker_version=29.8.0",
        "--registry-mirror",
        &hub,
    ];
    let engine = w.galley("docker", &two, &docker);
    engine.code(0);
    assert_did(&changed(&engine), "node3", |a| {
        a.starts_with("apt install docker-ce=5:29.8.0-* docker-ce-cli=5:29.8.0-*")
    });
    assert_eq!(
        sh(
            &w,
            "node3",
            "docker version --format '{{.Server.Version}}' && docker info --format '{{.CgroupDriver}}'"
        ),
        "29.8.0\nsystemd"
    );
    assert_eq!(
        sh(&w, "node3", "ip -4 -o addr show docker0 | awk '{print $4}'"),
        "172.17.0.1/16"
    );
    // A container runs under it: `agnhost:TAG` is docker.io/library/agnhost, which the node,
    // with no route out, can pull only through the mirror the recipe put in `registry-mirrors`
    // (and, being plain HTTP, in `insecure-registries`).
    let tag = cluster::agnhost().rsplit(':').next().unwrap().to_string();
    let copied = std::process::Command::new(k8s_support::bin("crane"))
        .args(["copy", "--insecure"])
        .arg(format!("{gw}:5000/e2e-test-images/agnhost:{tag}"))
        .arg(format!("{gw}:5000/library/agnhost:{tag}"))
        .output()
        .unwrap();
    assert!(copied.status.success(), "crane copy: {copied:?}");
    let help = sh(
        &w,
        "node3",
        &format!("docker run --rm agnhost:{tag} --help"),
    );
    assert!(help.contains("netexec"), "{help}");
    assert_eq!(
        sh(
            &w,
            "node3",
            "docker info --format '{{.RegistryConfig.Mirrors}}'"
        ),
        format!("[http://{gw}:5000/]")
    );
    let engine = w.galley("docker", &two, &docker);
    engine.code(0);
    assert_eq!(
        changed(&engine),
        BTreeMap::new(),
        "the docker rerun changed"
    );
    let node3 = w.tb.node("node3").address.clone();
    let internal_ip =
        "get node node3 -o jsonpath='{.status.addresses[?(@.type==\"InternalIP\")].address}'";

    // node3 alone: a `single` cluster (of the previous minor, which node3 later joins),
    // whose control plane runs the workloads.
    let alone: [(&str, &[&str]); 1] = [("control_plane", &["node3"])];
    let single = [
        "--set",
        "topology=single",
        "--set",
        "cni=flannel",
        "--set",
        &old,
        "--limit",
        "node3",
    ];
    let made = w.kubeadm(&alone, &single);
    made.code(0);
    assert_did(&changed(&made), "node3", |a| {
        a.starts_with("run kubeadm init")
    });
    assert_eq!(w.nodes_on("node3"), ready_at(&["node3"], K8S_PREVIOUS));
    // Advertised on the inventory's address, not docker0's.
    assert_eq!(w.kubectl_on("node3", internal_ip), node3);
    assert_eq!(
        w.kubectl_on(
            "node3",
            "get endpoints kubernetes -o jsonpath='{.subsets[0].addresses[0].ip}'"
        ),
        node3
    );
    w.apply_on("node3", &netexec("hello", 1));
    w.kubectl_on("node3", "rollout status deployment/hello --timeout=180s");
    running_on(&w.pods_on("node3", "default"), "hello-", &["node3"])
        .unwrap_or_else(|e| panic!("{e}"));
    let pod = &pods_of(&w, "node3", "hello")[0].0;
    // kubectl exec reaches the container (the kubelet names the pod's /etc/hostname after it).
    assert_eq!(
        w.kubectl_on("node3", &format!("exec {pod} -- cat /etc/hostname")),
        *pod
    );
    let again = w.kubeadm(&alone, &single);
    again.code(0);
    assert_eq!(changed(&again), BTreeMap::new(), "the single rerun changed");
    // The reset recipe undoes it: nothing of the cluster is left for node3's next join.
    w.galley(
        "reset",
        &alone,
        &["--limit", "node3", "--set", "confirm=true"],
    )
    .code(0);
    assert_eq!(
        sh(
            &w,
            "node3",
            "ls /etc/kubernetes/manifests /etc/cni/net.d 2>/dev/null | grep -c yaml\\|conf; test -e /etc/kubernetes/kubelet.conf && echo left || echo reset"
        ),
        "0\nreset"
    );
    // The flush took Docker's chains; Docker, restarted, put its NAT rule for docker0 back.
    assert_eq!(
        sh(
            &w,
            "node3",
            "systemctl is-active docker; iptables -t nat -S POSTROUTING | grep -c -- '-s 172.17.0.0/16 ! -o docker0 -j MASQUERADE'"
        ),
        "active\n1"
    );
    // Nor its pod network's interfaces, whose old subnet would stop the next cluster's pods.
    assert_eq!(
        sh(
            &w,
            "node3",
            "ip -o link show | grep -c 'cni0\\|flannel' || true"
        ),
        "0"
    );

    // node1 and node2 at the previous minor.
    let first = w.kubeadm(&two, &multi_old);
    first.code(0);
    let made = changed(&first);
    assert_did(&made, "node1", |a| a.starts_with("run kubeadm init"));
    assert_did(&made, "node2", |a| a.starts_with("run kubeadm join"));
    assert_eq!(w.nodes(), ready_at(&["node1", "node2"], K8S_PREVIOUS));
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
        "/pkgs.k8s.io/core:/stable:/v1.36/deb/Release.key",
        "/pkgs.k8s.io/core:/stable:/v1.36/deb/InRelease",
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
    let v = K8S_PREVIOUS.trim_start_matches('v');
    for p in ["kubeadm", "kubelet", "kubectl"] {
        assert!(installed.contains(&format!("{p} {v}-1.1")), "{installed}");
    }
    assert!(installed.contains("containerd.io 2.4.2-1"), "{installed}");

    // The same run again changes nothing anywhere.
    let again = w.kubeadm(&two, &multi_old);
    again.code(0);
    assert_eq!(changed(&again), BTreeMap::new(), "the rerun changed");

    // node3 joins as a worker; node1 and node2 are read, never changed.
    let three: [(&str, &[&str]); 2] = [
        ("control_plane", &["node1"]),
        ("workers", &["node2", "node3"]),
    ];
    let limited = [&multi_old[..], &["--limit", "node3"]].concat();
    let grow = w.kubeadm(&three, &limited);
    grow.code(0);
    let made = changed(&grow);
    assert_eq!(
        made.keys().collect::<Vec<_>>(),
        ["node3"],
        "only node3 may change: {made:#?}"
    );
    assert_did(&made, "node3", |a| a.starts_with("run kubeadm join"));
    assert_eq!(
        w.nodes(),
        ready_at(&["node1", "node2", "node3"], K8S_PREVIOUS)
    );
    // Joined on its inventory address with Docker still running beside the kubelet.
    assert_eq!(w.kubectl(internal_ip), node3);
    assert_eq!(sh(&w, "node3", "systemctl is-active docker"), "active");

    // The upgrade to the current minor, both workers in one batch (`batch=2`), first against a
    // PodDisruptionBudget that allows no disruption of its one pod: the control plane moves
    // (`kubeadm upgrade apply`), then the drain of the worker that runs the pod cannot finish
    // and the run stops, naming the budget; the workers stay on the old kubelet, that one
    // cordoned.
    w.apply_on("node1", &guarded("guarded"));
    w.kubectl("rollout status deployment/guarded --timeout=180s");
    let held = pods_of(&w, "node1", "guarded")[0].2.clone();
    // 60 s: enough for the other worker's pods to go (CoreDNS took more than 15 s to stop
    // there), so that only the budget can stop the run.
    let up = ["--set", "topology=multi", "--set", &new, "--set", "batch=2"];
    let hurried = [&up[..], &["--set", "drain_timeout=60"]].concat();
    let blocked = w.galley("upgrade", &three, &hurried);
    blocked.code(1);
    let said = format!("{}{}", blocked.stdout, blocked.stderr);
    assert!(
        said.contains(&format!(
            "drain of {held} stopped (kubectl drain, --timeout=60s)"
        )) && said.contains(
            "PodDisruptionBudget default/guarded (minAvailable 1, 0 disruptions allowed now)"
        ),
        "{said}"
    );
    assert_did(&changed(&blocked), "node1", |a| {
        a.starts_with(&format!("run kubeadm upgrade apply {K8S_VERSION}"))
    });
    assert_eq!(
        w.nodes(),
        format!("node1=True {K8S_VERSION}\nnode2=True {K8S_PREVIOUS}\nnode3=True {K8S_PREVIOUS}")
    );
    assert_eq!(
        w.kubectl(&format!(
            "get node {held} -o jsonpath='{{.spec.unschedulable}}'"
        )),
        "true"
    );
    // With the budget gone the same command resumes: node1 is not upgraded again; node2 and
    // node3 get `upgrade node` together, both are drained before either's kubelet moves, then
    // their kubelets and kubectl together, and both are uncordoned.
    w.kubectl("delete poddisruptionbudget guarded");
    let upgrade = w.galley("upgrade", &three, &up);
    upgrade.code(0);
    let made = changed(&upgrade);
    assert!(
        !made
            .get("node1")
            .is_some_and(|a| a.iter().any(|a| a.contains("kubeadm upgrade"))),
        "node1 was upgraded again: {made:#?}"
    );
    for worker in ["node2", "node3"] {
        assert_did(&made, worker, |a| a.starts_with("run kubeadm upgrade node"));
        assert_did(&made, "node1", |a| a.contains(&format!("drain {worker}")));
    }
    let events = upgrade.events();
    let at = |host: &str, what: &dyn Fn(&str) -> bool| {
        events
            .iter()
            .position(|e| {
                e["type"] == "action"
                    && e["host"] == host
                    && e["summary"].as_str().is_some_and(what)
            })
            .unwrap_or_else(|| panic!("no such action on {host}: {}", upgrade.stdout))
    };
    let second_drain = at("node1", &|s| s.contains("drain node3"));
    for worker in ["node2", "node3"] {
        let kubelet = at(worker, &|s| {
            s.starts_with("install") && s.contains("kubelet=")
        });
        assert!(
            second_drain < kubelet,
            "{worker}'s kubelet moved before the batch was drained: {}",
            upgrade.stdout
        );
    }
    w.kubectl("delete deployment guarded");
    assert_eq!(w.nodes(), ready(&["node1", "node2", "node3"]));
    // The new minor's repository and key came from the mirror too.
    let fetched = w.files.requests.lock().unwrap().clone();
    for path in [
        "/pkgs.k8s.io/core:/stable:/v1.37/deb/Release.key",
        "/pkgs.k8s.io/core:/stable:/v1.37/deb/InRelease",
    ] {
        assert!(
            fetched.iter().any(|p| p == path),
            "{path} not fetched: {fetched:#?}"
        );
    }
    assert_eq!(
        w.kubectl("get nodes -o jsonpath='{.items[*].spec.unschedulable}'"),
        "",
        "a node was left cordoned"
    );
    // The control plane, etcd, CoreDNS and kube-proxy are the new minor's, as kubeadm 1.37 pins
    // them (their repository is the registry mirror's: imageRepository follows it).
    w.kubectl("-n kube-system rollout status daemonset/kube-proxy --timeout=180s");
    w.kubectl("-n kube-system rollout status deployment/coredns --timeout=180s");
    let tag = |image: &str| image.rsplit('/').next().unwrap_or("").to_string();
    let running: Vec<String> = w
        .kubectl(
            "get pods -n kube-system -o jsonpath='{range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}'",
        )
        .lines()
        .map(tag)
        .collect();
    for image in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        let want = format!("{image}:{K8S_VERSION}");
        assert!(running.contains(&want), "{want} not running: {running:?}");
    }
    assert!(running.iter().any(|i| i == "etcd:3.7.0-0"), "{running:?}");
    let spec = |what: &str| {
        tag(&w.kubectl(&format!(
            "-n kube-system get {what} -o jsonpath='{{.spec.template.spec.containers[0].image}}'"
        )))
    };
    assert_eq!(
        spec("daemonset/kube-proxy"),
        format!("kube-proxy:{K8S_VERSION}")
    );
    assert_eq!(spec("deployment/coredns"), "coredns:v1.14.6");
    let installed = sh(
        &w,
        "node2",
        "dpkg-query -W -f='${Package} ${Version}\\n' kubeadm kubelet kubectl; apt-mark showhold",
    );
    let v = K8S_VERSION.trim_start_matches('v');
    for p in ["kubeadm", "kubelet", "kubectl"] {
        assert!(installed.contains(&format!("{p} {v}-1.1")), "{installed}");
        assert!(
            installed.lines().any(|l| l == p),
            "{p} not held again: {installed}"
        );
    }
    let again = w.galley("upgrade", &three, &up);
    again.code(0);
    assert_eq!(
        changed(&again),
        BTreeMap::new(),
        "the upgrade rerun changed"
    );
    let again = w.kubeadm(&three, &multi);
    again.code(0);
    assert_eq!(
        changed(&again),
        BTreeMap::new(),
        "the kubeadm recipe after the upgrade changed"
    );

    // What `facts --save` writes of the converged cluster, planned, says what `--check` on it
    // says: nothing to change on any node.
    plan_from_saved_facts_agrees(&w, &three, &multi);

    // A workload on both workers: pod to pod across nodes over flannel, and its Service's
    // ClusterIP through kube-proxy, each asked from a pod (netexec's /dial).
    w.apply_on("node1", &netexec("web", 2));
    w.kubectl("rollout status deployment/web --timeout=180s");
    let pods = pods_of(&w, "node1", "web");
    let on: Vec<&str> = pods.iter().map(|p| p.2.as_str()).collect();
    assert_eq!(on, ["node2", "node3"], "{pods:?}");
    let (a, b) = (&pods[0], &pods[1]);
    assert_eq!(dial(&w, "node1", &a.0, &b.1, 8080, 1), vec![b.0.clone()]);
    assert_eq!(dial(&w, "node1", &b.0, &a.1, 8080, 1), vec![a.0.clone()]);
    let service = w.kubectl("get service web -o jsonpath='{.spec.clusterIP}'");
    let mut answered = dial(&w, "node1", &a.0, &service, 80, 30);
    answered.sort();
    answered.dedup();
    let mut both = vec![a.0.clone(), b.0.clone()];
    both.sort();
    assert_eq!(answered, both, "the Service at {service}");
    assert_eq!(
        w.kubectl(&format!("exec {} -- cat /etc/hostname", b.0)),
        b.0
    );

    // Day two, for real. A snapshot of etcd, checked by etcdutl, on the control plane:
    w.kubectl("create configmap before-backup --from-literal=k=v");
    // It is also copied here (`fetch`), byte for byte.
    let here = tempfile::tempdir().unwrap();
    let fetch = format!("fetch={}/{{host}}-etcd.db", here.path().display());
    w.galley(
        "etcd-backup",
        &three,
        &["--set", "topology=multi", "--set", &fetch],
    )
    .code(0);
    let local = std::process::Command::new("sha256sum")
        .arg(here.path().join("node1-etcd.db"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&local.stdout).split(' ').next(),
        sh(&w, "node1", "sha256sum /var/backups/etcd/snapshot.db")
            .split(' ')
            .next(),
        "the copy here differs from the member's snapshot"
    );
    let snapshot = sh(&w, "node1", "stat -c '%s %a' /var/backups/etcd/snapshot.db");
    let (size, mode) = snapshot.split_once(' ').unwrap();
    assert!(size.parse::<u64>().unwrap() > 100_000, "{snapshot}");
    assert_eq!(mode, "600");
    // The snapshot restored: an object made after it is gone, one deleted after it is back,
    // and the cluster answers with all three nodes Ready.
    w.kubectl("create configmap made-after --from-literal=k=v");
    w.kubectl("delete configmap before-backup");
    let restore = [
        "--set",
        "topology=multi",
        "--set",
        "snapshot=/var/backups/etcd/snapshot.db",
        "--set",
        "confirm=true",
    ];
    let restored = w.galley("etcd-restore", &three, &restore);
    restored.code(0);
    assert_did(&changed(&restored), "node1", |a| {
        a.contains("snapshot restore /var/backups/etcd/snapshot.db")
    });
    assert_eq!(
        w.kubectl("get configmaps -o jsonpath='{.items[*].metadata.name}'"),
        "before-backup kube-root-ca.crt"
    );
    assert_eq!(w.nodes(), ready(&["node1", "node2", "node3"]));
    w.kubectl("rollout status deployment/web --timeout=180s");
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
