//! `galley completions SHELL`: the script clap_complete generates from the command line as it is
//! parsed (`super::command`), told three things only completion needs, from the same lists the
//! program uses:
//! - `--profile` takes a built-in profile name (`embedded::profile_names`), in every shell;
//! - a recipe (`run`, `plan`, `artifacts`, `show`, `check`, `fork`, `facts --recipe`) is a bundled
//!   name (`embedded::recipe_names`) — in bash only, whose script is registered with
//!   `-o default`, so a word no name matches (`./my.rhai`, `recipes/`) still completes as a
//!   path; zsh's and fish's scripts would offer the names *instead of* files, so there the
//!   recipe keeps completing files;
//! - an option `--help` hides is not offered either (clap_complete lists hidden options), so
//!   `plan` offers none of the run-only flags it refuses (`super::NOT_FOR_PLAN`).
//!
//! The names are written into the script when it is generated: regenerate it after an upgrade.

use clap::builder::PossibleValuesParser;
use clap::{Arg, Command};
use clap_complete::Shell;

use crate::embedded;

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command(shell), "galley", &mut out);
    out
}

/// The command line as `shell`'s completion describes it.
fn command(shell: Shell) -> Command {
    let recipes = names(embedded::recipe_names());
    let profiles = names(embedded::profile_names());
    super::command().mut_subcommands(|sc| {
        // `mut_args`, not `mut_arg`: it keeps the order, which numbers the positionals.
        without_hidden(sc).mut_args(|a| match a.get_id().as_str() {
            "profile" => a.value_parser(profiles.clone()),
            // The positional of run, plan, artifacts, show, check and fork; `facts --recipe`.
            "recipe" | "recipes" if shell == Shell::Bash => a.value_parser(recipes.clone()),
            _ => a,
        })
    })
}

/// Names as completion values. Without clap's `string` feature a value is a `&'static str`; the
/// few names live as long as this process, which prints the script and exits.
fn names(names: Vec<String>) -> PossibleValuesParser {
    PossibleValuesParser::new(names.into_iter().map(|n| &*n.leak()))
}

/// `cmd` without the options its help hides. clap offers no way to remove an argument, so a
/// command that has any is rebuilt from what completion reads: name, about, the other
/// arguments and its subcommands (the derive's argument groups are left out: they name the
/// removed arguments, and completion does not use them).
fn without_hidden(cmd: Command) -> Command {
    if !cmd.get_arguments().any(Arg::is_hide_set) {
        return cmd;
    }
    let name: &'static str = cmd.get_name().to_string().leak();
    let mut kept = Command::new(name)
        .args(cmd.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .subcommands(cmd.get_subcommands().cloned());
    if let Some(about) = cmd.get_about() {
        kept = kept.about(about.clone());
    }
    kept
}
