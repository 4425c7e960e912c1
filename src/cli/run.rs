//! `galley run` and `galley plan`.

use std::time::Duration;

use clap::Args;

use crate::report::Format;
use crate::runner::{execute, RunOptions};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  galley run docker --check --diff
  galley run ./my-recipe.rhai --set version=1.2 --output json
  galley run kubeadm -i cluster.toml --limit workers
  galley run docker -H root@10.0.0.5 --check")]
pub struct RunArgs {
    /// A bundled recipe name (see `galley list`) or a path to a .rhai file.
    pub recipe: String,
    #[command(flatten)]
    pub mode: super::mode_args::ModeArgs,
    /// Output format: human lines, or one JSON object per event (docs/output.md).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub output: Format,
    /// Wall-clock budget for the whole run, in seconds (at most a year).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(0..=MAX_TIMEOUT))]
    pub timeout: Option<u64>,
}

/// `galley plan --help`'s examples (the run's are for `galley run`).
pub const PLAN_EXAMPLES: &str = "Examples:
  galley plan kubeadm --profile centos7 --set profile=book
  galley plan docker --facts ./facts/cp1.json
  galley plan kubeadm -i cluster.toml --set topology=multi --output json
  galley plan docker --diff";

/// Longest `--timeout`: a year. More is a mistake, and overflows the clock arithmetic.
const MAX_TIMEOUT: u64 = 365 * 24 * 3600;

pub fn run(a: RunArgs, plan: bool) -> i32 {
    if plan {
        let given = [
            ("--check", a.mode.check),
            ("--plan", a.mode.plan),
            ("--become", a.mode.targets.become_root),
            ("--timeout", a.timeout.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, on)| *on) {
            return super::usage_error(format!(
                "galley plan takes no {flag}: a plan contacts no host and runs nothing (for a read-only look at real hosts, `galley run RECIPE --check`)"
            ));
        }
    }
    let opts = match a.mode.options(plan) {
        Ok(o) => RunOptions {
            recipe: a.recipe,
            format: a.output,
            timeout: a.timeout.map(Duration::from_secs),
            ..o
        },
        Err(e) => return super::usage_error(e),
    };
    execute(&opts).exit_code
}
