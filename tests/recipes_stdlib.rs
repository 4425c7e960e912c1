//! The pure parts of the stdlib modules, called from small recipes: containerd's config edit,
//! the cross-host identity check, port parsing, CIDR arithmetic and version comparison.

mod common;

use common::Test;

/// Runs `body` (after the imports) as a plan and returns what it printed with `print`.
fn eval(body: &str) -> Vec<String> {
    let script = format!(
        "import \"runtimes/containerd\" as containerd;\nimport \"k8s/preflight\" as preflight;\nimport \"k8s/cni\" as cni;\nimport \"versions\" as versions;\nimport \"os\" as os;\nimport \"k8s/kubeadm\" as kubeadm;\n{body}\n"
    );
    let ran = Test::new()
        .file("t.rhai", &script)
        .args(&["plan", "./t.rhai", "--output", "json"])
        .run();
    ran.code(0);
    ran.logs()
}

const V2: &str = r#"disabled_plugins = ["cri"]
imports = []
version = 2

[plugins]

  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.8"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = ""
          SystemdCgroup = false

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]
        runtime_type = "x"
"#;

const V3: &str = r#"version = 3
disabled_plugins = ['io.containerd.grpc.v1.cri', 'io.containerd.snapshotter.v1.zfs']

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'

  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
    BinaryName = ''
    SystemdCgroup = false
"#;

fn rhai_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[test]
fn containerd_v2_gets_systemd_cgroup_in_the_grpc_cri_table_and_cri_enabled() {
    let out = eval(&format!(
        "print(containerd::kubelet_ready({}));",
        rhai_str(V2)
    ));
    let want = V2
        .replace(r#"disabled_plugins = ["cri"]"#, "disabled_plugins = []")
        .replace("SystemdCgroup = false", "SystemdCgroup = true");
    assert_eq!(out, vec![want]);
}

#[test]
fn containerd_v3_gets_systemd_cgroup_in_the_cri_runtime_table() {
    let out = eval(&format!(
        "print(containerd::kubelet_ready({}));",
        rhai_str(V3)
    ));
    let want = V3
        .replace(
            "disabled_plugins = ['io.containerd.grpc.v1.cri', 'io.containerd.snapshotter.v1.zfs']",
            "disabled_plugins = ['io.containerd.snapshotter.v1.zfs']",
        )
        .replace("SystemdCgroup = false", "SystemdCgroup = true");
    assert_eq!(out, vec![want]);
}

#[test]
fn containerd_missing_table_is_added_and_the_edit_is_idempotent() {
    let v3 = "version = 3\n\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]\n  runtime_type = 'io.containerd.runc.v2'\n";
    let out = eval(&format!(
        "let once = containerd::kubelet_ready({0}); print(once); print(containerd::kubelet_ready(once) == once);\nlet v2 = containerd::kubelet_ready({1}); print(containerd::kubelet_ready(v2) == v2);\nprint(containerd::kubelet_ready(\"\"));",
        rhai_str(v3),
        rhai_str(V2)
    ));
    assert_eq!(
        out[0],
        format!("{v3}\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n")
    );
    assert_eq!(out[1], "true");
    assert_eq!(out[2], "true");
    assert_eq!(
        out[3],
        "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n"
    );
}

#[test]
fn identity_clashes_name_every_host_sharing_a_value() {
    let out = eval(
        r#"
        let ids = [
            #{ host: "a", hostname: "a", product_uuid: "u1", macs: ["m1", "m2"] },
            #{ host: "b", hostname: "b", product_uuid: "u2", macs: ["m3"] },
            #{ host: "c", hostname: "a", product_uuid: "u2", macs: ["m2"] },
        ];
        for c in preflight::clashes(ids) { print(c); }
        print(preflight::clashes([ids[0], ids[1]]).len());
        print(os::virtual_interface("cali12ab") && os::virtual_interface("lo") && !os::virtual_interface("eth0"));
        "#,
    );
    assert_eq!(
        out,
        vec![
            "MAC m2 is shared by a, c",
            "hostname a is shared by a, c",
            "product_uuid u2 is shared by b, c",
            "0",
            "true",
        ]
    );
}

#[test]
fn busy_ports_are_read_from_ss_output() {
    let ss = "LISTEN 0 4096 127.0.0.1:10248 0.0.0.0:*\nLISTEN 0 4096 *:6443 *:*\nLISTEN 0 128 [::]:22 [::]:*\nLISTEN 0 4096 10.0.0.1:2380 0.0.0.0:*\nLISTEN 0 5 0.0.0.0:30080 0.0.0.0:*\n";
    let out = eval(&format!(
        "print(preflight::busy({0}, preflight::ports(\"control_plane\", \"1.35.4\", 6443)));\nprint(preflight::busy({0}, preflight::ports(\"worker\", \"1.35.4\", 6443)));\nprint(preflight::ports(\"control_plane\", \"1.16.6\", 6443));",
        rhai_str(ss)
    ));
    assert_eq!(out[0], "[6443, 2380]");
    assert_eq!(out[1], "[30080]");
    assert!(out[2].contains("[10251, 10252]"), "{}", out[2]);
}

#[test]
fn cidr_arithmetic() {
    let out = eval(
        r#"
        print(cni::overlaps("10.244.0.0/16", "10.244.3.0/24"));
        print(cni::overlaps("10.244.0.0/16", "10.96.0.0/12"));
        print(cni::overlaps("192.168.0.0/16", "10.0.0.11/24"));
        print(cni::overlaps("10.32.0.0/12", "10.40.1.1/32"));
        print(cni::fixed_cidr("calico", "3.8") + " " + cni::fixed_cidr("calico", "3.29.4") + " " + cni::fixed_cidr("weave", "2.9.0"));
        "#,
    );
    assert_eq!(
        out,
        vec![
            "true",
            "false",
            "false",
            "true",
            "192.168.0.0/16  10.32.0.0/12"
        ]
    );
}

#[test]
fn versions_compare_numerically() {
    let out = eval(
        r#"
        print(versions::older("1.16.6", "1.24"));
        print(versions::older("1.100.0", "1.24"));
        print(versions::older("v1.24.0", "1.24"));
        print(versions::major_minor("1.35.4"));
        print(versions::of("book").k8s + " " + versions::of("book").docker + " " + versions::of("book").calico);
        print(versions::pick("book", "k8s", "1.18.0"));
        "#,
    );
    assert_eq!(
        out,
        vec![
            "true",
            "false",
            "false",
            "1.35",
            "1.16.6 19.03.4 3.8",
            "1.18.0"
        ]
    );
}

#[test]
fn containerd_sandbox_image_is_set_in_each_config_format_once() {
    let out = eval(&format!(
        "let a = containerd::with_sandbox({0}, \"m.example/pause:3.10.2\"); print(a); print(containerd::with_sandbox(a, \"m.example/pause:3.10.2\") == a);\n\
         let b = containerd::with_sandbox({1}, \"m.example/pause:3.10.2\"); print(b); print(containerd::with_sandbox(b, \"m.example/pause:3.10.2\") == b);",
        rhai_str(V2),
        rhai_str(V3)
    ));
    assert_eq!(
        out[0],
        V2.replace("registry.k8s.io/pause:3.8", "m.example/pause:3.10.2")
    );
    assert_eq!(out[1], "true");
    assert_eq!(
        out[2],
        format!("{V3}\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = \"m.example/pause:3.10.2\"\n")
    );
    assert_eq!(out[3], "true");
}

#[test]
fn kubeadm_argv_knows_each_subcommands_flags_and_the_config_rule() {
    let out = eval(
        r#"
        for p in kubeadm::problems("config images list", ["--kubernetes-version", "v1.37.2", "--cri-socket", "x"]) { print(p); }
        for p in kubeadm::problems("init", ["--config", "f", "--upload-certs", "--certificate-key", "k"]) { print(p); }
        print(kubeadm::problems("init", ["--config", "f", "--upload-certs", "--skip-phases=addon/kube-proxy"]).len());
        print(kubeadm::problems("config images pull", ["--cri-socket", "x", "--config", "f"]).len());
        print(kubeadm::argv("join", ["10.0.0.11:6443", "--token", "t", "--cri-socket", "s"]));
        "#,
    );
    assert_eq!(
        out,
        vec![
            "kubeadm config images list has no --cri-socket flag",
            "kubeadm init refuses --config beside [\"--certificate-key\"]: put those settings in the config file",
            "0",
            "0",
            "[\"kubeadm\", \"join\", \"10.0.0.11:6443\", \"--token\", \"t\", \"--cri-socket\", \"s\"]",
        ]
    );
}
