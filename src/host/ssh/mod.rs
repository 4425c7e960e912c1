//! Hosts reached over the system OpenSSH client, so `~/.ssh/config`, ProxyJump, the agent and
//! known_hosts work as users expect. Per host: one connection, whose first session is the
//! ControlMaster (established lazily, once, under a lock); more sessions, when a host is busy,
//! are multiplexed over it. Each session runs the remote agent that executes framed requests
//! (see `agent.rs`, and docs/ssh.md for why and what it costs).

mod agent;
mod copy_out;
mod framer;
mod master;
pub mod options;
pub mod quote;

use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use self::agent::{Agent, Lost};
use self::master::ControlDir;
use self::options::SshSettings;
use super::{
    posix, CommandOutput, CommandSpec, FileMeta, FileStat, Host, HostError, HostResult, ProgressFn,
};
use crate::inventory::HostEntry;

enum Link {
    /// Not connected yet.
    Down,
    /// Connected once; the folder holds the control socket. Should the connection drop, the
    /// next session (ControlMaster=auto) becomes the new master.
    Up(ControlDir),
    /// Connecting failed: every later command fails fast with the same message.
    Failed(String),
}

pub struct SshHost {
    name: String,
    /// The inventory's settings; [`SshHost::settings`] adds what the user's ssh_config sets.
    entry_settings: SshSettings,
    settings: OnceLock<SshSettings>,
    link: Mutex<Link>,
    /// Idle sessions; a busy host (nested `on`) simply opens another.
    idle: Mutex<Vec<Agent>>,
    /// `stat` also fetches small files; the `read_file` right after it then costs nothing.
    prefetched: Mutex<Option<(String, Option<Vec<u8>>)>>,
}

/// Builds the connector; nothing is contacted until the first command.
pub fn connect(entry: &HostEntry) -> HostResult<SshHost> {
    let settings = SshSettings::from_entry(entry).map_err(|e| HostError::Unreachable {
        host: entry.name.clone(),
        message: e.to_string(),
    })?;
    Ok(SshHost {
        name: entry.name.clone(),
        entry_settings: settings,
        settings: OnceLock::new(),
        link: Mutex::new(Link::Down),
        idle: Mutex::new(Vec::new()),
        prefetched: Mutex::new(None),
    })
}

impl SshHost {
    /// The settings with what the user's ssh_config sets, asked of `ssh -G` once, when the
    /// host is first used (not for every host of an inventory up front).
    fn settings(&self) -> &SshSettings {
        self.settings.get_or_init(|| {
            let mut s = self.entry_settings.clone();
            s.user_config = options::UserConfig::read(&s);
            s
        })
    }

    fn unreachable(&self, message: impl Into<String>) -> HostError {
        HostError::Unreachable {
            host: self.name.clone(),
            message: message.into(),
        }
    }

    /// A session from the pool, else a new one. The host's first session is its master
    /// connection, opened under the lock: commands starting at once wait, then share it.
    fn session(&self) -> HostResult<Agent> {
        if let Some(a) = self.idle.lock().unwrap().pop() {
            return Ok(a);
        }
        let mut link = self.link.lock().unwrap();
        let socket = match &*link {
            Link::Failed(msg) => return Err(self.unreachable(msg.clone())),
            Link::Up(dir) => dir.socket(),
            Link::Down => {
                let dir = ControlDir::new().map_err(|e| {
                    self.unreachable(format!(
                        "cannot create a private folder for the ssh control socket: {e}"
                    ))
                })?;
                tracing::debug!(host = %self.name, target = %self.settings().describe(), "connecting");
                return match self.start_agent(&dir.socket(), "yes") {
                    Ok(a) => {
                        *link = Link::Up(dir);
                        Ok(a)
                    }
                    Err(msg) => {
                        *link = Link::Failed(msg.clone());
                        Err(self.unreachable(msg))
                    }
                };
            }
        };
        drop(link);
        self.start_agent(&socket, "auto")
            .map_err(|msg| self.unreachable(msg))
    }

    fn start_agent(&self, socket: &str, master: &str) -> Result<Agent, String> {
        let mut ssh = Command::new("ssh");
        ssh.args(self.settings().args(socket))
            .args(["-T", "-o", &format!("ControlMaster={master}")])
            .args(["-o", "ControlPersist=no", "--"])
            .arg(&self.settings().destination);
        let remote = agent::bootstrap(self.settings().become_user.as_deref());
        // ssh itself gives up first: after the connect timeout, or the keepalives' silence limit.
        let limit = Duration::from_secs(
            self.settings().connect_timeout() * 2 + self.settings().silence_limit() + 10,
        );
        Agent::start(ssh, &remote, limit).map_err(|l| self.session_failed(&l))
    }

    /// Why a session did not start, in words that say what to do.
    fn session_failed(&self, l: &Lost) -> String {
        let why = l.why.as_str();
        if l.code == Some(255) {
            if why.is_empty() {
                if let Some(banner) = master::probe_banner(self.settings()) {
                    return master::stalled(self.settings(), Some(&banner));
                }
            }
            return master::explain(self.settings(), why);
        }
        if let Some(user) = &self.settings().become_user {
            if why.contains("password is required") || why.contains("a terminal is required") {
                return format!(
                    "become: sudo on this host asks for a password to run commands as {user}, and galley runs sudo \
                     non-interactively (sudo -n). Allow the login user passwordless sudo (a NOPASSWD rule in sudoers), \
                     or connect as {user} directly"
                );
            }
            if why.contains("sudo: not found") || why.contains("sudo: command not found") {
                return "become: sudo is not installed on this host".into();
            }
            if why.contains("is not in the sudoers") || why.contains("not allowed to execute") {
                return format!(
                    "become: the login user may not run commands as {user} with sudo: {why}"
                );
            }
        }
        format!(
            "cannot start a session: {}",
            if why.is_empty() {
                "the connection closed"
            } else {
                why
            }
        )
    }

    fn exec(&self, spec: &CommandSpec, progress: ProgressFn) -> HostResult<CommandOutput> {
        *self.prefetched.lock().unwrap() = None;
        let program = spec.argv.first().map_or("", |s| s.as_str());
        tracing::trace!(host = %self.name, program = %program, "ssh command");
        self.with_session(program, |a| a.run(spec, progress))
    }

    /// Runs one exchange on a session from the pool. A session found dead before anything was
    /// sent is replaced once; a connection lost mid-command fails this host's command.
    fn with_session(
        &self,
        what: &str,
        f: impl Fn(&mut Agent) -> HostResult<Result<CommandOutput, agent::Lost>>,
    ) -> HostResult<CommandOutput> {
        let mut retried = false;
        loop {
            let mut agent = self.session()?;
            let l = match f(&mut agent)? {
                Ok(out) => {
                    self.idle.lock().unwrap().push(agent);
                    return Ok(out);
                }
                Err(l) => l,
            };
            // Sessions sharing a dropped connection are all gone: start afresh.
            for a in self.idle.lock().unwrap().drain(..) {
                a.close();
            }
            if !l.started && !retried {
                retried = true;
                continue;
            }
            let why = if l.why.is_empty() {
                "the connection closed".to_string()
            } else {
                l.why
            };
            return Err(self.unreachable(format!("connection lost while running `{what}`: {why}")));
        }
    }

    /// Ends every session at once (the master goes with the last), then waits briefly.
    fn shutdown(&self) {
        let mut agents: Vec<Agent> = self.idle.lock().unwrap().drain(..).collect();
        for a in &mut agents {
            a.hang_up();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        for a in agents {
            a.reap(deadline);
        }
        if let Link::Up(dir) = &*self.link.lock().unwrap() {
            dir.stop(self.settings());
        }
    }
}

fn file_result(path: &str, out: &CommandOutput) -> HostResult<()> {
    if out.rc == 0 {
        return Ok(());
    }
    Err(HostError::file(
        path,
        format!("exit {}: {}", out.rc, out.stderr_text().trim()),
    ))
}

/// The size in the agent's "PATH is SIZE bytes, over the limit" message.
fn big_size(out: &CommandOutput) -> Option<u64> {
    let text = out.stderr_text();
    let before = text.rsplit_once(" bytes, over the limit")?.0;
    before.rsplit(' ').next()?.parse().ok()
}

impl Drop for SshHost {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Host for SshHost {
    fn name(&self) -> &str {
        &self.name
    }

    fn connect_failure(&self) -> Option<String> {
        match &*self.link.lock().unwrap() {
            Link::Failed(msg) => Some(self.unreachable(msg.clone()).to_string()),
            _ => None,
        }
    }

    fn run(&self, cmd: &CommandSpec, progress: ProgressFn) -> HostResult<CommandOutput> {
        self.exec(cmd, progress)
    }

    fn read_file(&self, path: &str) -> HostResult<Option<Vec<u8>>> {
        if let Some((p, content)) = self.prefetched.lock().unwrap().take() {
            if p == path {
                return Ok(content);
            }
        }
        let out = self.with_session("read", |a| a.read(path, super::READ_MAX))?;
        match out.rc {
            0 if out.truncated == 0 => Ok(Some(out.stdout)),
            // It grew past the limit between the agent's stat and its read.
            0 => Err(super::too_big(path, None)),
            3 => Ok(None),
            4 => Err(super::too_big(path, big_size(&out))),
            _ => Err(HostError::file(
                path,
                format!("exit {}: {}", out.rc, out.stderr_text().trim()),
            )),
        }
    }

    fn copy_out(&self, path: &str, into: &mut dyn std::io::Write) -> HostResult<Option<u64>> {
        self.stream_out(path, into)
    }

    fn stat(&self, path: &str) -> HostResult<Option<FileStat>> {
        *self.prefetched.lock().unwrap() = None;
        let out = self.with_session("stat", |a| a.stat_read(path, posix::PREFETCH_MAX))?;
        let (stat, content) = posix::parse_stat_read(path, &out)?;
        *self.prefetched.lock().unwrap() = content.map(|c| (path.to_string(), c));
        Ok(stat)
    }

    fn write_file(&self, path: &str, content: &[u8], meta: &FileMeta) -> HostResult<()> {
        *self.prefetched.lock().unwrap() = None;
        let out = self.with_session("write", |a| a.write(path, content, meta))?;
        file_result(path, &out)
    }

    fn ensure_dir(&self, path: &str, meta: &FileMeta) -> HostResult<()> {
        *self.prefetched.lock().unwrap() = None;
        let out = self.with_session("mkdir", |a| a.mkdir(path, meta))?;
        file_result(path, &out)
    }
}
