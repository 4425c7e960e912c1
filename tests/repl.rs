//! `galley repl` driven through a real pseudo-terminal (rexpect), and from a pipe: multi-line
//! input, completion, history on disk, check mode, Ctrl-C, `:save`, errors.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rexpect::session::{spawn_with_options, Options, PtySession};

const PROMPT: &str = "galley(local)> ";
const CHECK_PROMPT: &str = "galley(local, check)> ";

fn galley() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_galley"));
    cmd.env("NO_COLOR", "1").env_remove("RUST_LOG");
    cmd
}

/// The editor turns bracketed paste off when it hands an input over: after this, the next
/// prompt is a new one, not a redraw of the line being typed.
const ACCEPTED: &str = "\x1b[?2004l";

/// The text without terminal escape sequences and carriage returns.
fn plain(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() || c == '~' {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// A REPL on a pseudo-terminal, in `dir`, with its state (history) under `dir/state`.
fn repl(dir: &Path, args: &[&str]) -> PtySession {
    let mut cmd = galley();
    cmd.arg("repl")
        .args(args)
        .current_dir(dir)
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("TERM", "xterm");
    let opts = Options::new()
        .timeout_ms(Some(20_000))
        .strip_ansi_escape_codes(false);
    let mut p = spawn_with_options(cmd, opts).expect("spawn galley repl on a pty");
    p.exp_string(PROMPT).expect("first prompt");
    p
}

/// Waits until the typed input is accepted and the next prompt shows; returns what was printed
/// in between (the input's output), without escape sequences.
fn output(p: &mut PtySession, prompt: &str) -> String {
    p.exp_string(ACCEPTED).expect("input accepted");
    let raw = p
        .exp_string(prompt)
        .unwrap_or_else(|e| panic!("no prompt `{prompt}`: {e}"));
    plain(&raw)
}

/// Types a line and returns its output.
fn enter(p: &mut PtySession, line: &str, prompt: &str) -> String {
    p.send_line(line).unwrap();
    output(p, prompt)
}

fn quit(mut p: PtySession) {
    p.send_control('d').unwrap();
    p.exp_eof().expect("Ctrl-D ends the session");
}

#[test]
fn multi_line_function_definition() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = repl(dir.path(), &[]);
    p.send_line("fn greet(name) {").unwrap();
    p.send_line("  let n = name.len();").unwrap();
    p.send_line("  `hello ${name} (${n})`").unwrap();
    p.send_line("}").unwrap();
    let out = output(&mut p, PROMPT);
    // Each further line is read under a continuation prompt aligned with the prompt; the
    // definition itself prints nothing.
    let cont = "          ...> ";
    assert_eq!(cont.len(), PROMPT.len());
    assert_eq!(
        out.lines().filter(|l| l.starts_with(cont)).count(),
        3,
        "a continuation prompt per further line: {out:?}"
    );
    let printed: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with(cont) && !l.trim().is_empty())
        .collect();
    assert!(printed.is_empty(), "a definition prints nothing: {out:?}");
    let out = enter(&mut p, "greet(\"pty\")", PROMPT);
    assert!(out.contains("hello pty (3)"), "{out:?}");
    quit(p);
}

#[test]
fn tab_completes_primitives_properties_and_recipes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tabtest-recipe.rhai"),
        "info(\"recipe ran\");\n",
    )
    .unwrap();
    let made = dir.path().join("made.txt");
    let mut p = repl(dir.path(), &[]);
    enter(&mut p, "let r = run([\"echo\", \"completed\"]);", PROMPT);
    p.send("r.std\t").unwrap();
    p.flush().unwrap();
    let listed = plain(&p.exp_string("stdout").unwrap());
    assert!(listed.contains("stderr"), "{listed:?}");
    p.send("o\t\r").unwrap(); // r.stdo<Tab> → r.stdout
    p.flush().unwrap();
    let out = output(&mut p, PROMPT);
    assert!(out.contains("completed"), "{out:?}");
    p.send(&format!("write_f\t(\"{}\", \"x\")\r", made.display()))
        .unwrap();
    p.flush().unwrap();
    output(&mut p, PROMPT);
    assert!(made.exists(), "write_f<Tab> did not complete to write_file");
    p.send(":run tabtest\t\r").unwrap();
    p.flush().unwrap();
    let out = output(&mut p, PROMPT);
    assert!(out.contains("recipe ran"), "{out:?}");
    quit(p);
}

#[test]
fn history_file_is_private_and_holds_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = repl(dir.path(), &[]);
    enter(&mut p, "let plain = 41 + 1;", PROMPT);
    enter(&mut p, "let tok = secret(\"s3cr3t-token-42\");", PROMPT);
    let out = enter(&mut p, "\"s3cr3t-token-42\" + \"!\"", PROMPT);
    assert!(!out.contains("s3cr3t"), "shown redacted: {out:?}");
    enter(&mut p, "tok.len()", PROMPT);
    quit(p);
    let file = dir.path().join("state/galley/history");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "history file mode");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("let plain = 41 + 1;"), "{text}");
    assert!(text.contains("tok.len()"), "{text}");
    assert!(
        !text.contains("s3cr3t"),
        "a secret reached the history file:\n{text}"
    );
    assert!(!text.contains("secret("), "{text}");
}

#[test]
fn history_keeps_no_secret_typed_as_a_literal_with_an_escape() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = repl(dir.path(), &[]);
    enter(&mut p, "fn login(p) { secret(p); p.len() }", PROMPT);
    enter(&mut p, r#"login("my\"pass-word9")"#, PROMPT);
    enter(&mut p, "let after = 1;", PROMPT);
    quit(p);
    let text = std::fs::read_to_string(dir.path().join("state/galley/history")).unwrap();
    assert!(text.contains("let after = 1;"), "{text}");
    assert!(
        !text.contains("pass-word9"),
        "a secret typed with an escape reached the history file:\n{text}"
    );
}

#[test]
fn check_mode_makes_write_file_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("made-by-check.txt");
    let mut p = repl(dir.path(), &[]);
    let out = enter(&mut p, ":mode check", CHECK_PROMPT);
    assert!(out.contains("mode check"), "{out:?}");
    let line = format!("write_file(\"{}\", \"content\\n\")", target.display());
    let out = enter(&mut p, &line, CHECK_PROMPT);
    assert!(out.contains("changed"), "recorded as a change: {out:?}");
    assert!(!target.exists(), "check mode wrote {}", target.display());
    let out = enter(&mut p, ":plan", CHECK_PROMPT);
    assert!(out.contains("write_file"), "{out:?}");
    enter(&mut p, ":mode apply", PROMPT);
    enter(&mut p, &line, PROMPT);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "content\n");
    quit(p);
}

/// PIDs of processes whose argv is exactly `argv` (read from /proc; nothing is signalled).
fn pids_running(argv: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            (cmdline == want).then_some(pid)
        })
        .collect()
}

#[test]
fn ctrl_c_kills_the_running_command_and_the_prompt_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = repl(dir.path(), &[]);
    // A duration no other process uses, so only this test's sleep is looked for.
    let secs = format!("30.{}", std::process::id());
    let argv = ["sleep", secs.as_str()];
    p.send_line(&format!("run([\"sleep\", \"{secs}\"])"))
        .unwrap();
    let started = Instant::now();
    while pids_running(&argv).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "sleep never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pressed = Instant::now();
    p.send_control('c').unwrap();
    p.exp_string("interrupted").unwrap();
    p.exp_string(PROMPT).unwrap();
    let back = pressed.elapsed();
    eprintln!("prompt back {back:?} after Ctrl-C");
    assert!(
        back < Duration::from_secs(1),
        "prompt came back after {back:?}"
    );
    assert!(pids_running(&argv).is_empty(), "the sleep survived Ctrl-C");
    let out = enter(&mut p, "1 + 1", PROMPT);
    assert!(out.contains('2'), "session goes on: {out:?}");
    quit(p);
}

#[test]
fn ctrl_c_at_the_prompt_clears_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = repl(dir.path(), &[]);
    p.send("let never = 1").unwrap();
    p.flush().unwrap();
    p.send_control('c').unwrap();
    p.exp_string("\x1b[?2004h").unwrap(); // a new prompt
    let out = enter(&mut p, "never", PROMPT);
    assert!(out.contains("Undefined variable: never"), "{out:?}");
    quit(p);
}

#[test]
fn save_writes_a_recipe_that_galley_run_executes_with_the_same_effect() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.txt");
    let recipe = dir.path().join("saved.rhai");
    let mut p = repl(dir.path(), &[]);
    enter(&mut p, "let greeting = \"made by the session\";", PROMPT);
    enter(&mut p, "fn line(s) {\n  s + \"\\n\"\n}", PROMPT);
    let out = enter(&mut p, "run([\"this-command-does-not-exist\"])", PROMPT);
    assert!(out.contains("error"), "{out:?}");
    let write = format!("write_file(\"{}\", line(greeting))", out_file.display());
    enter(&mut p, &write, PROMPT);
    let out = enter(&mut p, &format!(":save {}", recipe.display()), PROMPT);
    assert!(out.contains("saved 3 statements"), "{out:?}");
    quit(p);
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        "made by the session\n"
    );
    let text = std::fs::read_to_string(&recipe).unwrap();
    assert!(text.starts_with("//! "), "{text}");
    assert!(
        !text.contains("does-not-exist"),
        "failed input saved:\n{text}"
    );
    std::fs::remove_file(&out_file).unwrap();
    let run = galley()
        .args(["run", recipe.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "galley run {}: {}{}",
        recipe.display(),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        "made by the session\n"
    );
}

#[test]
fn an_error_shows_a_caret_and_keeps_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = repl(dir.path(), &[]);
    enter(&mut p, "let kept = 7;", PROMPT);
    let out = enter(&mut p, "let x = kept + no_such_fn(1);", PROMPT);
    assert!(out.contains("Function not found: no_such_fn"), "{out:?}");
    assert!(out.contains("1 | let x = kept + no_such_fn(1);"), "{out:?}");
    assert!(
        out.contains("  |                ^"),
        "caret under the call: {out:?}"
    );
    let out = enter(&mut p, "kept * 6", PROMPT);
    assert!(out.contains("42"), "{out:?}");
    quit(p);
}

#[test]
fn piped_stdin_runs_statements_and_prints_results() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
let x = 40;
fn add(a, b) {
  a + b
}
add(x, 2)
import "os" as os;
run(["echo", "from a pipe"]).stdout
#{ name: "m", list: [1, 2] }
nope + 1
:hosts
"after the error"
"#;
    let mut child = galley()
        .arg("repl")
        .current_dir(dir.path())
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.contains(&"42"), "{stdout}");
    assert!(lines.contains(&"from a pipe"), "{stdout}");
    assert!(lines.contains(&"#{list: [1, 2], name: \"m\"}"), "{stdout}");
    assert!(lines.contains(&"* local  this machine"), "{stdout}");
    assert_eq!(lines.last(), Some(&"after the error"), "{stdout}");
    assert!(stderr.contains("Undefined variable: nope"), "{stderr}");
    assert!(
        !stdout.contains("galley("),
        "no prompt when piped: {stdout}"
    );
    assert_eq!(out.status.code(), Some(2), "first failure's exit code");
    assert!(
        !dir.path().join("state/galley/history").exists(),
        "piped sessions keep no history"
    );
}

#[test]
fn ctrl_c_drops_an_unfinished_statement() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = repl(dir.path(), &[]);
    p.send_line("let z = [1,").unwrap();
    p.exp_string("...> ").expect("continuation prompt");
    p.send_control('c').unwrap();
    p.exp_string(PROMPT).expect("back at the prompt");
    let out = enter(&mut p, "40 + 2", PROMPT);
    assert!(out.contains("42"), "{out:?}");
    quit(p);
}

#[test]
fn a_syntax_error_in_a_complete_line_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = repl(dir.path(), &[]);
    enter(&mut p, "let x = 42;", PROMPT);
    let out = enter(&mut p, "let y = (1 + ;", PROMPT);
    assert!(
        out.contains("error: Syntax error: Unexpected ';'"),
        "{out:?}"
    );
    let out = enter(&mut p, "x + 1", PROMPT);
    assert_eq!(out.trim(), "43", "{out:?}");
    quit(p);
}

#[test]
fn a_piped_syntax_error_does_not_swallow_the_next_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = galley()
        .arg("repl")
        .current_dir(dir.path())
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"let x = 42;\nlet y = (1 + ;\nx + 1\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "43\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: Syntax error: Unexpected ';'\n --> <input 2>:1:14\n  |\n1 | let y = (1 + ;\n  |              ^\n"
    );
    assert_eq!(out.status.code(), Some(2));
}
