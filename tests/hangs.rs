//! Nothing a recipe or its input does can hang a run: a blocking call (`sleep`, `read_file` or
//! `import` of a FIFO) ends at `--timeout`, Ctrl-C or SIGTERM, and pathological input (a `--limit`
//! glob of many stars, a YAML inventory of thousands of groups) takes seconds, not minutes. Each
//! case runs the real binary under a watchdog that SIGKILLs it (by pid) if it overruns, so a
//! regression fails the test instead of hanging the suite.

mod common;
use common::Test;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

struct Finished {
    code: Option<i32>,
    stderr: String,
    took: Duration,
}

/// Waits for `child` up to `limit`; past it, SIGKILLs it and fails the test.
fn within(mut child: Child, limit: Duration, what: &str) -> Finished {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return Finished {
                code: status.code(),
                stderr,
                took: start.elapsed(),
            };
        }
        if start.elapsed() > limit {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
            panic!("{what}: still running after {limit:?} (killed)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(t: &Test) -> Child {
    t.command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn fifo(t: &Test, name: &str) {
    nix::unistd::mkfifo(&t.path().join(name), nix::sys::stat::Mode::S_IRWXU).unwrap();
}

#[test]
fn sleep_ends_at_the_run_timeout() {
    let t = Test::new()
        .file("s.rhai", "sleep(30);\n")
        .args(&["run", "--timeout", "1", "s.rhai"]);
    let f = within(spawn(&t), Duration::from_secs(10), "sleep(30) --timeout 1");
    assert_eq!(f.code, Some(1), "{}", f.stderr);
    assert!(f.stderr.contains("time budget of 1s"), "{}", f.stderr);
    assert!(f.took < Duration::from_secs(4), "took {:?}", f.took);
}

#[test]
fn sigterm_and_sigint_end_a_sleep() {
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        let t = Test::new()
            .file("s.rhai", "sleep(30.0);\n")
            .args(&["run", "s.rhai"]);
        let child = spawn(&t);
        std::thread::sleep(Duration::from_millis(700));
        let sent = Instant::now();
        kill(Pid::from_raw(child.id() as i32), sig).unwrap();
        let f = within(child, Duration::from_secs(10), "sleep(30) after a signal");
        assert_eq!(f.code, Some(130), "{sig}: {}", f.stderr);
        assert!(f.stderr.contains("interrupted"), "{sig}: {}", f.stderr);
        assert!(
            sent.elapsed() < Duration::from_secs(2),
            "{sig}: {:?}",
            sent.elapsed()
        );
    }
}

#[test]
fn bad_sleep_arguments_are_usage_errors() {
    let r = Test::new()
        .file("s.rhai", "sleep(-1);\n")
        .args(&["run", "s.rhai"])
        .run();
    r.code(2).stderr_has("sleep: -1 is not a number of seconds");
}

#[test]
fn read_file_of_a_fifo_is_refused_at_once() {
    let t = Test::new();
    fifo(&t, "p");
    let t = t
        .file("r.rhai", "read_file(\"p\");\n")
        .args(&["run", "--timeout", "30", "r.rhai"]);
    let f = within(spawn(&t), Duration::from_secs(10), "read_file of a FIFO");
    assert_eq!(f.code, Some(1), "{}", f.stderr);
    assert!(
        f.stderr
            .contains("p: it is a FIFO (named pipe), not a regular file"),
        "{}",
        f.stderr
    );
}

#[test]
fn import_of_a_fifo_module_is_refused_at_once() {
    let t = Test::new();
    fifo(&t, "m.rhai");
    let t = t
        .file("r.rhai", "import \"m\" as m;\n")
        .args(&["run", "r.rhai"]);
    let f = within(spawn(&t), Duration::from_secs(10), "import of a FIFO");
    assert_eq!(f.code, Some(2), "{}", f.stderr);
    assert!(
        f.stderr
            .contains("it is a FIFO (named pipe), not a regular file"),
        "{}",
        f.stderr
    );
}

#[test]
fn a_limit_glob_of_many_stars_is_fast() {
    let pattern = format!("{}b", "*a".repeat(14));
    let t = Test::new()
        .file(
            "inv.toml",
            &format!("[hosts.{}]\naddress = \"10.0.0.1\"\n", "a".repeat(40)),
        )
        .file("p.rhai", "print(1);\n")
        .args(&["plan", "-i", "inv.toml", "--limit", &pattern, "p.rhai"]);
    let f = within(spawn(&t), Duration::from_secs(10), "--limit *a*a...b");
    assert_eq!(f.code, Some(2), "{}", f.stderr);
    assert!(
        f.stderr.contains("no host or group matches"),
        "{}",
        f.stderr
    );
}

#[test]
fn a_yaml_inventory_of_thousands_of_groups_is_fast() {
    let mut yaml = String::from("all:\n  children:\n");
    for g in 0..5000 {
        yaml.push_str(&format!("    g{g}:\n      hosts:\n        h{g}:\n"));
    }
    assert!(yaml.len() > 190_000);
    let t = Test::new()
        .file("inv.yml", &yaml)
        .file("p.rhai", "print(1);\n")
        .args(&["plan", "-i", "inv.yml", "p.rhai"]);
    let f = within(
        spawn(&t),
        Duration::from_secs(15),
        "a 5,000-group YAML inventory",
    );
    assert_eq!(f.code, Some(0), "{}", f.stderr);
}
