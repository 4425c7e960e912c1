//! The command line: clap definitions, one file per subcommand, and the process-level setup
//! (logging through redaction, Ctrl-C handling) that belongs to the binary rather than the library.

mod artifacts;
mod check;
mod completions;
mod defs;
mod facts;
mod facts_save;
mod fork;
mod list;
mod mode_args;
mod repl;
mod run;
mod show;
mod targets;

use std::io::Write;

use clap::{CommandFactory, Parser, Subcommand};

use crate::host::exec::INTERRUPTED;
use crate::report::redact::redact;
use crate::report::stdout;

const ABOUT: &str = "Provisioning recipes in Rhai: Docker, Minikube, Kind and kubeadm clusters, over the SSH you already have.";

const EXAMPLES: &str = "Examples:
  galley list                                   bundled recipes and what they do
  galley show kubeadm                           a recipe's parameters and defaults
  galley plan docker                            the full plan, offline, against the rocky9 profile
  galley plan docker --profile centos7 --set profile=book
  galley run docker --check --diff              what would change on this machine
  galley run docker                             apply it
  galley fork kubeadm ./my-kubeadm              copy a recipe to edit
  galley check ./my-kubeadm/kubeadm.rhai        compile and lint without running

Exit codes: 0 success, 1 a step failed, 2 usage/recipe error, 130 interrupted, 141 stdout closed.";

#[derive(Parser, Debug)]
#[command(name = "galley", version, about = ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    /// More diagnostics on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a recipe (bundled name or path): apply, or --check / --plan.
    Run(run::RunArgs),
    /// Show the whole plan offline: no host is contacted; facts from --facts or a profile.
    Plan(run::RunArgs),
    /// What a run would fetch, from its plan: URLs, repositories, packages, images; --download DIR.
    Artifacts(artifacts::ArtifactsArgs),
    /// List bundled recipes and the .rhai recipes in the current folder.
    List(list::ListArgs),
    /// Show a recipe's summary, parameters with defaults, and the modules it imports.
    Show(show::ShowArgs),
    /// Copy a bundled recipe (and optionally the stdlib modules it imports) into a folder to edit.
    Fork(fork::ForkArgs),
    /// Compile and lint a recipe without running it.
    Check(check::CheckArgs),
    /// Gather the facts of hosts (-i/-H, else this machine); --save DIR writes files for --facts.
    Facts(facts::FactsArgs),
    /// Write Rhai definition files (.d.rhai) so an editor completes the primitives.
    Defs(defs::DefsArgs),
    /// An interactive Rhai prompt with every primitive: try steps live, save what worked.
    Repl(repl::ReplArgs),
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
}

/// Writes log lines to stderr after redacting secrets.
struct RedactingStderr;

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        crate::report::write_above(redact(&String::from_utf8_lossy(buf)).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// `-v`/`-vv`/`-vvv` raise galley's own targets only: other crates' traces (the HTTP and TLS
/// libraries dump whole requests, URL tokens included, in hex) appear only when RUST_LOG asks
/// for them by name or level.
fn filter_for(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn",
        1 => "warn,galley=info",
        2 => "warn,galley=debug",
        _ => "warn,galley=trace",
    }
}

fn init_tracing(verbose: u8) {
    let default = filter_for(verbose);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingStderr)
        .with_ansi(false)
        .try_init();
}

/// First Ctrl-C: stop running commands and the recipe, then print the recap. Second: exit now.
fn install_interrupt_handler() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        for _ in signals.forever() {
            if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
                std::process::exit(130);
            }
        }
    });
}

/// Options of `galley run` that `galley plan` shares the parser with but has no use for: a plan
/// is always a plan, contacts no host and runs nothing. Hidden from its help; given, an error.
pub const NOT_FOR_PLAN: [&str; 4] = ["check", "plan", "become_root", "timeout"];

/// The command line as parsed and as completions describe it.
fn command() -> clap::Command {
    Cli::command().mut_subcommand("plan", |mut plan| {
        for id in NOT_FOR_PLAN {
            plan = plan.mut_arg(id, |a| a.hide(true));
        }
        plan.after_help(run::PLAN_EXAMPLES)
    })
}

pub fn main() -> i32 {
    use clap::FromArgMatches;
    let cli = match command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    init_tracing(cli.verbose);
    if !matches!(cli.command, Command::Repl(_)) {
        install_interrupt_handler(); // the REPL interrupts only while it evaluates
    }
    // A reader that goes away stops the run the way Ctrl-C does (commands killed, no more steps).
    stdout::on_close(|| INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst));
    let code = match cli.command {
        Command::Run(a) => run::run(a, false),
        Command::Plan(a) => run::run(a, true),
        Command::Artifacts(a) => artifacts::artifacts(a),
        Command::List(a) => list::list(a),
        Command::Show(a) => show::show(a),
        Command::Fork(a) => fork::fork(a),
        Command::Check(a) => check::check(a),
        Command::Defs(a) => defs::defs(a),
        Command::Repl(a) => repl::repl(a),
        Command::Facts(a) => facts::facts(a),
        Command::Completions { shell } => {
            stdout::bytes(&completions::script(shell));
            0
        }
    };
    if stdout::closed() {
        stdout::CLOSED_EXIT
    } else {
        code
    }
}

/// Prints a usage-level error and returns exit code 2.
pub fn usage_error(message: impl std::fmt::Display) -> i32 {
    crate::report::stdout::err_line(&format!("error: {}", redact(&message.to_string())));
    2
}
