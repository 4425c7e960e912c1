//! Where a run's output goes. The reporter writes to the sink it is given: the process's stdout
//! and stderr for the binary (through [`super::stdout`], which survives a closed reader), or a
//! buffer for a test or a program that embeds galley and runs recipes in-process.

use std::sync::Mutex;

pub trait Sink: Send + Sync {
    /// Text for stdout (whole lines, newline included).
    fn out(&self, text: &str);
    /// One line for stderr (without its newline).
    fn err(&self, line: &str);
    /// Whether stdout's reader went away (nothing more is worth printing).
    fn closed(&self) -> bool {
        false
    }
    /// Whether stdout is a terminal (colour) and stderr one (the live rows).
    fn terminal(&self) -> (bool, bool) {
        (false, false)
    }
}

/// The process's stdout and stderr.
pub struct Std;

impl Sink for Std {
    fn out(&self, text: &str) {
        super::stdout::text(text);
    }
    fn err(&self, line: &str) {
        super::stdout::err_line(line);
    }
    fn closed(&self) -> bool {
        super::stdout::closed()
    }
    fn terminal(&self) -> (bool, bool) {
        use std::io::IsTerminal;
        (
            std::io::stdout().is_terminal(),
            std::io::stderr().is_terminal(),
        )
    }
}

/// Keeps what a run printed, for tests and embedders.
#[derive(Default)]
pub struct Memory {
    out: Mutex<String>,
    err: Mutex<String>,
}

impl Memory {
    pub fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }
    pub fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }
}

impl Sink for Memory {
    fn out(&self, text: &str) {
        self.out.lock().unwrap().push_str(text);
    }
    fn err(&self, line: &str) {
        let mut e = self.err.lock().unwrap();
        e.push_str(line);
        e.push('\n');
    }
}
