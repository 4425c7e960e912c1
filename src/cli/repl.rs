//! `galley repl`: the interactive prompt. Parsing here; the session lives in `crate::repl`.

use clap::Args;

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
    pub mode: super::mode_args::ModeArgs,
}

pub fn repl(a: ReplArgs) -> i32 {
    match a.mode.options(false) {
        Ok(opts) => crate::repl::main(opts),
        Err(e) => super::usage_error(e),
    }
}
