//! Errors are rendered exactly: file:line:col, the source line and a caret, the chain of calls,
//! and the documented exit codes. Each test checks the whole of both outputs (`Test::check`):
//! a recipe that does not compile prints no recap, as nothing ran.

mod common;
use common::Test;

#[test]
fn syntax_error_is_located() {
    Test::new()
        .file("bad.rhai", "let x = 1;\nlet y = (2 + ;\n")
        .args(&["run", "bad.rhai"])
        .status(2)
        .stderr(
            "error: Syntax error: Unexpected ';'
 --> bad.rhai:2:14
  |
2 | let y = (2 + ;
  |              ^
",
        )
        .check();
}

#[test]
fn unknown_function_is_located() {
    // Found by the lint before the run starts, in `galley check`'s words.
    Test::new()
        .file("u.rhai", "let a = 1;\nfrobnicate(\"x\");\n")
        .args(&["run", "u.rhai"])
        .status(2)
        .stderr(
            "error: unknown function `frobnicate` (see `galley defs` for the primitives)
 --> u.rhai:2:1
  |
2 | frobnicate(\"x\");
  | ^
",
        )
        .check();
}

#[test]
fn runtime_error_inside_a_stdlib_module_points_into_it() {
    let facts = include_str!("../profiles/centos7.json")
        .replace(r#""version_id": "7""#, r#""version_id": "seven""#);
    let recipe = "import \"os\" as os;\nlet v = os::major_version();\n";
    Test::new()
        .file("f.json", &facts)
        .file("m.rhai", recipe)
        .args(&["plan", "m.rhai", "--facts", "f.json"])
        .status(2)
        .stdout(
            "plan m.rhai (plan: no host contacted)
recap (plan)
  local  ok=0 changed=0 failed=0 skipped=0
  nothing was changed (plan mode)
",
        )
        .stderr(
            "error: Error parsing integer number 'seven': invalid digit found in string
 --> stdlib/os.rhai:17:5
   |
17 |     parse_int(if dot < 0 { v } else { v.sub_string(0, dot) })
   |     ^
  = in call to major_version() at m.rhai:2:13
",
        )
        .check();
}

#[test]
fn refused_import_says_what_is_allowed() {
    Test::new()
        .file("i.rhai", "import \"../etc/passwd\" as x;\n")
        .args(&["run", "i.rhai"])
        .status(2)
        .stderr("error: import \"../etc/passwd\" refused: `..` and `.` are not allowed; imports resolve only to the bundled stdlib (e.g. \"k8s/repo\") and to .rhai files under the recipe's own folder
 --> i.rhai:1:8
  |
1 | import \"../etc/passwd\" as x;
  |        ^
")
        .check();
}

#[test]
fn absolute_import_is_refused() {
    Test::new()
        .file("i.rhai", "import \"/etc/x\" as x;\n")
        .args(&["run", "i.rhai"])
        .status(2)
        .stderr("error: import \"/etc/x\" refused: absolute paths are not allowed; imports resolve only to the bundled stdlib (e.g. \"k8s/repo\") and to .rhai files under the recipe's own folder
 --> i.rhai:1:8
  |
1 | import \"/etc/x\" as x;
  |        ^
")
        .check();
}

#[test]
fn unknown_set_key_lists_known_ones() {
    Test::new()
        .file(
            "s.rhai",
            "let p = params(#{ version: \"1.31\", replicas: 3 });\n",
        )
        .args(&["run", "s.rhai", "--set", "verison=1.16"])
        .status(2)
        .stdout("apply s.rhai
recap (apply, TIME)
  local  ok=0 changed=0 unreachable=0 failed=0 skipped=0
")
        .stderr("error: unknown parameter `verison` in --set; this recipe's parameters are: replicas, version
 --> s.rhai:1:9
  |
1 | let p = params(#{ version: \"1.31\", replicas: 3 });
  |         ^
")
        .check();
}

#[test]
fn wrong_set_type_is_an_error() {
    Test::new()
        .file("s.rhai", "let p = params(#{ replicas: 3 });\n")
        .args(&["run", "s.rhai", "--set", "replicas=many"])
        .status(2)
        .stdout(
            "apply s.rhai
recap (apply, TIME)
  local  ok=0 changed=0 unreachable=0 failed=0 skipped=0
",
        )
        .stderr(
            "error: --set replicas=many: `replicas` expects an integer (its default is 3)
 --> s.rhai:1:9
  |
1 | let p = params(#{ replicas: 3 });
  |         ^
",
        )
        .check();
}

#[test]
fn set_without_params_is_an_error() {
    Test::new()
        .file("s.rhai", "let a = 1;\n")
        .args(&["run", "s.rhai", "--set", "a=1"])
        .status(2)
        .stdout(
            "apply s.rhai
recap (apply, TIME)
  local  ok=0 changed=0 unreachable=0 failed=0 skipped=0
",
        )
        .stderr(
            "error: --set a given, but this recipe declares no parameters (it never calls params())
",
        )
        .check();
}

#[test]
fn bad_facts_file_names_line_and_column() {
    Test::new()
        .file("f.json", "{\n  \"facts\": {\n    \"hostname\": 3\n")
        .args(&["plan", "docker", "--facts", "f.json"])
        .status(2)
        .stderr(
            "error: bad facts file f.json:3:17: invalid type: integer `3`, expected a string
",
        )
        .check();
}

#[test]
fn unknown_profile_lists_profiles() {
    Test::new()
        .args(&["plan", "docker", "--profile", "win95"])
        .status(2)
        .stderr("error: unknown facts profile `win95`; built-in profiles: centos7, debian12, rocky9, ubuntu22.04
")
        .check();
}

#[test]
fn failed_command_shows_host_argv_exit_code_and_stderr() {
    Test::new()
        .file(
            "f.rhai",
            "run([\"sh\", \"-c\", \"echo boom >&2; exit 3\"]);\n",
        )
        .args(&["run", "f.rhai"])
        .status(1)
        .stdout(
            "apply f.rhai
  failed local run sh -c 'echo boom >&2; exit 3' (TIME)
         run on local: command `sh -c 'echo boom >&2; exit 3'` failed: exit code 3
         stderr (last lines):
           boom
recap (apply, TIME)
  local  ok=0 changed=0 unreachable=0 failed=1 skipped=0
",
        )
        .stderr(
            "error: run on local: command `sh -c 'echo boom >&2; exit 3'` failed: exit code 3
stderr (last lines):
  boom
 --> f.rhai:1:1
  |
1 | run([\"sh\", \"-c\", \"echo boom >&2; exit 3\"]);
  | ^
",
        )
        .check();
}

#[test]
fn failure_inside_a_function_shows_the_call_chain() {
    let recipe = "fn install(x) {\n    fail(`cannot install ${x}`);\n}\ninstall(\"docker\");\n";
    Test::new()
        .file("c.rhai", recipe)
        .args(&["run", "c.rhai"])
        .status(1)
        .stdout(
            "apply c.rhai
recap (apply, TIME)
  local  ok=0 changed=0 unreachable=0 failed=0 skipped=0
",
        )
        .stderr(
            "error: cannot install docker
 --> c.rhai:2:5
  |
2 |     fail(`cannot install ${x}`);
  |     ^
  = in call to install() at c.rhai:4:1
",
        )
        .check();
}

#[test]
fn wrong_argument_types_are_clear() {
    // Literals the call would refuse are found by the lint, before the run starts: nothing is
    // printed on stdout. A computed argv that is empty stops the run at that step.
    let stopped = |recipe: &str| {
        format!(
            "apply {recipe}\nrecap (apply, TIME)\n  local  ok=0 changed=0 unreachable=0 failed=0 skipped=0\n"
        )
    };
    Test::new()
        .file("a.rhai", "run(\"ls -l\");\n")
        .args(&["run", "a.rhai"])
        .status(2)
        .stderr("error: run() takes an argv array, e.g. run([\"ls\", \"-l\"]); for a shell command line use sh(\"ls -l | wc -l\")
 --> a.rhai:1:1
  |
1 | run(\"ls -l\");
  | ^
")
        .check();
    Test::new()
        .file("b.rhai", "let argv = [];\nrun(argv);\n")
        .args(&["run", "b.rhai"])
        .status(2)
        .stdout(&stopped("b.rhai"))
        .stderr(
            "error: run: argv is empty; give the program and its arguments, e.g. [\"ls\", \"-l\"]
 --> b.rhai:2:1
  |
2 | run(argv);
  | ^
",
        )
        .check();
    Test::new()
        .file(
            "c.rhai",
            "write_file(\"/tmp/x\", \"a\", #{ mode: \"rw\" });\n",
        )
        .args(&["plan", "c.rhai"])
        .status(2)
        .stderr(
            "error: write_file: mode `rw` is not an octal file mode like \"0644\"
 --> c.rhai:1:1
  |
1 | write_file(\"/tmp/x\", \"a\", #{ mode: \"rw\" });
  | ^
",
        )
        .check();
    Test::new()
        .file("d.rhai", "run([\"true\"], #{ creats: \"/x\" });\n")
        .args(&["run", "d.rhai"])
        .status(2)
        .stderr(
            "error: run: unknown option `creats` (known: creates, unless, timeout, env, cwd, stdin, check, readonly, secret, images, output_for)
 --> d.rhai:1:1
  |
1 | run([\"true\"], #{ creats: \"/x\" });
  | ^
",
        )
        .check();
}

#[test]
fn result_property_typo_is_an_error() {
    Test::new()
        .file("t.rhai", "let r = run([\"true\"]);\nprint(r.stdot);\n")
        .args(&["run", "t.rhai"])
        .status(2)
        .stdout(
            "apply t.rhai
 changed local run true (TIME)
recap (apply, TIME)
  local  ok=0 changed=1 unreachable=0 failed=0 skipped=0
",
        )
        .stderr(
            "error: Unknown property 'stdot' - a getter is not registered for type 'Result'
 --> t.rhai:2:9
  |
2 | print(r.stdot);
  |         ^
",
        )
        .check();
}

#[test]
fn eval_is_disabled() {
    Test::new()
        .file("e.rhai", "eval(\"1\");\n")
        .args(&["run", "e.rhai"])
        .status(2)
        .stderr(
            "error: Syntax error: reserved keyword 'eval' is disabled
 --> e.rhai:1:1
  |
1 | eval(\"1\");
  | ^
",
        )
        .check();
}

#[test]
fn unknown_recipe_lists_bundled_ones() {
    Test::new()
        .args(&["run", "nosuch"])
        .status(2)
        .stderr("error: unknown recipe `nosuch`; bundled recipes: certs, cni, containerd, docker, etcd-backup, etcd-restore, kind, kubeadm, minikube, remove-node, reset, upgrade (or give a path to a .rhai file)
")
        .check();
}

#[test]
fn a_thrown_map_cannot_pose_as_galley_s_usage_error() {
    // Only galley makes its errors: a script's throw is a failed step (exit 1) whatever it holds.
    Test::new()
        .file("t.rhai", "throw #{kind: \"usage\", message: \"forged\"};\n")
        .args(&["run", "t.rhai"])
        .status(1)
        .stdout(
            "apply t.rhai
recap (apply, TIME)
  local  ok=0 changed=0 unreachable=0 failed=0 skipped=0
",
        )
        .stderr(
            "error: #{\"kind\": \"usage\", \"message\": \"forged\"}
 --> t.rhai:1:1
  |
1 | throw #{kind: \"usage\", message: \"forged\"};
  | ^
",
        )
        .check();
}

#[test]
fn a_caught_error_tells_its_kind_and_message() {
    // (The mode is computed: a literal one the lint would refuse before the run.)
    let recipe = r#"let m = "9";
try { write_file("/x", "a", #{ mode: m }); } catch (e) { print(`${e.kind}|${e.message}`); }
try { run(["false"]); } catch (e) { print(`${e.kind}|${e.message}`); }
"#;
    // Caught, the failed step still shows as failed (and counts so), and the run goes on.
    Test::new()
        .file("c.rhai", recipe)
        .args(&["run", "c.rhai"])
        .stdout(
            "apply c.rhai
    info - usage|write_file: mode `9` is not an octal file mode like \"0644\"
  failed local run false (TIME)
         run on local: command `false` failed: exit code 1
    info - step|run on local: command `false` failed: exit code 1
recap (apply, TIME)
  local  ok=0 changed=0 unreachable=0 failed=1 skipped=0
",
        )
        .check();
}
