//! Check and plan agree with apply (issue 18, item 5): what apply would do is what they say, and
//! where they cannot know it they say "would check" instead of making an answer up.
//!
//! - `read_file` of a file that a guarded `run(..., #{ creates })` recorded earlier makes is
//!   unknown in check and plan, not a "does not exist" error apply would never raise;
//! - a kernel parameter the host does not have fails in check and plan as it fails in apply,
//!   with the same message; in plan the facts' `sysctl` answers, else it is unknown;
//! - a file whose content comes from a command's output that check or plan cannot know
//!   (containerd's `config default` before containerd is installed) is unknown, with no diff of
//!   content apply would not write.

mod common;

use common::Test;

fn debian12_with(extra: &str) -> String {
    let mut f: serde_json::Value =
        serde_json::from_str(include_str!("../profiles/debian12.json")).expect("profile parses");
    let extra: serde_json::Value = serde_json::from_str(extra).expect("extra facts parse");
    for (k, v) in extra.as_object().expect("an object") {
        f[k] = v.clone();
    }
    f.to_string()
}

const MADE: &str = r#"
let p = params(#{ path: "" });
run(["sh", "-c", `echo made here > ${p.path}`], #{ creates: p.path });
let text = read_file(p.path);
info(`read: ${text}`);
"#;

#[test]
fn read_file_of_what_a_guarded_run_makes_is_unknown_in_check_and_plan() {
    for mode in [
        &["run", "./r.rhai", "--check"][..],
        &["plan", "./r.rhai"][..],
    ] {
        let ran = Test::new()
            .file("r.rhai", MADE)
            .args(mode)
            .args(&["--set", "path={dir}/made.txt"])
            .run();
        ran.code(0)
            .stdout_has("unknown local read_file ")
            .stdout_has("/made.txt (would check: `sh -c 'echo made here > ")
            .stdout_has("creates it when applied)")
            .stdout_has("/made.txt, created by an earlier step)");
        assert!(!ran.dir.join("made.txt").exists(), "{mode:?} made the file");
        assert_eq!(ran.count("unknown"), 1, "{}", ran.stdout);
    }
    // Applied, the command makes it and read_file reads what it wrote; then the guard holds.
    let t =
        Test::new()
            .file("r.rhai", MADE)
            .args(&["run", "./r.rhai", "--set", "path={dir}/made.txt"]);
    let ran = t.run();
    ran.code(0).stdout_has("read: made here");
    assert_eq!(ran.count("unknown"), 0, "{}", ran.stdout);
    let again = Test::new()
        .file("r.rhai", MADE)
        .args(&["run", "./r.rhai", "--check"])
        .args(&[format!("--set=path={}/made.txt", ran.dir.display())])
        .run();
    again.code(0).stdout_has("read: made here");
    assert_eq!(again.count("unknown"), 0, "{}", again.stdout);
}

const MISSPELT: &str = r#"sysctl("net.ipv4.ip_froward", "1");"#;
const NO_SUCH: &str = "no kernel parameter net.ipv4.ip_froward on this host (/proc/sys/net/ipv4/ip_froward does not exist)";

#[test]
fn a_misspelt_sysctl_key_fails_in_check_and_plan_as_in_apply() {
    assert!(!std::path::Path::new("/proc/sys/net/ipv4/ip_froward").exists());
    // Apply fails before any change, check the same way, on this machine.
    for mode in [
        &["run", "./r.rhai"][..],
        &["run", "./r.rhai", "--check"][..],
    ] {
        let ran = Test::new().file("r.rhai", MISSPELT).args(mode).run();
        ran.code(1)
            .stdout_has("failed local sysctl")
            .stderr_has(NO_SUCH);
        assert_eq!(ran.count("changed"), 0, "{mode:?}: {}", ran.stdout);
    }
    // A plan from facts that record the host's parameters fails the same way.
    let ran = Test::new()
        .file("r.rhai", MISSPELT)
        .file(
            "facts.json",
            &debian12_with(r#"{"sysctl": {"net.ipv4.ip_froward": null}}"#),
        )
        .args(&["plan", "./r.rhai", "--facts", "facts.json"])
        .run();
    ran.code(1).stderr_has(NO_SUCH);
    // Facts that do not record it cannot tell: unknown, not changed.
    let ran = Test::new()
        .file("r.rhai", MISSPELT)
        .file("facts.json", &debian12_with("{}"))
        .args(&["plan", "./r.rhai", "--facts", "facts.json"])
        .run();
    ran.code(0)
        .stdout_has("(would check: the facts do not record net.ipv4.ip_froward)");
    assert_eq!(ran.count("unknown"), 1, "{}", ran.stdout);
    assert_eq!(ran.count("changed"), 0, "{}", ran.stdout);
}

#[test]
fn a_plan_answers_sysctl_from_the_facts() {
    let facts = debian12_with(
        r#"{"sysctl": {"net.ipv4.ip_forward": "1\n", "net.bridge.bridge-nf-call-iptables": null}}"#,
    );
    // The value the facts record: ok, no command.
    let ran = Test::new()
        .file(
            "r.rhai",
            r#"sysctl("net.ipv4.ip_forward", "1", #{ persist: false });"#,
        )
        .file("facts.json", &facts)
        .args(&["plan", "./r.rhai", "--facts", "facts.json"])
        .run();
    ran.code(0);
    assert_eq!(ran.count("ok"), 1, "{}", ran.stdout);
    // A parameter the host lacks, after a module that may add it is loaded: would check.
    let ran = Test::new()
        .file(
            "r.rhai",
            "modprobe(\"br_netfilter\");\nsysctl(\"net.bridge.bridge-nf-call-iptables\", \"1\");\n",
        )
        .file("facts.json", &facts)
        .args(&["plan", "./r.rhai", "--facts", "facts.json"])
        .run();
    ran.code(0).stdout_has(
        "(would check: /proc/sys/net/bridge/bridge-nf-call-iptables does not exist yet; a module loaded earlier in this run may add it)",
    );
    // Without that module: it fails, as `sysctl -w` would.
    let ran = Test::new()
        .file(
            "r.rhai",
            "sysctl(\"net.bridge.bridge-nf-call-iptables\", \"1\");\n",
        )
        .file("facts.json", &facts)
        .args(&["plan", "./r.rhai", "--facts", "facts.json"])
        .run();
    ran.code(1)
        .stderr_has("no kernel parameter net.bridge.bridge-nf-call-iptables on this host");
}

const CONTAINERD: &str =
    "import \"runtimes/containerd\" as containerd;\ncontainerd::configure(false, \"\");\n";

#[test]
fn containerd_config_is_unknown_until_containerd_can_print_its_defaults() {
    // A plan before containerd is installed: the facts do not answer `containerd config
    // default`, so the file's content is not known; no diff of what apply would not write.
    let ran = Test::new()
        .file("r.rhai", CONTAINERD)
        .args(&["plan", "./r.rhai", "--profile", "debian12", "--diff"])
        .run();
    ran.code(0).stdout_has(
        "unknown local write_file /etc/containerd/config.toml (would check: its content comes from `containerd config default`, which the facts do not answer)",
    );
    assert!(!ran.stdout.contains("SystemdCgroup"), "{}", ran.stdout);
    // Where it fails (not installed yet, as in a check before the package step applied).
    let failing = debian12_with(
        r#"{"commands": [{"argv": ["containerd", "config", "default"], "rc": 127, "stderr": "containerd: not found"}]}"#,
    );
    let ran = Test::new()
        .file("r.rhai", CONTAINERD)
        .file("facts.json", &failing)
        .args(&["plan", "./r.rhai", "--facts", "facts.json", "--diff"])
        .run();
    ran.code(0).stdout_has(
        "(would check: its content comes from `containerd config default`, which fails here (exit code 127), as before an earlier step installs it)",
    );
    assert!(!ran.stdout.contains("SystemdCgroup"), "{}", ran.stdout);
    // When containerd prints its defaults, the diff is what apply writes: those defaults, made
    // kubelet-ready.
    let printed = debian12_with(
        r#"{"commands": [{"argv": ["containerd", "config", "default"], "stdout": "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"registry.k8s.io/pause:3.8\"\n  enable_selinux = false\n\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  SystemdCgroup = false\n  BinaryName = \"\"\n"}]}"#,
    );
    let ran = Test::new()
        .file("r.rhai", CONTAINERD)
        .file("facts.json", &printed)
        .args(&["plan", "./r.rhai", "--facts", "facts.json", "--diff"])
        .run();
    ran.code(0)
        .stdout_has("changed local write_file /etc/containerd/config.toml")
        .stdout_has("+  enable_selinux = false")
        .stdout_has("+  SystemdCgroup = true")
        .stdout_has("+  BinaryName = \"\"");
}
