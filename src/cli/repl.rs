//! `galley repl`: the interactive prompt. Parsing here; the session lives in `crate::repl`.

use clap::Args;

use crate::engine::{params::parse_set, Mode};
use crate::report::Format;
use crate::runner::RunOptions;

#[derive(Args, Debug)]
#[command(
    after_help = "Inside the prompt, :help lists the meta-commands and primitives.

Examples:
  galley repl                                   apply mode on this machine
  galley repl --check                           probe this machine read-only, change nothing
  galley repl --plan --profile centos7          no host contacted; facts from a profile
  echo 'run([\"uname\", \"-r\"]).stdout' | galley repl   scripted: statements from stdin

More in docs/repl.md."
)]
pub struct ReplArgs {
    #[command(flatten)]
    pub targets: super::targets::TargetArgs,
    /// Probe the real hosts read-only and report what would change; change nothing.
    #[arg(long, conflicts_with = "plan")]
    pub check: bool,
    /// Contact no host: facts come from --facts or --profile.
    #[arg(long)]
    pub plan: bool,
    /// Facts for plan mode: a JSON file, or a folder of <host>.json files.
    #[arg(long, value_name = "FILE|DIR")]
    pub facts: Option<String>,
    /// Built-in facts profile for plan mode: centos7, rocky9, ubuntu22.04, debian12 [default: rocky9].
    #[arg(long)]
    pub profile: Option<String>,
    /// Value for params() in the session; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Show file diffs of changes.
    #[arg(long)]
    pub diff: bool,
    /// Hosts worked on at once by on(...).
    #[arg(long, default_value_t = 10)]
    pub forks: usize,
}

/// The session's options, in the same shape `galley run` uses: inventory options (`-i`, `-H`)
/// reach the session by setting `RunOptions::inventory` here, as `galley run` does.
pub fn options(a: &ReplArgs) -> Result<RunOptions, String> {
    let sets = a
        .sets
        .iter()
        .map(|s| parse_set(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mode = if a.plan {
        Mode::Plan
    } else if a.check {
        Mode::Check
    } else {
        Mode::Apply
    };
    if mode != Mode::Plan && (a.facts.is_some() || a.profile.is_some()) {
        return Err("--facts and --profile only apply to plans; add --plan".into());
    }
    Ok(RunOptions {
        mode,
        sets,
        facts: a.facts.clone(),
        profile: a.profile.clone(),
        format: Format::Human,
        diff: a.diff,
        forks: a.forks,
        inventory: a.targets.inventory()?,
        ..Default::default()
    })
}

pub fn repl(a: ReplArgs) -> i32 {
    match options(&a) {
        Ok(opts) => crate::repl::main(opts),
        Err(e) => super::usage_error(e),
    }
}
