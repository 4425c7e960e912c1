//! `galley run` and `galley plan`.

use std::time::Duration;

use clap::Args;

use crate::engine::{params::parse_set, Mode};
use crate::report::Format;
use crate::runner::{execute, RunOptions};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  galley run docker --check --diff
  galley run ./my-recipe.rhai --set version=1.2 --output json
  galley plan kubeadm --profile centos7 --set profile=book
  galley plan docker --facts ./facts/cp1.json
  galley run kubeadm -i cluster.toml --limit workers
  galley run docker -H root@10.0.0.5 --check")]
pub struct RunArgs {
    /// A bundled recipe name (see `galley list`) or a path to a .rhai file.
    pub recipe: String,
    /// Override a parameter declared by the recipe's params(); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
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
    /// Show file diffs of changes.
    #[arg(long)]
    pub diff: bool,
    /// Output format: human lines, or one JSON object per event (docs/output.md).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub output: Format,
    /// Wall-clock budget for the whole run, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Hosts worked on at once by on(...).
    #[arg(long, default_value_t = 10)]
    pub forks: usize,
    #[command(flatten)]
    pub targets: super::targets::TargetArgs,
}

pub fn run(a: RunArgs, plan: bool) -> i32 {
    let mut sets = Vec::new();
    for s in &a.sets {
        match parse_set(s) {
            Ok(kv) => sets.push(kv),
            Err(e) => return super::usage_error(e),
        }
    }
    let mode = if plan || a.plan {
        Mode::Plan
    } else if a.check {
        Mode::Check
    } else {
        Mode::Apply
    };
    if mode != Mode::Plan && (a.facts.is_some() || a.profile.is_some()) {
        return super::usage_error(
            "--facts and --profile only apply to plans; add --plan or use `galley plan`",
        );
    }
    let inventory = match a.targets.inventory() {
        Ok(i) => i,
        Err(e) => return super::usage_error(e),
    };
    let opts = RunOptions {
        recipe: a.recipe,
        mode,
        sets,
        facts: a.facts,
        profile: a.profile,
        format: a.output,
        diff: a.diff,
        timeout: a.timeout.map(Duration::from_secs),
        inventory,
        forks: a.forks,
        show_only: false,
    };
    execute(&opts).exit_code
}
