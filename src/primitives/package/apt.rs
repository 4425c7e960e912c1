//! `apt` (Debian family, through apt-get): its argv and environment (never prompts, keeps
//! changed config files), and what apt does its own way in a call: updates from `apt-cache
//! policy`, refreshing the lists only when they are old or do not know a package or pin
//! ([`AptUpdateWanted`]), `purge`. The rest of the call is the shared converge path.

use crate::error::StepError;
use std::collections::BTreeMap;

use rhai::{Dynamic, Map, NativeCallContext};

use super::decide::{Family, PkgChanges};
use super::parse::{parse_apt_policy, Installed, Policy};
use super::version::{deb_matches, parse_deb, Wanted};
use super::{package_call, run_each, Manager, Names, PkgOpts, Printed, State};
use crate::executor::overlay::Flag;
use crate::executor::{act, probe, spec_of, Call, Effect, Fact};
use crate::facts::Fixture;
use crate::primitives::{from_map, usage, RResult, StepResult};

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

/// Pure: whether `apt-get update` must run before installing `to_install`: asked for, lists
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

/// `apt-cache policy <names>`, read: what the lists know of each package.
fn apt_policy(
    call: &Call,
    names: impl Iterator<Item = String>,
) -> Result<BTreeMap<String, Policy>, StepError> {
    let mut argv = vec!["apt-cache".to_string(), "policy".to_string()];
    argv.extend(names);
    let out = probe(call, &argv, "apt-cache policy")?;
    Ok(parse_apt_policy(&out.stdout_text()))
}

fn apt_lists_fresh(call: &Call, max_age: u64) -> Result<bool, StepError> {
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

    fn probe(&self, call: &Call) -> Result<bool, StepError> {
        let (o, to_install) = (self.opts, self.to_install);
        if to_install.is_empty() {
            return Ok(o.update_cache);
        }
        let fresh = apt_lists_fresh(call, o.cache_valid_time.unwrap_or(86_400))?;
        let policy = apt_policy(call, to_install.iter().map(|w| w.name.clone()))?;
        Ok(self.stale || apt_needs_update(to_install, &policy, fresh, o.update_cache))
    }

    fn answer_from_file(&self, _: &Call, _: &Fixture) -> Result<bool, StepError> {
        Ok(self.opts.update_cache || (self.stale && !self.to_install.is_empty()))
    }
}

fn apt_update_wanted(call: &Call, to_install: &[Wanted], o: &PkgOpts) -> Result<bool, StepError> {
    let stale = call.target.overlay().flag(&Flag::AptStale) == Some(true);
    call.fact(&AptUpdateWanted {
        to_install,
        opts: o,
        stale,
    })
}

/// apt-get, with the call's options.
struct Apt<'a> {
    o: &'a PkgOpts,
}

impl Manager for Apt<'_> {
    const FAMILY: Family = Family::Deb;

    fn updatable(&self, call: &Call, wanted: &[Wanted], _: &Installed) -> Result<Names, StepError> {
        if self.o.state != State::Latest {
            return Ok(Names::new());
        }
        let policy = apt_policy(call, wanted.iter().map(|w| w.name.clone()))?;
        Ok(policy
            .iter()
            .filter(|(_, p)| p.installed.is_some() && p.candidate != p.installed)
            .map(|(n, _)| n.clone())
            .collect())
    }

    fn apply(
        &self,
        call: &mut Call,
        want: &[Wanted],
        c: &PkgChanges,
    ) -> Result<Printed, StepError> {
        let o = self.o;
        let extra = o.extra_args.clone().unwrap_or_default();
        let to_install: Vec<Wanted> = want
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
            call.remember(vec![Effect::Flag(Flag::AptStale, false)]);
        }
        let verb = if o.purge { "purge" } else { "remove" };
        let mut install = c.install.clone();
        install.extend(c.upgrade.iter().cloned());
        let downgrades = want.iter().any(|w| w.version.is_some());
        let kinds = [(verb, &c.remove), ("install", &install)];
        outputs.extend(run_each(call, "apt-get", &kinds, |verb, list| {
            spec_of(
                &apt_argv(verb, &extra, list, downgrades),
                APT_ENV,
                o.timeout,
            )
        })?);
        Ok(outputs)
    }
}

pub fn apt(nc: NativeCallContext, packages: Dynamic, opts: Option<Map>) -> RResult<StepResult> {
    let o: PkgOpts = from_map("apt", opts)?;
    if o.installroot.is_some() || o.disable_excludes.is_some() || o.enable_repo.is_some() {
        return Err(usage(
            "apt: installroot, disable_excludes and enable_repo are yum options",
        ));
    }
    package_call(nc, "apt", packages, &o, parse_deb, |_| Ok(Apt { o: &o }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deb(specs: &[&str]) -> Vec<Wanted> {
        specs.iter().map(|s| parse_deb(s)).collect()
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
    fn argv_shape() {
        let a = apt_argv("install", &[], &["curl".into()], false);
        assert_eq!(a[..4], ["apt-get", "install", "-y", "-q"]);
        assert!(a.contains(&"Dpkg::Options::=--force-confold".to_string()));
        assert_eq!(a.last().unwrap(), "curl");
    }
}
