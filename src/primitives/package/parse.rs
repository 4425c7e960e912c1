//! Parsers for what package tools print when probed: `rpm -q --qf`, `dpkg-query -W`,
//! `apt-cache policy` and `yum/dnf check-update`. Pure, tested on recorded outputs.

use std::collections::{BTreeMap, BTreeSet};

/// Installed packages: name → `version-release` (RPM) or version (Debian).
pub type Installed = BTreeMap<String, String>;

/// The query format the RPM probe asks for; [`parse_rpm_q`] reads it.
pub const RPM_QF: &str = "%{NAME} %{VERSION}-%{RELEASE}\\n";

/// `rpm -q --qf '%{NAME} %{VERSION}-%{RELEASE}\n' a b`: one line per installed package,
/// "package b is not installed" for the others.
pub fn parse_rpm_q(stdout: &str) -> Installed {
    stdout
        .lines()
        .filter(|l| !l.starts_with("package ") || !l.ends_with(" is not installed"))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            match (it.next(), it.next(), it.next()) {
                (Some(n), Some(v), None) => Some((n.to_string(), v.to_string())),
                _ => None,
            }
        })
        .collect()
}

/// The format the Debian probe asks `dpkg-query -W -f` for; [`parse_dpkg_query`] reads it.
pub const DPKG_FMT: &str = "${Package}\\t${db:Status-Abbrev}\\t${Version}\\n";

/// `dpkg-query -W -f '${Package}\t${db:Status-Abbrev}\t${Version}\n'`: installed means the
/// status's second letter is `i` (`ii `, `hi `); removed packages with config left (`rc `) are not.
pub fn parse_dpkg_query(stdout: &str) -> Installed {
    stdout
        .lines()
        .filter_map(|l| {
            let mut it = l.split('\t');
            let (name, status, version) = (it.next()?, it.next()?, it.next()?);
            let name = name.split(':').next().unwrap_or(name);
            (status.chars().nth(1) == Some('i') && !version.is_empty())
                .then(|| (name.to_string(), version.to_string()))
        })
        .collect()
}

/// One package in `apt-cache policy` output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub installed: Option<String>,
    pub candidate: Option<String>,
    /// Every version the package lists know.
    pub versions: Vec<String>,
}

fn none_if_none(v: &str) -> Option<String> {
    let v = v.trim();
    (v != "(none)" && !v.is_empty()).then(|| v.to_string())
}

/// `apt-cache policy a b`: a block per package the lists know; unknown packages are absent.
pub fn parse_apt_policy(stdout: &str) -> BTreeMap<String, Policy> {
    let mut out: BTreeMap<String, Policy> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in stdout.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            let name = line.trim_end_matches(':').to_string();
            out.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let Some(p) = current.as_ref().and_then(|n| out.get_mut(n)) else {
            continue;
        };
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Installed:") {
            p.installed = none_if_none(v);
        } else if let Some(v) = t.strip_prefix("Candidate:") {
            p.candidate = none_if_none(v);
        } else {
            let t = t.trim_start_matches("*** ");
            let mut it = t.split_whitespace();
            if let (Some(v), Some(prio), None) = (it.next(), it.next(), it.next()) {
                if prio.parse::<i64>().is_ok() && v.parse::<i64>().is_err() {
                    p.versions.push(v.to_string());
                }
            }
        }
    }
    out
}

/// `yum/dnf check-update a b` (exit 100 when updates exist): lines `name.arch version repo`.
/// Returns the names among `wanted` that have an update.
pub fn parse_check_update(stdout: &str, wanted: &BTreeSet<String>) -> BTreeSet<String> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (na, _v, _repo) = (it.next()?, it.next()?, it.next()?);
            let name = na.rsplit_once('.').map_or(na, |(n, _)| n);
            wanted.contains(name).then(|| name.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_q_output() {
        let out = "docker-ce 19.03.4-3.el7\npackage lvm2 is not installed\ncontainerd.io 1.2.10-3.2.el7\n";
        let m = parse_rpm_q(out);
        assert_eq!(m.len(), 2);
        assert_eq!(m["docker-ce"], "19.03.4-3.el7");
        assert!(!m.contains_key("lvm2"));
    }

    #[test]
    fn dpkg_query_output() {
        let out = "curl\tii \t7.88.1-10+deb12u5\nvim\trc \t2:9.0.1378-2\nkubeadm\thi \t1.31.4-1.1\nlibc6:amd64\tii \t2.36-9\n";
        let m = parse_dpkg_query(out);
        assert_eq!(m["curl"], "7.88.1-10+deb12u5");
        assert_eq!(m["kubeadm"], "1.31.4-1.1");
        assert_eq!(m["libc6"], "2.36-9");
        assert!(!m.contains_key("vim"));
    }

    #[test]
    fn apt_policy_output() {
        let out = "kubeadm:
  Installed: (none)
  Candidate: 1.31.4-1.1
  Version table:
     1.31.4-1.1 500
        500 https://pkgs.k8s.io/core:/stable:/v1.31/deb  Packages
     1.31.3-1.1 500
        500 https://pkgs.k8s.io/core:/stable:/v1.31/deb  Packages
curl:
  Installed: 7.88.1-10+deb12u5
  Candidate: 7.88.1-10+deb12u8
  Version table:
     7.88.1-10+deb12u8 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
 *** 7.88.1-10+deb12u5 100
        100 /var/lib/dpkg/status
";
        let m = parse_apt_policy(out);
        assert_eq!(m["kubeadm"].installed, None);
        assert_eq!(m["kubeadm"].candidate.as_deref(), Some("1.31.4-1.1"));
        assert_eq!(m["kubeadm"].versions, vec!["1.31.4-1.1", "1.31.3-1.1"]);
        assert_eq!(m["curl"].installed.as_deref(), Some("7.88.1-10+deb12u5"));
        assert_eq!(
            m["curl"].versions,
            vec!["7.88.1-10+deb12u8", "7.88.1-10+deb12u5"]
        );
    }

    #[test]
    fn check_update_output() {
        let out = "Added local repo from file:///tmp/repo\nLast metadata expiration check: 0:00:06 ago.\n\ngalley-tiny.noarch                          2.0-1                          local\nother.x86_64 1-1 base\n";
        let wanted: BTreeSet<String> = ["galley-tiny".to_string()].into();
        assert_eq!(
            parse_check_update(out, &wanted),
            ["galley-tiny".to_string()].into()
        );
    }
}
