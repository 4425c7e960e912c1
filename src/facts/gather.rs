//! One shell script prints every fact in marked sections; a pure parser turns it into `Facts`.
//! One round trip per host keeps `facts()` cheap over SSH.

use std::collections::BTreeMap;

use super::{Facts, Interface, OsInfo, Virtualization};
use crate::host::{CommandSpec, Host, HostError, HostResult};

const SCRIPT: &str = r#"
s() { echo "==$1"; }
s os-release; cat /etc/os-release 2>/dev/null
s arch; uname -m
s hostname; hostname 2>/dev/null || cat /proc/sys/kernel/hostname
s kernel; uname -r
s flags; grep -m1 -E '^flags' /proc/cpuinfo 2>/dev/null
s kvm; [ -e /dev/kvm ] && echo yes
s cpus; nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo
s meminfo; grep -E '^(MemTotal|SwapTotal):' /proc/meminfo
s links; for d in /sys/class/net/*; do [ -e "$d/address" ] && echo "${d##*/} $(cat "$d/address")"; done
s addrs; ip -o addr show 2>/dev/null | awk '{print $2, $4}'
s route; ip -4 route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit }}'
s cgroup; stat -fc %T /sys/fs/cgroup 2>/dev/null
s capbnd; sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status 2>/dev/null
s conntrack; stat -c %a /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null
s product_uuid; cat /sys/class/dmi/id/product_uuid 2>/dev/null || cat /etc/galley/product_uuid 2>/dev/null
s init; [ -d /run/systemd/system ] && echo systemd || cat /proc/1/comm 2>/dev/null
s pkg; for p in dnf yum apt-get; do command -v $p >/dev/null 2>&1 && echo $p; done
true
"#;

/// Gathers facts from a live host with one command.
pub fn gather(host: &dyn Host) -> HostResult<Facts> {
    let out = host.run(&CommandSpec::new(&["sh", "-c", SCRIPT]), &|_, _| {})?;
    if out.rc != 0 {
        return Err(HostError::Other(format!(
            "gathering facts failed (exit {}): {}",
            out.rc,
            out.stderr_text().trim()
        )));
    }
    Ok(parse(&out.stdout_text()))
}

fn sections(text: &str) -> BTreeMap<&str, Vec<&str>> {
    let mut map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut current = "";
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("==") {
            current = name.trim();
            map.entry(current).or_default();
        } else if !current.is_empty() {
            map.entry(current).or_default().push(line);
        }
    }
    map
}

fn os_release(lines: &[&str]) -> OsInfo {
    let kv: BTreeMap<&str, String> = lines
        .iter()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k, v.trim().trim_matches('"').to_string()))
        .collect();
    let get = |k: &str| kv.get(k).cloned().unwrap_or_default();
    let id = get("ID");
    let like = format!("{} {}", get("ID_LIKE"), id);
    let family = if like
        .split_whitespace()
        .any(|w| matches!(w, "rhel" | "fedora" | "centos"))
    {
        "redhat".to_string()
    } else if like
        .split_whitespace()
        .any(|w| matches!(w, "debian" | "ubuntu"))
    {
        "debian".to_string()
    } else {
        id.clone()
    };
    OsInfo {
        family,
        id,
        version_id: get("VERSION_ID"),
        name: get("PRETTY_NAME"),
    }
}

fn kib_to_mb(lines: &[&str], key: &str) -> u64 {
    lines
        .iter()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

fn interfaces(links: &[&str], addrs: &[&str]) -> Vec<Interface> {
    links
        .iter()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, mac)| Interface {
            name: name.to_string(),
            mac: mac.trim().to_string(),
            addresses: addrs
                .iter()
                .filter_map(|a| a.split_once(' '))
                .filter(|(n, _)| n.split('@').next() == Some(name))
                .map(|(_, a)| a.to_string())
                .collect(),
        })
        .collect()
}

/// Parses the gather script's output. Missing sections give empty values, never an error.
pub fn parse(text: &str) -> Facts {
    let s = sections(text);
    let get = |k: &str| s.get(k).map(Vec::as_slice).unwrap_or(&[]);
    let first = |k: &str| {
        get(k)
            .first()
            .map(|l| l.trim().to_string())
            .unwrap_or_default()
    };
    let flags = first("flags");
    let has_flag = |f: &str| flags.split_whitespace().any(|w| w == f);
    // The family's own package manager when it is there: a Debian host that merely has dnf
    // installed is still an apt host. Other families: the first one found.
    let found: Vec<&str> = get("pkg")
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    let os = os_release(get("os-release"));
    let own: &[&str] = match os.family.as_str() {
        "redhat" => &["dnf", "yum"],
        "debian" => &["apt-get"],
        _ => &[],
    };
    let pkg = own
        .iter()
        .copied()
        .find(|p| found.contains(p))
        .or(found.first().copied())
        .unwrap_or("");
    Facts {
        hostname: first("hostname"),
        os,
        arch: first("arch"),
        kernel: first("kernel"),
        cpus: first("cpus").parse().unwrap_or(0),
        memory_mb: kib_to_mb(get("meminfo"), "MemTotal:"),
        swap_mb: kib_to_mb(get("meminfo"), "SwapTotal:"),
        virtualization: Virtualization {
            vmx: has_flag("vmx"),
            svm: has_flag("svm"),
            kvm: first("kvm") == "yes",
        },
        interfaces: interfaces(get("links"), get("addrs")),
        product_uuid: first("product_uuid").to_lowercase(),
        init: first("init"),
        pkg_manager: if pkg == "apt-get" {
            "apt".into()
        } else {
            pkg.to_string()
        },
        default_interface: first("route"),
        cgroup: cgroup_version(&first("cgroup")),
        oom_score_restricted: oom_score_restricted(&first("capbnd")),
        conntrack_max_fixed: read_only(&first("conntrack")),
    }
}

/// Whether a file whose octal mode is `mode` (`stat -c %a`) has no write permission for anyone:
/// /proc/sys/net/netfilter/nf_conntrack_max is 444 outside the initial network namespace,
/// where the kernel refuses to change it. Unknown (empty: no such file, the module not loaded)
/// counts as writable.
fn read_only(mode: &str) -> bool {
    u32::from_str_radix(mode.trim(), 8).is_ok_and(|m| m & 0o222 == 0)
}

/// Whether CAP_SYS_RESOURCE (bit 24) is missing from the bounding set `capbnd` (hex, from
/// /proc/self/status): then no process on the host, root included, may lower an OOM score.
/// Unknown (empty or unreadable) counts as not restricted, as on any ordinary host.
fn oom_score_restricted(capbnd: &str) -> bool {
    u64::from_str_radix(capbnd.trim(), 16).is_ok_and(|bits| bits & (1 << 24) == 0)
}

/// The cgroup version from the file system type of /sys/fs/cgroup: `cgroup2fs` is the unified
/// hierarchy (v2); `tmpfs` holds the v1 controllers; anything else is not known.
fn cgroup_version(fs_type: &str) -> String {
    match fs_type {
        "cgroup2fs" => "v2".into(),
        "tmpfs" => "v1".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CENTOS7: &str = "==os-release\nNAME=\"CentOS Linux\"\nVERSION_ID=\"7\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n==arch\nx86_64\n==hostname\ncp1\n==kernel\n3.10.0-1160.el7.x86_64\n==flags\nflags\t\t: fpu vme vmx sse\n==kvm\nyes\n==cpus\n4\n==meminfo\nMemTotal:        8000000 kB\nSwapTotal:       2097148 kB\n==links\nlo 00:00:00:00:00:00\neth0 52:54:00:aa:bb:cc\n==addrs\nlo 127.0.0.1/8\neth0 10.0.0.11/24\neth0 fe80::1/64\n==route\neth0\n==cgroup\ntmpfs\n==product_uuid\nABCD-1\n==init\nsystemd\n==pkg\nyum\n";

    #[test]
    fn parses_a_centos7_host() {
        let f = parse(CENTOS7);
        assert_eq!(f.os.family, "redhat");
        assert_eq!(f.os.id, "centos");
        assert_eq!(f.os.version_id, "7");
        assert_eq!(f.hostname, "cp1");
        assert_eq!(f.cpus, 4);
        assert_eq!(f.memory_mb, 7812);
        assert_eq!(f.swap_mb, 2047);
        assert!(f.virtualization.vmx && !f.virtualization.svm && f.virtualization.kvm);
        assert_eq!(f.interfaces[1].mac, "52:54:00:aa:bb:cc");
        assert_eq!(
            f.interfaces[1].addresses,
            vec!["10.0.0.11/24", "fe80::1/64"]
        );
        assert_eq!(f.product_uuid, "abcd-1");
        assert_eq!(f.pkg_manager, "yum");
        assert_eq!(f.default_interface, "eth0");
        assert_eq!(f.cgroup, "v1");
        assert_eq!(f.primary_address().as_deref(), Some("10.0.0.11"));
    }

    #[test]
    fn debian_family_and_apt() {
        let f = parse(
            "==os-release\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\n==pkg\napt-get\n",
        );
        assert_eq!(
            (f.os.family.as_str(), f.pkg_manager.as_str()),
            ("debian", "apt")
        );
    }

    #[test]
    fn the_familys_own_package_manager_wins() {
        let debian_with_dnf = "==os-release\nID=debian\n==pkg\ndnf\napt-get\n";
        assert_eq!(parse(debian_with_dnf).pkg_manager, "apt");
        let el7 = "==os-release\nID=centos\nID_LIKE=\"rhel fedora\"\n==pkg\nyum\napt-get\n";
        assert_eq!(parse(el7).pkg_manager, "yum");
        let el9 = "==os-release\nID=rocky\nID_LIKE=\"rhel centos fedora\"\n==pkg\ndnf\nyum\n";
        assert_eq!(parse(el9).pkg_manager, "dnf");
        assert_eq!(
            parse("==os-release\nID=arch\n==pkg\nyum\n").pkg_manager,
            "yum"
        );
    }

    #[test]
    fn a_bounding_set_without_cap_sys_resource_cannot_lower_oom_scores() {
        // This machine's own bounding set (a system container), and an ordinary host's.
        assert!(parse("==capbnd\n000001fffeffffff\n").oom_score_restricted);
        assert!(!parse("==capbnd\n000001ffffffffff\n").oom_score_restricted);
        assert!(!parse("==capbnd\n").oom_score_restricted);
    }

    #[test]
    fn a_read_only_conntrack_max_is_fixed() {
        // A node in a network namespace of its own (read off a testbed node), and a host's.
        assert!(parse("==conntrack\n444\n").conntrack_max_fixed);
        assert!(!parse("==conntrack\n644\n").conntrack_max_fixed);
        assert!(!parse("==conntrack\n").conntrack_max_fixed);
    }

    #[test]
    fn cgroup_v2_is_cgroup2fs() {
        assert_eq!(parse("==cgroup\ncgroup2fs\n").cgroup, "v2");
        assert_eq!(parse("==cgroup\n").cgroup, "");
    }

    #[test]
    fn empty_output_gives_empty_facts() {
        assert_eq!(parse(""), Facts::default());
    }
}
