//! `galley repl`: a Rhai prompt with every primitive, the stdlib and the sandbox of `galley run`,
//! for exploring a host, trying a step before it goes into a recipe, and keeping what worked
//! (`:save`). At a terminal it is a line editor (`editor`); from a pipe it reads statements and
//! prints results (`pipe`). Both drive one `Session`.

mod commands;
pub mod complete;
mod editor;
pub mod help;
pub mod history;
pub mod input;
mod interrupt;
pub mod meta;
mod pipe;
mod recipe_run;
pub mod render;
pub mod save;
mod session;

use std::io::IsTerminal;

pub use session::{Flow, Selection, Session};

use crate::runner::RunOptions;

/// Runs a session with these options (mode, facts, `--set`, and the inventory once given).
pub fn main(opts: RunOptions) -> i32 {
    let piped = !std::io::stdin().is_terminal();
    interrupt::install(piped);
    let mut session = match Session::new(opts) {
        Ok(s) => s,
        Err(e) => {
            crate::report::stdout::err_line(&format!(
                "error: {}",
                crate::report::redact::redact(&e)
            ));
            return 2;
        }
    };
    if piped {
        pipe::run(&mut session, std::io::stdin().lock())
    } else {
        editor::run(&mut session)
    }
}
