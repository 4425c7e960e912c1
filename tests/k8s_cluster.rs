//! Tier 4, third part: a real single-node cluster, formed by galley with the kubeadm recipe's own
//! stdlib steps, on a testbed node booted with systemd.
//!
//! Everything is real: the kubelet, kubeadm, the control-plane images (built from the Kubernetes,
//! etcd, CoreDNS and pause sources by testbed/k8s-artifacts.sh, pushed with crane into a real
//! registry that serves them on the testbed's bridge), containerd 2.4 and runc. The node reaches
//! the registry only through the mirror settings a user would give (`--registry-mirror
//! registry.k8s.io=http://…`), which galley writes as containerd's hosts.toml and kubeadm's
//! imageRepository. galley runs inside the node: containerd's configuration from its own
//! `config default`, `kubeadm config images pull`, `kubeadm init --config` with galley's
//! configuration, the kubeconfig, a bridge CNI, and a wait until the node is Ready. Then the
//! same recipe runs again and must change nothing. What is checked is checked with the real
//! kubectl, inside the node.
//!
//! Not here yet (see testbed/README.md): the package repositories (the recipe's install steps),
//! joins and the multi-node topologies, kube-proxy (its image lacks iptables) and a CNI plugin
//! from the recipe.

#[path = "support/testbed.rs"]
mod testbed;

mod k8s_support;

use std::path::PathBuf;
use std::process::Command;

use k8s_support::mirrors::Registry;
use k8s_support::K8S_VERSION;

fn k8s_node_script() -> PathBuf {
    testbed::k8s_node_script()
}

fn sh(tb: &testbed::Testbed, cmd: &str) -> String {
    let out = tb.ssh("node1", cmd);
    assert!(
        out.status.success(),
        "node1: `{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const RECIPE: &str = r#"//! A single-node cluster on this host from the kubeadm recipe's own steps.
import "k8s/topology" as topology;
import "k8s/cluster" as cluster;
import "runtimes/containerd" as containerd;
import "versions" as versions;

let c = topology::of(#{ topology: "single", k8s_version: "K8S" });
sysctl("net.ipv4.ip_forward", "1");
sysctl("net.bridge.bridge-nf-call-iptables", "1");
// The node may not lower OOM scores (no CAP_SYS_RESOURCE): configure sees it in the facts.
containerd::configure(false, versions::pause_image(c.k8s, c.image_repository));
cluster::pull_images(c);
cluster::init(c, "");
cluster::kubeconfig("root");
ensure_dir("/etc/cni/net.d");
write_file("/etc/cni/net.d/10-bridge.conflist", `{"cniVersion":"1.0.0","name":"bridge","plugins":[{"type":"bridge","bridge":"cni0","isGateway":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.0.0/24"}]]}},{"type":"portmap","capabilities":{"portMappings":true}}]}`);
wait_ready(#{ kube: "nodes", count: 1, timeout: 300, kubeconfig: cluster::admin_conf() });
"#;

/// Runs the recipe in node1 through the registry mirror: (exit code, `status primitive summary`
/// per action, stderr).
fn galley(tb: &testbed::Testbed, mirror: &str) -> (i32, Vec<String>, String) {
    let recipe = RECIPE.replace("K8S", K8S_VERSION.trim_start_matches('v'));
    let (code, events, stderr) = tb.galley(
        "node1",
        &recipe,
        &format!("--registry-mirror registry.k8s.io={mirror}"),
    );
    (code, testbed::actions(&events), stderr)
}

#[test]
fn galley_forms_a_real_single_node_cluster_and_a_rerun_changes_nothing() {
    let tb = testbed::Testbed::up_for_kubernetes(1).unwrap_or_else(|e| panic!("{e}"));
    let registry_address = format!("{}:5000", tb.gateway());
    let _registry = Registry::start(&registry_address);
    let pushed = Command::new("bash")
        .arg(k8s_node_script())
        .args(["images", K8S_VERSION, &registry_address])
        .output()
        .unwrap();
    assert!(
        pushed.status.success(),
        "k8s-node.sh images: {}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    tb.prep_kubernetes("node1")
        .unwrap_or_else(|e| panic!("{e}"));
    tb.install_galley("node1");
    let mirror = format!("http://{registry_address}");

    let (code, actions, stderr) = galley(&tb, &mirror);
    assert_eq!(
        code,
        0,
        "first run failed:\n{}\n{stderr}",
        actions.join("\n")
    );
    assert!(
        actions
            .iter()
            .any(|a| a.starts_with("changed run kubeadm init")),
        "{actions:#?}"
    );

    // The real kubectl, inside the node, says what the cluster is.
    let kubectl = "kubectl --kubeconfig /etc/kubernetes/admin.conf";
    let ready = sh(
        &tb,
        &format!("{kubectl} get node node1 -o jsonpath='{{.status.conditions[?(@.type==\"Ready\")].status}}'"),
    );
    assert_eq!(ready, "True");
    let version = sh(&tb, &format!("{kubectl} get node node1 -o jsonpath='{{.status.nodeInfo.kubeletVersion}} {{.status.nodeInfo.containerRuntimeVersion}}'"));
    assert!(
        version.starts_with(&format!("{K8S_VERSION} containerd://2.")),
        "{version}"
    );
    let pods = sh(
        &tb,
        &format!("{kubectl} get pods -n kube-system -o jsonpath='{{range .items[*]}}{{.metadata.name}}={{.status.phase}} {{end}}'"),
    );
    for component in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        assert!(
            pods.contains(&format!("{component}-node1=Running")),
            "{component} is not running: {pods}"
        );
    }
    // The node cannot lower OOM scores: containerd was told so from the facts alone.
    let config = sh(&tb, "cat /etc/containerd/config.toml");
    assert!(config.contains("restrict_oom_score_adj = true"), "{config}");
    // Every image came through the mirror: containerd has no other way to them.
    let hosts = sh(
        &tb,
        "cat /etc/containerd/certs.d/registry.k8s.io/hosts.toml",
    );
    assert!(hosts.contains(&mirror), "{hosts}");

    let (code, actions, stderr) = galley(&tb, &mirror);
    assert_eq!(code, 0, "rerun failed:\n{}\n{stderr}", actions.join("\n"));
    let changed: Vec<&String> = actions
        .iter()
        .filter(|a| a.starts_with("changed"))
        .collect();
    assert!(changed.is_empty(), "the rerun changed: {changed:#?}");
}
