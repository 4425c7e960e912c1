//! Facts: what a host is (OS, hardware, network, init, package manager). Gathered from a live
//! host in one round trip, or read from a fixture for plans, so both paths share one type.

mod fixture;
mod gather;
pub mod sim;

pub use fixture::{
    Asked, CommandFixture, FileEntry, FileFixture, Fixture, FixtureError, Recorder, ServiceFixture,
};
pub use gather::{gather, parse};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsInfo {
    /// `redhat` or `debian` (from ID_LIKE/ID), else the ID itself.
    pub family: String,
    /// `centos`, `rocky`, `ubuntu`, `debian`, ...
    pub id: String,
    /// `7`, `9.4`, `22.04`, `12`, ...
    pub version_id: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Virtualization {
    /// Intel VT-x (`vmx` CPU flag).
    pub vmx: bool,
    /// AMD-V (`svm` CPU flag).
    pub svm: bool,
    /// `/dev/kvm` exists.
    pub kvm: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    pub name: String,
    pub mac: String,
    #[serde(default)]
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    pub hostname: String,
    pub os: OsInfo,
    pub arch: String,
    pub kernel: String,
    pub cpus: u32,
    pub memory_mb: u64,
    pub swap_mb: u64,
    pub virtualization: Virtualization,
    pub interfaces: Vec<Interface>,
    pub product_uuid: String,
    /// `systemd` when systemd runs as PID 1, else the name of PID 1.
    pub init: String,
    /// `dnf`, `yum`, `apt` or empty.
    pub pkg_manager: String,
    /// The interface of the IPv4 default route (`eth0`), empty when there is none or it is not
    /// known (facts files from before it was gathered).
    #[serde(default)]
    pub default_interface: String,
    /// `v2` (unified hierarchy: /sys/fs/cgroup is cgroup2fs), `v1`, or empty when not known.
    #[serde(default)]
    pub cgroup: String,
    /// True where no process may lower an OOM score: the bounding set lacks CAP_SYS_RESOURCE
    /// (a system container such as an nspawn or LXC node), and containerd must be told
    /// `restrict_oom_score_adj`. False on ordinary hosts and in facts files from before.
    #[serde(default)]
    pub oom_score_restricted: bool,
    /// True where the connection-tracking table's size (`nf_conntrack_max`) cannot be changed
    /// from the host's network namespace: the file is read-only there (a system container in a
    /// network namespace of its own, as kind, LXC and nspawn nodes are), so kube-proxy must not
    /// try (`conntrack.maxPerCore: 0`). False on ordinary hosts and in facts files from before.
    #[serde(default)]
    pub conntrack_max_fixed: bool,
}

impl Facts {
    /// The first non-loopback IPv4 address: the default advertise address.
    pub fn primary_address(&self) -> Option<String> {
        self.interfaces
            .iter()
            .filter(|i| i.name != "lo")
            .flat_map(|i| i.addresses.iter())
            .find(|a| a.contains('.') && !a.starts_with("127."))
            .map(|a| a.split('/').next().unwrap_or(a).to_string())
    }
}
