//! Secrets through every escaping and every channel, driving the built binary: JSON events,
//! `print`/`debug` of maps and arrays, the REPL's display, shell-quoted command lines, the live
//! progress line on a terminal, `-vvv` traces of a download, multi-line secrets in `--diff` and
//! `run(..., #{ secret: true })` with a short output.

mod common;
mod prim;

use std::process::{Command, Stdio};

use common::Test;

/// A secret with a quote, an apostrophe, a backslash, a `$` and a tab: JSON, Rhai's debug display
/// and shell quoting each write it differently. Every form still holds `Money`.
const SECRET_RHAI: &str = r#""it's\"Qz7\\$Money\t1""#;

const ESCAPING: &str = r#"let t = secret(SECRET);
info(`token ${t}`);
print(#{ p: t });
print([t]);
debug(#{ p: t });
run(["echo", t], #{ readonly: true });
run(["sh", "-c", "exit 3", t]);
"#;

fn assert_no_leak(what: &str, text: &str) {
    for fragment in ["Money", "Qz7"] {
        assert!(
            !text.contains(fragment),
            "{what} leaks {fragment:?}:\n{text}"
        );
    }
}

#[test]
fn escaped_forms_of_a_secret_are_masked_in_json_human_and_debug_output() {
    let recipe = ESCAPING.replace("SECRET", SECRET_RHAI);
    for args in [
        vec!["run", "s.rhai", "-vv"],
        vec!["run", "s.rhai", "-vv", "--output", "json"],
    ] {
        let r = Test::new().file("s.rhai", &recipe).args(&args).run();
        r.code(1);
        assert_no_leak(&format!("stdout of {args:?}"), &r.stdout);
        assert_no_leak(&format!("stderr of {args:?}"), &r.stderr);
        assert!(r.stdout.contains("********"), "{}", r.stdout);
        if args.contains(&"json") {
            for line in r.stdout.lines() {
                let v: serde_json::Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                assert_no_leak("a decoded JSON event", &format!("{v:#}"));
            }
        } else {
            // the shell-quoted display of the failed command
            assert!(
                r.stdout.contains("sh -c 'exit 3' '********'"),
                "{}",
                r.stdout
            );
        }
    }
}

#[test]
fn the_repl_shows_maps_and_arrays_holding_a_secret_masked() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!("let t = secret({SECRET_RHAI});\n#{{ p: t }}\n[t, 1]\nt\n");
    let mut child = Command::new(common::galley_bin())
        .arg("repl")
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
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
    assert_no_leak("REPL stdout", &stdout);
    assert_no_leak("REPL stderr", &String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.contains(&"#{p: \"********\"}"), "{stdout}");
    assert!(lines.contains(&"[\"********\", 1]"), "{stdout}");
    assert_eq!(out.status.code(), Some(0), "{stdout}");
}

#[test]
fn a_secret_at_the_cut_of_the_live_progress_row_is_masked() {
    use rexpect::session::{spawn_with_options, Options};
    let dir = tempfile::tempdir().unwrap();
    // The live row is `  … local      Ns  run sh -c 'echo "$S"; sleep 2'  ` (51 characters) and
    // then the command's last output line; 20 x's put the secret across the 80th column, where
    // the pty's row is cut. The second command writes half of the secret, then pauses past the
    // first progress tick before the rest of the line.
    let recipe = r#"let t = secret("Qz7" + "SECRETabcdefgh");
run(["sh", "-c", "echo \"$S\"; sleep 2"], #{ env: #{ S: "xxxxxxxxxxxxxxxxxxxx" + t } });
run(["sh", "-c", "printf 'xxxxxxxx %s' \"${S%abcdefgh}\"; sleep 2; printf 'abcdefgh\n'; sleep 1.5"], #{ env: #{ S: t } });
"#;
    std::fs::write(dir.path().join("live.rhai"), recipe).unwrap();
    let mut cmd = Command::new(common::galley_bin());
    cmd.args(["run", "live.rhai"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env_remove("RUST_LOG");
    let opts = Options::new()
        .timeout_ms(Some(20_000))
        .strip_ansi_escape_codes(false);
    let mut p = spawn_with_options(cmd, opts).expect("galley on a pty");
    let shown = p.exp_eof().expect("galley ends");
    assert!(
        shown.contains(r#"run sh -c 'echo "$S"; sleep 2'  xxxxxxxxxxxxxxxxxxxx"#),
        "no live row seen:\n{shown}"
    );
    assert!(shown.contains("recap"), "{shown}");
    assert!(!shown.contains("Qz7SE"), "the live line leaks:\n{shown}");
}

#[test]
fn trace_level_shows_no_http_library_dump_of_a_secret_url() {
    let server = prim::HttpServer::start(|_, _| (200, b"payload".to_vec()));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("f");
    let recipe = format!(
        "let t = secret(\"tok\" + \"Qz7tokenvalue\");\ndownload(`{}?token=${{t}}`, \"{}\");\ndebug(\"marker-debug\");\n",
        server.url("/f"),
        dest.display()
    );
    let r = Test::new()
        .file("d.rhai", &recipe)
        .args(&["run", "d.rhai", "-vvv"])
        .run();
    r.code(0);
    assert_eq!(std::fs::read(&dest).unwrap(), b"payload");
    for needle in ["Qz7", "ureq", "rustls", "GET /f"] {
        assert!(
            !r.stderr.contains(needle),
            "-vvv shows {needle:?}:\n{}",
            r.stderr
        );
    }
    assert!(
        r.stderr.contains("marker-debug"),
        "galley's own debug output is shown: {}",
        r.stderr
    );
}

#[test]
fn a_multi_line_secret_of_short_lines_is_masked_in_the_diff() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("k");
    let recipe = format!(
        "let t = secret(\"Q%7\\nZ%9\\nX%3\");\nwrite_file(\"{}\", t + \"\\n\");\n",
        target.display()
    );
    for extra in [&[][..], &["--output", "json"][..]] {
        let mut args = vec!["run", "m.rhai", "--check", "--diff"];
        args.extend_from_slice(extra);
        let r = Test::new().file("m.rhai", &recipe).args(&args).run();
        r.code(0);
        for line in ["Q%7", "Z%9", "X%3"] {
            assert!(
                !r.stdout.contains(line),
                "{args:?} leaks the line {line:?}:\n{}",
                r.stdout
            );
        }
        assert!(r.stdout.contains("+********"), "{}", r.stdout);
    }
}

#[test]
fn a_secret_run_output_too_short_to_mask_is_an_error() {
    let r = Test::new()
        .file(
            "r.rhai",
            "let r = run([\"printf\", \"ab\"], #{ secret: true });\ninfo(`got ${r.stdout}`);\n",
        )
        .args(&["run", "r.rhai"])
        .run();
    r.code(2)
        .stderr_has("too short to be redacted")
        .stderr_has("r.rhai:1:");
    assert!(!r.stdout.contains("got"), "{}", r.stdout);
}
