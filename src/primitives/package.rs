//! Packages: `yum` (RHEL family, through yum or dnf), `apt` (Debian family) and `pkg`, which
//! picks one from the facts. Probe what is installed, decide what to install, upgrade, downgrade
//! or remove, then run the package manager once per kind of change.

use std::collections::{BTreeMap, BTreeSet};

use rhai::{Dynamic, Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::act::{act, names_of, probe, spec_of, OneOrMany};
use super::pkgprobe::{
    parse_apt_policy, parse_check_update, parse_dpkg_query, parse_rpm_q, Installed, Policy,
    DPKG_FMT, RPM_QF,
};
use super::pkgver::{deb_matches, parse_deb, parse_rpm, rpm_matches, rpm_pin_cmp, Wanted};
use super::{from_map, reg, usage, Call, RResult, StepResult};
use crate::executor::overlay::Key;
use crate::executor::{Effect, Fact};
use crate::facts::Fixture;
use crate::report::Status;

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

/// What has to change, in the order it is done.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PkgChanges {
    pub remove: Vec<String>,
    /// Specs as the tool takes them (`docker-ce-19.03.4`, `kubeadm=1.31.4-1.1`, `lvm2`).
    pub install: Vec<String>,
    /// RPM pins older than what is installed (yum needs `downgrade`).
    pub downgrade: Vec<String>,
    /// Installed packages with a newer version available (state latest).
    pub upgrade: Vec<String>,
}

impl PkgChanges {
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty()
            && self.install.is_empty()
            && self.downgrade.is_empty()
            && self.upgrade.is_empty()
    }

    /// `install: a, b; remove: c` for the action's summary.
    pub fn describe(&self) -> String {
        [
            ("remove", &self.remove),
            ("install", &self.install),
            ("downgrade", &self.downgrade),
            ("upgrade", &self.upgrade),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k} {}", v.join(" ")))
        .collect::<Vec<_>>()
        .join("; ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Rpm,
    Deb,
}

impl Family {
    fn matches(self, pin: &str, installed: &str) -> bool {
        match self {
            Family::Rpm => rpm_matches(pin, installed),
            Family::Deb => deb_matches(pin, installed),
        }
    }
}

/// Pure: the changes that bring `wanted` to `state`, given what is installed and which installed
/// packages have updates (only consulted for `latest`).
pub fn decide(
    family: Family,
    wanted: &[Wanted],
    installed: &Installed,
    state: State,
    updatable: &BTreeSet<String>,
) -> PkgChanges {
    let mut c = PkgChanges::default();
    for w in wanted {
        let have = installed.get(&w.name);
        match (state, have, &w.version) {
            (State::Absent, Some(v), Some(pin)) if family.matches(pin, v) => {
                c.remove.push(w.name.clone())
            }
            (State::Absent, Some(_), None) => c.remove.push(w.name.clone()),
            (State::Absent, _, _) => {}
            (_, None, _) => c.install.push(w.spec.clone()),
            (_, Some(v), Some(pin)) if !family.matches(pin, v) => {
                if family == Family::Rpm && rpm_pin_cmp(pin, v).is_lt() {
                    c.downgrade.push(w.spec.clone())
                } else {
                    c.install.push(w.spec.clone())
                }
            }
            (State::Latest, Some(_), None) if updatable.contains(&w.name) => {
                c.upgrade.push(w.name.clone())
            }
            _ => {}
        }
    }
    c
}

/// Pure (apt): whether `apt-get update` must run before installing `to_install`: asked for, lists
/// older than the threshold, a package the lists do not know, or a pin they do not offer.
pub fn apt_needs_update(
    to_install: &[Wanted],
    policy: &BTreeMap<String, Policy>,
    lists_fresh: bool,
    force: bool,
) -> bool {
    force
        || !lists_fresh
        || to_install.iter().any(|w| match policy.get(&w.name) {
            None => true,
            Some(p) => match &w.version {
                None => p.candidate.is_none(),
                Some(pin) => !p.versions.iter().any(|v| deb_matches(pin, v)),
            },
        })
}

/// What the overlay predicts for a package: `Some(Some(v))` installed, `Some(None)` removed.
fn predicted(call: &Call, name: &str) -> Option<Option<String>> {
    call.target.overlay().get(&Key::Package(name.to_string()))
}

/// The installed versions of some packages: `rpm -q`/`dpkg-query` on a live host, the
/// `packages` of a facts file.
struct InstalledVersions<'a> {
    names: &'a [String],
    family: Family,
    opts: &'a PkgOpts,
}

impl Fact for InstalledVersions<'_> {
    type Value = Installed;

    fn probe(&self, call: &Call) -> Result<Installed, String> {
        let argv = probe_argv(self.family, self.names, self.opts);
        let out = probe(call, &argv, "packages")?;
        if out.rc != 0 && out.stdout.is_empty() && self.family == Family::Rpm {
            return Err(format!(
                "`{}` failed: {}",
                argv.join(" "),
                out.stderr_text().trim()
            ));
        }
        Ok(match self.family {
            Family::Rpm => parse_rpm_q(&out.stdout_text()),
            Family::Deb => parse_dpkg_query(&out.stdout_text()),
        })
    }

    fn answer_from_file(&self, _: &Call, fixture: &Fixture) -> Result<Installed, String> {
        Ok(self
            .names
            .iter()
            .filter_map(|n| Some((n.clone(), fixture.packages.get(n)?.clone())))
            .collect())
    }
}

/// Installed versions, with the predictions of earlier steps in this run (check/plan) on top.
fn installed_of(
    call: &Call,
    names: &[String],
    family: Family,
    o: &PkgOpts,
) -> Result<Installed, String> {
    let mut have = call.fact(&InstalledVersions {
        names,
        family,
        opts: o,
    })?;
    for n in names {
        match predicted(call, n) {
            Some(Some(v)) => {
                have.insert(n.clone(), v);
            }
            Some(None) => {
                have.remove(n);
            }
            None => {}
        }
    }
    Ok(have)
}

fn probe_argv(family: Family, names: &[String], o: &PkgOpts) -> Vec<String> {
    let mut argv: Vec<String> = match family {
        Family::Rpm => vec!["rpm".into()],
        Family::Deb => vec![
            "dpkg-query".into(),
            "-W".into(),
            "-f".into(),
            DPKG_FMT.replace("\\t", "\t").replace("\\n", "\n"),
        ],
    };
    if family == Family::Rpm {
        if let Some(root) = &o.installroot {
            argv.extend(["--root".into(), root.clone()]);
        }
        argv.extend(["-q".into(), "--qf".into(), RPM_QF.replace("\\n", "\n")]);
    }
    argv.extend(names.iter().cloned());
    argv
}

/// The yum/dnf program: the option, else what the facts found (`yum` on EL7, `dnf` on EL8+).
fn yum_program(call: &Call, o: &PkgOpts) -> Result<String, String> {
    if let Some(m) = &o.manager {
        return Ok(m.clone());
    }
    let facts = call.target.facts().map_err(|e| e.to_string())?;
    Ok(match facts.pkg_manager.as_str() {
        "dnf" => "dnf".into(),
        _ => "yum".into(),
    })
}

/// `yum|dnf <verb> -y <options> <packages>`.
pub fn yum_argv(program: &str, verb: &str, o_args: &[String], pkgs: &[String]) -> Vec<String> {
    let mut argv = vec![program.to_string(), verb.to_string(), "-y".to_string()];
    argv.extend(o_args.iter().cloned());
    argv.extend(pkgs.iter().cloned());
    argv
}

fn yum_options(program: &str, o: &PkgOpts) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(r) = &o.installroot {
        args.push(format!("--installroot={r}"));
    }
    if let Some(x) = &o.disable_excludes {
        args.push(format!("--disableexcludes={x}"));
    }
    for r in o.enable_repo.as_ref().map(|r| r.list()).unwrap_or_default() {
        args.push(format!("--enablerepo={r}"));
    }
    if o.update_cache && program != "yum" {
        args.push("--refresh".into());
    }
    args.extend(o.extra_args.clone().unwrap_or_default());
    args
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

/// Records what the changes leave installed, so later probes in check/plan see it.
fn effects(wanted: &[Wanted], c: &PkgChanges) -> Vec<Effect> {
    let mut out = Vec::new();
    for w in wanted {
        let key = Key::Package(w.name.clone());
        if c.remove.contains(&w.name) {
            out.push(Effect::State(key, None));
        } else if c.install.contains(&w.spec)
            || c.downgrade.contains(&w.spec)
            || c.upgrade.contains(&w.name)
        {
            let v = w.version.clone().unwrap_or_else(|| "*".into());
            out.push(Effect::State(key, Some(v)));
        }
    }
    out
}

fn finish_changes(
    mut call: Call,
    wanted: &[Wanted],
    c: &PkgChanges,
    outputs: Vec<String>,
) -> StepResult {
    call.action.summary = c.describe();
    let _ = call.predict(|_| Ok(effects(wanted, c)));
    let mut r = call.finish(Status::Changed);
    r.stdout = outputs.join("");
    r
}

fn yum(nc: NativeCallContext, packages: Dynamic, opts: Option<Map>) -> RResult<StepResult> {
    let o: PkgOpts = from_map("yum", opts)?;
    let specs = names_of("yum", "package", &packages)?;
    let wanted: Vec<Wanted> = specs.iter().map(|s| parse_rpm(s)).collect();
    let mut call = Call::begin(&nc, "yum", summary(&specs, o.state))?;
    match yum_converge(&mut call, &wanted, &o) {
        Ok(None) => Ok(call.finish(Status::Ok)),
        Ok(Some((c, out))) => Ok(finish_changes(call, &wanted, &c, out)),
        Err(e) => Err(call.fail(e)),
    }
}

type Converged = Option<(PkgChanges, Vec<String>)>;

fn yum_converge(call: &mut Call, wanted: &[Wanted], o: &PkgOpts) -> Result<Converged, String> {
    let names: Vec<String> = wanted.iter().map(|w| w.name.clone()).collect();
    let program = yum_program(call, o)?;
    let args = yum_options(&program, o);
    let installed = installed_of(call, &names, Family::Rpm, o)?;
    let expire = o.update_cache && program == "yum";
    if expire {
        probe(
            call,
            &yum_argv(&program, "clean", &[], &["expire-cache".into()]),
            "yum",
        )?;
    }
    let mut updatable = BTreeSet::new();
    let installed_plain: Vec<String> = wanted
        .iter()
        .filter(|w| w.version.is_none() && installed.contains_key(&w.name))
        .map(|w| w.name.clone())
        .collect();
    if o.state == State::Latest && !installed_plain.is_empty() {
        let mut argv = vec![program.clone(), "check-update".into()];
        argv.extend(args.iter().cloned());
        argv.extend(installed_plain.iter().cloned());
        let out = probe(call, &argv, "check-update")?;
        match out.rc {
            0 => {}
            100 => {
                let set: BTreeSet<String> = installed_plain.iter().cloned().collect();
                updatable = parse_check_update(&out.stdout_text(), &set);
            }
            rc => {
                return Err(format!(
                    "`{}` failed (exit code {rc}): {}",
                    argv.join(" "),
                    out.stderr_text().trim()
                ))
            }
        }
    }
    let c = decide(Family::Rpm, wanted, &installed, o.state, &updatable);
    if c.is_empty() {
        return Ok(None);
    }
    let upgrade_verb = if program == "yum" {
        "update"
    } else {
        "upgrade"
    };
    let mut outputs = Vec::new();
    for (verb, list) in [
        ("remove", &c.remove),
        ("install", &c.install),
        ("downgrade", &c.downgrade),
        (upgrade_verb, &c.upgrade),
    ] {
        if list.is_empty() {
            continue;
        }
        let spec = spec_of(&yum_argv(&program, verb, &args, list), &[], o.timeout);
        if let Some(out) = act(call, spec, &program)? {
            outputs.push(out.stdout_text());
        }
    }
    Ok(Some((c, outputs)))
}

const APT_ENV: &[(&str, &str)] = &[
    ("DEBIAN_FRONTEND", "noninteractive"),
    ("APT_LISTCHANGES_FRONTEND", "none"),
    ("NEEDRESTART_MODE", "a"),
];

/// `apt-get <verb> -y -q <options> <packages>`: never prompts, keeps changed config files.
pub fn apt_argv(verb: &str, extra: &[String], pkgs: &[String], downgrades: bool) -> Vec<String> {
    let mut argv: Vec<String> = ["apt-get", verb, "-y", "-q"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if verb == "install" {
        argv.extend(
            [
                "-o",
                "Dpkg::Options::=--force-confdef",
                "-o",
                "Dpkg::Options::=--force-confold",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        if downgrades {
            argv.push("--allow-downgrades".into());
        }
    }
    argv.extend(extra.iter().cloned());
    argv.extend(pkgs.iter().cloned());
    argv
}

fn apt_lists_fresh(call: &Call, max_age: u64) -> Result<bool, String> {
    let mins = max_age.div_ceil(60).max(1);
    let argv: Vec<String> = [
        "find",
        "/var/lib/apt/lists",
        "-maxdepth",
        "1",
        "-type",
        "f",
        "-name",
        "*_Packages*",
        "-mmin",
        &format!("-{mins}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = probe(call, &argv, "apt lists")?;
    Ok(out.rc == 0 && !out.stdout_text().trim().is_empty())
}

/// Whether apt's lists must be refreshed before installing: on a live host from their age and
/// what they know of the packages; a facts file has no lists, so there only `update_cache` or
/// a repository added earlier in the run (`Key::AptStale`) asks for it.
struct AptUpdateWanted<'a> {
    to_install: &'a [Wanted],
    opts: &'a PkgOpts,
    stale: bool,
}

impl Fact for AptUpdateWanted<'_> {
    type Value = bool;

    fn probe(&self, call: &Call) -> Result<bool, String> {
        let (o, to_install) = (self.opts, self.to_install);
        if to_install.is_empty() {
            return Ok(o.update_cache);
        }
        let fresh = apt_lists_fresh(call, o.cache_valid_time.unwrap_or(86_400))?;
        let mut argv = vec!["apt-cache".to_string(), "policy".to_string()];
        argv.extend(to_install.iter().map(|w| w.name.clone()));
        let out = probe(call, &argv, "apt-cache policy")?;
        let policy = parse_apt_policy(&out.stdout_text());
        Ok(self.stale || apt_needs_update(to_install, &policy, fresh, o.update_cache))
    }

    fn answer_from_file(&self, _: &Call, _: &Fixture) -> Result<bool, String> {
        Ok(self.opts.update_cache || (self.stale && !self.to_install.is_empty()))
    }
}

fn apt_update_wanted(call: &Call, to_install: &[Wanted], o: &PkgOpts) -> Result<bool, String> {
    let stale = call.target.overlay().get(&Key::AptStale) == Some(Some("true".into()));
    call.fact(&AptUpdateWanted {
        to_install,
        opts: o,
        stale,
    })
}

fn apt(nc: NativeCallContext, packages: Dynamic, opts: Option<Map>) -> RResult<StepResult> {
    let o: PkgOpts = from_map("apt", opts)?;
    if o.installroot.is_some() || o.disable_excludes.is_some() || o.enable_repo.is_some() {
        return Err(usage(
            "apt: installroot, disable_excludes and enable_repo are yum options",
        ));
    }
    let specs = names_of("apt", "package", &packages)?;
    let wanted: Vec<Wanted> = specs.iter().map(|s| parse_deb(s)).collect();
    let mut call = Call::begin(&nc, "apt", summary(&specs, o.state))?;
    match apt_converge(&mut call, &wanted, &o) {
        Ok(None) => Ok(call.finish(Status::Ok)),
        Ok(Some((c, out))) => Ok(finish_changes(call, &wanted, &c, out)),
        Err(e) => Err(call.fail(e)),
    }
}

fn apt_converge(call: &mut Call, wanted: &[Wanted], o: &PkgOpts) -> Result<Converged, String> {
    let names: Vec<String> = wanted.iter().map(|w| w.name.clone()).collect();
    let installed = installed_of(call, &names, Family::Deb, o)?;
    let extra = o.extra_args.clone().unwrap_or_default();
    let mut updatable = BTreeSet::new();
    if o.state == State::Latest {
        let mut argv = vec!["apt-cache".to_string(), "policy".to_string()];
        argv.extend(names.iter().cloned());
        let policy = parse_apt_policy(&probe(call, &argv, "apt-cache policy")?.stdout_text());
        updatable = policy
            .iter()
            .filter(|(_, p)| p.installed.is_some() && p.candidate != p.installed)
            .map(|(n, _)| n.clone())
            .collect();
    }
    let c = decide(Family::Deb, wanted, &installed, o.state, &updatable);
    if c.is_empty() {
        return Ok(None);
    }
    let to_install: Vec<Wanted> = wanted
        .iter()
        .filter(|w| c.install.contains(&w.spec) || c.upgrade.contains(&w.name))
        .cloned()
        .collect();
    let mut outputs = Vec::new();
    if apt_update_wanted(call, &to_install, o)? {
        let spec = spec_of(&apt_argv("update", &extra, &[], false), APT_ENV, o.timeout);
        if let Some(out) = act(call, spec, "apt-get update")? {
            outputs.push(out.stdout_text());
        }
        call.target.overlay().set(Key::AptStale, None);
    }
    let verb = if o.purge { "purge" } else { "remove" };
    let mut install = c.install.clone();
    install.extend(c.upgrade.iter().cloned());
    let downgrades = wanted.iter().any(|w| w.version.is_some());
    for (verb, list) in [(verb, &c.remove), ("install", &install)] {
        if list.is_empty() {
            continue;
        }
        let argv = apt_argv(verb, &extra, list, downgrades);
        if let Some(out) = act(call, spec_of(&argv, APT_ENV, o.timeout), "apt-get")? {
            outputs.push(out.stdout_text());
        }
    }
    Ok(Some((c, outputs)))
}

/// `pkg` picks by the host's family: apt on Debian/Ubuntu, yum/dnf on the RHEL family; other
/// hosts by the package manager the facts found.
pub fn manager_for(family: &str, pkg_manager: &str) -> Option<&'static str> {
    match (family, pkg_manager) {
        ("debian", _) | (_, "apt") => Some("apt"),
        ("redhat", _) | (_, "yum") | (_, "dnf") => Some("yum"),
        _ => None,
    }
}

fn pkg(nc: NativeCallContext, packages: Dynamic, opts: Option<Map>) -> RResult<StepResult> {
    let ctx = crate::executor::Ctx::of(&nc)?;
    let t = ctx.target()?;
    let f = t
        .facts()
        .map_err(|e| super::step(format!("pkg on {}: {e}", t.name())))?;
    match manager_for(&f.os.family, &f.pkg_manager) {
        Some("apt") => apt(nc, packages, opts),
        Some(_) => yum(nc, packages, opts),
        None => Err(super::step(format!(
            "pkg on {}: no supported package manager (os family `{}`, facts found `{}`); use yum() or apt()",
            t.name(),
            f.os.family,
            f.pkg_manager
        ))),
    }
}

/// `pkg_version(name)`: the installed version of one package (`1.37.2-150500.1.1`, `1.37.2-1.1`),
/// "" when it is not installed. Read the way `pkg` reads it: `rpm -q` or `dpkg-query` on a host,
/// the facts in a plan, and in check/plan an install earlier in the run counts (its pin, or `*`).
/// Records no action.
fn pkg_version(nc: NativeCallContext, name: &str) -> RResult<String> {
    if name.is_empty() || name.starts_with('-') || name.contains(char::is_whitespace) {
        return Err(usage(format!(
            "pkg_version: {name:?} is not a package name"
        )));
    }
    let ctx = crate::executor::Ctx::of(&nc)?;
    let t = ctx.target()?;
    let f = t
        .facts()
        .map_err(|e| super::step(format!("pkg_version on {}: {e}", t.name())))?;
    let family = match manager_for(&f.os.family, &f.pkg_manager) {
        Some("apt") => Family::Deb,
        Some(_) => Family::Rpm,
        None => {
            let why = format!(
                "os family `{}`, facts found `{}`",
                f.os.family, f.pkg_manager
            );
            let msg = format!(
                "pkg_version on {}: no supported package manager ({why})",
                t.name()
            );
            return Err(super::step(msg));
        }
    };
    let call = Call::begin(&nc, "pkg_version", name)?;
    let have = installed_of(&call, &[name.to_string()], family, &PkgOpts::default())
        .map_err(|e| super::step(format!("pkg_version on {}: {e}", call.host())))?;
    Ok(have.get(name).cloned().unwrap_or_default())
}

pub fn register(engine: &mut Engine) {
    super::options::schema::<PkgOpts>("yum");
    super::options::schema::<PkgOpts>("apt");
    super::options::schema::<PkgOpts>("pkg");
    const YUM: &[&str] = &[
        "Installs, upgrades or removes RPM packages with yum (EL7) or dnf (EL8+), probed with `rpm -q`.",
        "Pins are written the book's way: `yum([\"docker-ce-19.03.4\", \"containerd.io-1.2.10\"])`; a pin",
        "matches an installed version-release that starts with it. `ok` when nothing has to change.",
        "Options: state (\"present\" | \"absent\" | \"latest\"), disable_excludes, enable_repo, update_cache,",
        "installroot, manager (\"yum\" | \"dnf\"), extra_args, timeout.",
    ];
    const APT: &[&str] = &[
        "Installs, upgrades or removes Debian packages with apt-get (never prompts), probed with dpkg-query.",
        "Pins: `apt([\"kubeadm=1.31.4-1.1\", \"kubelet=1.31.*\"])`. Lists are refreshed only when older than",
        "cache_valid_time (default 86400 s), when a package or pin is not in them, or with update_cache.",
        "Options: state, update_cache, cache_valid_time, purge, extra_args, timeout.",
    ];
    const PKG: &[&str] = &[
        "yum() on the RHEL family, apt() on Debian/Ubuntu, chosen from the host's facts. Same arguments.",
    ];
    for (name, doc, f) in [
        (
            "yum",
            YUM,
            yum as fn(NativeCallContext, Dynamic, Option<Map>) -> RResult<StepResult>,
        ),
        ("apt", APT, apt),
        ("pkg", PKG, pkg),
    ] {
        reg(
            engine,
            name,
            &["packages: Dynamic", "Result"],
            doc,
            move |nc: NativeCallContext, p: Dynamic| f(nc, p, None),
        );
        reg(
            engine,
            name,
            &["packages: Dynamic", "opts: Map", "Result"],
            doc,
            move |nc: NativeCallContext, p: Dynamic, o: Map| f(nc, p, Some(o)),
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(pairs: &[(&str, &str)]) -> Installed {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn rpm(specs: &[&str]) -> Vec<Wanted> {
        specs.iter().map(|s| parse_rpm(s)).collect()
    }

    fn deb(specs: &[&str]) -> Vec<Wanted> {
        specs.iter().map(|s| parse_deb(s)).collect()
    }

    const NONE: &BTreeSet<String> = &BTreeSet::new();

    #[test]
    fn centos7_book_pins_install_what_is_missing() {
        let have = inst(&[("containerd.io", "1.2.10-3.2.el7")]);
        let c = decide(
            Family::Rpm,
            &rpm(&[
                "containerd.io-1.2.10",
                "docker-ce-19.03.4",
                "docker-ce-cli-19.03.4",
            ]),
            &have,
            State::Present,
            NONE,
        );
        assert_eq!(
            c.install,
            vec!["docker-ce-19.03.4", "docker-ce-cli-19.03.4"]
        );
        assert!(c.remove.is_empty() && c.downgrade.is_empty());
    }

    #[test]
    fn already_installed_is_no_change() {
        let have = inst(&[("docker-ce", "19.03.4-3.el7"), ("lvm2", "2.02.187-6.el7")]);
        let c = decide(
            Family::Rpm,
            &rpm(&["docker-ce-19.03.4", "lvm2"]),
            &have,
            State::Present,
            NONE,
        );
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn rocky9_other_version_upgrades_or_downgrades() {
        let have = inst(&[
            ("kubeadm", "1.30.2-150500.1.1"),
            ("kubelet", "1.32.0-150500.1.1"),
        ]);
        let c = decide(
            Family::Rpm,
            &rpm(&["kubeadm-1.31.4", "kubelet-1.31.4"]),
            &have,
            State::Present,
            NONE,
        );
        assert_eq!(c.install, vec!["kubeadm-1.31.4"]);
        assert_eq!(c.downgrade, vec!["kubelet-1.31.4"]);
    }

    #[test]
    fn latest_upgrades_only_updatable() {
        let have = inst(&[("a", "1-1"), ("b", "1-1")]);
        let upd: BTreeSet<String> = ["a".to_string()].into();
        let c = decide(
            Family::Rpm,
            &rpm(&["a", "b", "c"]),
            &have,
            State::Latest,
            &upd,
        );
        assert_eq!(c.upgrade, vec!["a"]);
        assert_eq!(c.install, vec!["c"]);
    }

    #[test]
    fn absent_removes_installed_only() {
        let have = inst(&[("a", "1-1"), ("b", "2-1")]);
        let c = decide(
            Family::Rpm,
            &rpm(&["a", "b-1", "c"]),
            &have,
            State::Absent,
            NONE,
        );
        assert_eq!(c.remove, vec!["a"]);
        assert_eq!(c.describe(), "remove a");
    }

    #[test]
    fn debian_pins_and_present() {
        let have = inst(&[("kubeadm", "1.31.4-1.1"), ("curl", "7.88.1-10")]);
        let c = decide(
            Family::Deb,
            &deb(&["kubeadm=1.31.4-1.1", "kubelet=1.31.4-1.1", "curl"]),
            &have,
            State::Present,
            NONE,
        );
        assert_eq!(c.install, vec!["kubelet=1.31.4-1.1"]);
        let c = decide(
            Family::Deb,
            &deb(&["kubeadm=1.31.3-1.1"]),
            &have,
            State::Present,
            NONE,
        );
        assert_eq!(c.install, vec!["kubeadm=1.31.3-1.1"]);
        assert!(c.downgrade.is_empty());
    }

    #[test]
    fn apt_update_only_when_needed() {
        let policy = parse_apt_policy(
            "kubeadm:\n  Installed: (none)\n  Candidate: 1.31.4-1.1\n  Version table:\n     1.31.4-1.1 500\n        500 https://x Packages\n",
        );
        let w = deb(&["kubeadm"]);
        assert!(!apt_needs_update(&w, &policy, true, false));
        assert!(apt_needs_update(&w, &policy, false, false));
        assert!(apt_needs_update(&w, &policy, true, true));
        assert!(apt_needs_update(&deb(&["kubelet"]), &policy, true, false));
        assert!(!apt_needs_update(
            &deb(&["kubeadm=1.31.4-1.1"]),
            &policy,
            true,
            false
        ));
        assert!(apt_needs_update(
            &deb(&["kubeadm=1.30.0-1.1"]),
            &policy,
            true,
            false
        ));
    }

    #[test]
    fn argv_shapes() {
        assert_eq!(
            yum_argv(
                "yum",
                "install",
                &["--disableexcludes=kubernetes".into()],
                &["kubelet".into()]
            ),
            vec![
                "yum",
                "install",
                "-y",
                "--disableexcludes=kubernetes",
                "kubelet"
            ]
        );
        let a = apt_argv("install", &[], &["curl".into()], false);
        assert_eq!(a[..4], ["apt-get", "install", "-y", "-q"]);
        assert!(a.contains(&"Dpkg::Options::=--force-confold".to_string()));
        assert_eq!(a.last().unwrap(), "curl");
    }

    #[test]
    fn pkg_picks_by_family() {
        assert_eq!(manager_for("debian", "dnf"), Some("apt"));
        assert_eq!(manager_for("redhat", "yum"), Some("yum"));
        assert_eq!(manager_for("suse", "zypper"), None);
    }
}
