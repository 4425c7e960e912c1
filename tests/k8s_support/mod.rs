//! What the real-Kubernetes tests share: where the binaries built by `testbed/k8s-artifacts.sh`
//! are, and a throwaway node made of a mount and a network namespace on this machine (overlays
//! on `/etc` and `/var/lib`, a tmpfs on `/run`, a veth holding the node's address), so that what
//! kubeadm, etcd and the API server write never reaches the machine itself.
#![allow(dead_code)]

pub mod mirrors;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The release the artifacts are built for.
pub const K8S_VERSION: &str = "v1.37.2";

/// The release of the minor before, built as well, for the upgrade.
pub const K8S_PREVIOUS: &str = "v1.36.3";

/// The folder holding the real binaries; fails with how to build them when one is missing.
pub fn bin(name: &str) -> PathBuf {
    let dir = match std::env::var("GALLEY_K8S_BIN") {
        Ok(d) => PathBuf::from(d),
        Err(_) => {
            let out = Command::new("bash")
                .args(["testbed/k8s-artifacts.sh", "path", K8S_VERSION])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .expect("bash testbed/k8s-artifacts.sh path");
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
    };
    let p = dir.join(name);
    assert!(
        p.is_file(),
        "the real {name} is not built: {} is missing; build it with \
         `bash testbed/k8s-artifacts.sh {K8S_VERSION}` (scripts/test.sh does)",
        p.display()
    );
    p
}

pub fn sh_quote(w: &str) -> String {
    format!("'{}'", w.replace('\'', "'\\''"))
}

/// Exit codes of the node set-up, so a failure to build the node is never taken for a verdict.
pub const SETUP_FAILED: [i32; 2] = [90, 91];

/// The lines that turn a fresh `unshare --mount --net` shell into the node `address`: its own
/// `/etc`, `/var/lib` and `/run`, the address on a veth with a default route, and every other
/// 10.0.0.0/8 address local, so a connection to a host that is not there is refused at once
/// instead of timing out.
pub fn node_prelude(work: &Path, address: &str) -> String {
    let gw = address
        .rsplit_once('.')
        .map(|(n, _)| format!("{n}.1"))
        .unwrap_or_default();
    format!(
        "set -u\nW={w}\n\
         for d in etc var_lib; do mkdir -p $W/$d/u $W/$d/w; done\n\
         mount -t overlay overlay -o lowerdir=/etc,upperdir=$W/etc/u,workdir=$W/etc/w /etc || exit 90\n\
         mount -t overlay overlay -o lowerdir=/var/lib,upperdir=$W/var_lib/u,workdir=$W/var_lib/w /var/lib || exit 90\n\
         mount -t tmpfs none /run || exit 90\n\
         rm -f /etc/resolv.conf && echo 'nameserver 127.0.0.1' >/etc/resolv.conf || exit 90\n\
         ip link set lo up\n\
         ip link add g0 type veth peer name g1 || exit 91\n\
         ip addr add {address}/24 dev g0 && ip link set g0 up && ip link set g1 up || exit 91\n\
         ip route add default via {gw} dev g0 || exit 91\n\
         ip route add local 10.0.0.0/8 dev lo table local || exit 91\n",
        w = work.display(),
    )
}

/// Runs `script` (which starts with a `node_prelude`) as the node; the node ends with it.
pub fn run_node(script: &str) -> Output {
    let out = Command::new("unshare")
        .args(["--mount", "--net", "--propagation", "private", "bash", "-c"])
        .arg(script)
        .output()
        .expect("unshare (util-linux) runs");
    assert!(
        !out.status.code().is_some_and(|c| SETUP_FAILED.contains(&c)),
        "could not set up the node's namespaces: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// The sections a node script printed between `@@NAME` lines, by name.
pub fn sections(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("@@") {
            out.push((name.trim().to_string(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
        }
    }
    out
}
