//! `--output json`: every line is a JSON object with the fields docs/output.md documents; secrets
//! never appear in any channel.

mod common;
use common::Test;
use serde_json::Value;

/// Required fields per event type, as docs/output.md lists them.
fn required(kind: &str) -> &'static [(&'static str, &'static str)] {
    match kind {
        "start" => &[
            ("mode", "string"),
            ("recipe", "string"),
            ("version", "string"),
        ],
        "action" => &[
            ("host", "string"),
            ("primitive", "string"),
            ("summary", "string"),
            ("status", "string"),
            ("duration_ms", "number"),
            ("commands", "array"),
        ],
        "log" => &[
            ("host", "string"),
            ("level", "string"),
            ("message", "string"),
        ],
        "error" => &[("message", "string"), ("exit_code", "number")],
        "recap" => &[
            ("mode", "string"),
            ("duration_ms", "number"),
            ("hosts", "object"),
            ("host_errors", "object"),
            ("exit_code", "number"),
        ],
        other => panic!("undocumented event type {other}"),
    }
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Bool(_) => "bool",
        Value::Null => "null",
    }
}

fn validate(events: &[Value]) {
    for e in events {
        let kind = e["type"]
            .as_str()
            .unwrap_or_else(|| panic!("event without type: {e}"));
        for (field, ty) in required(kind) {
            assert_eq!(type_of(&e[field]), *ty, "{kind}.{field} in {e}");
        }
        if kind == "action" {
            assert!(["ok", "changed", "failed", "skipped"].contains(&e["status"].as_str().unwrap()));
        }
    }
}

#[test]
fn json_events_follow_the_documented_schema() {
    let recipe =
        "write_file(\"/etc/x\", \"1\\n\");\nwarn(\"careful\");\nrun([\"echo\", \"hi\"]);\n";
    let r = Test::new()
        .file("j.rhai", recipe)
        .args(&["plan", "j.rhai", "--output", "json"])
        .run();
    r.code(0);
    let ev = r.events();
    validate(&ev);
    let kinds: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["start", "action", "log", "action", "recap"]);
    assert_eq!(ev[1]["diff"].as_str().unwrap().lines().last(), Some("+1"));
    assert_eq!(ev[4]["hosts"]["local"]["changed"], 2);
    assert_eq!(ev[4]["exit_code"], 0);
}

#[test]
fn json_failure_has_error_event_and_exit_code() {
    let r = Test::new()
        .file("f.rhai", "run([\"false\"]);\n")
        .args(&["run", "f.rhai", "--output", "json"])
        .run();
    r.code(1);
    let ev = r.events();
    validate(&ev);
    let err = ev.iter().find(|e| e["type"] == "error").unwrap();
    assert_eq!(err["exit_code"], 1);
    assert!(err["message"].as_str().unwrap().contains("exit code 1"));
    assert_eq!(ev.last().unwrap()["exit_code"], 1);
}

#[test]
fn secrets_are_redacted_in_every_channel() {
    let recipe = r#"let out = run(["printf", "%s%s", "abcdef.01234", "56789abcdef"], #{ readonly: true }).stdout;
out.trim();
let token = secret(out);
run(["echo", `kubeadm join --token ${token}`]);
info(`token is ${token}`);
write_file("/tmp/galley-secret-test-never", token);
fail(`join failed with ${token}`);"#;
    for args in [
        vec!["run", "s.rhai", "--check", "-vvv"],
        vec!["run", "s.rhai", "--check", "--output", "json", "--diff"],
        // A plan (what plan snapshots are made of), with the command's output from a fixture.
        vec!["plan", "s.rhai", "--facts", "f.json", "--diff", "-vvv"],
    ] {
        let facts = include_str!("../profiles/debian12.json").replace(
            "\"commands\": []",
            r#""commands": [{"argv": ["printf", "%s%s", "abcdef.01234", "56789abcdef"], "stdout": "abcdef.0123456789abcdef\n"}]"#,
        );
        assert!(facts.contains("56789abcdef"), "fixture not patched");
        let r = Test::new()
            .file("f.json", &facts)
            .file("s.rhai", recipe)
            .args(&args)
            .env("RUST_LOG", "trace")
            .run();
        r.code(1);
        assert!(
            !r.stdout.contains("0123456789abcdef"),
            "stdout leaks: {}",
            r.stdout
        );
        assert!(
            !r.stderr.contains("0123456789abcdef"),
            "stderr leaks: {}",
            r.stderr
        );
        assert!(r.stdout.contains("********") || r.stderr.contains("********"));
    }
}
