//! `run` and `sh`: commands whose effect galley cannot know. They count as `changed` unless a
//! guard (`creates`, `unless`) says the work is done; check and plan record them without running
//! them, unless marked `readonly`.

use std::time::Duration;

/// Why `run("a line")` is refused (at the call, and by the lint before a run starts).
pub const RUN_TAKES_ARGV: &str = "run() takes an argv array, e.g. run([\"ls\", \"-l\"]); for a shell command line use sh(\"ls -l | wc -l\")";

use rhai::{Array, Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::{from_map, reg, reg_with_opts, usage, Call, RResult, StepResult};
use crate::executor::overlay::Key;
pub use crate::executor::{display, failure_text};
use crate::executor::{Effect, Performed};
use crate::host::CommandSpec;
use crate::report::{redact, Status};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunOpts {
    /// Skip when this path exists.
    pub creates: Option<String>,
    /// Skip when this argv exits 0 (runs in every mode: it is a probe).
    pub unless: Option<Vec<String>>,
    /// Seconds before the command's process group is killed.
    pub timeout: Option<u64>,
    pub env: Option<std::collections::BTreeMap<String, String>>,
    pub cwd: Option<String>,
    pub stdin: Option<String>,
    /// `false`: a non-zero exit does not fail the recipe.
    pub check: Option<bool>,
    /// Safe to run in check mode (it changes nothing); it then counts as `ok`.
    #[serde(default)]
    pub readonly: bool,
    /// Redact the command line and register its output as a secret.
    #[serde(default)]
    pub secret: bool,
    /// The container images this command pulls: shown in the JSON events and listed by
    /// `galley artifacts`, whether or not the command runs.
    #[serde(default)]
    pub images: Vec<String>,
    /// The file this (read-only) command's output goes into: when check or plan cannot know
    /// the output (the facts do not answer it, or it fails, e.g. because the program is only
    /// installed by an earlier step of this run), that file's write is `unknown`, not a diff.
    pub output_for: Option<String>,
}

/// What a guard decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Run,
    /// Already done, with the reason.
    Done(String),
}

/// Pure: decides from guard probes whether the command must run.
pub fn decide(creates_exists: Option<bool>, unless_rc: Option<i32>, opts: &RunOpts) -> Decision {
    if creates_exists == Some(true) {
        return Decision::Done(format!("{} exists", opts.creates.as_deref().unwrap_or("")));
    }
    if unless_rc == Some(0) {
        return Decision::Done("`unless` check succeeded".into());
    }
    Decision::Run
}

pub fn argv_of(primitive: &str, argv: Array) -> RResult<Vec<String>> {
    let out: Vec<String> = argv
        .into_iter()
        .map(|v| {
            if v.is_string() || v.is_int() || v.is_float() || v.is_bool() {
                Ok(v.to_string())
            } else {
                Err(v.type_name())
            }
        })
        .collect::<Result<_, _>>()
        .map_err(|t| {
            usage(format!(
                "{primitive}: every argv element must be a string, got a {t}"
            ))
        })?;
    if out.is_empty() {
        return Err(usage(format!(
            "{primitive}: argv is empty; give the program and its arguments, e.g. [\"ls\", \"-l\"]"
        )));
    }
    no_nul(primitive, "argv", &out)?;
    Ok(out)
}

/// Refuses words no program can receive (a C string ends at NUL); the word is shown escaped.
fn no_nul(primitive: &str, what: &str, words: &[String]) -> RResult<()> {
    match words.iter().position(|w| w.contains('\0')) {
        Some(i) => Err(usage(format!(
            "{primitive}: {what} element {} ({:?}) contains a NUL byte, which no program can receive",
            i + 1,
            crate::report::redact::redact(&words[i])
        ))),
        None => Ok(()),
    }
}

/// Checks the options a command is run with before anything runs: an empty `unless` argv and
/// NUL bytes (in `unless`, `env` or `cwd`) are recipe errors, not failures of the host.
fn check_opts(primitive: &str, o: &RunOpts) -> RResult<()> {
    if let Some(unless) = &o.unless {
        if unless.is_empty() {
            return Err(usage(format!(
                "{primitive}: `unless` is empty; give the argv of a check command that exits 0 \
                 when the work is done, e.g. [\"test\", \"-e\", \"/etc/done\"]"
            )));
        }
        no_nul(primitive, "unless", unless)?;
    }
    if let Some(env) = &o.env {
        let words: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        no_nul(primitive, "env", &words)?;
    }
    if let Some(cwd) = &o.cwd {
        no_nul(primitive, "cwd", std::slice::from_ref(cwd))?;
    }
    Ok(())
}

fn spec(argv: Vec<String>, o: &RunOpts) -> CommandSpec {
    CommandSpec {
        argv,
        env: o.env.clone().unwrap_or_default().into_iter().collect(),
        cwd: o.cwd.clone(),
        stdin: o.stdin.clone().map(String::into_bytes),
        timeout: o.timeout.map(Duration::from_secs),
    }
}

/// Probes the guards: `creates` through the host's (predicted) files, `unless` as a command.
/// An `unless` a facts file does not answer counts as not satisfied: plans assume work to do.
fn probe_guards(call: &Call, o: &RunOpts) -> RResult<(Option<bool>, Option<i32>)> {
    let creates = match &o.creates {
        Some(p) => Some(
            call.target
                .stat(p)
                .map_err(|e| super::step(e.to_string()))?
                .is_some(),
        ),
        None => None,
    };
    let unless = match &o.unless {
        None => None,
        Some(argv) => {
            let out = call
                .target
                .run(&call.run, CommandSpec::new(argv), "unless")
                .map_err(|e| super::step(e.to_string()))?;
            Some(if out.unknown { 1 } else { out.rc })
        }
    };
    Ok((creates, unless))
}

pub fn run_with(
    nc: &NativeCallContext,
    primitive: &str,
    argv: Vec<String>,
    summary: String,
    opts: Option<Map>,
) -> RResult<StepResult> {
    let o: RunOpts = from_map(primitive, opts)?;
    run_parsed(nc, primitive, argv, summary, o)
}

/// `run` with options already read (primitives built on `run`, such as `kubectl`, use it).
pub fn run_parsed(
    nc: &NativeCallContext,
    primitive: &str,
    argv: Vec<String>,
    summary: String,
    o: RunOpts,
) -> RResult<StepResult> {
    no_nul(primitive, "argv", &argv)?;
    check_opts(primitive, &o)?;
    let shown = if o.secret {
        "[secret command]".to_string()
    } else {
        summary
    };
    // A secret command's argv is never recorded or shown; values inside it that are secret in
    // their own right are marked with secret() by the recipe (registering every argument would
    // mask ordinary words such as "kubeadm" everywhere).
    let mut call = Call::begin(nc, primitive, shown.clone())?;
    call.action.images = o.images.clone();
    let (creates, unless) = probe_guards(&call, &o)?;
    if let Decision::Done(why) = decide(creates, unless, &o) {
        call.action.summary = format!("{shown} ({why})");
        return Ok(call.finish(Status::Ok));
    }
    call.action.commands.push(if o.secret {
        vec![shown.clone()]
    } else {
        argv.clone()
    });
    let ran = if o.readonly {
        call.target
            .run(&call.run, spec(argv, &o), primitive)
            .map(Performed::Ran)
    } else {
        call.perform(spec(argv, &o), None, primitive)
    };
    let out = match ran {
        Ok(Performed::Ran(out) | Performed::DryRun(out)) => out,
        Ok(Performed::Recorded(_) | Performed::Answered(_)) => {
            // Applied, the command makes `creates`: a later read of it in this run is known
            // only then ("would check"), not missing.
            if let Some(path) = &o.creates {
                let made = Effect::State(Key::Created(path.clone()), Some(shown.clone()));
                call.predict(|_| Ok(vec![made])).map_err(super::step)?;
            }
            return Ok(call.finish(Status::Changed));
        }
        Err(e) => return Err(call.fail(e.to_string())),
    };
    if o.secret && !out.stdout.is_empty() {
        redact::add(&out.stdout_text()).map_err(|_| {
            usage(format!(
                "{primitive}: the output of this `secret: true` command is too short to be redacted \
                 safely (under {} characters), so it cannot be kept secret; print a longer value \
                 or drop `secret: true`",
                redact::MIN_SECRET_LEN
            ))
        })?;
    }
    if out.timed_out || out.interrupted || (out.rc != 0 && o.check != Some(false)) {
        // Ctrl-C stops the recipe as an interruption (exit 130): `fail` says so.
        return Err(call.fail(failure_text(&shown, &out, o.timeout)));
    }
    if let Some(path) = &o.output_for {
        if out.unknown || out.rc != 0 {
            let why = if out.unknown {
                format!("its content comes from `{shown}`, which the facts do not answer")
            } else {
                format!(
                    "its content comes from `{shown}`, which fails here (exit code {}), as before an earlier step installs it",
                    out.rc
                )
            };
            let effect = Effect::State(Key::OutputUnknown(path.clone()), Some(why));
            call.predict(|_| Ok(vec![effect])).map_err(super::step)?;
        }
    }
    let status = if out.unknown {
        call.action.summary = format!("{shown} (would check: the facts do not answer it)");
        Status::Unknown
    } else if o.readonly {
        Status::Ok
    } else {
        Status::Changed
    };
    let mut result = call.finish(status);
    result.rc = out.rc as rhai::INT;
    result.ok = out.rc == 0;
    result.stdout = out.stdout_text();
    result.stderr = out.stderr_text();
    Ok(result)
}

fn run(nc: NativeCallContext, argv: Array, opts: Option<Map>) -> RResult<StepResult> {
    let argv = argv_of("run", argv)?;
    let summary = display(&argv);
    run_with(&nc, "run", argv, summary, opts)
}

fn sh(nc: NativeCallContext, script: &str, opts: Option<Map>) -> RResult<StepResult> {
    let first = script
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let more = if script.trim().lines().count() > 1 {
        " …"
    } else {
        ""
    };
    let argv = vec!["sh".to_string(), "-c".to_string(), script.to_string()];
    run_with(&nc, "sh", argv, format!("{first}{more}"), opts)
}

pub fn register(engine: &mut Engine) {
    reg_with_opts!(
        engine,
        /// Runs a command given as an argv array (no shell): `run(["systemctl", "is-active", "docker"])`.
        /// Options: creates (skip when the path exists), unless (skip when that argv exits 0), timeout (seconds),
        /// env (map), cwd, stdin, check (false: a non-zero exit does not fail), readonly (true: also runs in
        /// check mode), secret (true: hide the command line and mark its output secret), images (the
        /// container images the command pulls, for the JSON events and `galley artifacts`), output_for (the
        /// file its output goes into: `unknown` in check/plan when they cannot know the output).
        /// Returns a Result with rc, stdout, stderr, changed, ok, status, host.
        "run": RunOpts, ["argv: Array"], "Result", run, (argv: Array)
    );
    reg(
        engine,
        "run",
        &["command: String", "Result"],
        &["Refused: run() takes an argv array; see sh() for a shell line."],
        |_: &str| -> RResult<StepResult> { Err(usage(RUN_TAKES_ARGV)) },
    );
    reg_with_opts!(
        engine,
        /// Runs a script with `sh -c` — the one primitive that uses a shell, on purpose. Same options as run().
        "sh": RunOpts, ["script: String"], "Result", sh, (s: &str)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::CommandOutput;

    #[test]
    fn guards_decide() {
        let o = RunOpts {
            creates: Some("/etc/x".into()),
            ..Default::default()
        };
        assert_eq!(
            decide(Some(true), None, &o),
            Decision::Done("/etc/x exists".into())
        );
        assert_eq!(decide(Some(false), None, &o), Decision::Run);
        assert_eq!(
            decide(None, Some(0), &RunOpts::default()),
            Decision::Done("`unless` check succeeded".into())
        );
        assert_eq!(decide(None, Some(1), &RunOpts::default()), Decision::Run);
        assert_eq!(decide(None, None, &RunOpts::default()), Decision::Run);
    }

    #[test]
    fn display_quotes_arguments() {
        let argv: Vec<String> = ["echo", "a b", "it's"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(display(&argv), r#"echo 'a b' "it's""#);
    }

    #[test]
    fn failure_text_has_exit_code_and_stderr_tail() {
        let out = CommandOutput {
            rc: 3,
            stderr: b"one\ntwo\n".to_vec(),
            ..Default::default()
        };
        assert_eq!(
            failure_text("false", &out, None),
            "command `false` failed: exit code 3\nstderr (last lines):\n  one\n  two"
        );
    }
}
