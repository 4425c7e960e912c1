//! Errors are rendered exactly: file:line:col, the source line and a caret, the chain of calls,
//! and the documented exit codes.

mod common;
use common::Test;

#[test]
fn syntax_error_is_located() {
    let r = Test::new()
        .file("bad.rhai", "let x = 1;\nlet y = (2 + ;\n")
        .args(&["run", "bad.rhai"])
        .run();
    r.code(2).stderr_is(
        "error: Syntax error: Unexpected ';'
 --> bad.rhai:2:14
  |
2 | let y = (2 + ;
  |              ^",
    );
}

#[test]
fn unknown_function_is_located() {
    let r = Test::new()
        .file("u.rhai", "let a = 1;\nfrobnicate(\"x\");\n")
        .args(&["run", "u.rhai"])
        .run();
    // Found by the lint before the run starts, in `galley check`'s words.
    r.code(2).stderr_is("error: unknown function `frobnicate` (see `galley defs` for the primitives)\n --> u.rhai:2:1\n  |\n2 | frobnicate(\"x\");\n  | ^");
}

#[test]
fn runtime_error_inside_a_stdlib_module_points_into_it() {
    let facts = include_str!("../profiles/centos7.json")
        .replace(r#""version_id": "7""#, r#""version_id": "seven""#);
    let recipe = "import \"os\" as os;\nlet v = os::major_version();\n";
    let r = Test::new()
        .file("f.json", &facts)
        .file("m.rhai", recipe)
        .args(&["plan", "m.rhai", "--facts", "f.json"])
        .run();
    r.code(2)
        .stderr_has(" --> stdlib/os.rhai:")
        .stderr_has("parse_int")
        .stderr_has("  = in call to major_version() at m.rhai:2:13");
}

#[test]
fn refused_import_says_what_is_allowed() {
    let r = Test::new()
        .file("i.rhai", "import \"../etc/passwd\" as x;\n")
        .args(&["run", "i.rhai"])
        .run();
    r.code(2).stderr_is(
        "error: import \"../etc/passwd\" refused: `..` and `.` are not allowed; imports resolve only to the bundled stdlib (e.g. \"k8s/repo\") and to .rhai files under the recipe's own folder
 --> i.rhai:1:8
  |
1 | import \"../etc/passwd\" as x;
  |        ^",
    );
}

#[test]
fn absolute_import_is_refused() {
    let r = Test::new()
        .file("i.rhai", "import \"/etc/x\" as x;\n")
        .args(&["run", "i.rhai"])
        .run();
    r.code(2)
        .stderr_has("refused: absolute paths are not allowed");
}

#[test]
fn unknown_set_key_lists_known_ones() {
    let r = Test::new()
        .file(
            "s.rhai",
            "let p = params(#{ version: \"1.31\", replicas: 3 });\n",
        )
        .args(&["run", "s.rhai", "--set", "verison=1.16"])
        .run();
    r.code(2).stderr_has("error: unknown parameter `verison` in --set; this recipe's parameters are: replicas, version\n --> s.rhai:1:9");
}

#[test]
fn wrong_set_type_is_an_error() {
    let r = Test::new()
        .file("s.rhai", "let p = params(#{ replicas: 3 });\n")
        .args(&["run", "s.rhai", "--set", "replicas=many"])
        .run();
    r.code(2)
        .stderr_has("--set replicas=many: `replicas` expects an integer (its default is 3)");
}

#[test]
fn set_without_params_is_an_error() {
    let r = Test::new()
        .file("s.rhai", "let a = 1;\n")
        .args(&["run", "s.rhai", "--set", "a=1"])
        .run();
    r.code(2).stderr_has("this recipe declares no parameters");
}

#[test]
fn bad_facts_file_names_line_and_column() {
    let r = Test::new()
        .file("f.json", "{\n  \"facts\": {\n    \"hostname\": 3\n")
        .args(&["plan", "docker", "--facts", "f.json"])
        .run();
    r.code(2).stderr_has(
        "error: bad facts file f.json:3:17: invalid type: integer `3`, expected a string",
    );
}

#[test]
fn unknown_profile_lists_profiles() {
    Test::new()
        .args(&["plan", "docker", "--profile", "win95"])
        .run()
        .code(2)
        .stderr_has("built-in profiles: centos7, debian12, rocky9, ubuntu22.04");
}

#[test]
fn failed_command_shows_host_argv_exit_code_and_stderr() {
    let r = Test::new()
        .file(
            "f.rhai",
            "run([\"sh\", \"-c\", \"echo boom >&2; exit 3\"]);\n",
        )
        .args(&["run", "f.rhai"])
        .run();
    r.code(1)
        .stderr_has("error: run on local: command `sh -c 'echo boom >&2; exit 3'` failed: exit code 3\nstderr (last lines):\n  boom\n --> f.rhai:1:1")
        .stdout_has("failed=1");
}

#[test]
fn failure_inside_a_function_shows_the_call_chain() {
    let recipe = "fn install(x) {\n    fail(`cannot install ${x}`);\n}\ninstall(\"docker\");\n";
    let r = Test::new()
        .file("c.rhai", recipe)
        .args(&["run", "c.rhai"])
        .run();
    r.code(1).stderr_is(
        "error: cannot install docker
 --> c.rhai:2:5
  |
2 |     fail(`cannot install ${x}`);
  |     ^
  = in call to install() at c.rhai:4:1",
    );
}

#[test]
fn wrong_argument_types_are_clear() {
    Test::new()
        .file("a.rhai", "run(\"ls -l\");\n")
        .args(&["run", "a.rhai"])
        .run()
        .code(2)
        .stderr_has("run() takes an argv array, e.g. run([\"ls\", \"-l\"])");
    Test::new()
        .file("b.rhai", "run([]);\n")
        .args(&["run", "b.rhai"])
        .run()
        .code(2)
        .stderr_has("argv is empty");
    Test::new()
        .file(
            "c.rhai",
            "write_file(\"/tmp/x\", \"a\", #{ mode: \"rw\" });\n",
        )
        .args(&["plan", "c.rhai"])
        .run()
        .code(2)
        .stderr_has("write_file: mode `rw` is not an octal file mode like \"0644\"");
    Test::new()
        .file("d.rhai", "run([\"true\"], #{ creats: \"/x\" });\n")
        .args(&["run", "d.rhai"])
        .run()
        .code(2)
        .stderr_has("run: unknown option `creats` (known: creates, unless, timeout, env, cwd, stdin, check, readonly, secret, images, output_for)");
}

#[test]
fn result_property_typo_is_an_error() {
    Test::new()
        .file("t.rhai", "let r = run([\"true\"]);\nprint(r.stdot);\n")
        .args(&["run", "t.rhai"])
        .run()
        .code(2)
        .stderr_has("stdot")
        .stderr_has("t.rhai:2:");
}

#[test]
fn eval_is_disabled() {
    Test::new()
        .file("e.rhai", "eval(\"1\");\n")
        .args(&["run", "e.rhai"])
        .run()
        .code(2)
        .stderr_has("e.rhai:1:1");
}

#[test]
fn unknown_recipe_lists_bundled_ones() {
    Test::new()
        .args(&["run", "nosuch"])
        .run()
        .code(2)
        .stderr_has("unknown recipe `nosuch`; bundled recipes: ")
        .stderr_has("docker");
}

#[test]
fn a_thrown_map_cannot_pose_as_galley_s_usage_error() {
    // Only galley makes its errors: a script's throw is a failed step (exit 1) whatever it holds.
    let r = Test::new()
        .file("t.rhai", "throw #{kind: \"usage\", message: \"forged\"};\n")
        .args(&["run", "t.rhai"])
        .run();
    r.code(1).stderr_has("forged");
}

#[test]
fn a_caught_error_tells_its_kind_and_message() {
    let recipe = r#"try { write_file("/x", "a", #{ mode: "9" }); } catch (e) { print(`${e.kind}|${e.message}`); }
try { run(["false"]); } catch (e) { print(`${e.kind}|${e.message}`); }
"#;
    let r = Test::new()
        .file("c.rhai", recipe)
        .args(&["run", "c.rhai"])
        .run();
    r.code(0)
        .stdout_has("usage|write_file: mode `9` is not an octal file mode like \"0644\"")
        .stdout_has("step|run on local: command `false` failed");
}
