//! What is installed, as a run sees it: the [`InstalledVersions`] fact (`rpm -q` or
//! `dpkg-query` on a live host, a facts file's `packages` in a plan) with the versions earlier
//! steps of the run predicted on top, and the predictions a package call leaves for later ones.

use super::decide::{Family, PkgChanges};
use super::parse::{parse_dpkg_query, parse_rpm_q, Installed, DPKG_FMT, RPM_QF};
use super::version::Wanted;
use super::PkgOpts;
use crate::error::StepError;
use crate::executor::overlay::Key;
use crate::executor::{probe, Call, Effect, Fact};
use crate::facts::Fixture;

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

    fn probe(&self, call: &Call) -> Result<Installed, StepError> {
        let argv = probe_argv(self.family, self.names, self.opts);
        let out = probe(call, &argv, "packages")?;
        if out.rc != 0 && out.stdout.is_empty() && self.family == Family::Rpm {
            return Err(
                format!("`{}` failed: {}", argv.join(" "), out.stderr_text().trim()).into(),
            );
        }
        Ok(match self.family {
            Family::Rpm => parse_rpm_q(&out.stdout_text()),
            Family::Deb => parse_dpkg_query(&out.stdout_text()),
        })
    }

    fn answer_from_file(&self, _: &Call, fixture: &Fixture) -> Result<Installed, StepError> {
        fixture.ask(|a| a.packages.extend(self.names.iter().cloned()));
        Ok(self
            .names
            .iter()
            .filter_map(|n| Some((n.clone(), fixture.packages.get(n)?.clone())))
            .collect())
    }
}

/// Installed versions, with the predictions of earlier steps in this run (check/plan) on top.
pub fn installed_of(
    call: &Call,
    names: &[String],
    family: Family,
    o: &PkgOpts,
) -> Result<Installed, StepError> {
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

/// Records what the changes leave installed, so later probes in check/plan see it.
pub fn effects(wanted: &[Wanted], c: &PkgChanges) -> Vec<Effect> {
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
