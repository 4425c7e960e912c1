//! The pure heart of a package call: from what is wanted, what is installed and which installed
//! packages have updates, the changes to make ([`PkgChanges`]: remove, install, downgrade,
//! upgrade). No host, no mode: the rules are tested here on recorded versions.

use std::collections::BTreeSet;

use super::parse::Installed;
use super::version::{deb_matches, rpm_matches, rpm_pin_cmp, Wanted};
use super::State;

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

/// How versions are written and compared: RPM (`version-release`) or Debian.
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

#[cfg(test)]
mod tests {
    use super::super::version::{parse_deb, parse_rpm};
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

    /// The changes for RPM specs, with no updates known.
    fn on_rpm(specs: &[&str], have: &Installed, state: State) -> PkgChanges {
        decide(Family::Rpm, &rpm(specs), have, state, NONE)
    }

    /// The changes for Debian specs, with no updates known.
    fn on_deb(specs: &[&str], have: &Installed, state: State) -> PkgChanges {
        decide(Family::Deb, &deb(specs), have, state, NONE)
    }

    #[test]
    fn centos7_book_pins_install_what_is_missing() {
        let have = inst(&[("containerd.io", "1.2.10-3.2.el7")]);
        let c = on_rpm(
            &[
                "containerd.io-1.2.10",
                "docker-ce-19.03.4",
                "docker-ce-cli-19.03.4",
            ],
            &have,
            State::Present,
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
        let c = on_rpm(&["docker-ce-19.03.4", "lvm2"], &have, State::Present);
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn rocky9_other_version_upgrades_or_downgrades() {
        let have = inst(&[
            ("kubeadm", "1.30.2-150500.1.1"),
            ("kubelet", "1.32.0-150500.1.1"),
        ]);
        let c = on_rpm(&["kubeadm-1.31.4", "kubelet-1.31.4"], &have, State::Present);
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
        let c = on_rpm(&["a", "b-1", "c"], &have, State::Absent);
        assert_eq!(c.remove, vec!["a"]);
        assert_eq!(c.describe(), "remove a");
    }

    #[test]
    fn debian_pins_and_present() {
        let have = inst(&[("kubeadm", "1.31.4-1.1"), ("curl", "7.88.1-10")]);
        let c = on_deb(
            &["kubeadm=1.31.4-1.1", "kubelet=1.31.4-1.1", "curl"],
            &have,
            State::Present,
        );
        assert_eq!(c.install, vec!["kubelet=1.31.4-1.1"]);
        let c = on_deb(&["kubeadm=1.31.3-1.1"], &have, State::Present);
        assert_eq!(c.install, vec!["kubeadm=1.31.3-1.1"]);
        assert!(c.downgrade.is_empty());
    }
}
