//! `galley facts --save` saves what plans need (issue 18, item 4): a plan from the saved file
//! gives each step of a bundled recipe the status `galley run --check` gives on the same host,
//! here this machine. What the file holds is learnt from the recipes' own plans (the packages,
//! services, files, kernel parameters and read-only commands their probes ask about); names given
//! with `--package`, `--service`, `--file` and `--sysctl` are saved too.
//!
//! Compared: each action's status and primitive, in order, and the exit code (on a machine that
//! does not run systemd, both fail at the recipe's first `systemctl`: the saved facts say what
//! PID 1 is). `--recipe containerd` keeps the saving to that recipe's questions.

mod common;

use std::path::Path;
use std::process::Command;

fn galley(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(common::galley_bin())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run galley");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `status primitive summary` of each action in JSON output.
fn actions(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "action")
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (s("status"), s("primitive"), s("summary"))
        })
        .collect()
}

#[test]
fn a_plan_from_saved_facts_says_what_check_says_on_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = galley(
        dir.path(),
        &["facts", "--save", "saved", "--recipe", "containerd"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("saved/local.json")).unwrap(),
    )
    .unwrap();
    // The recipe's questions were saved: its kernel parameters, and its read-only command.
    assert!(
        saved["sysctl"]
            .as_object()
            .is_some_and(|s| s.contains_key("net.ipv4.ip_forward")),
        "{saved:#}"
    );
    assert!(
        saved["commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["argv"] == serde_json::json!(["containerd", "config", "default"])),
        "{saved:#}"
    );

    let (pcode, plan, perr) = galley(
        dir.path(),
        &[
            "plan",
            "containerd",
            "--facts",
            "saved/local.json",
            "--output",
            "json",
        ],
    );
    let (ccode, check, cerr) = galley(
        dir.path(),
        &["run", "containerd", "--check", "--output", "json"],
    );
    // Status and primitive of each step; a plan never waits, so `wait_ready` is always unknown
    // there and is left out.
    let steps = |stdout: &str| -> Vec<String> {
        actions(stdout)
            .into_iter()
            .filter(|a| a.1 != "wait_ready")
            .map(|a| format!("{} {}", a.0, a.1))
            .collect()
    };
    let (want, got) = (steps(&check), steps(&plan));
    assert!(
        want.len() > 5,
        "check did too little ({ccode}):\n{want:#?}\n{cerr}"
    );
    assert_eq!(
        got, want,
        "plan from saved facts (exit {pcode}) and check (exit {ccode}) disagree\n{:#?}\n{:#?}\n{perr}\n{cerr}",
        actions(&plan),
        actions(&check)
    );
    assert_eq!(pcode, ccode, "{perr}\n{cerr}");
}

#[test]
fn names_given_are_saved_as_the_host_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("kept.conf");
    std::fs::write(&kept, "keep = me\n").unwrap();
    let kept = kept.display().to_string();
    // A recipe of one's own, so no bundled recipe's commands run here.
    std::fs::write(dir.path().join("r.rhai"), "info(\"nothing to ask\");\n").unwrap();
    let (code, out, err) = galley(
        dir.path(),
        &[
            "facts",
            "--save",
            "saved",
            "--recipe",
            "./r.rhai",
            "--package",
            "dpkg",
            "--package",
            "rpm",
            "--package",
            "galley-no-such-package",
            "--file",
            &kept,
            "--file",
            "/galley/no/such/file",
            "--sysctl",
            "net.ipv4.ip_forward",
            "--sysctl",
            "net.ipv4.ip_froward",
            "--service",
            "galley-no-such-unit",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("saved/local.json")).unwrap(),
    )
    .unwrap();
    let forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    assert_eq!(saved["sysctl"]["net.ipv4.ip_forward"], forward.as_str());
    assert!(
        saved["sysctl"]["net.ipv4.ip_froward"].is_null(),
        "{saved:#}"
    );
    assert_eq!(saved["files"][&kept]["content"], "keep = me\n");
    assert!(
        saved["files"].get("/galley/no/such/file").is_none(),
        "{saved:#}"
    );
    assert_eq!(saved["services"]["galley-no-such-unit"]["active"], false);
    assert!(saved["packages"].get("galley-no-such-package").is_none());
    // dpkg is on every Debian-family host, rpm on every Red Hat one: whichever this is.
    let base = match saved["facts"]["os"]["family"].as_str() {
        Some("debian") => "dpkg",
        _ => "rpm",
    };
    assert!(saved["packages"][base].is_string(), "{saved:#}");
    // The saved file answers a plan: the file's content, the parameter's value.
    std::fs::write(
        dir.path().join("p.rhai"),
        format!(
            "write_file(\"{kept}\", \"keep = me\\n\");\nsysctl(\"net.ipv4.ip_forward\", \"{}\", #{{ persist: false }});\n",
            forward.trim()
        ),
    )
    .unwrap();
    let (code, out, err) = galley(
        dir.path(),
        &["plan", "./p.rhai", "--facts", "saved/local.json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok=2 changed=0"), "{out}");
}

#[test]
fn the_plans_that_learn_what_to_save_get_the_settings_given() {
    // The recipe reads a file that a parameter names: saved only when --set names it, as the
    // plan to be made from the file (with that --set) will read it.
    let dir = tempfile::tempdir().unwrap();
    let wanted = dir.path().join("wanted.conf");
    std::fs::write(&wanted, "wanted = yes\n").unwrap();
    let wanted = wanted.display().to_string();
    std::fs::write(
        dir.path().join("r.rhai"),
        "let p = params(#{ conf: \"/galley/none\" });\nif file_exists(p.conf) { info(read_file(p.conf)); }\n",
    )
    .unwrap();
    let saved = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["facts", "--save", "saved", "--recipe", "./r.rhai"];
        all.extend_from_slice(args);
        let (code, out, err) = galley(dir.path(), &all);
        assert_eq!(code, 0, "{out}{err}");
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("saved/local.json")).unwrap())
            .unwrap()
    };
    let plain = saved(&[]);
    assert!(plain["files"].get(&wanted).is_none(), "{plain:#}");
    let set = format!("conf={wanted}");
    let given = saved(&["--set", &set]);
    assert_eq!(
        given["files"][&wanted]["content"], "wanted = yes\n",
        "{given:#}"
    );
}
