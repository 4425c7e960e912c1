//! Tier 4, second part: a real control plane answers the recipes' kubectl steps.
//!
//! On a throwaway node (tests/k8s_support), the real kubeadm makes the certificates, kubeconfigs
//! and static-pod manifests of a control plane; etcd and kube-apiserver then run as processes with
//! exactly the command lines of kubeadm's manifests (there is no kubelet here to run them as
//! pods); kubeadm's own upload-config, bootstrap-token and addon phases talk to that API server;
//! and galley runs a recipe made of the stdlib's kubectl steps against it, twice: the first run
//! changes, the second changes nothing. Everything checked is checked with the real kubectl.

mod k8s_support;

use k8s_support::{bin, node_prelude, run_node, sections, sh_quote, K8S_VERSION};

const NODE_YAML: &str = r#"apiVersion: v1
kind: Node
metadata:
  name: cp1
  labels:
    node-role.kubernetes.io/control-plane: ""
spec:
  taints:
  - key: node-role.kubernetes.io/control-plane
    effect: NoSchedule
"#;

const APP_YAML: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: galley-test
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: galley-test
  namespace: galley-test
data:
  from: galley
"#;

fn kubeadm_config() -> String {
    format!(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n\
         localAPIEndpoint:\n  advertiseAddress: 10.0.0.11\n  bindPort: 6443\n\
         nodeRegistration:\n  name: cp1\n  criSocket: unix:///run/containerd/containerd.sock\n\
         ---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n\
         kubernetesVersion: {K8S_VERSION}\ncontrolPlaneEndpoint: 10.0.0.11:6443\n\
         networking:\n  podSubnet: 10.244.0.0/16\n  serviceSubnet: 10.96.0.0/12\n"
    )
}

#[test]
fn a_real_api_server_answers_the_recipes_kubectl_steps() {
    let kubeadm = bin("kubeadm");
    let dir = kubeadm.parent().unwrap().to_path_buf();
    for b in ["etcd", "kube-apiserver", "kubectl"] {
        bin(b);
    }
    let work = tempfile::tempdir().unwrap();
    let files = work.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("kubeadm.yaml"), kubeadm_config()).unwrap();
    std::fs::write(files.join("node.yaml"), NODE_YAML).unwrap();
    std::fs::write(files.join("app.yaml"), APP_YAML).unwrap();
    let recipe = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/recipes/control_plane/api.rhai"
    );
    let mut script = node_prelude(work.path(), "10.0.0.11");
    script.push_str(&format!(
        r#"B={b}; F={f}; G={g}; R={r}
export PATH="$B:$PATH" GALLEY_KUBECTL="$B/kubectl" NO_COLOR=1
unset KUBECONFIG
pids=""
stop() {{ for p in $pids; do kill $p 2>/dev/null; done; sleep 1; for p in $pids; do kill -9 $p 2>/dev/null; done; wait; }}
trap stop EXIT
mkdir -p /etc/galley-test && cp $F/node.yaml $F/app.yaml /etc/galley-test/
cp $F/kubeadm.yaml /etc/kubernetes/kubeadm.yaml 2>/dev/null || {{ mkdir -p /etc/kubernetes && cp $F/kubeadm.yaml /etc/kubernetes/kubeadm.yaml; }}
echo @@phases
for ph in "certs all" "kubeconfig admin" "kubeconfig super-admin" "etcd local" "control-plane apiserver"; do
  $B/kubeadm init phase $ph --config /etc/kubernetes/kubeadm.yaml || {{ echo "@@failed phase $ph"; exit 1; }}
done
# The command line of a static pod, one word a line, as kubeadm wrote it in the manifest.
words() {{ sed -n '/^  - command:/,/^    [a-z]/p' "$1" | sed -n 's/^    - //p'; }}
start() {{
  mapfile -t argv < <(words /etc/kubernetes/manifests/$1.yaml)
  echo "@@argv $1"; printf '%s\n' "${{argv[@]}}"
  argv[0]="$B/${{argv[0]}}"
  "${{argv[@]}}" >$W/$1.log 2>&1 &
  pids="$pids $!"
}}
start etcd
start kube-apiserver
echo @@ready
for i in $(seq 1 120); do
  $B/kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw /readyz >/dev/null 2>&1 && {{ echo "ready after $i"; break; }}
  sleep 1
done
$B/kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw /readyz || {{ echo "@@apiserver log"; tail -30 $W/kube-apiserver.log; echo "@@etcd log"; tail -30 $W/etcd.log; exit 1; }}
echo
echo @@kubeadm phases against the API server
for ph in "upload-config all" "bootstrap-token" "addon coredns" "addon kube-proxy"; do
  $B/kubeadm init phase $ph --config /etc/kubernetes/kubeadm.yaml || {{ echo "@@failed phase $ph"; exit 1; }}
done
echo @@run1
$G run $R; echo "@@rc1 $?"
echo @@run2
$G run $R; echo "@@rc2 $?"
echo @@taints
$B/kubectl --kubeconfig /etc/kubernetes/admin.conf get node cp1 -o 'jsonpath={{.spec.taints}}'; echo
echo @@configmap
$B/kubectl --kubeconfig /etc/kubernetes/admin.conf -n galley-test get configmap galley-test -o 'jsonpath={{.data.from}}'; echo
echo @@kube-system
$B/kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system get deployment,daemonset,configmap -o name
echo @@end
"#,
        b = sh_quote(&dir.display().to_string()),
        f = sh_quote(&files.display().to_string()),
        g = sh_quote(env!("CARGO_BIN_EXE_galley")),
        r = sh_quote(recipe),
    ));
    let out = run_node(&script);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!(
        "{text}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sec: std::collections::BTreeMap<String, String> = sections(&text).into_iter().collect();
    let get = |k: &str| sec.get(k).cloned().unwrap_or_default();
    assert!(
        sec.contains_key("end"),
        "the node script stopped early:\n{all}"
    );
    // etcd and the API server ran with kubeadm's own command lines.
    assert!(
        get("argv etcd").contains("--cert-file=/etc/kubernetes/pki/etcd/server.crt"),
        "{all}"
    );
    assert!(
        get("argv kube-apiserver").contains("--etcd-servers=https://127.0.0.1:2379"),
        "{all}"
    );
    // First run: the taint goes and the manifests are applied; the recap says so.
    let run1 = get("run1");
    assert_eq!(get("rc1 0").trim(), "", "first run failed:\n{all}");
    assert!(sec.contains_key("rc1 0"), "first run failed:\n{all}");
    assert!(run1.contains("podSubnet: 10.244.0.0/16"), "{all}");
    assert!(run1.contains("galley-test holds from=galley"), "{all}");
    assert!(
        run1.contains("changed=3"),
        "three changes (node, untaint, app) on the first run:\n{all}"
    );
    // Second run: nothing to do.
    assert!(sec.contains_key("rc2 0"), "second run failed:\n{all}");
    assert!(
        get("run2").contains("changed=0"),
        "a second run changes nothing:\n{all}"
    );
    assert!(
        !get("taints").contains("control-plane"),
        "the taint is gone:\n{all}"
    );
    assert_eq!(get("configmap").trim(), "galley", "{all}");
    for want in [
        "deployment.apps/coredns",
        "daemonset.apps/kube-proxy",
        "configmap/kubeadm-config",
    ] {
        assert!(
            get("kube-system").contains(want),
            "kubeadm's phases made {want}:\n{all}"
        );
    }
}
