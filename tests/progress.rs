//! The live area while steps run long, driving the built binary: on a terminal, a row per busy
//! host (the host, the command as a shell reads it with its secret masked, the time it has run),
//! in inventory order, gone when the run ends; with `NO_COLOR` the same rows; with stdout and
//! stderr piped, or `--output json`, none at all.
//!
//! What the terminal shows is replayed through a terminal emulator (vt100) rather than read from
//! the bytes, which hold every redraw and every erasure.

mod common;

use common::Test;

const SECRET: &str = "HushValue42";

/// Two local hosts whose commands each wait until both have started, so both are busy at the
/// same time for a couple of seconds whatever the machine's load; each command holds a secret.
fn two_busy_hosts() -> Test {
    let test = Test::new();
    let recipe = r#"let t = secret("Hush" + "Value42");
let dir = "DIR";
on(hosts(), |h| run(["sh", "-c", `: ${t}; cd "$D"; touch started-${h}; until [ -e started-alpha ] && [ -e started-beta ]; do sleep 0.1; done; sleep 2`], #{ env: #{ D: dir } }));
"#
    .replace("DIR", &test.path().display().to_string());
    test.file(
        "hosts.ini",
        "[web]\nalpha ansible_connection=local\nbeta ansible_connection=local\n",
    )
    .file("busy.rhai", &recipe)
}

/// Runs `test` on a pseudo-terminal (stdout and stderr both on it) and gives what it wrote.
fn on_a_terminal(test: &Test, color: bool) -> String {
    use rexpect::session::{spawn_with_options, Options};
    let mut cmd = test.command();
    cmd.env("TERM", "xterm");
    if color {
        cmd.env_remove("NO_COLOR");
    }
    let opts = Options::new()
        .timeout_ms(Some(60_000))
        .strip_ansi_escape_codes(false);
    let mut p = spawn_with_options(cmd, opts).expect("galley on a pty");
    let read = p.exp_eof().expect("galley ends");
    // rexpect gives each byte read as a char
    let bytes: Vec<u8> = read.chars().map(|c| c as u8).collect();
    String::from_utf8(bytes).expect("UTF-8 on the terminal")
}

/// The screens a terminal showed while `bytes` were written to it, one before each escape
/// sequence (a redraw starts with one), and the last.
fn screens(bytes: &str) -> (Vec<Vec<String>>, Vec<String>) {
    let size = |n| std::num::NonZeroU16::new(n).unwrap();
    let mut term = vt100::Parser::new(size(24), size(80), 0);
    let rows = |t: &vt100::Parser| {
        t.screen()
            .rows(0, 80)
            .map(|r| r.trim_end().to_string())
            .collect::<Vec<_>>()
    };
    let mut seen = Vec::new();
    for chunk in bytes.as_bytes().split_inclusive(|&b| b == 0x1b) {
        term.process(chunk);
        seen.push(rows(&term));
    }
    let last = rows(&term);
    (seen, last)
}

fn is_live_row(line: &str) -> bool {
    line.starts_with("  … ")
}

#[test]
fn a_terminal_shows_a_row_per_busy_host_with_its_command_masked_and_none_after() {
    for color in [false, true] {
        let test = two_busy_hosts().args(&["run", "busy.rhai", "-i", "hosts.ini"]);
        let shown = on_a_terminal(&test, color);
        assert!(!shown.contains("Value42"), "the secret leaks:\n{shown}");
        let (seen, last) = screens(&shown);
        // Both hosts' rows at once, in inventory order, with the command and its masked secret.
        let row = |host: &str| {
            regex::Regex::new(&format!(
                r"^  … {host} +\d+s  run sh -c ': \*\*\*\*\*\*\*\*; cd "
            ))
            .unwrap()
        };
        let (alpha, beta) = (row("alpha"), row("beta"));
        let both = seen.iter().any(|screen| {
            screen
                .windows(2)
                .any(|w| alpha.is_match(&w[0]) && beta.is_match(&w[1]))
        });
        assert!(
            both,
            "no screen showed both hosts' rows (colour {color}):\n{}",
            seen.iter()
                .flatten()
                .filter(|l| is_live_row(l))
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
        // After the run: the finished lines and the recap, and no row left behind.
        let screen = last.join("\n");
        assert!(
            !last.iter().any(|l| is_live_row(l)),
            "a row is left:\n{screen}"
        );
        for want in [
            "changed alpha run sh -c ': ********; cd",
            "changed beta run sh -c ': ********; cd",
            "recap (apply",
        ] {
            assert!(screen.contains(want), "{want:?} missing:\n{screen}");
        }
        // NO_COLOR takes the colour away and nothing else (the rows are never coloured).
        assert_eq!(shown.contains("\x1b[33m"), color, "{shown:?}");
    }
}

#[test]
fn piped_output_has_no_live_rows() {
    let r = two_busy_hosts()
        .args(&["run", "busy.rhai", "-i", "hosts.ini"])
        .env("TERM", "xterm")
        .run();
    r.code(0);
    for (name, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        assert!(!text.contains('…'), "{name} has a live row:\n{text}");
        assert!(!text.contains('\x1b'), "{name} has escapes:\n{text:?}");
        assert!(!text.contains(SECRET), "{name} leaks:\n{text}");
    }
    assert_eq!(r.count("changed"), 2, "{}", r.stdout);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn json_on_a_terminal_is_json_lines_only() {
    let test = two_busy_hosts().args(&["run", "busy.rhai", "-i", "hosts.ini", "--output", "json"]);
    let shown = on_a_terminal(&test, true);
    assert!(
        !shown.contains('\x1b'),
        "escapes in JSON output:\n{shown:?}"
    );
    assert!(!shown.contains(SECRET), "{shown}");
    let lines: Vec<&str> = shown.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert!(lines.len() >= 4, "{shown}");
    for line in lines.iter().filter(|l| !l.is_empty()) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}\n{shown}"));
    }
}

/// Starts `test` with stderr on a pseudo-terminal (read by a thread until `stop` says so, when
/// it closes the terminal's master side) and stdout piped.
fn with_stderr_on_a_terminal(
    test: &Test,
    stop: impl Fn(&str) -> bool + Send + 'static,
) -> (std::process::Child, std::thread::JoinHandle<String>) {
    use std::io::Read;
    let pty = nix::pty::openpty(None, None).expect("a pty");
    let mut cmd = test.command();
    cmd.env("TERM", "xterm")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::from(pty.slave));
    let child = cmd.spawn().expect("galley");
    drop(cmd); // the slave's last copy here
    let mut master = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
            if stop(&String::from_utf8_lossy(&seen)) {
                break; // the master closes: galley's stderr writes fail from here on
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    (child, reader)
}

fn both_rows_drawn(seen: &str) -> bool {
    seen.contains("… alpha ") && seen.contains("… beta ")
}

#[test]
fn a_terminal_that_goes_away_under_the_live_rows_does_not_stop_the_run() {
    let test = two_busy_hosts().args(&["run", "busy.rhai", "-i", "hosts.ini"]);
    let (child, reader) = with_stderr_on_a_terminal(&test, both_rows_drawn);
    let out = child.wait_with_output().expect("galley ends");
    let seen = reader.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(both_rows_drawn(&seen), "no rows drawn:\n{seen}");
    assert!(!seen.contains("panicked"), "{seen}");
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{seen}");
    assert!(stdout.contains("recap (apply"), "{stdout}");
    assert_eq!(stdout.matches(" changed ").count(), 2, "{stdout}");
}

#[test]
fn a_closed_stdout_under_the_live_rows_ends_the_run_quietly() {
    let test = two_busy_hosts().args(&["run", "busy.rhai", "-i", "hosts.ini"]);
    let (rows, drawn) = std::sync::mpsc::channel();
    let (mut child, reader) = with_stderr_on_a_terminal(&test, move |seen| {
        if both_rows_drawn(seen) {
            let _ = rows.send(());
        }
        false
    });
    let stdout = child.stdout.take().unwrap();
    drawn
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("both rows drawn");
    drop(stdout); // the reader goes away while both hosts are busy
    let status = child.wait().expect("galley ends");
    let seen = reader.join().unwrap();
    assert!(!seen.contains("panicked"), "{seen}");
    assert_eq!(status.code(), Some(141), "{seen}");
}

#[test]
fn a_busy_hosts_row_comes_back_under_a_line_printed_for_another() {
    use rexpect::session::{spawn_with_options, Options};
    // alpha ends first; beta stays busy until the test has seen alpha's line and beta's row
    // drawn again under it.
    let test = Test::new();
    let recipe = r#"let dir = "DIR";
on(hosts(), |h| run(["sh", "-c", `cd "$D"; touch started-${h}; until [ -e started-alpha ] && [ -e started-beta ]; do sleep 0.1; done; if [ ${h} = alpha ]; then sleep 2; else until [ -e go-beta ]; do sleep 0.1; done; fi`], #{ env: #{ D: dir } }));
"#
    .replace("DIR", &test.path().display().to_string());
    let test = test
        .file(
            "hosts.ini",
            "[web]\nalpha ansible_connection=local\nbeta ansible_connection=local\n",
        )
        .file("busy.rhai", &recipe)
        .args(&["run", "busy.rhai", "-i", "hosts.ini"]);
    let mut cmd = test.command();
    cmd.env("TERM", "xterm");
    let opts = Options::new()
        .timeout_ms(Some(60_000))
        .strip_ansi_escape_codes(false);
    let mut p = spawn_with_options(cmd, opts).expect("galley on a pty");
    p.exp_regex(r"beta +\d+s  run sh -c")
        .expect("beta's row while both are busy");
    p.exp_string(" changed alpha run sh -c")
        .expect("alpha's line");
    let (between, _) = p
        .exp_regex(r"beta +\d+s  run sh -c")
        .expect("beta's row drawn again under alpha's line");
    assert!(!between.contains(" changed beta"), "{between}");
    std::fs::write(test.path().join("go-beta"), "").unwrap();
    let rest = p.exp_eof().expect("galley ends");
    assert!(rest.contains(" changed beta run sh -c"), "{rest}");
    assert!(rest.contains("recap (apply"), "{rest}");
}

#[test]
fn a_trace_line_under_the_live_rows_is_written_whole_above_them() {
    // With -vv, alpha's `debug()` traces a line while beta's row is on the screen (drawn again
    // after alpha's line, during alpha's sleep); the line must stand on its own, not be written
    // into the row (nor the row drawn over it).
    let test = Test::new();
    let recipe = r#"let dir = "DIR";
on(hosts(), |h| {
    run(["sh", "-c", `cd "$D"; touch started-${h}; until [ -e started-alpha ] && [ -e started-beta ]; do sleep 0.1; done; if [ ${h} = alpha ]; then sleep 2; else until [ -e go-beta ]; do sleep 0.1; done; fi`], #{ env: #{ D: dir } });
    if h == "alpha" { sleep(1.5); debug("a trace line from alpha"); }
});
"#
    .replace("DIR", &test.path().display().to_string());
    let test = test
        .file(
            "hosts.ini",
            "[web]\nalpha ansible_connection=local\nbeta ansible_connection=local\n",
        )
        .file("busy.rhai", &recipe)
        .args(&["run", "busy.rhai", "-i", "hosts.ini", "-vv"]);
    use rexpect::session::{spawn_with_options, Options};
    let mut cmd = test.command();
    cmd.env("TERM", "xterm");
    let opts = Options::new()
        .timeout_ms(Some(60_000))
        .strip_ansi_escape_codes(false);
    let mut p = spawn_with_options(cmd, opts).expect("galley on a pty");
    let before = p
        .exp_string("a trace line from alpha")
        .expect("alpha's trace line");
    let (after, row) = p
        .exp_regex(r"beta +\d+s  run sh -c")
        .expect("beta's row drawn again after the trace line");
    std::fs::write(test.path().join("go-beta"), "").unwrap();
    let rest = p.exp_eof().expect("galley ends");
    let all = format!("{before}a trace line from alpha{after}{row}{rest}");
    let bytes: Vec<u8> = all.chars().map(|c| c as u8).collect();
    let (_, last) = screens(&String::from_utf8(bytes).unwrap());
    // Written into a row, the line would leave that row's text on the screen for good: the area
    // no longer knows where its rows are.
    assert!(
        !last.iter().any(|l| is_live_row(l)),
        "a row was left on the screen: {last:#?}"
    );
    assert!(
        last.iter().any(|l| l.starts_with("20")
            && l.contains(" DEBUG galley::engine: \"a trace line from alpha\"")),
        "the trace line does not stand on its own line: {last:#?}"
    );
}
