//! The subcommands beside run/plan: list, show, fork, check, defs, completions, help.

mod common;
use common::Test;

#[test]
fn list_shows_bundled_and_local_recipes_with_summaries() {
    let r = Test::new()
        .file("mine.rhai", "//! My own recipe.\n")
        .args(&["list"])
        .run();
    r.code(0)
        .stdout_has("docker")
        .stdout_has("Docker CE")
        // The summaries start in one column, after the longest name (etcd-restore).
        .stdout_has("  ./mine.rhai   My own recipe.");
}

#[test]
fn list_aligns_local_recipes_with_the_bundled_ones() {
    let r = Test::new()
        .file("a-much-longer-name.rhai", "//! Long.\n")
        .file("bare.rhai", "let x = 1;\n")
        .args(&["list"])
        .run();
    r.code(0);
    // The local section whole; the bundled summaries (the recipes' own words) start in the
    // same column.
    let (bundled, local) = r.stdout.split_once("recipes in .:\n").unwrap();
    assert_eq!(local, "  ./a-much-longer-name.rhai  Long.\n  ./bare.rhai\n");
    let column = "  ./a-much-longer-name.rhai  ".len();
    let rows: Vec<&str> = bundled.lines().skip(1).collect();
    assert!(rows.len() >= 7, "{bundled}");
    for row in rows {
        assert!(
            row[..column].ends_with("  ") && !row[column..].starts_with(' '),
            "not aligned: {row:?}"
        );
    }
}

#[test]
fn show_lists_parameters_and_imports_without_running() {
    let recipe = "//! Demo.\nimport \"os\" as os;\nlet p = params(#{ version: \"1.31\", n: 3 });\nrun([\"touch\", \"ran\"]);\n";
    let t = Test::new().file("d.rhai", recipe).args(&["show", "d.rhai"]);
    let r = t.run();
    r.code(0)
        .stdout_has("Demo.")
        .stdout_has("  n        3")
        .stdout_has("  version  \"1.31\"")
        .stdout_has("imports: os");
    assert!(!r.dir.join("ran").exists());
}

#[test]
fn fork_copies_and_never_overwrites_without_force() {
    let t = Test::new().args(&["fork", "docker", "mine"]);
    t.run().code(0).stdout_has("wrote mine/docker.rhai");
    let again = t.run();
    again.code(2).stderr_has("already exists; use --force");
    let (dir, _) = t.keep();
    let forced = Test::new()
        .args(&[
            "fork",
            "docker",
            &dir.path().join("mine").display().to_string(),
            "--force",
        ])
        .run();
    forced.code(0);
    Test::new()
        .args(&[
            "plan",
            &dir.path().join("mine/docker.rhai").display().to_string(),
        ])
        .run()
        .code(0);
}

#[test]
fn fork_with_stdlib_copies_imported_modules_which_then_win() {
    let t = Test::new()
        .file(
            "r.rhai",
            "import \"os\" as os;\nif os::is_rhel() { info(\"local\"); }\n",
        )
        .file("os.rhai", "fn is_rhel() { true }\n")
        .args(&["plan", "r.rhai", "--profile", "debian12"]);
    t.run().code(0).stdout_has("info local local");
}

#[test]
fn check_compiles_and_lints() {
    Test::new()
        .file("ok.rhai", "fn f() { 1 }\nf();\n")
        .args(&["check", "ok.rhai"])
        .run()
        .code(0)
        .stdout_has("ok: ok.rhai compiles");
    // No empty `imports:`, and one function is one.
    let ran = Test::new()
        .file("ok.rhai", "fn f() { 1 }\nf();\n")
        .args(&["check", "ok.rhai"])
        .run();
    assert_eq!(ran.stdout, "ok: ok.rhai compiles; 1 function\n");
    let ran = Test::new()
        .file("imp.rhai", "import \"os\" as os;\n")
        .args(&["check", "imp.rhai"])
        .run();
    assert_eq!(
        ran.stdout,
        "ok: imp.rhai compiles; 0 functions; imports: os\n"
    );
    Test::new()
        .file("bad.rhai", "let x = 1;\nwrite_fiel(\"/x\", \"y\");\n")
        .args(&["check", "bad.rhai"])
        .run()
        .code(2)
        .stderr_has("error: unknown function `write_fiel`")
        .stderr_has(" --> bad.rhai:2:1");
    Test::new()
        .file("imp.rhai", "import \"nosuch/mod\" as m;\n")
        .args(&["check", "imp.rhai"])
        .run()
        .code(2)
        .stderr_has("error: Module not found: nosuch/mod (stdlib modules: k8s/certs, k8s/cluster, ")
        .stderr_has(" --> imp.rhai:1:8");
    Test::new().args(&["check", "docker"]).run().code(0);
}

#[test]
fn defs_writes_definitions_with_doc_comments() {
    let t = Test::new().args(&["defs", "out"]);
    t.run().code(0);
    let (dir, _) = t.keep();
    let mut all = String::new();
    for e in std::fs::read_dir(dir.path().join("out")).unwrap() {
        all.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    assert!(all.contains("fn write_file("), "{all}");
    assert!(all.contains("Writes a file atomically"), "{all}");
    assert!(all.contains("fn on("), "{all}");
}

#[test]
fn completions_and_help() {
    Test::new()
        .args(&["completions", "bash"])
        .run()
        .code(0)
        .stdout_has("_galley()");
    Test::new()
        .args(&["--help"])
        .run()
        .code(0)
        .stdout_has("Examples:")
        .stdout_has("Exit codes:");
    Test::new()
        .args(&["run", "--help"])
        .run()
        .code(0)
        .stdout_has("--check")
        .stdout_has("galley run docker --check --diff");
    Test::new().args(&["frobnicate"]).run().code(2);
}
