//! A plan is a change request to review: the same input prints the same bytes, lines come step by
//! step with the hosts in inventory order within a step, nothing shows a duration (nothing ran),
//! and a step the plan cannot decide (a wait, an unanswered kubectl query) says "would check"
//! (`unknown`) instead of `ok`.

mod common;

use common::Test;

const INVENTORY: &str = r#"[hosts.cp1]
address = "10.0.0.11"
[hosts.w1]
address = "10.0.0.12"
[hosts.w2]
address = "10.0.0.13"
[groups.control_plane]
hosts = ["cp1"]
[groups.workers]
hosts = ["w1", "w2"]
"#;

#[test]
fn the_same_multi_host_plan_prints_the_same_bytes_ten_times() {
    for format in ["human", "json"] {
        let test = Test::new().file("inv.toml", INVENTORY).args(&[
            "plan",
            "kubeadm",
            "-i",
            "inv.toml",
            "--set",
            "topology=multi",
            "--output",
            format,
        ]);
        let first = test.run();
        first.code(0);
        assert!(first.stdout.contains("w2"), "{}", first.stdout);
        for i in 1..10 {
            let again = test.run();
            again.code(0);
            assert!(
                again.stdout == first.stdout,
                "{format} plan run {i} differs from the first:\n{}",
                similar::TextDiff::from_lines(&first.stdout, &again.stdout).unified_diff()
            );
        }
    }
}

// Hosts not in name order, so inventory order shows.
const HOSTS: &str = r#"[hosts.zeta]
address = "10.0.0.21"
[hosts.alpha]
address = "10.0.0.22"
[hosts.mid]
address = "10.0.0.23"
"#;

const RECIPE: &str = r#"on("all", |h| {
    info(`starting ${h}`);
    for m in ["overlay", "br_netfilter"] { modprobe(m); }
    write_file("/etc/motd", `hello ${h}` + "\n");
    if h == "alpha" { run(["echo", "alpha only"]); }
    wait_ready(#{ file: "/run/x.sock", timeout: 5 });
    kubectl_json(["get", "nodes"]);
});
"#;

#[test]
fn a_plan_goes_step_by_step_hosts_in_inventory_order_without_durations() {
    let ran = Test::new()
        .file("inv.toml", HOSTS)
        .file("g.rhai", RECIPE)
        .args(&["plan", "./g.rhai", "-i", "inv.toml"])
        .run();
    ran.code(0);
    assert_eq!(
        ran.stdout,
        "plan ./g.rhai (plan: no host contacted)
    info zeta starting zeta
    info alpha starting alpha
    info mid starting mid
 changed zeta modprobe overlay
 changed alpha modprobe overlay
 changed mid modprobe overlay
 changed zeta modprobe br_netfilter
 changed alpha modprobe br_netfilter
 changed mid modprobe br_netfilter
 changed zeta write_file /etc/motd
 changed alpha write_file /etc/motd
 changed mid write_file /etc/motd
 changed alpha run echo 'alpha only'
 unknown zeta wait_ready would wait for file /run/x.sock (up to 5s)
 unknown alpha wait_ready would wait for file /run/x.sock (up to 5s)
 unknown mid wait_ready would wait for file /run/x.sock (up to 5s)
 unknown zeta kubectl_json kubectl get nodes -o json (would check: the facts do not answer it)
 unknown alpha kubectl_json kubectl get nodes -o json (would check: the facts do not answer it)
 unknown mid kubectl_json kubectl get nodes -o json (would check: the facts do not answer it)
recap (plan)
  zeta   ok=0 changed=3 failed=0 skipped=0 unknown=2
  alpha  ok=0 changed=4 failed=0 skipped=0 unknown=2
  mid    ok=0 changed=3 failed=0 skipped=0 unknown=2
  nothing was changed (plan mode)
"
    );
}

#[test]
fn hosts_listed_out_of_order_still_plan_in_inventory_order() {
    let ran = Test::new()
        .file("inv.toml", HOSTS)
        .file(
            "g.rhai",
            "let done = on([\"mid\", \"alpha\", \"zeta\"], |h| { write_file(\"/etc/motd\", h); h });\nprint(done);\n",
        )
        .args(&["plan", "./g.rhai", "-i", "inv.toml"])
        .run();
    ran.code(0);
    // The plan reads in inventory order; what `on` returns keeps the order it was asked in.
    assert_eq!(
        ran.stdout,
        "plan ./g.rhai (plan: no host contacted)
 changed zeta write_file /etc/motd
 changed alpha write_file /etc/motd
 changed mid write_file /etc/motd
    info - [\"mid\", \"alpha\", \"zeta\"]
recap (plan)
  zeta   ok=0 changed=1 failed=0 skipped=0
  alpha  ok=0 changed=1 failed=0 skipped=0
  mid    ok=0 changed=1 failed=0 skipped=0
  nothing was changed (plan mode)
"
    );
}

#[test]
fn a_json_plan_has_no_timings() {
    let ran = Test::new()
        .file("inv.toml", HOSTS)
        .file("g.rhai", RECIPE)
        .args(&["plan", "./g.rhai", "-i", "inv.toml", "--output", "json"])
        .run();
    ran.code(0);
    let events = ran.events();
    let timed: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e.get("duration_ms").is_some_and(|d| d != 0))
        .collect();
    assert!(timed.is_empty(), "{timed:#?}");
    let hosts: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "action" && e["primitive"] == "modprobe")
        .map(|e| e["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["zeta", "alpha", "mid", "zeta", "alpha", "mid"]);
}
