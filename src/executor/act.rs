//! The executor's commands: a read-only probe runs in every mode; a changing command is recorded
//! in the action and run only in apply, its failure worded once (exit code, the tool's own
//! stderr).

use std::time::Duration;

use super::{Call, Performed};
use crate::error::{CommandFailure, StepError};
use crate::host::{CommandOutput, CommandSpec};
use crate::report::redact;

/// A command spec from an argv and extra environment variables.
pub fn spec_of(argv: &[String], env: &[(&str, &str)], timeout: Option<u64>) -> CommandSpec {
    CommandSpec {
        argv: argv.to_vec(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        timeout: timeout.map(Duration::from_secs),
        ..Default::default()
    }
}

/// Runs a read-only probe. In plan the simulated host answers from the fixture's `commands`
/// (a command it does not know succeeds with empty output). Errors are the message to fail with.
pub fn probe(call: &Call, argv: &[String], what: &str) -> Result<CommandOutput, StepError> {
    call.target
        .run(&call.run, CommandSpec::new(argv), what)
        .map_err(|source| StepError::Probe {
            command: display(argv),
            source,
        })
}

/// Records a changing command in the action and, in apply, runs it. A non-zero exit is an error
/// carrying the command's exit code and the tail of its stderr (the tool's own message).
pub fn act(
    call: &mut Call,
    spec: CommandSpec,
    what: &str,
) -> Result<Option<CommandOutput>, StepError> {
    call.action.commands.push(spec.argv.clone());
    let shown = display(&spec.argv);
    let timeout = spec.timeout.map(|t| t.as_secs());
    let out = match call.perform(spec, None, what)? {
        Performed::Ran(out) | Performed::DryRun(out) => out,
        Performed::Recorded(_) | Performed::Answered(_) => return Ok(None),
    };
    if out.rc != 0 || out.timed_out || out.interrupted {
        return Err(StepError::Command(
            CommandFailure::of(&shown, &out, timeout).with_stdout(&out),
        ));
    }
    Ok(Some(out))
}

/// The last `n` lines of a text.
pub fn tail(text: &str, n: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// An argv as a shell would read it, for people. Each word is redacted before it is quoted:
/// quoting splits a word such as `it's$x` into pieces (`"it's"'$x'`) that masking the joined
/// line could no longer recognise.
pub fn display(argv: &[String]) -> String {
    let words: Vec<String> = argv.iter().map(|w| redact::redact(w)).collect();
    let line =
        shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "));
    redact::redact(&line)
}

/// What a host's live row says it runs: the command as [`display`] shows it, after the step's
/// label (`run`, `unless`, `packages`) unless the command already starts with it (`kubectl`).
pub fn live_what(what: &str, argv: &[String]) -> String {
    let command = display(argv);
    if command == what || command.starts_with(&format!("{what} ")) {
        command
    } else {
        format!("{what} {command}")
    }
}

/// Why a command failed, worded: the command, its exit code (or timeout), its stderr's tail.
pub fn failure_text(argv: &str, out: &CommandOutput, timeout: Option<u64>) -> String {
    CommandFailure::of(argv, out, timeout).to_string()
}

#[cfg(test)]
mod tests {
    use super::live_what;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn a_live_row_names_the_step_unless_the_command_does() {
        assert_eq!(live_what("run", &words("sleep 30")), "run sleep 30");
        assert_eq!(
            live_what("kubectl", &words("kubectl get nodes")),
            "kubectl get nodes"
        );
        assert_eq!(
            live_what("apt-get update", &words("apt-get update -q")),
            "apt-get update -q"
        );
        assert_eq!(live_what("run", &words("runc list")), "run runc list");
        assert_eq!(
            live_what("run", &["sh".into(), "-c".into(), "a; b".into()]),
            "run sh -c 'a; b'"
        );
    }
}
