//! The master connection's side of things: the private 0700 folder that holds its control
//! socket, a last-resort `ssh -O exit`, and ssh's failures turned into messages that say what
//! happened and what to do.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::options::SshSettings;

pub struct ControlDir {
    pub dir: tempfile::TempDir,
}

/// Where control sockets live: `$XDG_RUNTIME_DIR` when usable, else the temp folder.
fn runtime_base() -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir)
}

impl ControlDir {
    /// A private folder (mode 0700) for one host's control socket.
    pub fn new() -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("galley-ssh-")
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(runtime_base())?;
        Ok(ControlDir { dir })
    }

    pub fn socket(&self) -> String {
        self.dir.path().join("m").to_string_lossy().into_owned()
    }

    /// Asks a master that is still there to exit (normally it ends with its last session).
    pub fn stop(&self, s: &SshSettings) {
        if !self.dir.path().join("m").exists() {
            return;
        }
        let _ = Command::new("ssh")
            .args(s.args(&self.socket()))
            .args(["-O", "exit", "--"])
            .arg(&s.destination)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn known_hosts_name(s: &SshSettings) -> String {
    match s.port {
        Some(p) if p != 22 => format!("[{}]:{p}", s.destination),
        _ => s.destination.clone(),
    }
}

/// A host that sent its banner and then nothing: what the message says, with the banner when
/// galley saw it itself.
pub fn stalled(s: &SshSettings, banner: Option<&str>) -> String {
    format!(
        "{} sent its SSH banner{}, then stopped responding for {}s during the key exchange \
         (sshd hung or overloaded, or something in between drops the connection); \
         ServerAliveInterval and ServerAliveCountMax in your ssh_config set how long to wait",
        s.describe(),
        banner.map(|b| format!(" (`{b}`)")).unwrap_or_default(),
        s.silence_limit()
    )
}

/// Looks at a host that failed without a message (the user's LogLevel hides ssh's own): when ssh
/// connects to it directly, connects and reads what it sends first. `Some(banner)` when it is
/// an SSH server's banner.
pub fn probe_banner(s: &SshSettings) -> Option<String> {
    use std::io::Read;
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;
    let (host, port) = s.user_config.direct.as_ref()?;
    let addr = (host.as_str(), *port).to_socket_addrs().ok()?.next()?;
    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut buf = [0u8; 256];
    let n = c.read(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    let line = text.lines().next()?.trim();
    line.starts_with("SSH-")
        .then(|| line.chars().take(80).collect())
}

/// Turns ssh's stderr into one message saying what happened and what to do (the caller adds
/// the host's name: "host web1 is unreachable: ...").
pub fn explain(s: &SshSettings, stderr: &str) -> String {
    let target = s.describe();
    let has = |needle: &str| stderr.contains(needle);
    if has("REMOTE HOST IDENTIFICATION HAS CHANGED") || has("Host key for") && has("has changed") {
        return format!(
            "the SSH host key of {target} has CHANGED since it was recorded in known_hosts. \
             This happens when a host is reinstalled, or when someone intercepts the connection; galley does not connect. \
             If the change is expected, remove the old key with `ssh-keygen -R '{}'` and connect again.",
            known_hosts_name(s)
        );
    }
    if has("Host key verification failed") || has("host key is known") {
        return format!(
            "the SSH host key of {target} is unknown (not in known_hosts). \
             Check the key's fingerprint and add it (e.g. `ssh -p {} {} true` once, or ssh-keyscan), \
             or pass --accept-new-host-keys to trust new hosts on first use.",
            s.port.unwrap_or(22),
            s.destination
        );
    }
    if has("Connection refused") {
        return format!(
            "connection to {target} refused (is sshd running and listening on that port?)"
        );
    }
    // OpenSSH words a timeout by the phase it happened in.
    if has("during banner exchange") {
        return format!(
            "{target} accepted the connection but sent no SSH banner within {}s (not an SSH server, \
             or sshd is overloaded); set the var ssh_connect_timeout to wait longer",
            s.connect_timeout()
        );
    }
    if has("Timeout, server") && has("not responding") {
        return format!(
            "{target} stopped responding: no answer to keepalives for {}s (host down or network lost)",
            s.silence_limit()
        );
    }
    if has("Connection to") && has("timed out") && !has("connect to host") {
        return stalled(s, None);
    }
    if has("timed out") {
        return format!(
            "connecting to {target} timed out after {}s (host down, filtered, or not an SSH server); \
             set the var ssh_connect_timeout to wait longer",
            s.connect_timeout()
        );
    }
    if has("Could not resolve hostname") {
        return format!(
            "cannot resolve `{}` (check the inventory address)",
            s.destination
        );
    }
    if has("Permission denied") {
        return format!(
            "authentication to {target} failed. galley uses key-based logins only (BatchMode, no password prompts): \
             check the user, the identity file (var ssh_identity_file) or your ssh-agent, and the host's authorized_keys"
        );
    }
    let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(5)..].join("; ");
    format!(
        "ssh could not connect to {target}: {}",
        if tail.is_empty() {
            "no error message"
        } else {
            &tail
        }
    )
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
            connect_timeout_var: Some(3),
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
            .contains("sent no SSH banner within 3s"));
        assert!(explain(
            &s,
            "ssh: connect to host 127.0.0.1 port 2222: Connection timed out"
        )
        .contains("timed out after 3s"));
        let stalled = explain(&s, "Connection to 127.0.0.1 port 2222 timed out\r\n");
        assert!(
            stalled.contains("sent its SSH banner, then stopped responding for 15s"),
            "{stalled}"
        );
        assert!(
            explain(&s, "Timeout, server 127.0.0.1 not responding.").contains("keepalives for 15s")
        );
        assert!(
            explain(&s, "root@127.0.0.1: Permission denied (publickey).")
                .contains("authentication to root@127.0.0.1:2222 failed")
        );
        assert!(explain(
            &s,
            "ssh: Could not resolve hostname x: Name or service not known"
        )
        .contains("cannot resolve `127.0.0.1`"));
        let other = explain(
            &s,
            "kex_exchange_identification: read: Connection reset by peer\n",
        );
        assert!(
            other.starts_with("ssh could not connect to root@127.0.0.1:2222: kex"),
            "{other}"
        );
    }

    #[test]
    fn the_socket_folder_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let m = ControlDir::new().unwrap();
        let mode = fs::metadata(m.dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
