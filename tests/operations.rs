//! Per-operation fixtures, in the manner of pyinfra's tests/operations/<op>/*.json: each file under
//! tests/operations/<primitive>/ gives a call, the host it meets (files, packages, services and
//! recorded commands over the debian12 profile) and the action it must record. One generic test
//! plans every case, so a new primitive's tests are data files.

mod common;
use common::Test;

use serde_json::Value;

fn cases() -> Vec<(String, std::path::PathBuf)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/operations");
    let mut out = Vec::new();
    for op in std::fs::read_dir(&root).unwrap() {
        let op = op.unwrap().path();
        for case in std::fs::read_dir(&op).unwrap() {
            let case = case.unwrap().path();
            let name = op.file_name().unwrap().to_string_lossy().to_string();
            out.push((name, case));
        }
    }
    out.sort();
    out
}

fn fixture(case: &Value) -> String {
    let mut f: Value = serde_json::from_str(include_str!("../profiles/debian12.json")).unwrap();
    for key in ["files", "packages", "services", "commands", "dirs"] {
        if let Some(v) = case.get(key) {
            f[key] = v.clone();
        }
    }
    f.to_string()
}

#[test]
fn every_operation_fixture_records_its_expected_action() {
    let all = cases();
    assert!(all.len() >= 5, "the fixtures are missing: {all:?}");
    let mut wrong = Vec::new();
    for (op, path) in all {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let call = case["call"].as_str().expect("call");
        let r = Test::new()
            .file("facts.json", &fixture(&case))
            .file("op.rhai", &format!("{call};\n"))
            .args(&[
                "plan",
                "op.rhai",
                "--facts",
                "facts.json",
                "--output",
                "json",
            ])
            .run();
        let action = r
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| e["type"] == "action" && e["primitive"] == op.as_str());
        let Some(action) = action else {
            wrong.push(format!(
                "{}: no {op} action in:\n{}{}",
                path.display(),
                r.stdout,
                r.stderr
            ));
            continue;
        };
        let expect = &case["expect"];
        for field in ["status", "summary"] {
            if let Some(want) = expect.get(field) {
                if &action[field] != want {
                    wrong.push(format!(
                        "{}: {field} {} != {want}",
                        path.display(),
                        action[field]
                    ));
                }
            }
        }
        let got = action
            .get("commands")
            .cloned()
            .unwrap_or(Value::Array(vec![]));
        if got != expect["commands"] {
            wrong.push(format!(
                "{}: commands {got} != {}",
                path.display(),
                expect["commands"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
