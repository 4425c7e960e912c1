//! Sandbox audit: a recipe can reach the host only through primitives. Each escape a recipe might
//! try is a case here, and the set of functions the engine exposes is checked against the list of
//! primitives, so a new capability cannot slip in unnoticed.

mod common;
use common::Test;

fn refused(recipe: &str, fragment: &str) {
    let r = Test::new()
        .file("x.rhai", recipe)
        .args(&["run", "x.rhai"])
        .run();
    assert_ne!(r.code, 0, "escape succeeded: {recipe}\n{}", r.stdout);
    r.stderr_has(fragment);
}

#[test]
fn eval_is_off_at_parse_time() {
    refused("eval(\"run([\\\"id\\\"])\");", "x.rhai:1:1");
    refused("let f = Fn(\"eval\"); f.call(\"1\");", "x.rhai:1:");
}

#[test]
fn imports_are_confined() {
    refused(
        "import \"/etc/passwd\" as p;",
        "absolute paths are not allowed",
    );
    refused(
        "import \"../../etc/passwd\" as p;",
        "`..` and `.` are not allowed",
    );
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("evil.rhai"), "fn x() { 1 }").unwrap();
    let t = Test::new().file("r.rhai", "import \"evil\" as e;\ne::x();\n");
    std::os::unix::fs::symlink(outside.path().join("evil.rhai"), t.path().join("evil.rhai"))
        .unwrap();
    t.args(&["run", "r.rhai"])
        .run()
        .code(2)
        .stderr_has("symlink that leads outside the recipe's folder");
}

#[test]
fn strict_variables_and_limits_hold() {
    refused("print(undefined_var);", "Undefined variable: undefined_var");
    refused("let s = \"x\"; loop { s += s; }", "x.rhai:1:");
    refused("let a = []; loop { a.push(1); }", "x.rhai:1:");
    refused("fn f(n) { f(n + 1) } f(0);", "x.rhai:1:");
}

/// Every function a recipe can call that is not part of Rhai's own standard library.
const PRIMITIVES: &[&str] = &[
    "alternatives",
    "apt",
    "apt_repo",
    // The kubeadm family's typed cluster description (src/primitives/cluster.rs).
    "cluster",
    // Pure, no host access: strings found in an array without resolving `==` per element.
    "contains",
    "download",
    "ensure_dir",
    "extract",
    "facts",
    // Writes one file on the machine galley runs on, from the host: streamed into a temp file,
    // checked against the host's sha256, renamed over dest (a symlink there is replaced, never
    // followed); tests/fetch.rs.
    "fetch",
    "fail",
    "file_exists",
    "host",
    "hosts",
    "hosts_all",
    "info",
    "kubectl",
    "kubectl_apply",
    "kubectl_json",
    "line_in_file",
    "mirror_url",
    "modprobe",
    "on",
    "on_one",
    "params",
    "plural",
    "pkg",
    "pkg_version",
    "read_file",
    "refuse",
    "registry_mirrors",
    "run",
    "secret",
    "selinux",
    "sh",
    // Replaces Rhai's own, which Ctrl-C and --timeout could not stop.
    "sleep",
    "swapoff",
    "sysctl",
    "systemctl",
    // Reads a file from the recipe's own folder only, under the imports' path rule.
    "template",
    "toml_set",
    "try_on",
    "user",
    "wait_ready",
    "warn",
    "write_file",
    "yum",
    "yum_repo",
    "yum_repo_url",
];

#[test]
fn the_engine_exposes_only_known_primitives() {
    let t = Test::new().args(&["defs", "d"]);
    t.run().code(0);
    let (dir, _) = t.keep();
    let mut names = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(dir.path().join("d")).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("fn ") {
                let name = rest.split(['(', '<']).next().unwrap().trim();
                if !name.starts_with("get ")
                    && !name.starts_with("set ")
                    && !matches!(name, "to_string" | "to_debug")
                {
                    names.insert(name.to_string());
                }
            }
        }
    }
    let unknown: Vec<_> = names
        .iter()
        .filter(|n| !PRIMITIVES.contains(&n.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "functions exposed to recipes that are not audited primitives: {unknown:?}"
    );
    assert!(names.contains("run") && names.contains("write_file"));
}

/// Runs `recipe` with the address space limited to 3 GiB (`ulimit -v`), the way a small machine
/// or a container limits it: without a bound on the total, the allocation that fails aborts.
fn run_in_3_gib(recipe: &str) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let t = Test::new().file("x.rhai", recipe).args(&["run", "x.rhai"]);
    let mut cmd = t.command();
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let limit = 3 << 30;
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_AS, limit, limit)
                .map_err(std::io::Error::from)
        });
    }
    cmd.output().unwrap()
}

#[test]
fn the_total_size_of_values_is_bounded() {
    let big = "let s = \"x\"; for i in 0..24 { s += s; }\n";
    for (what, body) in [
        (
            "a map of big strings",
            "let m = #{}; for i in 0..400 { m[\"k\" + i] = s + i; }",
        ),
        (
            "closures capturing big strings",
            "let fs = []; for i in 0..400 { let t = s + i; fs.push(|| t); }",
        ),
    ] {
        let out = run_in_3_gib(&format!("{big}{body}\n"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{what}: {:?}\n{stderr}",
            out.status
        );
        assert!(
            stderr.contains("passed galley's memory limit of 1.5 GiB"),
            "{what}: {stderr}"
        );
        assert!(stderr.contains("x.rhai:2:"), "{what}: {stderr}");
    }
}

/// The engine's own `contains` for strings (fast for the recipes' host lists) keeps Rhai's
/// meaning, and every other value still goes to Rhai's.
#[test]
fn contains_and_in_keep_rhais_meaning() {
    let recipe = r#"
let checks = [
    [1, "a", 2.5].contains("a"),
    !("x" in ["y", 3]),
    !("1" in [1]),
    2 in [1, 2],
    [["a"]].contains(["a"]),
    !([] .contains("a")),
];
for i in 0..checks.len() { if !checks[i] { throw `check ${i} failed`; } }
"#;
    Test::new()
        .file("x.rhai", recipe)
        .args(&["run", "x.rhai"])
        .run()
        .code(0);
}
