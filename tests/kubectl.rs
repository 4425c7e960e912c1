//! kubectl primitives with a real kubectl: Debian's `kubernetes-client` unpacked under the target
//! folder (never installed; the kubectl on PATH is never run). Argument building, kubeconfig
//! selection (option, then KUBECONFIG, then admin.conf) and the "no server" error against a closed
//! loopback port; apply/json outputs recorded as fixtures answer plans.

mod prim;

use std::net::TcpListener;
use std::path::Path;

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn kubeconfig(dir: &Path, name: &str, port: u16) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://127.0.0.1:{port}
  name: test
contexts:
- context:
    cluster: test
    user: test
  name: test
current-context: test
users:
- name: test
  user:
    token: not-a-real-token
"
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn real_kubectl_runs_with_the_chosen_binary() {
    let bin = prim::test_kubectl();
    let tmp = tempfile::tempdir().unwrap();
    let bin_s = bin.display().to_string();
    let r = prim::galley(
        tmp.path(),
        r#"let r = kubectl(["version", "--client"], #{ readonly: true }); print(r.stdout);"#,
        &["run"],
        &[("GALLEY_KUBECTL", &bin_s)],
    );
    r.code(0).has("Client Version");
    assert_eq!(r.commands()[0].split(' ').next(), Some(bin_s.as_str()));
    // The option wins over the environment.
    let r = prim::galley(
        tmp.path(),
        &format!(r#"kubectl(["version", "--client"], #{{ kubectl: "{bin_s}", readonly: true }});"#),
        &["run"],
        &[("GALLEY_KUBECTL", "/nonexistent/kubectl")],
    );
    r.code(0);
}

#[test]
fn kubeconfig_selection_and_no_server_error() {
    let bin = prim::test_kubectl();
    let bin_s = bin.display().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let (p_env, p_opt) = (closed_port(), closed_port());
    let kc_env = kubeconfig(tmp.path(), "env.conf", p_env);
    let kc_opt = kubeconfig(tmp.path(), "opt.conf", p_opt);
    let env = [
        ("GALLEY_KUBECTL", bin_s.as_str()),
        ("KUBECONFIG", kc_env.as_str()),
    ];

    // KUBECONFIG from galley's environment: the server it names refuses.
    let r = prim::galley(tmp.path(), r#"kubectl(["get", "nodes"]);"#, &["run"], &env);
    r.code(1)
        .has(&format!(
            "The connection to the server 127.0.0.1:{p_env} was refused"
        ))
        .has("exit code 1");
    assert!(
        r.commands()[0].contains(&format!("--kubeconfig {kc_env}")),
        "{:?}",
        r.commands()
    );

    // The option wins.
    let r = prim::galley(
        tmp.path(),
        &format!(r#"kubectl_json(["get", "nodes"], #{{ kubeconfig: "{kc_opt}" }});"#),
        &["run"],
        &env,
    );
    r.code(1).has(&format!("127.0.0.1:{p_opt} was refused"));
    assert!(
        r.commands()[0].ends_with("get nodes -o json"),
        "{:?}",
        r.commands()
    );

    // Neither: /etc/kubernetes/admin.conf (absent on this machine; kubectl says so).
    let r = prim::galley(
        tmp.path(),
        r#"kubectl(["get", "pods"], #{ namespace: "kube-system" });"#,
        &["run"],
        &[("GALLEY_KUBECTL", &bin_s)],
    );
    r.code(1).has("/etc/kubernetes/admin.conf");
    assert!(
        r.commands()[0]
            .ends_with("--kubeconfig /etc/kubernetes/admin.conf -n kube-system get pods"),
        "{:?}",
        r.commands()
    );

    // apply: the failure is kubectl's; in check mode the server dry run fails softly.
    std::fs::write(
        tmp.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    )
    .unwrap();
    let apply = format!(r#"kubectl_apply("{}/cm.yaml");"#, tmp.path().display());
    prim::galley(tmp.path(), &apply, &["run"], &env)
        .code(1)
        .has(&format!("127.0.0.1:{p_env}"));
    let r = prim::galley(tmp.path(), &apply, &["run", "--check"], &env);
    r.code(0).has("server dry run failed");
    assert!(
        r.commands()[0].ends_with("--dry-run=server"),
        "{:?}",
        r.commands()
    );

    // wait_ready on nodes reports kubectl's last complaint.
    let r = prim::galley(
        tmp.path(),
        r#"wait_ready(#{ kube: "nodes", timeout: 1, interval: 0.3 });"#,
        &["run"],
        &env,
    );
    r.code(1)
        .has("waiting for 1 node(s) Ready; last state:")
        .has("refused");
}

/// A facts file: a built-in profile plus recorded command outputs.
fn facts_with(dir: &Path, profile: &str, commands: serde_json::Value) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("profiles/{profile}.json")),
    )
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["commands"] = commands;
    let path = dir.join(format!("{profile}-kube.json"));
    std::fs::write(&path, v.to_string()).unwrap();
    path.display().to_string()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/kubectl")
            .join(name),
    )
    .unwrap()
}

#[test]
fn plans_answer_from_recorded_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let apply_argv = [
        "kubectl",
        "--kubeconfig",
        "/etc/kubernetes/admin.conf",
        "apply",
        "-f",
        "/root/calico.yaml",
    ];
    let nodes_argv = [
        "kubectl",
        "--kubeconfig",
        "/etc/kubernetes/admin.conf",
        "get",
        "nodes",
        "-o",
        "json",
    ];
    let recipe = r#"
let a = kubectl_apply("/root/calico.yaml");
let nodes = kubectl_json(["get", "nodes"]);
print(`nodes=${nodes.items.len()} first=${nodes.items[0].metadata.name} changed=${a.changed}`);
kubectl(["taint", "nodes", "--all", "node-role.kubernetes.io/control-plane-"]);
"#;
    for profile in ["centos7", "rocky9", "ubuntu22.04", "debian12"] {
        // Recorded "unchanged" output: the apply is ok.
        let facts = facts_with(
            tmp.path(),
            profile,
            serde_json::json!([
                {"argv": apply_argv, "stdout": fixture("apply-unchanged.txt")},
                {"argv": nodes_argv, "stdout": fixture("get-nodes.json")},
            ]),
        );
        let r = prim::plan(tmp.path(), recipe, &facts);
        r.code(0).has("nodes=2 first=cp1 changed=false");
        assert_eq!(
            r.statuses(),
            vec![
                ("kubectl_apply".into(), "ok".into()),
                ("kubectl_json".into(), "ok".into()),
                ("kubectl".into(), "changed".into()),
            ],
            "{profile}"
        );
        // Recorded "created": changed. Nothing recorded: changed (it would apply).
        let facts = facts_with(
            tmp.path(),
            profile,
            serde_json::json!([{"argv": apply_argv, "stdout": fixture("apply-created.txt")}]),
        );
        let r = prim::plan(tmp.path(), r#"kubectl_apply("/root/calico.yaml");"#, &facts);
        r.code(0).has("daemonset.apps/calico-node created");
        assert_eq!(r.statuses()[0].1, "changed");
        let r = prim::plan(
            tmp.path(),
            r#"kubectl_apply("/root/calico.yaml");"#,
            profile,
        );
        assert_eq!(r.code(0).statuses()[0].1, "changed");
        assert_eq!(r.commands(), vec![apply_argv.join(" ")]);
    }
}

#[test]
fn a_plan_answers_an_apply_from_its_saved_server_dry_run() {
    // `galley facts --save` runs the dry-run form (`--dry-run=server`, which changes nothing), as
    // `--check` does; a plan from that file then says what the check said, and still shows the
    // apply itself as the command it would run.
    let tmp = tempfile::tempdir().unwrap();
    let apply = [
        "kubectl",
        "--kubeconfig",
        "/etc/kubernetes/admin.conf",
        "apply",
        "-f",
        "/root/calico.yaml",
    ];
    let mut dry = apply.to_vec();
    dry.push("--dry-run=server");
    for (out, status) in [
        ("apply-unchanged.txt", "ok"),
        ("apply-created.txt", "changed"),
    ] {
        let facts = facts_with(
            tmp.path(),
            "rocky9",
            serde_json::json!([{"argv": dry, "stdout": fixture(out)}]),
        );
        let r = prim::plan(tmp.path(), r#"kubectl_apply("/root/calico.yaml");"#, &facts);
        assert_eq!(r.code(0).statuses()[0].1, status, "{out}");
        assert_eq!(r.commands(), vec![apply.join(" ")], "{out}");
    }
}
