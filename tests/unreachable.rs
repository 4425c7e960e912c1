//! A host galley cannot reach is counted as `unreachable` (as Ansible does), in the human recap
//! and in the JSON recap, with the reason in `host_errors`; and a multi-host failure prints each
//! host's error once.

mod common;

use common::Test;

// Nothing listens on ports 1 and 2 of the loopback address: ssh is refused at once.
const INVENTORY: &str = r#"[hosts.here]
connection = "local"
[hosts.gone]
address = "127.0.0.1"
port = 1
user = "root"
[hosts.gone2]
address = "127.0.0.1"
port = 2
user = "root"
"#;

/// Durations vary; the rest is compared whole.
fn untimed(text: &str) -> String {
    regex::Regex::new(r"\(([0-9.]+m?s)\)|\(apply, [0-9.]+m?s\)")
        .unwrap()
        .replace_all(text, |c: &regex::Captures| {
            if c[0].starts_with("(apply") {
                "(apply, T)".to_string()
            } else {
                "(T)".to_string()
            }
        })
        .into_owned()
}

fn refused(port: u16) -> String {
    format!(
        "connection to root@127.0.0.1:{port} refused (is sshd running and listening on that port?)"
    )
}

fn run(recipe: &str, extra: &[&str]) -> common::Ran {
    let mut args = vec!["run", "./r.rhai", "-i", "inv.toml"];
    args.extend_from_slice(extra);
    Test::new()
        .file("inv.toml", INVENTORY)
        .file("r.rhai", recipe)
        .args(&args)
        .run()
}

#[test]
fn unreachable_hosts_are_counted_and_each_error_is_printed_once() {
    // One host at a time, so the streamed lines come in inventory order and the whole output
    // can be compared (with more forks the failures print as the hosts finish).
    let ran = run(
        "on(\"all\", |h| {\n    run([\"true\"]);\n});\n",
        &["--forks", "1"],
    );
    ran.code(1);
    assert_eq!(
        untimed(&ran.stdout),
        format!(
            "apply ./r.rhai
 changed here run true (T)
  failed gone run true (T)
         run on gone: host gone is unreachable: {}
  failed gone2 run true (T)
         run on gone2: host gone2 is unreachable: {}
recap (apply, T)
  here   ok=0 changed=1 unreachable=0 failed=0 skipped=0
  gone   ok=0 changed=0 unreachable=1 failed=0 skipped=0
  gone2  ok=0 changed=0 unreachable=1 failed=0 skipped=0
",
            refused(1),
            refused(2)
        )
    );
    assert_eq!(
        ran.stderr.trim_end(),
        "error: 2 of 3 hosts failed:
  gone: failed at ./r.rhai:2:5, in a closure at ./r.rhai:1:1 (the error is above)
  gone2: failed at ./r.rhai:2:5, in a closure at ./r.rhai:1:1 (the error is above)
 --> ./r.rhai:1:1
  |
1 | on(\"all\", |h| {
  | ^"
    );
}

#[test]
fn a_host_unreachable_before_any_step_shows_its_error_once_and_counts() {
    let ran = run("on(\"all\", |h| {\n    let f = facts();\n});\n", &[]);
    ran.code(1);
    let all = format!("{}{}", ran.stdout, ran.stderr);
    for port in [1, 2] {
        assert_eq!(all.matches(&refused(port)).count(), 1, "{all}");
    }
    assert!(
        ran.stdout
            .contains("  gone   ok=0 changed=0 unreachable=1 failed=0 skipped=0\n"),
        "{}",
        ran.stdout
    );
}

#[test]
fn the_json_recap_counts_unreachable_and_says_why() {
    let ran = run(
        "on(\"all\", |h| {\n    let f = facts();\n});\n",
        &["--output", "json"],
    );
    ran.code(1);
    let events = ran.events();
    let recap = events.last().unwrap();
    assert_eq!(recap["type"], "recap");
    assert_eq!(
        recap["hosts"]["gone"],
        serde_json::json!({"ok": 0, "changed": 0, "unreachable": 1, "failed": 0, "skipped": 0, "unknown": 0})
    );
    assert_eq!(recap["hosts"]["here"]["unreachable"], 0);
    assert_eq!(
        recap["host_errors"]["gone"],
        format!("facts on gone: host gone is unreachable: {}", refused(1)).as_str()
    );
}

#[test]
fn one_unreachable_host_without_on_is_counted_too() {
    let ran = Test::new()
        .file("r.rhai", "let f = facts();\nrun([\"true\"]);\n")
        .args(&[
            "run",
            "./r.rhai",
            "-H",
            "root@127.0.0.1:1",
            "--output",
            "json",
        ])
        .run();
    ran.code(1);
    let events = ran.events();
    let recap = events.last().unwrap();
    assert_eq!(recap["hosts"]["127.0.0.1"]["unreachable"], 1, "{recap}");
    assert_eq!(
        recap["host_errors"]["127.0.0.1"],
        "facts on 127.0.0.1: host 127.0.0.1 is unreachable: connection to root@127.0.0.1:1 refused (is sshd running and listening on that port?)"
    );
}
