//! `galley run` (and `plan`) lint the whole recipe the way `galley check` does before any host is
//! touched: a misspelled function on line 40 stops the run with check's message, exit 2, and
//! nothing from lines 1–39 applied; literal options of primitives are checked too, and an option
//! of the wrong type is named, literal or computed.

mod common;

use common::Test;

/// A recipe that writes `one.txt` on line 5 and misspells `write_file` on line 40.
fn typo_recipe(dir: &str) -> String {
    let mut lines: Vec<String> = (1..=39).map(|i| format!("// line {i}")).collect();
    lines[4] = format!("write_file(\"{dir}/one.txt\", \"1\\n\");");
    lines.push(format!("write_flie(\"{dir}/two.txt\", \"2\\n\");"));
    lines.join("\n") + "\n"
}

const TYPO_ERROR: &str =
    "error: unknown function `write_flie` (see `galley defs` for the primitives)
 --> ./typo.rhai:40:1
   |
40 | write_flie(\"{dir}/two.txt\", \"2\\n\");
   | ^";

#[test]
fn a_typo_on_line_40_stops_the_run_before_line_5_applies() {
    let t = Test::new();
    let dir = t.path().display().to_string();
    let t = t.file("typo.rhai", &typo_recipe(&dir));
    // Nothing ran, so nothing is recapped: stdout is empty, as `galley check`'s is.
    let ran = t
        .args(&["run", "./typo.rhai"])
        .status(2)
        .stderr(&format!("{}\n", TYPO_ERROR.replace("{dir}", &dir)))
        .check();
    assert!(!ran.dir.join("one.txt").exists(), "line 5 was applied");
}

#[test]
fn run_and_check_report_the_same_message() {
    let t = Test::new();
    let dir = t.path().display().to_string();
    let t = t.file("typo.rhai", &typo_recipe(&dir));
    let check = t.args(&["check", "./typo.rhai"]).run();
    check.code(2);
    assert_eq!(check.stdout, "");
    assert_eq!(check.stderr.trim_end(), TYPO_ERROR.replace("{dir}", &dir));
    // A plan and a check run refuse it the same way.
    for mode in [
        &["plan", "./typo.rhai"][..],
        &["run", "./typo.rhai", "--check"],
    ] {
        let t = Test::new().file("typo.rhai", &typo_recipe(&dir));
        let ran = t.args(mode).run();
        ran.code(2);
        assert_eq!(ran.stderr.trim_end(), TYPO_ERROR.replace("{dir}", &dir));
    }
}

#[test]
fn json_output_carries_the_lint_error_and_no_action() {
    let t = Test::new();
    let dir = t.path().display().to_string();
    let ran = t
        .file("typo.rhai", &typo_recipe(&dir))
        .args(&["run", "./typo.rhai", "--output", "json"])
        .run();
    ran.code(2);
    let types: Vec<String> = ran
        .events()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types, ["error", "recap"]);
    assert_eq!(
        ran.events()[0]["message"],
        TYPO_ERROR.replace("{dir}", &dir).as_str()
    );
}

const OPTIONS: &str = r#"write_file("{dir}/one.txt", "1\n");
run(["true"], #{ timeout: "5" });
run(["true"], #{ timout: 5, readonly: true });
run(["true"], #{ env: #{ A: 1 } });
"#;

#[test]
fn literal_options_are_checked_before_the_run_and_named() {
    let t = Test::new();
    let dir = t.path().display().to_string();
    let ran = t
        .file("opts.rhai", &OPTIONS.replace("{dir}", &dir))
        .args(&["run", "./opts.rhai"])
        .run();
    ran.code(2);
    ran.stderr_is(
        "error: run: option `timeout` must be a whole number, not the string `5`
 --> ./opts.rhai:2:1
  |
2 | run([\"true\"], #{ timeout: \"5\" });
  | ^
error: run: unknown option `timout` (known: creates, unless, timeout, env, cwd, stdin, check, readonly, secret, images, output_for)
 --> ./opts.rhai:3:1
  |
3 | run([\"true\"], #{ timout: 5, readonly: true });
  | ^
error: run: option `env`: each value in it must be a string, not a number (`#{\"A\": 1}`)
 --> ./opts.rhai:4:1
  |
4 | run([\"true\"], #{ env: #{ A: 1 } });
  | ^",
    );
    assert!(!ran.dir.join("one.txt").exists(), "line 1 was applied");
}

#[test]
fn a_computed_option_of_the_wrong_type_is_named_when_it_runs() {
    let ran = Test::new()
        .file(
            "t.rhai",
            "let t = \"5\";\nrun([\"true\"], #{ timeout: t });\n",
        )
        .args(&["run", "./t.rhai"])
        .run();
    ran.code(2);
    ran.stderr_is(
        "error: run: option `timeout` must be a whole number, not the string `5`
 --> ./t.rhai:2:1
  |
2 | run([\"true\"], #{ timeout: t });
  | ^",
    );
}
