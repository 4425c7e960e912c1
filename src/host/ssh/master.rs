//! The multiplexed master connection of one host: started once (the caller holds a lock), in the
//! background with `-f`, its control socket in a private 0700 folder; closed with `ssh -O exit`.
//! Its failures are turned into messages that say what happened and what to do.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::options::SshSettings;
use crate::host::exec::interrupted;

/// How long an idle master outlives its last session: a safety net for a galley killed with
/// SIGKILL; a normal run closes its masters explicitly.
const PERSIST: &str = "ControlPersist=60";

pub struct Master {
    pub dir: tempfile::TempDir,
}

/// Where control sockets live: `$XDG_RUNTIME_DIR` when usable, else the temp folder.
fn runtime_base() -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir)
}

impl Master {
    /// A private folder (mode 0700) for this host's control socket and log.
    pub fn new() -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("galley-ssh-")
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(runtime_base())?;
        Ok(Master { dir })
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("m")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("master.log")
    }

    fn ssh(&self, s: &SshSettings) -> Command {
        let mut c = Command::new("ssh");
        c.args(s.args(&self.socket().to_string_lossy()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .process_group(0);
        c
    }

    /// Connects and authenticates; returns once the master runs in the background.
    pub fn start(&self, s: &SshSettings) -> Result<(), String> {
        let log =
            fs::File::create(self.log()).map_err(|e| format!("cannot create ssh log: {e}"))?;
        let mut cmd = self.ssh(s);
        // Not `-M` as well: -M on top of ControlMaster=yes means "ask", which BatchMode refuses.
        cmd.args(["-o", "ControlMaster=yes", "-o", PERSIST, "-N", "-f", "--"])
            .arg(&s.destination)
            .stderr(log);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start `ssh`: {e} (install the OpenSSH client)"))?;
        // ssh gives up on its own after ConnectTimeout; authentication and a ProxyJump may add more.
        let limit = Duration::from_secs(s.connect_timeout * 3 + 10);
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) if start.elapsed() > limit || interrupted() => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let why = if interrupted() {
                        "interrupted"
                    } else {
                        "no answer"
                    };
                    return Err(format!(
                        "connecting to {} timed out ({why} after {}s)",
                        s.describe(),
                        limit.as_secs()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(format!("waiting for ssh: {e}")),
            }
        };
        if status.success() && self.socket().exists() {
            return Ok(());
        }
        let text = fs::read_to_string(self.log()).unwrap_or_default();
        Err(explain(s, &text))
    }

    /// Asks the master to exit (sessions are closed first by the caller).
    pub fn stop(&self, s: &SshSettings) {
        if !self.socket().exists() {
            return;
        }
        let _ = self
            .ssh(s)
            .args(["-O", "exit", "--"])
            .arg(&s.destination)
            .stderr(Stdio::null())
            .status();
    }

    /// True while the control socket answers.
    pub fn alive(&self, s: &SshSettings) -> bool {
        self.socket().exists()
            && self
                .ssh(s)
                .args(["-O", "check", "--"])
                .arg(&s.destination)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|st| st.success())
    }
}

fn known_hosts_name(s: &SshSettings) -> String {
    match s.port {
        Some(p) if p != 22 => format!("[{}]:{p}", s.destination),
        _ => s.destination.clone(),
    }
}

/// Turns ssh's stderr into one message naming the host, what happened and what to do.
pub fn explain(s: &SshSettings, stderr: &str) -> String {
    let host = &s.name;
    let target = s.describe();
    let has = |needle: &str| stderr.contains(needle);
    if has("REMOTE HOST IDENTIFICATION HAS CHANGED") || has("Host key for") && has("has changed") {
        return format!(
            "host {host} ({target}): its SSH host key has CHANGED since it was recorded in known_hosts. \
             This happens when a host is reinstalled, or when someone intercepts the connection; galley does not connect. \
             If the change is expected, remove the old key with `ssh-keygen -R '{}'` and connect again.",
            known_hosts_name(s)
        );
    }
    if has("Host key verification failed") || has("host key is known") {
        return format!(
            "host {host} ({target}): its SSH host key is unknown (not in known_hosts). \
             Check the key's fingerprint and add it (e.g. `ssh -p {} {} true` once, or ssh-keyscan), \
             or pass --accept-new-host-keys to trust new hosts on first use.",
            s.port.unwrap_or(22),
            s.destination
        );
    }
    if has("Connection refused") {
        return format!("host {host} ({target}): connection refused (is sshd running and listening on that port?)");
    }
    if has("timed out") || has("Connection timed out") {
        return format!(
            "host {host} ({target}): connection timed out after {}s (host down, filtered, or not an SSH server); \
             set the var ssh_connect_timeout to wait longer",
            s.connect_timeout
        );
    }
    if has("Could not resolve hostname") {
        return format!(
            "host {host}: cannot resolve `{}` (check the inventory address)",
            s.destination
        );
    }
    if has("Permission denied") {
        return format!(
            "host {host} ({target}): authentication failed. galley uses key-based logins only (BatchMode, no password prompts): \
             check the user, the identity file (var ssh_identity_file) or your ssh-agent, and the host's authorized_keys"
        );
    }
    let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(5)..].join("; ");
    format!(
        "host {host} ({target}): ssh could not connect: {}",
        if tail.is_empty() {
            "no error message"
        } else {
            &tail
        }
    )
}

/// Reads the master's log (for messages after a dropped connection).
pub fn read_log(dir: &Path) -> String {
    fs::read_to_string(dir.join("master.log")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SshSettings {
        SshSettings {
            name: "db1".into(),
            destination: "127.0.0.1".into(),
            port: Some(2222),
            user: Some("root".into()),
            connect_timeout: 3,
            ..Default::default()
        }
    }

    #[test]
    fn explains_the_usual_failures() {
        let s = settings();
        let changed = explain(&s, "@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n");
        assert!(
            changed.contains("CHANGED") && changed.contains("ssh-keygen -R '[127.0.0.1]:2222'"),
            "{changed}"
        );
        let unknown = explain(&s, "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.\n");
        assert!(
            unknown.contains("unknown") && unknown.contains("--accept-new-host-keys"),
            "{unknown}"
        );
        assert!(explain(
            &s,
            "ssh: connect to host 127.0.0.1 port 2222: Connection refused"
        )
        .contains("refused"));
        assert!(explain(&s, "Connection timed out during banner exchange")
            .contains("timed out after 3s"));
        assert!(
            explain(&s, "root@127.0.0.1: Permission denied (publickey).")
                .contains("authentication failed")
        );
        let other = explain(
            &s,
            "kex_exchange_identification: read: Connection reset by peer\n",
        );
        assert!(
            other.starts_with("host db1 (root@127.0.0.1:2222): ssh could not connect: kex"),
            "{other}"
        );
    }

    #[test]
    fn the_socket_folder_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let m = Master::new().unwrap();
        let mode = fs::metadata(m.dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
