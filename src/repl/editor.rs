//! The terminal front end: rustyline, with multi-line input read line by line under a `...>`
//! continuation prompt while `input` says the statement goes on, completion from the session's
//! `Names`, and history in the user's state folder. Ctrl-C at the prompt clears the line; Ctrl-D on an empty line leaves.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use rustyline::completion::Completer;
use rustyline::config::{CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use super::complete::{complete, Names};
use super::history::{self, History};
use super::session::{Flow, Session};

struct ReplHelper {
    names: Arc<RwLock<Names>>,
}

impl Completer for ReplHelper {
    type Candidate = String;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(complete(&self.names.read().unwrap(), line, pos))
    }
}

// Every line is accepted as typed; `run` asks `input` whether the statement goes on and then
// reads the next line under a continuation prompt.
impl Validator for ReplHelper {}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Helper for ReplHelper {}

fn open_history() -> Option<History> {
    let path = history::default_path()?;
    match History::open(&path) {
        Ok(h) => Some(h),
        Err(e) => {
            crate::report::stdout::err_line(&format!(
                "warning: no history file ({}: {e})",
                path.display()
            ));
            None
        }
    }
}

pub fn run(session: &mut Session) -> i32 {
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .completion_show_all_if_ambiguous(true)
        .auto_add_history(false)
        .max_history_size(history::MAX_ENTRIES)
        .map(|b| b.build())
        .unwrap_or_default();
    let mut editor: Editor<ReplHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            crate::report::stdout::err_line(&format!("error: cannot start the line editor: {e}"));
            return 2;
        }
    };
    editor.set_helper(Some(ReplHelper {
        names: session.names(),
    }));
    let history = open_history();
    if let Some(h) = &history {
        let _ = editor.load_history(h.path());
    }
    crate::report::stdout::line(&format!(
        "galley repl: {} mode, on {} — :help for help, Tab completes, Ctrl-D leaves",
        session.mode().as_str(),
        session.selection_name()
    ));
    'statements: loop {
        let prompt = session.prompt();
        let mut line = match editor.readline(&prompt) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                crate::report::stdout::err_line(&format!("error: reading input: {e}"));
                return 1;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        // A statement left open goes on under `...>`, aligned with the prompt; Ctrl-C drops
        // it, Ctrl-D leaves.
        while session.is_incomplete(&line) {
            match editor.readline(&continuation(&prompt)) {
                Ok(more) => {
                    line.push('\n');
                    line.push_str(&more);
                }
                Err(ReadlineError::Interrupted) => continue 'statements,
                Err(ReadlineError::Eof) => break 'statements,
                Err(e) => {
                    crate::report::stdout::err_line(&format!("error: reading input: {e}"));
                    return 1;
                }
            }
        }
        let _ = editor.add_history_entry(line.as_str());
        let flow = session.handle(&line);
        if let Some(h) = &history {
            record(h, &line);
        }
        if flow == Flow::Quit || super::interrupt::quit_requested() {
            break;
        }
    }
    0
}

/// The prompt of a statement's further lines: `...> ` right-aligned under the prompt.
pub fn continuation(prompt: &str) -> String {
    format!("{:>width$}", "...> ", width = prompt.chars().count())
}

/// Writes the entry (unless it mentions a secret); when it may have made a new secret, drops
/// older entries that hold it.
fn record(h: &History, line: &str) {
    let result = h.append(line).and_then(|()| {
        if line.contains("secret") || line.trim_start().starts_with(":run") {
            h.rewrite()
        } else {
            Ok(())
        }
    });
    if let Err(e) = result {
        crate::report::stdout::err_line(&format!("warning: history {}: {e}", h.path().display()));
    }
}
