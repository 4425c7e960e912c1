//! Bad input never panics: each case gets a clear, located error and exit code 2.
//! docs/reliability.md lists every case with the message it gives.

mod common;
use common::Test;

/// (name, recipe text, extra args, fragment the error must contain)
const CASES: &[(&str, &str, &[&str], &str)] = &[
    ("empty recipe", "", &[], ""),
    (
        "unbalanced braces",
        "if true {\n  run([\"true\"]);\n",
        &[],
        "x.rhai:3:1",
    ),
    (
        "infinite recursion",
        "fn f() { f() }\nf();\n",
        &[],
        "call stack too deep (endless recursion?)",
    ),
    ("loop {}", "loop {}\n", &[], "operation limit"),
    (
        "huge string building",
        "let s = \"xxxxxxxx\";\nloop { s += s; }\n",
        &[],
        "Length of string too large",
    ),
    (
        "unknown primitive",
        "instal_package(\"x\");\n",
        &[],
        "Function not found: instal_package",
    ),
    (
        "run with a string",
        "run(\"ls -l\");\n",
        &[],
        "run() takes an argv array",
    ),
    (
        "run with a number",
        "run(42);\n",
        &[],
        "wrong arguments in call to run (i64); run is called as: run(argv: Array) -> Result",
    ),
    (
        "argv with a map",
        "run([#{}]);\n",
        &[],
        "every argv element must be a string, got a map",
    ),
    (
        "write_file bad mode",
        "write_file(\"/tmp/x\", \"a\", #{ mode: \"rwx\" });\n",
        &["--plan"],
        "mode `rwx` is not an octal file mode",
    ),
    (
        "write_file unknown option",
        "write_file(\"/tmp/x\", \"a\", #{ mdoe: \"0644\" });\n",
        &["--plan"],
        "unknown field `mdoe`",
    ),
    (
        "write_file no content",
        "write_file(\"/tmp/x\");\n",
        &[],
        "write_file is called as: write_file(path: &str, content: Dynamic) -> Result or",
    ),
    (
        "line_in_file bad regex",
        "line_in_file(\"/tmp/x\", \"a\", #{ regex: \"(\" });\n",
        &["--plan"],
        "line_in_file: bad regex",
    ),
    (
        "unknown --set type",
        "let p = params(#{ n: 1 });\n",
        &["--set", "n=x"],
        "`n` expects an integer",
    ),
    (
        "params twice",
        "params(#{});\nparams(#{});\n",
        &[],
        "params() is called more than once",
    ),
    (
        "secret too short",
        "secret(\"ab\");\n",
        &[],
        "a secret must be at least 4 characters",
    ),
    (
        "on unknown group",
        "on(\"workers\", |h| 1);\n",
        &[],
        "no host or group named `workers`",
    ),
    (
        "on bad batch",
        "on(\"all\", #{ batch: \"x%\" }, |h| 1);\n",
        &[],
        "is not a percentage",
    ),
    (
        "import missing module",
        "import \"k8s/nope\" as x;\n",
        &[],
        "Module not found: k8s/nope",
    ),
];

#[test]
fn every_bad_input_gets_a_clear_error_and_exit_2() {
    for (name, recipe, extra, fragment) in CASES {
        let mut args = vec!["run", "x.rhai"];
        args.extend_from_slice(extra);
        let r = Test::new().file("x.rhai", recipe).args(&args).run();
        if recipe.is_empty() {
            assert_eq!(
                r.code, 0,
                "{name}: an empty recipe is valid and does nothing"
            );
            continue;
        }
        assert_eq!(r.code, 2, "{name}: exit code\nstderr: {}", r.stderr);
        assert!(
            r.stderr.contains(fragment),
            "{name}: stderr lacks {fragment:?}\n{}",
            r.stderr
        );
        assert!(r.stderr.starts_with("error: "), "{name}: {}", r.stderr);
        assert!(
            !r.stderr.contains("panicked"),
            "{name}: panic\n{}",
            r.stderr
        );
    }
}

#[test]
fn binary_and_non_utf8_recipes_are_refused() {
    Test::new()
        .file("b.rhai", "")
        .args(&["run", "b.rhai"])
        .run()
        .code(0);
    let t = Test::new();
    std::fs::write(t.path().join("bin.rhai"), [0u8, 159, 146, 150, 0, 1, 2]).unwrap();
    t.args(&["run", "bin.rhai"])
        .run()
        .code(2)
        .stderr_has("not UTF-8 text (is it a binary file?)");
}

#[test]
fn a_huge_recipe_is_handled() {
    let mut text = String::new();
    for i in 0..20000 {
        text.push_str(&format!("let v{i} = {i};\n"));
    }
    text.push_str("if v19999 != 19999 { fail(\"wrong\"); }\n");
    Test::new()
        .file("h.rhai", &text)
        .args(&["run", "h.rhai"])
        .run()
        .code(0);
}

#[test]
fn missing_recipe_file_is_a_clear_error() {
    Test::new()
        .args(&["run", "./nope.rhai"])
        .run()
        .code(2)
        .stderr_has("cannot read recipe ./nope.rhai: No such file or directory");
}

#[test]
fn an_import_cycle_is_an_error_not_a_crash() {
    let r = Test::new()
        .file("r.rhai", "import \"a\" as a;\n")
        .file("a.rhai", "import \"b\" as b;\nfn x() { 1 }\n")
        .file("b.rhai", "import \"a\" as a;\nfn y() { 2 }\n")
        .args(&["run", "r.rhai"])
        .run();
    r.code(2).stderr_has("import cycle: a → b → a");
    Test::new()
        .file("self.rhai", "import \"self\" as s;\n")
        .args(&["run", "self.rhai"])
        .run()
        .code(2)
        .stderr_has("import cycle: self → self");
}

#[test]
fn refuse_exits_2_and_fail_exits_1() {
    Test::new()
        .file(
            "r.rhai",
            "refuse(\"pod_cidr overlaps the node network\");\n",
        )
        .args(&["run", "r.rhai"])
        .run()
        .code(2)
        .stderr_has("error: pod_cidr overlaps");
    Test::new()
        .file("f.rhai", "fail(\"no\");\n")
        .args(&["run", "f.rhai"])
        .run()
        .code(1);
}

#[test]
fn an_unknown_owner_fails_the_step_and_writes_nothing() {
    let t = Test::new();
    let target = t.path().join("owned");
    let recipe = format!(
        "write_file(\"{}\", \"a\", #{{ owner: \"no_such_user_x\" }});\n",
        target.display()
    );
    let t = t.file("o.rhai", &recipe).args(&["run", "o.rhai"]);
    t.run()
        .code(1)
        .stderr_has("owner `no_such_user_x` does not exist on this host");
    assert!(!target.exists());
}

#[test]
fn an_inventory_naming_an_unknown_host_is_a_located_error() {
    Test::new()
        .file(
            "inv.toml",
            "[hosts.a]\naddress = \"127.0.0.1\"\n[groups.web]\nhosts = [\"a\", \"b\"]\n",
        )
        .file("n.rhai", "let x = 1;\n")
        .args(&["plan", "n.rhai", "-i", "inv.toml"])
        .run()
        .code(2)
        .stderr_has("inv.toml:4: group `web` lists unknown host `b`");
}
