//! Why a step failed, as the executor and the operations pass it along before the executor words
//! it as `<primitive> on <host>: <this>` and raises it as a [`super::Failure`] of kind step. A
//! command's failure keeps its parts (the command, why it failed, the tail of its output), so
//! the text is made in one place.

use std::fmt;

use crate::host::{CommandOutput, HostError};

/// Why a step failed on its host.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A read-only probe could not be run.
    #[error("probe `{command}` failed: {source}")]
    Probe {
        /// The command as people read it (redacted).
        command: String,
        source: HostError,
    },
    /// A command ran and failed (non-zero exit, timed out, interrupted).
    #[error("{0}")]
    Command(CommandFailure),
    /// The connector failed (a file it could not read, a host it could not reach).
    #[error(transparent)]
    Host(#[from] HostError),
    /// Anything else, worded for people.
    #[error("{0}")]
    Message(String),
}

impl From<String> for StepError {
    fn from(message: String) -> Self {
        StepError::Message(message)
    }
}

impl From<&str> for StepError {
    fn from(message: &str) -> Self {
        StepError::Message(message.to_string())
    }
}

/// Why a command failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// It exited with this code.
    Exit(i32),
    /// It ran past its timeout (seconds; `None`: the run's budget) and was killed.
    TimedOut(Option<u64>),
    /// Ctrl-C stopped it.
    Interrupted,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Exit(rc) => write!(f, "exit code {rc}"),
            Why::TimedOut(Some(t)) => write!(f, "timed out after {t}s and was killed"),
            Why::TimedOut(None) => f.write_str("timed out at the run's budget and was killed"),
            Why::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// A command that failed: what it was, why, and the last lines it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandFailure {
    /// The command as people read it (redacted).
    pub command: String,
    pub why: Why,
    /// The last lines of its stderr.
    pub stderr: Vec<String>,
    /// The last lines of its stdout, kept when it printed nothing on stderr.
    pub stdout: Vec<String>,
}

/// The last `n` lines of a text.
fn last_lines(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

impl CommandFailure {
    /// The failure of `command` (as shown) from its output, with the tail of its stderr.
    pub fn of(command: &str, out: &CommandOutput, timeout: Option<u64>) -> Self {
        let why = if out.timed_out {
            Why::TimedOut(timeout)
        } else if out.interrupted {
            Why::Interrupted
        } else {
            Why::Exit(out.rc)
        };
        CommandFailure {
            command: command.to_string(),
            why,
            stderr: last_lines(&out.stderr_text(), 10),
            stdout: Vec::new(),
        }
    }

    /// Also keeps the tail of its stdout when it printed nothing on stderr (a tool that
    /// reports its errors there).
    pub fn with_stdout(mut self, out: &CommandOutput) -> Self {
        if out.stderr.is_empty() && !out.stdout.is_empty() {
            self.stdout = last_lines(&out.stdout_text(), 10);
        }
        self
    }
}

impl fmt::Display for CommandFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "command `{}` failed: {}", self.command, self.why)?;
        if !self.stderr.is_empty() {
            write!(f, "\nstderr (last lines):\n  {}", self.stderr.join("\n  "))?;
        }
        if !self.stdout.is_empty() {
            write!(f, "\nstdout (last lines):\n  {}", self.stdout.join("\n  "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Why;

    #[test]
    fn a_timeout_says_which_one() {
        assert_eq!(
            Why::TimedOut(Some(30)).to_string(),
            "timed out after 30s and was killed"
        );
        assert_eq!(
            Why::TimedOut(None).to_string(),
            "timed out at the run's budget and was killed"
        );
    }
}
