//! A plan does not invent success: a read-only probe the facts file does not answer shows as
//! `unknown` ("would check") and is counted as such, and a facts file can say that a command
//! fails, with its exit code and stderr, so the plan fails where the real host would.

mod common;

use common::Test;

const RECIPE: &str = r#"
let r = run(["ping", "-c", "1", "-W", "2", "10.0.0.99"], #{ readonly: true, check: false });
info(`status ${r.status}`);
run(["getent", "hosts", "cp1"], #{ readonly: true });
"#;

fn facts(commands: &str) -> String {
    let mut f: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/rocky9.json"))
            .unwrap(),
    )
    .unwrap();
    f["commands"] = serde_json::from_str(commands).unwrap();
    f.to_string()
}

#[test]
fn a_probe_the_facts_do_not_answer_is_unknown_not_ok() {
    let ran = Test::new()
        .file("t.rhai", RECIPE)
        .file("facts.json", &facts("[]"))
        .args(&["plan", "./t.rhai", "--facts", "facts.json"])
        .run();
    ran.code(0);
    assert_eq!(ran.count("unknown"), 2, "{}", ran.stdout);
    assert_eq!(ran.count("ok"), 0, "{}", ran.stdout);
    ran.stdout_has("would check: the facts do not answer it")
        .stdout_has("status unknown")
        .stdout_has("unknown=2");
    // JSON says so too.
    let json = Test::new()
        .file("t.rhai", RECIPE)
        .file("facts.json", &facts("[]"))
        .args(&[
            "plan",
            "./t.rhai",
            "--facts",
            "facts.json",
            "--output",
            "json",
        ])
        .run();
    let statuses: Vec<String> = json
        .events()
        .iter()
        .filter(|e| e["type"] == "action")
        .map(|e| e["status"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(statuses, ["unknown", "unknown"]);
}

#[test]
fn a_facts_file_answers_and_can_say_a_command_fails() {
    let answered = facts(
        r#"[{"argv": ["ping", "-c", "1", "-W", "2", "10.0.0.99"], "rc": 0, "stdout": "1 received"},
            {"argv": ["getent", "hosts", "cp1"], "rc": 2, "stderr": "no such host"}]"#,
    );
    let ran = Test::new()
        .file("t.rhai", RECIPE)
        .file("facts.json", &answered)
        .args(&["plan", "./t.rhai", "--facts", "facts.json"])
        .run();
    ran.code(1);
    ran.stdout_has("status ok")
        .stdout_has("command `getent hosts cp1` failed: exit code 2")
        .stdout_has("no such host");
    assert_eq!(ran.count("unknown"), 0, "{}", ran.stdout);
}
