//! Small things an operator trips over: `galley plan --help` offers only what a plan uses (and
//! refuses the run-only flags instead of ignoring them), and messages say "1 host", not
//! "1 host(s)" or "1 control planes".

mod common;

use common::Test;

/// The long flags a help text offers, in order.
fn offered(help: &str) -> Vec<String> {
    help.lines()
        .map(str::trim_start)
        .map(|l| match l.split_once(", ") {
            Some((short, rest)) if short.len() == 2 && short.starts_with('-') => rest,
            _ => l,
        })
        .filter(|l| l.starts_with("--"))
        .map(|l| l.split([' ', '.']).next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn plan_help_offers_no_run_only_flags() {
    let plan = Test::new().args(&["plan", "--help"]).run();
    plan.code(0);
    let run = Test::new().args(&["run", "--help"]).run();
    let (plan, run) = (offered(&plan.stdout), offered(&run.stdout));
    for flag in ["--check", "--plan", "--become", "--timeout"] {
        assert!(
            !plan.iter().any(|f| f == flag),
            "plan --help offers {flag}: {plan:?}"
        );
        assert!(
            run.iter().any(|f| f == flag),
            "run --help lacks {flag}: {run:?}"
        );
    }
    assert!(plan.iter().any(|f| f == "--facts"), "{plan:?}");
}

#[test]
fn plan_refuses_the_run_only_flags_instead_of_ignoring_them() {
    for (args, flag) in [
        (&["--check"][..], "--check"),
        (&["--plan"], "--plan"),
        (&["--become"], "--become"),
        (&["--timeout", "5"], "--timeout"),
    ] {
        let mut all = vec!["plan", "docker"];
        all.extend_from_slice(args);
        let ran = Test::new().args(&all).run();
        ran.code(2);
        assert_eq!(ran.stdout, "");
        ran.stderr_is(&format!(
            "error: galley plan takes no {flag}: a plan contacts no host and runs nothing (for a read-only look at real hosts, `galley run RECIPE --check`)"
        ));
    }
}

#[test]
fn counts_take_the_right_noun() {
    let ran = Test::new()
        .file(
            "w.rhai",
            "info(plural(1, \"host\"));\ninfo(plural(2, \"host\"));\ninfo(plural(0, \"proxy\", \"proxies\"));\n",
        )
        .args(&["plan", "./w.rhai"])
        .run();
    ran.code(0);
    assert_eq!(
        ran.stdout,
        "plan ./w.rhai (plan: no host contacted)
    info local 1 host
    info local 2 hosts
    info local 0 proxies
recap (plan)
  local  ok=0 changed=0 failed=0 skipped=0
  nothing was changed (plan mode)
"
    );
}

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
fn the_kubeadm_messages_count_in_words() {
    let single = Test::new()
        .file("inv.toml", INVENTORY)
        .args(&["plan", "kubeadm", "-i", "inv.toml"])
        .run();
    single.code(2);
    single.stderr_has("the inventory has 1 control plane and 2 workers: use topology=multi");
    let multi = Test::new()
        .file("inv.toml", INVENTORY)
        .args(&[
            "plan",
            "kubeadm",
            "-i",
            "inv.toml",
            "--set",
            "topology=multi",
        ])
        .run();
    multi.code(0);
    multi
        .stdout_has("P2: hostname, MAC and product_uuid differ across 3 hosts\n")
        .stdout_has("P1: 2 reachability checks across 3 hosts\n");
}
