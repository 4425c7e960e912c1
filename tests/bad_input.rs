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
        "unknown function `instal_package` (see `galley defs` for the primitives)",
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
        "write_file: unknown option `mdoe` (known: mode, owner, group, backup, regex)",
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
    (
        "sleep too long",
        "sleep(1e300);\n",
        &[],
        "sleep: 1e300 seconds is too long",
    ),
    (
        "wait_ready huge timeout",
        "wait_ready(#{ file: \"/nonexistent-galley\", timeout: 1e300 });\n",
        &[],
        "wait_ready: timeout 1e300 seconds is too long",
    ),
    (
        "wait_ready huge interval",
        "wait_ready(#{ file: \"/nonexistent-galley\", interval: 1e300 });\n",
        &[],
        "wait_ready: interval 1e300 seconds is too long",
    ),
    (
        "huge --timeout",
        "let x = 1;\n",
        &["--timeout", "18446744073709551615"],
        "--timeout",
    ),
    (
        "download bad mode",
        "download(\"http://127.0.0.1:1/x\", \"/tmp/galley-never-x\", #{ mode: \"999\" });\n",
        &["--plan"],
        "download: mode `999` is not an octal file mode",
    ),
    (
        "unless empty",
        "run([\"true\"], #{ unless: [] });\n",
        &[],
        "run: `unless` is empty",
    ),
    (
        "argv with a NUL",
        "run([\"echo\", \"a\\x00b\"]);\n",
        &[],
        "run: argv element 2 (\"a\\0b\") contains a NUL byte",
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
        assert!(
            !r.stderr.contains('\0') && !r.stderr.contains("Runtime error: #{"),
            "{name}: raw NUL or internal error value\n{}",
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

/// A refusal is a settings mistake, not a fault in the code that noticed it: no excerpt of a
/// library line with a caret, only the line of the recipe being run that led there.
#[test]
fn a_refusal_names_the_recipe_line_and_shows_no_caret() {
    Test::new()
        .file(
            "lib.rhai",
            "fn check(cidr) {\n    if cidr != \"10.244.0.0/16\" { refuse(`pod_cidr=${cidr}: set 10.244.0.0/16`); }\n}\n",
        )
        .file(
            "r.rhai",
            "import \"lib\" as lib;\nlib::check(\"192.168.0.0/16\");\n",
        )
        .args(&["run", "r.rhai"])
        .run()
        .code(2)
        .stderr_is("error: pod_cidr=192.168.0.0/16: set 10.244.0.0/16\n  = refused at r.rhai:2:6\n");
    // A bundled recipe: the stdlib check that refuses is not shown, the recipe's line is.
    Test::new()
        .args(&[
            "plan",
            "kubeadm",
            "--set",
            "cni=flannel",
            "--set",
            "pod_cidr=192.168.0.0/16",
        ])
        .run()
        .code(2)
        .stderr_is(
            "error: pod_cidr=192.168.0.0/16 does not match flannel 0.28.10, whose manifest assigns 10.244.0.0/16: set pod_cidr=10.244.0.0/16, or fork the recipe and change the manifest\n  = refused at recipes/kubeadm.rhai:48:6\n",
        );
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

#[test]
fn a_missing_cwd_is_reported_as_the_missing_folder() {
    let r = Test::new()
        .file(
            "c.rhai",
            "run([\"true\"], #{ cwd: \"/nonexistent-galley-dir\" });\n",
        )
        .args(&["run", "c.rhai"])
        .run();
    r.code(1)
        .stderr_has("cwd `/nonexistent-galley-dir` does not exist");
    assert!(!r.stderr.contains("not found"), "{}", r.stderr);
}

#[test]
fn a_syntax_error_on_a_huge_line_shows_a_cut_line() {
    let mut recipe = String::from("let x = \"");
    recipe.push_str(&"y".repeat(5_000_000));
    recipe.push_str("\" +;\n");
    let r = Test::new()
        .file("big.rhai", &recipe)
        .args(&["run", "big.rhai"])
        .run();
    r.code(2).stderr_has("big.rhai:1:");
    assert!(
        r.stderr.contains('^'),
        "{}",
        &r.stderr[..r.stderr.len().min(2000)]
    );
    assert!(
        r.stderr.len() < 4096,
        "the message is {} bytes long",
        r.stderr.len()
    );
}

#[test]
fn an_inventory_host_range_too_large_is_refused() {
    Test::new()
        .file("inv.ini", "[web]\nh[0:999999999999]\n")
        .file("n.rhai", "let x = 1;\n")
        .args(&["plan", "n.rhai", "-i", "inv.ini"])
        .run()
        .code(2)
        .stderr_has("inv.ini:2: host range `[0:999999999999]` in `h[0:999999999999]` gives 1000000000000 hosts; at most 100000 are allowed");
}

/// Each command with its stdout a pipe whose reader has already gone: galley must end quietly
/// (killed by SIGPIPE, or exit 141 or 0), never panic.
#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let loud = "for i in 0..100000 { print(`line ${i}`); }\n";
    let cases: &[&[&str]] = &[
        &["plan", "docker"],
        &["plan", "p.rhai"],
        &["plan", "p.rhai", "--output", "json"],
        &["run", "p.rhai"],
        &["list"],
        &["show", "docker"],
        &["defs"],
        &["completions", "bash"],
        &["check", "p.rhai"],
    ];
    for args in cases {
        let t = Test::new().file("p.rhai", loud).args(args);
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(read);
        let out = t
            .command()
            .stdout(std::process::Stdio::from(write))
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let quiet = out.status.signal() == Some(13) || matches!(out.status.code(), Some(0 | 141));
        assert!(quiet, "{args:?}: {:?}\n{stderr}", out.status);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

/// Both stdout and stderr a pipe nobody reads (`2>&1 | head` after head quit): an error that
/// ends the run must not panic while reporting itself.
#[test]
fn a_closed_stderr_does_not_panic_either() {
    use std::os::unix::process::ExitStatusExt;
    for (recipe, args) in [
        ("fail(\"no\");\n", &["run", "f.rhai"][..]),
        ("let x = ;\n", &["run", "f.rhai"][..]),
        ("let x = ;\n", &["check", "f.rhai"][..]),
        ("", &["run", "f.rhai", "--set", "nope"][..]),
    ] {
        let t = Test::new().file("f.rhai", recipe).args(args);
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(read);
        let err = write.try_clone().unwrap();
        let status = t
            .command()
            .stdout(std::process::Stdio::from(write))
            .stderr(std::process::Stdio::from(err))
            .status()
            .unwrap();
        assert!(
            status.signal().is_none() && matches!(status.code(), Some(1 | 2 | 141)),
            "{args:?}: {status:?}"
        );
    }
}
