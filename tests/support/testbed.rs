//! Real Debian 12 hosts for tier-3 tests: a thin wrapper around `testbed/testbed.sh`.
//!
//! Include it from an integration test with `mod support { pub mod testbed; }` (or
//! `#[path = "support/testbed.rs"] mod testbed;`). Each [`Testbed`] is a set of nodes booted with
//! real systemd by `systemd-nspawn`, on a private bridge, reached over real SSH with the
//! per-instance `ssh_config` the script writes. Dropping the `Testbed` runs `testbed.sh down`;
//! if the test process dies instead (SIGINT, SIGTERM, even SIGKILL), the watchdog that `up`
//! started for this process tears the instance down within about a second.
//!
//! Std only. Needs root and the tools `testbed.sh deps` installs; [`require_root_and_tools`]
//! says plainly what is missing, so a test fails loudly instead of skipping silently.
#![allow(dead_code)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// One booted node, as recorded in `DIR/nodes.tsv` after the node answered SSH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `node1`, `node2`, ...: the `Host` alias in `ssh_config` and the node's hostname.
    pub name: String,
    /// Static IPv4 address, `10.213.X.(10+i)`.
    pub address: String,
    /// MAC of `host0` as the node itself sees it (`/sys/class/net/host0/address`).
    pub mac: String,
    /// `/sys/class/dmi/id/product_uuid` as the node itself reads it.
    pub product_uuid: String,
    /// PID of the node's `systemd-nspawn` on the build machine.
    pub pid: u32,
}

impl AsRef<str> for Node {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.address)
    }
}

/// A running testbed instance; torn down on drop.
#[derive(Debug)]
pub struct Testbed {
    /// State directory: `ssh_config`, `id_ed25519`, `known_hosts`, `nodes.tsv`, `nodeI.log`
    /// (console), `repo/` (the apt repository bind-mounted at /srv/repo in every node).
    pub dir: PathBuf,
    pub nodes: Vec<Node>,
}

/// Path of `testbed/testbed.sh`: `$GALLEY_TESTBED_SCRIPT` if set, else under the crate root.
pub fn script() -> PathBuf {
    match std::env::var_os("GALLEY_TESTBED_SCRIPT") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("testbed/testbed.sh"),
    }
}

/// Tools `testbed.sh` needs (installed by `bash testbed/testbed.sh deps`).
pub fn k8s_node_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testbed/k8s-node.sh")
}

pub const REQUIRED_TOOLS: &[&str] = &[
    "bash",
    "debootstrap",
    "systemd-nspawn",
    "ssh",
    "ssh-keygen",
    "ip",
    "dpkg-deb",
    "dpkg-scanpackages",
    "pgrep",
    "setsid",
    "flock",
    "chroot",
];

/// Ok when running as root with every tool in [`REQUIRED_TOOLS`] on PATH; otherwise an error
/// that says what is missing and how to get it. Never a silent skip.
pub fn require_root_and_tools() -> Result<(), String> {
    let euid = effective_uid()?;
    if euid != 0 {
        return Err(format!(
            "testbed: tier-3 tests need root (effective uid is {euid}): they boot nodes with \
             systemd-nspawn and create a network bridge"
        ));
    }
    let missing: Vec<&str> = REQUIRED_TOOLS
        .iter()
        .copied()
        .filter(|t| !on_path(t))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "testbed: missing tool(s): {} — install them with `bash {} deps`",
            missing.join(", "),
            script().display()
        ));
    }
    let s = script();
    if !s.is_file() {
        return Err(format!("testbed: script not found at {}", s.display()));
    }
    Ok(())
}

fn effective_uid() -> Result<u32, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("testbed: cannot read /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "testbed: no Uid line in /proc/self/status".to_string())
}

fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].iter().map(PathBuf::from))
        .any(|d| d.join(tool).is_file())
}

/// Runs `bash testbed.sh ARGS...`, returning stdout, or an error with the exit status and stderr.
fn run_script(args: &[&str]) -> Result<String, String> {
    run_script_with(args, &[])
}

fn run_script_with(args: &[&str], env: &[(&str, String)]) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("BASH_ENV")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("testbed: cannot run bash {}: {e}", script().display()))?;
    if !out.status.success() {
        return Err(format!(
            "testbed: `testbed.sh {}` failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Parses `nodes.tsv`: `name<TAB>address<TAB>mac<TAB>product_uuid<TAB>pid` per line.
pub fn parse_nodes_tsv(text: &str) -> Result<Vec<Node>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            if f.len() != 5 {
                return Err(format!(
                    "testbed: bad nodes.tsv line (want 5 fields): {l:?}"
                ));
            }
            Ok(Node {
                name: f[0].to_string(),
                address: f[1].to_string(),
                mac: f[2].to_string(),
                product_uuid: f[3].to_string(),
                pid: f[4]
                    .parse()
                    .map_err(|_| format!("testbed: bad pid in nodes.tsv: {l:?}"))?,
            })
        })
        .collect()
}

impl Testbed {
    /// Builds the cached rootfs if needed, then boots `n` nodes and waits until each answers SSH.
    /// With `dup_pair`, node1 and node2 share MAC and product_uuid (for preflight-duplicate
    /// tests). The instance is tied to this process: it is torn down when the `Testbed` drops,
    /// or by a watchdog if the process dies first.
    pub fn up(n: usize, dup_pair: bool) -> Result<Testbed, String> {
        Self::up_with(n, dup_pair, &[])
    }

    /// Nodes a real kubelet and containerd run on (testbed/k8s-node.sh): every capability, no
    /// system call filter, the machine's cgroup hierarchies with each node in its own cgroup of
    /// every controller. `prep_kubernetes` finishes them.
    pub fn up_for_kubernetes(n: usize) -> Result<Testbed, String> {
        let args = Command::new("bash")
            .arg(k8s_node_script())
            .arg("nspawn-args")
            .output()
            .map_err(|e| format!("testbed: k8s-node.sh nspawn-args: {e}"))?;
        let args = String::from_utf8_lossy(&args.stdout).trim().to_string();
        Self::up_with(
            n,
            false,
            &[
                ("GALLEY_TESTBED_NSPAWN_ARGS", args),
                ("GALLEY_TESTBED_ALL_CGROUPS", "1".into()),
                // The container stores on this machine's disk, not in the node's memory.
                (
                    "GALLEY_TESTBED_NODE_DISKS",
                    "/var/lib/containerd /var/lib/docker".into(),
                ),
                // nspawn's system call filter refuses keyrings, which runc makes per container.
                ("SYSTEMD_SECCOMP", "0".into()),
            ],
        )
    }

    /// Only what this machine's kind needs before a kubelet can run (`k8s-node.sh prep DIR
    /// NODE`): cgroups, a writable /proc/sys, a default route and a
    /// resolver entry. The packages the recipe installs bring the rest.
    pub fn prep_kubernetes(&self, node: &str) -> Result<(), String> {
        let out = Command::new("bash")
            .arg(k8s_node_script())
            .arg("prep")
            .arg(&self.dir)
            .arg(node)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("testbed: k8s-node.sh prep: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "testbed: k8s-node.sh prep {node} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// The bridge's own address (`10.213.X.1`), where the machine serves what the nodes need.
    pub fn gateway(&self) -> String {
        let a = &self.nodes[0].address;
        format!("{}.1", a.rsplit_once('.').map_or(a.as_str(), |(n, _)| n))
    }

    fn up_with(n: usize, dup_pair: bool, env: &[(&str, String)]) -> Result<Testbed, String> {
        require_root_and_tools()?;
        run_script(&["rootfs"])?;
        let n_s = n.to_string();
        let owner = std::process::id().to_string();
        let mut args = vec!["up", n_s.as_str(), "--owner-pid", owner.as_str()];
        if dup_pair {
            args.push("--dup-pair");
        }
        let stdout = run_script_with(&args, env)?;
        let dir = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| PathBuf::from(l.trim()))
            .ok_or_else(|| "testbed: `up` printed no state directory".to_string())?;
        // From here on, dropping `tb` tears the instance down, also on the error path below.
        let mut tb = Testbed {
            dir,
            nodes: Vec::new(),
        };
        let tsv = std::fs::read_to_string(tb.dir.join("nodes.tsv"))
            .map_err(|e| format!("testbed: cannot read {}/nodes.tsv: {e}", tb.dir.display()))?;
        tb.nodes = parse_nodes_tsv(&tsv)?;
        if tb.nodes.len() != n {
            return Err(format!(
                "testbed: asked for {n} nodes, nodes.tsv lists {}",
                tb.nodes.len()
            ));
        }
        Ok(tb)
    }

    /// `DIR/ssh_config`: one `Host nodeI` stanza per node (root, key, pinned host key).
    pub fn ssh_config(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }

    /// The client private key authorized for root, deploy and nopw on every node.
    pub fn key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }

    /// `DIR/known_hosts`, pre-filled with every node's host key (as `nodeI,ADDRESS`).
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// The node named `name` (`"node1"`, ...).
    pub fn node(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("testbed: no node named {name:?} in {}", self.dir.display()))
    }

    /// Runs `cmd` (a remote shell command line) on `node` as root over real SSH.
    pub fn ssh(&self, node: impl AsRef<str>, cmd: &str) -> Output {
        self.ssh_as("root", node, cmd)
    }

    /// Runs `cmd` on `node` as `user` (`root`, `deploy`: passwordless sudo, `nopw`: sudo asks
    /// for the password `nopw-password`).
    pub fn ssh_as(&self, user: &str, node: impl AsRef<str>, cmd: &str) -> Output {
        let node = node.as_ref();
        Command::new("ssh")
            .arg("-F")
            .arg(self.ssh_config())
            .args(["-l", user, "--", node, cmd])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("testbed: cannot run ssh to {node}: {e}"))
    }

    /// Powers `node` off like a host that dies: its link goes silent, then every process in it
    /// is SIGKILLed. New SSH connections to it then fail within about 3–5 s ("No route to
    /// host" or the 5 s ConnectTimeout); open ones notice within about 6 s (ServerAlive).
    pub fn poweroff(&self, node: impl AsRef<str>) -> Result<(), String> {
        let dir = self.dir.to_string_lossy();
        run_script(&["poweroff", &dir, node.as_ref()]).map(|_| ())
    }

    /// Writes `content` (text or bytes) to `path` on `node` (as root, over SSH).
    pub fn put(&self, node: &str, path: &str, content: impl AsRef<[u8]>) {
        use std::io::Write;
        let mut child = Command::new("ssh")
            .arg("-F")
            .arg(self.ssh_config())
            .args(["--", node, &format!("cat > '{path}'")])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("testbed: cannot run ssh to {node}: {e}"));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(content.as_ref())
            .unwrap();
        assert!(child.wait().unwrap().success(), "writing {path} on {node}");
    }

    /// Runs `recipe` with the galley copied into `node` (`install_galley`), apply and JSON output,
    /// with `args` added to the command line: (exit code, events, stderr).
    pub fn galley(
        &self,
        node: &str,
        recipe: &str,
        args: &str,
    ) -> (i32, Vec<serde_json::Value>, String) {
        self.put(node, "/root/r.rhai", recipe);
        let out = self.ssh(
            node,
            &format!("NO_COLOR=1 galley run /root/r.rhai --output json {args}"),
        );
        let events = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (
            out.status.code().unwrap_or(-1),
            events,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Copies the galley binary under test to `/usr/local/bin/galley` on a node, so a test can
    /// run galley inside it.
    pub fn install_galley(&self, node: impl AsRef<str>) {
        let node = node.as_ref();
        let st = Command::new("scp")
            .arg("-q")
            .arg("-F")
            .arg(self.ssh_config())
            .arg(env!("CARGO_BIN_EXE_galley"))
            .arg(format!("{node}:/usr/local/bin/galley"))
            .status()
            .unwrap();
        assert!(st.success(), "scp galley to {node}");
    }

    /// Tears the instance down now (also what `Drop` does); idempotent.
    pub fn down(&mut self) -> Result<(), String> {
        let dir = self.dir.to_string_lossy().into_owned();
        run_script(&["down", &dir]).map(|_| ())
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        if let Err(e) = self.down() {
            eprintln!("{e}");
        }
    }
}

/// `status primitive summary` of each action among galley's JSON events.
pub fn actions(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "action")
        .map(|e| {
            format!(
                "{} {} {}",
                e["status"].as_str().unwrap_or(""),
                e["primitive"].as_str().unwrap_or(""),
                e["summary"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nodes_tsv() {
        let text = "node1\t10.213.7.11\t02:67:74:ab:cd:01\tAAAA-1\t123\n\
                    node2\t10.213.7.12\t02:67:74:ab:cd:01\tAAAA-1\t124\n";
        let nodes = parse_nodes_tsv(text).unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[1].name, "node2");
        assert_eq!(nodes[1].address, "10.213.7.12");
        assert_eq!(nodes[0].mac, nodes[1].mac);
        assert_eq!(nodes[1].pid, 124);
        assert_eq!(nodes[0].as_ref(), "node1");
    }

    #[test]
    fn rejects_short_nodes_tsv_line() {
        let err = parse_nodes_tsv("node1\t10.213.7.11\n").unwrap_err();
        assert!(err.contains("want 5 fields"), "{err}");
    }

    #[test]
    fn script_path_points_into_testbed_dir() {
        if std::env::var_os("GALLEY_TESTBED_SCRIPT").is_none() {
            assert!(script().ends_with("testbed/testbed.sh"));
        }
    }
}
