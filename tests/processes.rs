//! Real processes: timeouts kill the whole process tree (even a child that ignores SIGTERM),
//! Ctrl-C stops the run with exit 130 and a recap, endless recipes stop at the limits, and a
//! command printing far more than the capture cap leaves bounded output.

mod common;
use common::Test;
use std::time::{Duration, Instant};

fn alive(pid: i32) -> bool {
    // A zombie is dead for our purpose; /proc/<pid>/stat's third field is the state.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"))
}

fn read_pid(path: &std::path::Path) -> i32 {
    for _ in 0..100 {
        if let Ok(s) = std::fs::read_to_string(path) {
            if let Ok(p) = s.trim().parse() {
                return p;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no pid file at {}", path.display());
}

#[test]
fn timeout_kills_the_process_tree_even_a_child_ignoring_sigterm() {
    let t = Test::new();
    let pidfile = t.path().join("child.pid");
    let recipe = format!(
        r#"run(["sh", "-c", "sh -c 'trap \"\" TERM; echo $$ > {p}; while :; do sleep 1; done' & wait"], #{{ timeout: 1 }});"#,
        p = pidfile.display()
    );
    let t = t.file("t.rhai", &recipe).args(&["run", "t.rhai"]);
    let start = Instant::now();
    let r = t.run();
    let took = start.elapsed();
    r.code(1).stderr_has("timed out after 1s and was killed");
    assert!(took < Duration::from_secs(6), "took {took:?}");
    let child = read_pid(&pidfile);
    assert!(!alive(child), "child {child} that ignores SIGTERM survived");
}

#[test]
fn timeout_kills_children_that_left_the_group_with_setsid() {
    // One daemon calls setsid directly (a new session, still a child of sh); the other is a
    // double fork (`setsid -f`: the forking parent exits at once, so the daemon is an orphan).
    // Neither is in the command's process group any more.
    let t = Test::new();
    let (direct, forked) = (t.path().join("direct.pid"), t.path().join("forked.pid"));
    let recipe = format!(
        r#"run(["sh", "-c", "setsid sh -c 'echo $$ > {d}; exec sleep 60' & setsid -f sh -c 'echo $$ > {f}; exec sleep 60'; sleep 30"], #{{ timeout: 1 }});"#,
        d = direct.display(),
        f = forked.display()
    );
    let t = t.file("t.rhai", &recipe).args(&["run", "t.rhai"]);
    let start = Instant::now();
    let r = t.run();
    let took = start.elapsed();
    r.code(1).stderr_has("timed out after 1s and was killed");
    assert!(took < Duration::from_secs(6), "took {took:?}");
    for (what, file) in [("setsid", &direct), ("setsid -f", &forked)] {
        let pid = read_pid(file);
        let sid = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(pid)));
        let gone = !alive(pid);
        if !gone {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        assert!(
            gone,
            "the {what} child {pid} (session {sid:?}) survived the timeout and the run"
        );
    }
}

#[test]
fn sigint_stops_a_long_command_with_exit_130_and_a_recap() {
    let t = Test::new();
    let pidfile = t.path().join("sleep.pid");
    let recipe = format!(
        "run([\"true\"]);\nrun([\"sh\", \"-c\", \"echo $$ > {}; exec sleep 30\"]);\nrun([\"touch\", \"never\"]);\n",
        pidfile.display()
    );
    let t = t.file("s.rhai", &recipe).args(&["run", "s.rhai"]);
    let mut cmd = t.command();
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let sleeper = read_pid(&pidfile);
    let start = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(130));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("recap (apply"), "{stdout}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!alive(sleeper), "sleep survived Ctrl-C");
    assert!(!t.path().join("never").exists());
}

#[test]
fn endless_loop_stops_at_the_operation_limit() {
    let r = Test::new()
        .file("l.rhai", "let i = 0;\nloop { i += 1; }\n")
        .args(&["run", "l.rhai"])
        .run();
    r.code(2).stderr_has("error: the recipe exceeded its operation limit (an endless loop?); recipes must finish\n --> l.rhai:2:");
}

#[test]
fn wall_clock_budget_stops_a_run() {
    let start = Instant::now();
    let r = Test::new()
        .file("b.rhai", "run([\"sleep\", \"20\"]);\n")
        .args(&["run", "b.rhai", "--timeout", "1"])
        .run();
    assert!(start.elapsed() < Duration::from_secs(6));
    r.code(1).stderr_has("timed out");
}

#[test]
fn endless_recursion_is_a_clear_error() {
    let r = Test::new()
        .file("r.rhai", "fn f(x) { f(x + 1) }\nf(0);\n")
        .args(&["run", "r.rhai"])
        .run();
    r.code(2).stderr_has("r.rhai:");
}

#[test]
fn huge_output_is_bounded() {
    let recipe = r#"let r = run(["head", "-c", "50000000", "/dev/zero"]);
print(`len=${r.stdout.len()}`);"#;
    let r = Test::new()
        .file("h.rhai", recipe)
        .args(&["run", "h.rhai"])
        .run();
    r.code(0);
    let len: usize = r
        .stdout
        .lines()
        .find_map(|l| l.split("len=").nth(1))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(len < 9 * 1024 * 1024, "kept {len} chars");
    assert!(len > 8 * 1024 * 1024, "kept {len} chars");
}

#[test]
fn non_utf8_output_is_replaced_visibly() {
    let r = Test::new()
        .file(
            "n.rhai",
            "let r = run([\"printf\", \"a\\\\377b\"]);\nprint(r.stdout);\n",
        )
        .args(&["run", "n.rhai"])
        .run();
    r.code(0).stdout_has("a\u{FFFD}b");
}

#[test]
fn command_options_env_cwd_stdin() {
    let recipe = r#"let r = run(["sh", "-c", "echo $FOO; pwd; cat"], #{ env: #{ FOO: "bar" }, cwd: "/tmp", stdin: "from-stdin" });
if r.stdout != "bar\n/tmp\nfrom-stdin" { fail(`got ${r.stdout}`); }
let f = run(["false"], #{ check: false });
if f.rc != 1 || f.ok { fail("check:false should return rc 1"); }"#;
    Test::new()
        .file("o.rhai", recipe)
        .args(&["run", "o.rhai"])
        .run()
        .code(0);
}
