//! Without a terminal: statements come from stdin line by line (a statement left open goes on
//! into the next lines, as at the prompt), results go to stdout, errors to stderr, no prompt and
//! no history — so a session can be scripted. The exit code is the first failing input's (a
//! failed input does not stop the script; Ctrl-C does, with 130).

use std::io::BufRead;

use super::session::{Flow, Session};

pub fn run(session: &mut Session, input: impl BufRead) -> i32 {
    let mut first_failure = 0;
    let mut note = |code: i32| {
        if first_failure == 0 {
            first_failure = code;
        }
    };
    let mut buf = String::new();
    for line in input.lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                crate::report::stdout::err_line(&format!("error: reading stdin: {e}"));
                return 2;
            }
        };
        if buf.is_empty() && line.trim().is_empty() {
            continue;
        }
        if !buf.is_empty() {
            buf.push('\n');
        }
        buf.push_str(&line);
        if session.is_incomplete(&buf) {
            continue;
        }
        match session.handle(&std::mem::take(&mut buf)) {
            Flow::Quit => return first_failure,
            // Ctrl-C (or SIGTERM) stopped a statement: a script stops there too.
            Flow::Continue(130) => return 130,
            Flow::Continue(code) => note(code),
        }
        if super::interrupt::quit_requested() {
            return 130;
        }
    }
    if !buf.trim().is_empty() {
        if let Flow::Continue(code) = session.handle(&buf) {
            note(code);
        }
    }
    first_failure
}
