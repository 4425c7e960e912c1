//! A host's file streamed to the machine galley runs on (`fetch`). The agent's framed reads
//! hold a whole file in memory and stop at 32 MiB; an etcd snapshot or a log can be far
//! bigger. So the copy is its own `ssh` over the host's master connection, running `cat` (under
//! sudo when the host is become), its output streamed to the caller's writer as it comes.
//! Whether what arrived is whole is the caller's check (`fetch` compares sha256 sums before it
//! renames anything into place).

use std::io::Read;
use std::process::{Command, Stdio};

use super::SshHost;
use crate::host::{HostError, HostResult};

/// The remote side: exit 3 when the file is missing, 4 when it is not a regular file (a FIFO
/// would block the copy forever), else `cat`'s own status.
const CAT: &str = r#"[ -e "$1" ] || exit 3; [ -f "$1" ] || { echo "not a regular file" >&2; exit 4; }; exec cat -- "$1""#;

impl SshHost {
    pub(super) fn stream_out(
        &self,
        path: &str,
        into: &mut dyn std::io::Write,
    ) -> HostResult<Option<u64>> {
        // The master connection first (the first session makes it), so this copy shares it.
        let agent = self.session()?;
        self.idle.lock().unwrap().push(agent);
        let socket = match &*self.link.lock().unwrap() {
            super::Link::Up(dir) => dir.socket(),
            super::Link::Failed(msg) => return Err(self.unreachable(msg.clone())),
            super::Link::Down => return Err(self.unreachable("not connected")),
        };
        let q = |w: &str| {
            shlex::try_quote(w)
                .map(|q| q.into_owned())
                .map_err(|_| HostError::file(path, "the path contains a NUL byte"))
        };
        let cat = format!("sh -c {} sh {}", q(CAT)?, q(path)?);
        let remote = match self.settings().become_user.as_deref() {
            None => cat,
            Some(u) => {
                let sudo = format!("sudo -n -u {} -- {cat}", q(u)?);
                if u == "root" {
                    format!("if [ \"$(id -u)\" = 0 ]; then {cat}; else {sudo}; fi")
                } else {
                    sudo
                }
            }
        };
        let mut child = Command::new("ssh")
            .args(self.settings().args(&socket))
            .args([
                "-T",
                "-o",
                "ControlMaster=auto",
                "-o",
                "ControlPersist=no",
                "--",
            ])
            .arg(&self.settings().destination)
            .arg(remote)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| HostError::Spawn {
                program: "ssh".into(),
                source,
            })?;
        let mut err = child.stderr.take().expect("piped stderr");
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.by_ref().take(64 * 1024).read_to_string(&mut text);
            text
        });
        let mut out = child.stdout.take().expect("piped stdout");
        let copied = std::io::copy(&mut out, into);
        drop(out);
        if let Err(e) = &copied {
            // Here, not over there: the copy cannot be written (a full disk, say).
            let _ = child.kill();
            let _ = child.wait();
            return Err(HostError::file(path, format!("the copy failed: {e}")));
        }
        let status = child.wait().map_err(|e| HostError::file(path, e))?;
        let why = errors.join().unwrap_or_default();
        let why = why.trim();
        match status.code() {
            Some(0) => Ok(copied.ok()),
            Some(3) => Ok(None),
            Some(4) => Err(HostError::file(path, why)),
            Some(255) | None => Err(self.unreachable(format!(
                "connection lost while copying {path}: {}",
                if why.is_empty() {
                    "the connection closed"
                } else {
                    why
                }
            ))),
            Some(rc) => Err(HostError::file(path, format!("cat exited {rc}: {why}"))),
        }
    }
}
