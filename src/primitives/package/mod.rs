//! Packages: `yum` (RHEL family, through yum or dnf), `apt` (Debian family) and `pkg`, which
//! picks one from the facts; `pkg_version` reads one installed version. A call probes what is
//! installed, decides what to install, upgrade, downgrade or remove, then runs the package
//! manager once per kind of change. This file holds what the managers share: the options, the
//! wanted state, the one converge path ([`package_call`], [`converge`]) over what each manager
//! does its own way ([`Manager`], in `yum.rs` and `apt.rs`), and the registration.

mod apt;
mod decide;
mod installed;
mod parse;
mod pkg;
mod version;
mod yum;

use crate::error::StepError;
use std::collections::BTreeSet;

use rhai::{Dynamic, Engine, NativeCallContext};
use serde::Deserialize;

use super::act::{act, names_of, OneOrMany};
use super::{reg, reg_with_opts, Call, RResult, StepResult};
use crate::host::CommandSpec;
use crate::report::Status;
use apt::apt;
pub use apt::{apt_argv, apt_needs_update};
pub use decide::{decide, Family, PkgChanges};
use installed::{effects, installed_of};
use parse::Installed;
pub use parse::{parse_dpkg_query, parse_rpm_q, DPKG_FMT, RPM_QF};
pub use pkg::manager_for;
use pkg::{pkg, pkg_version};
use version::Wanted;
use yum::yum;
pub use yum::yum_argv;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    #[default]
    Present,
    Absent,
    Latest,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PkgOpts {
    #[serde(default)]
    state: State,
    /// yum/dnf: `--disableexcludes=<repo>` (the kubernetes repo excludes its own packages).
    disable_excludes: Option<String>,
    /// yum/dnf: `--enablerepo=<id>` for each.
    enable_repo: Option<OneOrMany>,
    /// Refresh the package lists before changing anything (apt: `apt-get update` even when fresh).
    #[serde(default)]
    update_cache: bool,
    /// yum/dnf: operate on another root (`--installroot`; `rpm --root` for the probe).
    installroot: Option<String>,
    /// yum/dnf: the program (`yum` or `dnf`); default from the host's facts.
    manager: Option<String>,
    /// Extra arguments for every package-manager command (`--setopt=...`, `--nogpgcheck`).
    extra_args: Option<Vec<String>>,
    /// apt: refresh lists older than this many seconds before installing (default one day).
    cache_valid_time: Option<u64>,
    /// apt: `purge` instead of `remove` for state absent.
    #[serde(default)]
    purge: bool,
    /// Seconds before a package-manager command is killed.
    timeout: Option<u64>,
}

/// Package names.
type Names = BTreeSet<String>;

/// What the package manager's commands printed, one entry a command (empty in check and plan).
type Printed = Vec<String>;

/// What one package manager does its own way, for one call (it holds the call's options); the
/// rest of a call is [`converge`].
trait Manager {
    /// How its versions compare.
    const FAMILY: Family;

    /// The installed packages among `want` that have a newer version (asked for state latest;
    /// yum also expires its cache here when asked to).
    fn updatable(&self, call: &Call, want: &[Wanted], have: &Installed)
        -> Result<Names, StepError>;

    /// Makes the changes; returns what the commands printed (apply only).
    fn apply(&self, call: &mut Call, want: &[Wanted], c: &PkgChanges)
        -> Result<Printed, StepError>;
}

/// The summary of an `ok` call; a changing call says what it does instead (`install a b`).
fn summary(specs: &[String], state: State) -> String {
    let verb = match state {
        State::Present => "",
        State::Absent => " (absent)",
        State::Latest => " (latest)",
    };
    format!("{}{verb}", specs.join(" "))
}

/// One `yum` or `apt` call: the packages read with `parse`, the action begun, the manager made
/// for the call, converged, and the action finished `ok`, `changed` or failed.
fn package_call<M: Manager>(
    nc: NativeCallContext,
    primitive: &str,
    packages: Dynamic,
    o: &PkgOpts,
    parse: fn(&str) -> Wanted,
    manager: impl FnOnce(&Call) -> Result<M, StepError>,
) -> RResult<StepResult> {
    let specs = names_of(primitive, "package", &packages)?;
    let wanted: Vec<Wanted> = specs.iter().map(|s| parse(s)).collect();
    let mut call = Call::begin(&nc, primitive, summary(&specs, o.state))?;
    let converged = manager(&call).and_then(|m| converge(&mut call, &m, &wanted, o));
    match converged {
        Ok(None) => Ok(call.finish(Status::Ok)),
        Ok(Some((c, outputs))) => {
            call.action.summary = c.describe();
            let _ = call.predict(|_| Ok(effects(&wanted, &c)));
            let mut r = call.finish(Status::Changed);
            r.stdout = outputs.join("");
            Ok(r)
        }
        Err(e) => Err(call.fail(e)),
    }
}

/// Probe, decide, apply: the changes made and what the commands printed, `None` when nothing
/// has to change.
fn converge<M: Manager>(
    call: &mut Call,
    m: &M,
    wanted: &[Wanted],
    o: &PkgOpts,
) -> Result<Option<(PkgChanges, Printed)>, StepError> {
    let names: Vec<String> = wanted.iter().map(|w| w.name.clone()).collect();
    let installed = installed_of(call, &names, M::FAMILY, o)?;
    let updatable = m.updatable(call, wanted, &installed)?;
    let c = decide(M::FAMILY, wanted, &installed, o.state, &updatable);
    if c.is_empty() {
        return Ok(None);
    }
    let outputs = m.apply(call, wanted, &c)?;
    Ok(Some((c, outputs)))
}

/// Runs the package manager once per kind of change that has packages, in the order given
/// (`remove a`, then `install b c`); what each printed, in apply.
fn run_each(
    call: &mut Call,
    what: &str,
    kinds: &[(&str, &Vec<String>)],
    spec: impl Fn(&str, &[String]) -> CommandSpec,
) -> Result<Printed, StepError> {
    let mut outputs = Vec::new();
    for (verb, list) in kinds {
        if list.is_empty() {
            continue;
        }
        if let Some(out) = act(call, spec(verb, list), what)? {
            outputs.push(out.stdout_text());
        }
    }
    Ok(outputs)
}

pub fn register(engine: &mut Engine) {
    reg_with_opts!(
        engine,
        /// Installs, upgrades or removes RPM packages with yum (EL7) or dnf (EL8+), probed with `rpm -q`.
        /// Pins are written the book's way: `yum(["docker-ce-19.03.4", "containerd.io-1.2.10"])`; a pin
        /// matches an installed version-release that starts with it. `ok` when nothing has to change.
        /// Options: state ("present" | "absent" | "latest"), disable_excludes, enable_repo, update_cache,
        /// installroot, manager ("yum" | "dnf"), extra_args, timeout.
        "yum": PkgOpts, ["packages: Dynamic"], "Result", yum, (p: Dynamic)
    );
    reg_with_opts!(
        engine,
        /// Installs, upgrades or removes Debian packages with apt-get (never prompts), probed with dpkg-query.
        /// Pins: `apt(["kubeadm=1.31.4-1.1", "kubelet=1.31.*"])`. Lists are refreshed only when older than
        /// cache_valid_time (default 86400 s), when a package or pin is not in them, or with update_cache.
        /// Options: state, update_cache, cache_valid_time, purge, extra_args, timeout.
        "apt": PkgOpts, ["packages: Dynamic"], "Result", apt, (p: Dynamic)
    );
    reg_with_opts!(
        engine,
        /// yum() on the RHEL family, apt() on Debian/Ubuntu, chosen from the host's facts. Same arguments.
        "pkg": PkgOpts, ["packages: Dynamic"], "Result", pkg, (p: Dynamic)
    );
    reg(
        engine,
        "pkg_version",
        &["name: &str", "String"],
        &[
            "The installed version of a package (`1.37.2-150500.1.1` from rpm, `1.37.2-1.1` from dpkg), \"\"",
            "when it is not installed; from the facts in a plan, where an install earlier in the run counts.",
        ],
        pkg_version,
    );
}
