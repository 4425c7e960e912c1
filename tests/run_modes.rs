//! apply / check / plan on real files: check changes nothing, apply twice converges, plans are
//! deterministic and predict their own earlier steps.

mod common;
use common::Test;

fn converge_recipe(root: &str) -> String {
    format!(
        r#"//! Converge a small tree.
let p = params(#{{ greeting: "hello", count: 9 }});
ensure_dir("{root}/etc/app", #{{ mode: "0750" }});
let cfg = write_file("{root}/etc/app/app.conf", `greeting=${{p.greeting}}
count=${{p.count}}
`, #{{ mode: "0640" }});
line_in_file("{root}/etc/app/hosts", "10.0.0.1 cp1");
line_in_file("{root}/etc/app/app.conf", "count=9", #{{ regex: "^count=" }});
run(["touch", "{root}/marker"], #{{ creates: "{root}/marker" }});
run(["sh", "-c", "echo x >> {root}/ran"], #{{ unless: ["test", "-e", "{root}/ran"] }});
if cfg.changed {{ info("config changed"); }}
"#
    )
}

#[test]
fn apply_twice_second_run_changes_nothing() {
    let t = Test::new();
    let root = t.path().join("root").display().to_string();
    let t = t
        .file("r.rhai", &converge_recipe(&root))
        .args(&["run", "r.rhai"]);
    let first = t.run();
    first.code(0);
    assert_eq!(first.count("changed"), 5, "{}", first.stdout);
    assert_eq!(first.count("ok"), 1, "{}", first.stdout);
    let conf = std::fs::read_to_string(format!("{root}/etc/app/app.conf")).unwrap();
    assert_eq!(conf, "greeting=hello\ncount=9\n");
    let second = t.run();
    second.code(0).stdout_has("changed=0");
    assert_eq!(second.count("changed"), 0, "{}", second.stdout);
    assert_eq!(
        std::fs::read_to_string(format!("{root}/ran")).unwrap(),
        "x\n"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(format!("{root}/etc/app"))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o750);
}

#[test]
fn check_changes_nothing_and_reports_what_would() {
    let t = Test::new();
    let root = t.path().join("root").display().to_string();
    std::fs::create_dir_all(format!("{root}/etc/app")).unwrap();
    std::fs::write(format!("{root}/etc/app/app.conf"), "greeting=old\n").unwrap();
    let t = t
        .file("r.rhai", &converge_recipe(&root))
        .args(&["run", "r.rhai", "--check", "--diff"]);
    let r = t.run();
    r.code(0)
        .stdout_has("check r.rhai")
        .stdout_has("-greeting=old")
        .stdout_has("+greeting=hello")
        .stdout_has("nothing was changed");
    // The later line_in_file saw the predicted content of the earlier write_file (on disk the
    // file has no count= line, so without the prediction it would report a change).
    r.stdout_has("+count=9");
    assert!(
        r.actions()
            .iter()
            .any(|(s, a)| s == "ok" && a.contains("app.conf: count=9")),
        "{}",
        r.stdout
    );
    assert_eq!(
        std::fs::read_to_string(format!("{root}/etc/app/app.conf")).unwrap(),
        "greeting=old\n"
    );
    assert!(!std::path::Path::new(&format!("{root}/marker")).exists());
    assert!(!std::path::Path::new(&format!("{root}/etc/app/hosts")).exists());
    assert_eq!(r.count("changed"), 5, "{}", r.stdout);
}

#[test]
fn plan_predicts_its_own_writes() {
    let recipe = r#"
write_file("/etc/demo.conf", "a=1\n");
if !file_exists("/etc/demo.conf") { fail("plan lost the write"); }
if read_file("/etc/demo.conf") != "a=1\n" { fail("plan read the wrong content"); }
let again = write_file("/etc/demo.conf", "a=1\n");
if again.changed { fail("second identical write should be ok"); }
"#;
    let r = Test::new()
        .file("p.rhai", recipe)
        .args(&["plan", "p.rhai"])
        .run();
    r.code(0);
    assert_eq!(r.count("changed"), 1);
    assert_eq!(r.count("ok"), 1);
}

#[test]
fn check_readonly_commands_run_and_others_do_not() {
    let t = Test::new();
    let marker = t.path().join("m").display().to_string();
    let recipe = format!(
        r#"let r = run(["echo", "probe"], #{{ readonly: true }});
if r.stdout != "probe\n" {{ fail("readonly did not run"); }}
run(["touch", "{marker}"]);"#
    );
    let r = t
        .file("c.rhai", &recipe)
        .args(&["run", "c.rhai", "--check"])
        .run();
    r.code(0);
    assert!(!std::path::Path::new(&marker).exists());
    assert_eq!(r.count("ok"), 1);
    assert_eq!(r.count("changed"), 1);
}

#[test]
fn plan_of_docker_is_deterministic() {
    let t = Test::new().args(&[
        "plan",
        "docker",
        "--profile",
        "centos7",
        "--set",
        "profile=book",
        "--output",
        "json",
    ]);
    let strip = |s: String| -> Vec<serde_json::Value> {
        s.lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("duration_ms");
                v
            })
            .collect()
    };
    let a = strip(t.run().stdout);
    let b = strip(t.run().stdout);
    assert_eq!(a, b);
    assert!(a.len() > 5);
}

/// `--limit` in an apply run: the recipe sees the whole inventory (`hosts_all()`), acts on the
/// limited hosts, and a host outside the limit is only read: its would-be change is not made.
#[test]
fn limit_acts_on_the_limited_hosts_and_only_reads_the_others() {
    let t = Test::new();
    let root = t.path().join("root").display().to_string();
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(format!("{root}/seen-by-b"), "b was here\n").unwrap();
    let recipe = format!(
        r#"info(`limited ${{hosts()}} all ${{hosts_all()}} cp ${{hosts_all("cp")}} limited-cp ${{hosts("cp")}}`);
let read = on(hosts_all(), |h| run(["cat", "{root}/seen-by-b"], #{{ readonly: true }}).stdout);
info(`read ${{read.len()}}`);
on(hosts_all(), |h| write_file(`{root}/written-${{h}}`, "x\n"));
"#
    );
    let t = t
        .file(
            "hosts.ini",
            "[cp]\na ansible_connection=local\n[workers]\nb ansible_connection=local\n",
        )
        .file("r.rhai", &recipe)
        .args(&["run", "r.rhai", "-i", "hosts.ini", "--limit", "b"]);
    let r = t.run();
    r.code(0)
        .stdout_has("limited [\"b\"] all [\"a\", \"b\"] cp [\"a\"] limited-cp []")
        .stdout_has("read 2")
        .stdout_has("a is outside --limit");
    assert!(std::path::Path::new(&format!("{root}/written-b")).exists());
    assert!(
        !std::path::Path::new(&format!("{root}/written-a")).exists(),
        "a host outside --limit was changed:\n{}",
        r.stdout
    );
}
