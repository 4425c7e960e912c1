//! Package names and versions as recipes write them — the book's `docker-ce-19.03.4` for RPM,
//! `kubeadm=1.31.4-1.1` for Debian — and the comparisons that decide whether an installed
//! version satisfies a pin. Pure, so the rules are tested here.

use std::cmp::Ordering;

use crate::glob::Wildcard;

/// A package a recipe asks for, with its pinned version if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub name: String,
    pub version: Option<String>,
    /// How the package manager takes it on its command line (`docker-ce-19.03.4`, `kubeadm=1.31.4-1.1`).
    pub spec: String,
}

fn is_version_part(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '~' | '^'))
}

/// Reads an RPM package the book's way: `name-version[-release]`, where version (and release)
/// start with a digit (`containerd.io-1.2.10`, `docker-ce-19.03.4-3.el7`, `docker-ce-3:19.03.4`).
/// Names whose dashed parts merely start with digits stay names when what follows is not a
/// version (`java-1.8.0-openjdk`).
pub fn parse_rpm(spec: &str) -> Wanted {
    let parts: Vec<&str> = spec.split('-').collect();
    for i in 1..parts.len() {
        let rest = &parts[i..];
        let version = rest[0].split_once(':').map_or(rest[0], |(e, v)| {
            if e.chars().all(|c| c.is_ascii_digit()) {
                v
            } else {
                rest[0]
            }
        });
        let ok = match rest.len() {
            1 => is_version_part(version),
            2 => is_version_part(version) && is_version_part(rest[1]),
            _ => false,
        };
        if ok {
            return Wanted {
                name: parts[..i].join("-"),
                version: Some(rest.join("-")),
                spec: spec.to_string(),
            };
        }
    }
    Wanted {
        name: spec.to_string(),
        version: None,
        spec: spec.to_string(),
    }
}

/// Reads a Debian package: `name` or `name=version` (the version may use `*` globs, as apt allows).
pub fn parse_deb(spec: &str) -> Wanted {
    match spec.split_once('=') {
        Some((n, v)) if !v.is_empty() => Wanted {
            name: n.to_string(),
            version: Some(v.to_string()),
            spec: spec.to_string(),
        },
        _ => Wanted {
            name: spec.trim_end_matches('=').to_string(),
            version: None,
            spec: spec.trim_end_matches('=').to_string(),
        },
    }
}

fn strip_epoch(v: &str) -> &str {
    match v.split_once(':') {
        Some((e, rest)) if e.chars().all(|c| c.is_ascii_digit()) => rest,
        _ => v,
    }
}

/// Whether an installed RPM `version-release` satisfies a pin: the pin is the whole version, or
/// the version plus the start of the release (`19.03.4` and `19.03.4-3` both match `19.03.4-3.el7`).
pub fn rpm_matches(pin: &str, installed: &str) -> bool {
    let pin = strip_epoch(pin);
    let installed = strip_epoch(installed);
    installed == pin
        || installed.starts_with(&format!("{pin}-"))
        || (pin.contains('-') && installed.starts_with(&format!("{pin}.")))
}

/// Whether an installed Debian version satisfies a pin: equal (with or without the epoch) or
/// matching its `*` globs.
pub fn deb_matches(pin: &str, installed: &str) -> bool {
    if pin.contains('*') {
        // A pin too large to compile as a pattern matches nothing (apt would not take it either).
        return Wildcard::new(pin)
            .is_ok_and(|w| w.is_match(installed) || w.is_match(strip_epoch(installed)));
    }
    installed == pin || strip_epoch(installed) == pin
}

/// rpm's version comparison (rpmvercmp): alternating runs of digits and letters, digits newer
/// than letters, `~` older than anything, `^` newer than the end.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while a.first().is_some_and(|c| sep(*c)) {
            a = &a[1..];
        }
        while b.first().is_some_and(|c| sep(*c)) {
            b = &b[1..];
        }
        let (fa, fb) = (a.first().copied(), b.first().copied());
        if fa == Some(b'~') || fb == Some(b'~') {
            if fa != Some(b'~') {
                return Ordering::Greater;
            }
            if fb != Some(b'~') {
                return Ordering::Less;
            }
            (a, b) = (&a[1..], &b[1..]);
            continue;
        }
        if fa == Some(b'^') || fb == Some(b'^') {
            if a.is_empty() {
                return Ordering::Less;
            }
            if b.is_empty() {
                return Ordering::Greater;
            }
            if fa != Some(b'^') {
                return Ordering::Greater;
            }
            if fb != Some(b'^') {
                return Ordering::Less;
            }
            (a, b) = (&a[1..], &b[1..]);
            continue;
        }
        if a.is_empty() || b.is_empty() {
            break;
        }
        let numeric = a[0].is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let la = a.iter().take_while(|c| class(c)).count();
        let lb = b.iter().take_while(|c| class(c)).count();
        if lb == 0 {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (sa, sb) = (&a[..la], &b[..lb]);
        let ord = if numeric {
            let ta = trim_zeros(sa);
            let tb = trim_zeros(sb);
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            sa.cmp(sb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        (a, b) = (&a[la..], &b[lb..]);
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|c| **c == b'0').count();
    &s[n..]
}

/// Compares a pin with an installed `version-release`: the version first, then the release
/// only when the pin gives one.
pub fn rpm_pin_cmp(pin: &str, installed: &str) -> Ordering {
    let pin = strip_epoch(pin);
    let installed = strip_epoch(installed);
    let (pv, pr) = pin
        .split_once('-')
        .map_or((pin, None), |(v, r)| (v, Some(r)));
    let (iv, ir) = installed.split_once('-').unwrap_or((installed, ""));
    rpmvercmp(pv, iv).then_with(|| pr.map_or(Ordering::Equal, |r| rpmvercmp(r, ir)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nv(s: &str) -> (String, Option<String>) {
        let w = parse_rpm(s);
        (w.name, w.version)
    }

    #[test]
    fn book_style_rpm_pins() {
        assert_eq!(
            nv("docker-ce-19.03.4"),
            ("docker-ce".into(), Some("19.03.4".into()))
        );
        assert_eq!(
            nv("containerd.io-1.2.10"),
            ("containerd.io".into(), Some("1.2.10".into()))
        );
        assert_eq!(
            nv("docker-ce-19.03.4-3.el7"),
            ("docker-ce".into(), Some("19.03.4-3.el7".into()))
        );
        assert_eq!(
            nv("docker-ce-3:19.03.4"),
            ("docker-ce".into(), Some("3:19.03.4".into()))
        );
        assert_eq!(nv("device-mapper-persistent-data").1, None);
        assert_eq!(nv("lvm2").1, None);
        assert_eq!(nv("java-1.8.0-openjdk").1, None);
        assert_eq!(nv("python3-libs").1, None);
        assert_eq!(
            nv("kubelet-1.16.6-0"),
            ("kubelet".into(), Some("1.16.6-0".into()))
        );
    }

    #[test]
    fn deb_pins() {
        let w = parse_deb("kubeadm=1.31.4-1.1");
        assert_eq!(
            (w.name.as_str(), w.version.as_deref()),
            ("kubeadm", Some("1.31.4-1.1"))
        );
        assert_eq!(parse_deb("curl").version, None);
    }

    #[test]
    fn rpm_pin_matching() {
        assert!(rpm_matches("19.03.4", "19.03.4-3.el7"));
        assert!(rpm_matches("19.03.4-3", "19.03.4-3.el7"));
        assert!(rpm_matches("19.03.4-3.el7", "19.03.4-3.el7"));
        assert!(rpm_matches("3:19.03.4", "19.03.4-3.el7"));
        assert!(!rpm_matches("19.03.4", "19.03.40-1.el7"));
        assert!(!rpm_matches("19.03.4", "20.10.0-1.el7"));
        assert!(!rpm_matches("1.2", "1.2.10-3.2.el7"));
    }

    #[test]
    fn deb_pin_matching() {
        assert!(deb_matches("1.31.4-1.1", "1.31.4-1.1"));
        assert!(deb_matches(
            "5:20.10.17~3-0~ubuntu-jammy",
            "5:20.10.17~3-0~ubuntu-jammy"
        ));
        assert!(deb_matches(
            "20.10.17~3-0~ubuntu-jammy",
            "5:20.10.17~3-0~ubuntu-jammy"
        ));
        assert!(deb_matches("1.31.*", "1.31.4-1.1"));
        assert!(!deb_matches("1.31.*", "1.30.4-1.1"));
        assert!(!deb_matches("1.31.4", "1.31.4-1.1"));
    }

    #[test]
    fn rpm_version_order() {
        use Ordering::*;
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0", "1.0", Greater),
            ("1.10", "1.9", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0^git1", "1.0", Greater),
            ("1.010", "1.10", Equal),
            ("1.a", "1.1", Less),
            ("19.03.4", "19.03.13", Less),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
        }
        assert_eq!(rpm_pin_cmp("19.03.4", "19.03.4-3.el7"), Equal);
        assert_eq!(rpm_pin_cmp("1.0", "2.0-1"), Less);
        assert_eq!(rpm_pin_cmp("2.0-2", "2.0-1"), Greater);
    }
}
