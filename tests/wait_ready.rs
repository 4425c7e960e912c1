//! `wait_ready` against real listeners on 127.0.0.1: a TCP port that opens after a delay, one
//! that never does (the timeout error names the target and the last state), an HTTP server going
//! from 503 to 200, command and file targets, Ctrl-C while waiting, check and plan.

mod prim;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn tcp_port_that_opens_after_a_delay() {
    let port = free_port();
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1200));
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        // Accept the probe's connection, then keep the port open a little longer.
        let _ = l.accept();
        std::thread::sleep(Duration::from_millis(500));
    });
    let tmp = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let r = prim::apply(
        tmp.path(),
        &format!(r#"wait_ready(#{{ tcp: "127.0.0.1:{port}", timeout: 20, interval: 0.2 }});"#),
    );
    let took = start.elapsed();
    r.code(0).has(&format!("tcp 127.0.0.1:{port} ready after"));
    assert_eq!(r.statuses(), vec![("wait_ready".into(), "ok".into())]);
    assert!(took >= Duration::from_millis(1200), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    opener.join().unwrap();
}

#[test]
fn tcp_port_that_never_opens_times_out_with_last_state() {
    let port = free_port();
    let tmp = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let r = prim::apply(
        tmp.path(),
        &format!(r#"wait_ready(#{{ tcp: "127.0.0.1:{port}", timeout: 1.5, interval: 0.2 }});"#),
    );
    let took = start.elapsed();
    r.code(1).has(&format!(
        "timed out after 2s waiting for tcp 127.0.0.1:{port}; last state: Connection refused"
    ));
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(6),
        "{took:?}"
    );
}

#[test]
fn http_503_then_200() {
    let server = prim::HttpServer::start(|path, n| match path {
        "/healthz" if n < 3 => (503, b"starting".to_vec()),
        "/healthz" => (200, b"ok".to_vec()),
        "/down" => (503, b"down".to_vec()),
        _ => (404, Vec::new()),
    });
    let tmp = tempfile::tempdir().unwrap();
    let r = prim::apply(
        tmp.path(),
        &format!(
            r#"let r = wait_ready(#{{ http: "{}", timeout: 20, interval: 0.1 }}); print(r.stdout);"#,
            server.url("/healthz")
        ),
    );
    r.code(0).has("HTTP 200");
    assert_eq!(r.statuses(), vec![("wait_ready".into(), "ok".into())]);

    let r = prim::apply(
        tmp.path(),
        &format!(
            r#"wait_ready(#{{ http: "{}", timeout: 1, interval: 0.2 }});"#,
            server.url("/down")
        ),
    );
    r.code(1).has(&format!(
        "waiting for http {}; last state: HTTP 503",
        server.url("/down")
    ));

    // A wanted status other than 2xx.
    let r = prim::apply(
        tmp.path(),
        &format!(
            r#"wait_ready(#{{ http: "{}", status: 404, timeout: 5 }});"#,
            server.url("/missing")
        ),
    );
    r.code(0);
}

#[test]
fn cmd_and_file_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let flag = tmp.path().join("ready.flag");
    let f = flag.clone();
    let maker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        std::fs::write(f, "x").unwrap();
    });
    let flag_s = flag.display().to_string();
    let r = prim::apply(
        tmp.path(),
        &format!(
            r#"wait_ready(#{{ cmd: ["test", "-e", "{flag_s}"], timeout: 10, interval: 0.1 }});
wait_ready(#{{ file: "{flag_s}", timeout: 1 }});"#
        ),
    );
    maker.join().unwrap();
    r.code(0);
    assert_eq!(
        r.statuses(),
        vec![
            ("wait_ready".into(), "ok".into()),
            ("wait_ready".into(), "ok".into())
        ]
    );
    let r = prim::apply(
        tmp.path(),
        r#"wait_ready(#{ cmd: ["sh", "-c", "echo not yet >&2; exit 3"], timeout: 0.5, interval: 0.1 });"#,
    );
    r.code(1).has("last state: exit code 3: not yet");
    let r = prim::apply(
        tmp.path(),
        r#"wait_ready(#{ file: "/nonexistent/galley", timeout: 0.3, interval: 0.1 });"#,
    );
    r.code(1)
        .has("waiting for file /nonexistent/galley; last state: does not exist");
}

#[test]
fn bad_targets_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    prim::apply(tmp.path(), r#"wait_ready(#{ timeout: 1 });"#)
        .code(2)
        .has("give one target");
    prim::apply(tmp.path(), r#"wait_ready(#{ tcp: "a:1", file: "/x" });"#)
        .code(2)
        .has("exactly one target");
    prim::apply(tmp.path(), r#"wait_ready(#{ tpc: "a:1" });"#)
        .code(2)
        .has("tpc");
}

#[test]
fn ctrl_c_stops_the_wait() {
    let port = free_port();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("r.rhai");
    std::fs::write(
        &path,
        format!(r#"wait_ready(#{{ tcp: "127.0.0.1:{port}", timeout: 60 }});"#),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_galley"))
        .arg("run")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let start = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(status.code(), Some(130));
}

#[test]
fn check_probes_once_and_plan_records() {
    let port = free_port();
    let tmp = tempfile::tempdir().unwrap();
    let recipe = format!(r#"wait_ready(#{{ tcp: "127.0.0.1:{port}", timeout: 30 }});"#);
    let start = Instant::now();
    let r = prim::galley(tmp.path(), &recipe, &["run", "--check"], &[]);
    r.code(0).has("not ready now");
    assert_eq!(r.statuses(), vec![("wait_ready".into(), "skipped".into())]);
    assert!(start.elapsed() < Duration::from_secs(5));
    for profile in ["centos7", "rocky9", "ubuntu22.04", "debian12"] {
        let r = prim::plan(tmp.path(), &recipe, profile);
        r.code(0)
            .has(&format!("would wait for tcp 127.0.0.1:{port} (up to 30s)"));
        // The plan cannot tell whether the port would open: it would check.
        assert_eq!(r.statuses(), vec![("wait_ready".into(), "unknown".into())]);
    }
}
