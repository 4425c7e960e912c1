//! The steps every converging primitive shares: run a read-only probe on the host, run a changing
//! command as part of an action (recorded, with the tool's own stderr on failure), and read the
//! "one name or a list of names" arguments recipes pass.

use std::time::Duration;

use rhai::{Array, Dynamic};

use super::command::{display, failure_text};
use super::{usage, Call, RResult};
use crate::engine::Mode;
use crate::host::{CommandOutput, CommandSpec};

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
pub fn probe(call: &Call, argv: &[String], what: &str) -> Result<CommandOutput, String> {
    call.target
        .run(&call.run, CommandSpec::new(argv), what)
        .map_err(|e| format!("probe `{}` failed: {e}", display(argv)))
}

/// Records a changing command in the action and, in apply, runs it. A non-zero exit is an error
/// carrying the command's exit code and the tail of its stderr (the tool's own message).
pub fn act(
    call: &mut Call,
    spec: CommandSpec,
    what: &str,
) -> Result<Option<CommandOutput>, String> {
    call.action.commands.push(spec.argv.clone());
    if call.mode().predicts() {
        return Ok(None);
    }
    let shown = display(&spec.argv);
    let timeout = spec.timeout.map(|t| t.as_secs());
    let out = call
        .target
        .run(&call.run, spec, what)
        .map_err(|e| e.to_string())?;
    if out.rc != 0 || out.timed_out || out.interrupted {
        let mut text = failure_text(&shown, &out, timeout);
        if out.stderr.is_empty() && !out.stdout.is_empty() {
            text.push_str("\nstdout (last lines):\n  ");
            text.push_str(&tail(&out.stdout_text(), 10).join("\n  "));
        }
        return Err(text);
    }
    Ok(Some(out))
}

/// The last `n` lines of a text.
pub fn tail(text: &str, n: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// Whether the current host is the machine galley runs on (never true for a plan's simulated
/// host): in-process network probes and galley's own environment apply only there.
pub fn is_local(call: &Call) -> bool {
    call.mode() != Mode::Plan && call.target.entry.is_local()
}

/// `"a"` or `["a", "b"]` as a list of non-empty strings.
pub fn names_of(primitive: &str, what: &str, value: &Dynamic) -> RResult<Vec<String>> {
    let items: Vec<Dynamic> = if value.is_array() {
        value.clone().cast::<Array>()
    } else {
        vec![value.clone()]
    };
    let mut out = Vec::new();
    for v in items {
        let Some(s) = v.clone().try_cast::<rhai::ImmutableString>() else {
            return Err(usage(format!(
                "{primitive}: each {what} must be a string, got a {}",
                v.type_name()
            )));
        };
        let s = s.trim().to_string();
        if s.is_empty() {
            return Err(usage(format!("{primitive}: empty {what} name")));
        }
        out.push(s);
    }
    Ok(out)
}

/// An option that may be one string or a list of strings (`gpgkey`, `exclude`, `enable_repo`).
#[derive(Debug, Clone, serde::Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn list(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => s.split_whitespace().map(str::to_string).collect(),
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), vec!["b", "c"]);
        assert_eq!(tail("a", 5), vec!["a"]);
    }

    #[test]
    fn names_from_string_or_array() {
        let one = names_of("yum", "package", &Dynamic::from("lvm2")).unwrap();
        assert_eq!(one, vec!["lvm2"]);
        let arr: Array = vec!["a".into(), "b".into()];
        assert_eq!(
            names_of("yum", "package", &Dynamic::from(arr)).unwrap(),
            vec!["a", "b"]
        );
        let bad: Array = vec![Dynamic::from(3 as rhai::INT)];
        assert!(names_of("yum", "package", &Dynamic::from(bad)).is_err());
    }

    #[test]
    fn one_or_many_splits_words() {
        assert_eq!(OneOrMany::One("a b".into()).list(), vec!["a", "b"]);
        assert_eq!(OneOrMany::Many(vec!["a b".into()]).list(), vec!["a b"]);
    }
}
