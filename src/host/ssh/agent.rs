//! One long-lived remote shell per SSH session (the agent, `agent.sh`), fed framed commands.
//! A command then costs one round trip on an open channel instead of an `ssh` process, a new
//! channel and a login shell: that is what makes idempotent re-runs fast (docs/ssh.md).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use sha2::Digest;

use super::framer::Framer;
use super::quote;
use crate::host::capture::HEAD_CAP;
use crate::host::exec::{interrupted, KILL_GRACE};
use crate::host::{CommandOutput, CommandSpec, FileMeta, HostResult, ProgressFn};

pub const SCRIPT: &str = include_str!("agent.sh");
const READY: &[u8] = b"galley-agent 1\n";
const TICK: Duration = Duration::from_millis(50);
/// After SIGKILL was requested, how long the agent gets to answer before the session is dropped.
const LOST_GRACE: Duration = Duration::from_secs(5);

enum Event {
    Out(Vec<u8>),
    Err(Vec<u8>),
    Closed,
}

/// Why a session could not be used: the connection (or the agent) is gone. `started`: whether
/// the command may have run (if not, it is safe to retry on a fresh session).
#[derive(Debug)]
pub struct Lost {
    pub why: String,
    pub started: bool,
    /// The local `ssh` exit code when it ended: 255 means ssh itself failed (connecting,
    /// authenticating), anything else came from the remote side.
    pub code: Option<i32>,
}

fn lost(why: impl Into<String>) -> Lost {
    Lost {
        why: why.into(),
        started: true,
        code: None,
    }
}

pub struct Agent {
    child: Child,
    /// `None` once hung up.
    stdin: Option<ChildStdin>,
    events: Receiver<Event>,
    carry_out: Vec<u8>,
    carry_err: Vec<u8>,
    closed: usize,
}

fn pump(mut r: impl Read + Send + 'static, tx: Sender<Event>, wrap: fn(Vec<u8>) -> Event) {
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send(wrap(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = tx.send(Event::Closed);
    });
}

/// The remote command that starts the agent: bash, as the become user through `sudo -n` if asked.
pub fn bootstrap(become_user: Option<&str>) -> String {
    let code: Vec<&str> = SCRIPT
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    let script = shlex::try_quote(&code.join("\n"))
        .expect("the agent script has no NUL byte")
        .into_owned();
    let check = "command -v bash >/dev/null 2>&1 || { echo 'galley: bash is not installed on this host; galley needs it to run commands' >&2; exit 127; }";
    // A login shell that is bash (4 or later, not in POSIX mode) runs the agent itself: one
    // `bash` process less per session.
    let here = format!(
        "_ga={script}; if [ \"${{BASH_VERSINFO:-0}}\" -ge 4 ] && [ \"${{SHELLOPTS#*posix}}\" = \"$SHELLOPTS\" ]; \
         then eval \"$_ga\"; else exec bash -c \"$_ga\" galley-agent; fi"
    );
    match become_user {
        None => format!("{check}; {here}"),
        Some(u) => {
            let u = shlex::try_quote(u)
                .map(|q| q.into_owned())
                .unwrap_or_default();
            let sudo = format!("exec sudo -n -u {u} -- bash -c {script} galley-agent");
            if u == "root" {
                format!("{check}; if [ \"$(id -u)\" = 0 ]; then exec bash -c {script} galley-agent; else {sudo}; fi")
            } else {
                format!("{check}; {sudo}")
            }
        }
    }
}

/// Mode (octal), owner and group as three shell words (empty when not asked for).
fn meta_words(meta: &FileMeta) -> HostResult<String> {
    let mode = meta.mode.map(|m| format!("{m:o}")).unwrap_or_default();
    let words = [
        quote::word(&mode)?,
        quote::word(meta.owner.as_deref().unwrap_or(""))?,
        quote::word(meta.group.as_deref().unwrap_or(""))?,
    ];
    Ok(words.join(" "))
}

fn nonce() -> String {
    let mut b = [0u8; 12];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b.copy_from_slice(&t.to_le_bytes()[..12]);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Agent {
    /// Starts a session running the agent; `ssh` is the full ssh command line (without the
    /// remote command). Fails with ssh's or sudo's own words when the agent does not answer.
    pub fn start(mut ssh: Command, remote: &str, limit: Duration) -> Result<Agent, Lost> {
        ssh.arg(remote)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = ssh
            .spawn()
            .map_err(|e| lost(format!("cannot start `ssh`: {e}")))?;
        let (tx, events) = mpsc::channel();
        pump(child.stdout.take().expect("piped"), tx.clone(), Event::Out);
        pump(child.stderr.take().expect("piped"), tx, Event::Err);
        let stdin = child.stdin.take();
        let mut agent = Agent {
            child,
            stdin,
            events,
            carry_out: Vec::new(),
            carry_err: Vec::new(),
            closed: 0,
        };
        agent.wait_ready(limit)?;
        Ok(agent)
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), Lost> {
        let start = Instant::now();
        let mut err = Vec::new();
        while self.closed < 2 {
            if self.carry_out.starts_with(READY) {
                self.carry_out.drain(..READY.len());
                return Ok(());
            }
            if start.elapsed() > limit || interrupted() {
                self.kill();
                return Err(lost(format!(
                    "the remote agent did not start within {}s",
                    limit.as_secs()
                )));
            }
            match self.events.recv_timeout(TICK) {
                Ok(Event::Out(b)) => self.carry_out.extend(b),
                Ok(Event::Err(b)) => err.extend(b),
                Ok(Event::Closed) => self.closed += 1,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let code = self.child.wait().ok().and_then(|st| st.code());
        Err(Lost {
            why: String::from_utf8_lossy(&err).trim().to_string(),
            started: false,
            code,
        })
    }

    /// Kills the local ssh process (the remote agent sees its input end and stops too).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Ends the session's input: the remote agent finishes and exits, then ssh does.
    pub fn hang_up(&mut self) {
        self.stdin = None;
    }

    /// Waits (until `deadline`) for ssh to exit after `hang_up`, else kills it.
    pub fn reap(mut self, deadline: Instant) {
        self.hang_up();
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(2));
        }
        self.kill();
    }

    /// Closes the session politely: end of input, then a short wait for ssh to exit.
    pub fn close(self) {
        self.reap(Instant::now() + Duration::from_secs(2));
    }

    fn send(&mut self, data: &[u8]) -> Result<(), Lost> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(lost("the session was closed"));
        };
        stdin
            .write_all(data)
            .and_then(|_| stdin.flush())
            .map_err(|e| lost(format!("the connection is closed ({e})")))
    }

    /// Writes a frame without blocking this thread (stdin may be large and the link slow).
    fn send_frame(&mut self, frame: Vec<u8>) -> Result<mpsc::Receiver<bool>, Lost> {
        let (done_tx, done) = mpsc::channel();
        if frame.len() <= 16 * 1024 {
            self.send(&frame)?;
            let _ = done_tx.send(true);
            return Ok(done);
        }
        let fd = self
            .stdin
            .as_ref()
            .ok_or_else(|| lost("the session was closed"))?
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| lost(format!("cannot write to ssh: {e}")))?;
        thread::spawn(move || {
            let mut f = File::from(fd);
            let ok = f.write_all(&frame).and_then(|_| f.flush()).is_ok();
            let _ = done_tx.send(ok);
        });
        Ok(done)
    }

    /// Runs one command. `Err` means the session is unusable (connection lost); a command that
    /// fails or times out is an `Ok` with its exit code and flags.
    pub fn run(
        &mut self,
        spec: &CommandSpec,
        progress: ProgressFn,
    ) -> HostResult<Result<CommandOutput, Lost>> {
        let line = quote::command_line(spec)?;
        let n = nonce();
        let len = spec.stdin.as_ref().map_or(-1, |s| s.len() as i64);
        let mut frame = format!("C {n} {len} {line}\n").into_bytes();
        if let Some(s) = &spec.stdin {
            frame.extend_from_slice(s);
        }
        Ok(self.exchange(&n, frame, spec.timeout, HEAD_CAP, progress))
    }

    /// A path's `stat`, plus its content when it is a small regular file, answered by the agent
    /// itself (one `stat` process, no shell): output as `posix::parse_stat_read` reads it.
    pub fn stat_read(&mut self, path: &str, max: u64) -> HostResult<Result<CommandOutput, Lost>> {
        let n = nonce();
        let frame = format!("S {n} {max} {}\n", quote::word(path)?).into_bytes();
        Ok(self.exchange(&n, frame, None, HEAD_CAP, &|_, _| {}))
    }

    /// Replaces a file atomically, done by the agent itself (no shell, no `mktemp`): short
    /// text is read by the shell's own `read`, anything else through `head -c`.
    pub fn write(
        &mut self,
        path: &str,
        content: &[u8],
        meta: &FileMeta,
    ) -> HostResult<Result<CommandOutput, Lost>> {
        let n = nonce();
        let kind = if content.len() <= 4096 && !content.contains(&0) {
            'W'
        } else {
            'B'
        };
        let mut frame = format!(
            "{kind} {n} {} {} {}\n",
            content.len(),
            meta_words(meta)?,
            quote::word(path)?
        )
        .into_bytes();
        frame.extend_from_slice(content);
        // The checksum comes last: a transfer cut short (galley killed, connection dropped)
        // never delivers it, and the agent then removes the temp file instead of renaming it.
        let sum = sha2::Sha256::digest(content);
        let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
        frame.extend_from_slice(hex.as_bytes());
        frame.push(b'\n');
        Ok(self.exchange(&n, frame, None, HEAD_CAP, &|_, _| {}))
    }

    /// The whole content of a file of at most `max` bytes (exit 4 when it is bigger, 3 when it
    /// is missing), answered by the agent itself. Captured up to `max`, not the usual output
    /// cap: the caller checks `truncated` (a file that grew while being read).
    pub fn read(&mut self, path: &str, max: u64) -> HostResult<Result<CommandOutput, Lost>> {
        let n = nonce();
        let frame = format!("R {n} {max} {}\n", quote::word(path)?).into_bytes();
        let cap = usize::try_from(max).unwrap_or(usize::MAX);
        Ok(self.exchange(&n, frame, None, cap, &|_, _| {}))
    }

    /// Creates a folder and its parents, then applies `meta` to it (done by the agent itself).
    pub fn mkdir(
        &mut self,
        path: &str,
        meta: &FileMeta,
    ) -> HostResult<Result<CommandOutput, Lost>> {
        let n = nonce();
        let frame = format!("D {n} {} {}\n", meta_words(meta)?, quote::word(path)?).into_bytes();
        Ok(self.exchange(&n, frame, None, HEAD_CAP, &|_, _| {}))
    }

    fn exchange(
        &mut self,
        n: &str,
        frame: Vec<u8>,
        timeout: Option<Duration>,
        head_cap: usize,
        progress: ProgressFn,
    ) -> Result<CommandOutput, Lost> {
        // A session that died while idle is noticed here, before anything is sent.
        while let Ok(ev) = self.events.try_recv() {
            match ev {
                Event::Out(b) => self.carry_out.extend(b),
                Event::Err(b) => self.carry_err.extend(b),
                Event::Closed => self.closed += 1,
            }
        }
        if self.closed > 0 {
            self.kill();
            return Err(Lost {
                why: "the session had closed".into(),
                started: false,
                code: None,
            });
        }
        let start = Instant::now();
        let written = self.send_frame(frame).map_err(|l| Lost {
            started: false,
            ..l
        })?;
        self.collect(n, timeout, start, written, head_cap, progress)
    }

    fn collect(
        &mut self,
        n: &str,
        timeout: Option<Duration>,
        start: Instant,
        written: mpsc::Receiver<bool>,
        head_cap: usize,
        progress: ProgressFn,
    ) -> Result<CommandOutput, Lost> {
        let mut out = Framer::new(n, true, std::mem::take(&mut self.carry_out));
        out.set_head_cap(head_cap);
        let mut err = Framer::new(n, false, std::mem::take(&mut self.carry_err));
        let mut last = String::new();
        let (mut term_at, mut kill_at): (Option<Instant>, Option<Instant>) = (None, None);
        let mut timed_out = false;
        let mut stopped = false;
        let mut sent = false;
        // Markers may already sit in the carried bytes.
        out.feed(&[], &mut last);
        err.feed(&[], &mut last);
        while out.end().is_none() || err.end().is_none() {
            if self.closed > 0 {
                // Let ssh's last words (on stderr) arrive before reporting.
                let until = Instant::now() + Duration::from_millis(300);
                while self.closed < 2 && Instant::now() < until {
                    match self.events.recv_timeout(TICK) {
                        Ok(Event::Err(b)) => err.feed(&b, &mut last),
                        Ok(Event::Closed) => self.closed += 1,
                        Ok(Event::Out(_)) | Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                let e = err.drain_all();
                self.kill();
                return Err(lost(String::from_utf8_lossy(&e).trim().to_string()));
            }
            match self.events.recv_timeout(TICK) {
                Ok(Event::Out(b)) => out.feed(&b, &mut last),
                Ok(Event::Err(b)) => err.feed(&b, &mut last),
                Ok(Event::Closed) => self.closed += 1,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.closed = 2,
            }
            match written.try_recv() {
                Ok(true) => sent = true,
                Ok(false) => self.closed = 2,
                Err(_) => {}
            }
            let elapsed = start.elapsed();
            if term_at.is_none() && (timeout.is_some_and(|t| elapsed >= t) || interrupted()) {
                if !sent {
                    // The request itself is still being written: the link is stuck.
                    self.kill();
                    return Err(lost("the connection stalled while sending the command"));
                }
                timed_out = !interrupted();
                stopped = true;
                self.send(b"T\n")?;
                term_at = Some(Instant::now());
            }
            if let (Some(t), None) = (term_at, kill_at) {
                if t.elapsed() >= KILL_GRACE {
                    out.expect_forced();
                    err.expect_forced();
                    self.send(b"K\n")?;
                    kill_at = Some(Instant::now());
                }
            }
            if kill_at.is_some_and(|k| k.elapsed() >= LOST_GRACE) {
                self.kill();
                return Err(lost("the remote agent did not answer a kill request"));
            }
            progress(elapsed, &last);
        }
        if stopped {
            // The command ended after SIGTERM; children that ignored it must not outlive it.
            self.send(b"Z\n")?;
        }
        let rc = out.end().and_then(|e| e.rc).unwrap_or(255);
        let (stdout, t1, carry_out) = out.finish();
        let (stderr, t2, carry_err) = err.finish();
        self.carry_out = carry_out;
        self.carry_err = carry_err;
        Ok(CommandOutput {
            rc,
            stdout,
            stderr,
            truncated: t1 + t2,
            timed_out,
            interrupted: stopped && !timed_out,
            duration: start.elapsed(),
            unknown: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local_agent() -> Agent {
        let mut c = Command::new("sh");
        c.arg("-c");
        Agent::start(c, &bootstrap(None), Duration::from_secs(10)).unwrap()
    }

    /// An agent started by `login_shell -c`, with `env` set.
    fn agent_with(login_shell: &str, env: &[(&str, &str)]) -> Agent {
        let mut c = Command::new(login_shell);
        c.arg("-c").envs(env.iter().copied());
        Agent::start(c, &bootstrap(None), Duration::from_secs(10)).unwrap()
    }

    fn on_path(tool: &str) -> bool {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The first line of the agent's stat answer, and GNU stat's own line for the same path.
    fn stat_lines(a: &mut Agent, p: &std::path::Path) -> (String, String) {
        let out = a.stat_read(&p.to_string_lossy(), 4096).unwrap().unwrap();
        assert_eq!(out.rc, 0, "{p:?}: {out:?}");
        let agent = out.stdout_text().lines().next().unwrap_or("").to_string();
        let gnu = Command::new("stat")
            .args(["-L", "-c", "%F|%a|%U|%G|%s", "--"])
            .arg(p)
            .output()
            .unwrap();
        (
            agent,
            String::from_utf8_lossy(&gnu.stdout).trim().to_string(),
        )
    }

    #[test]
    fn the_stat_helper_answers_exactly_as_stat_does() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mode = |p: &std::path::Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        std::fs::write(d.join("f"), "x\n").unwrap();
        mode(&d.join("f"), 0o640);
        std::fs::write(d.join("empty"), "").unwrap();
        std::fs::write(d.join("suid"), "#!/bin/sh\n").unwrap();
        mode(&d.join("suid"), 0o4755);
        std::fs::write(d.join("none"), "").unwrap();
        mode(&d.join("none"), 0);
        std::fs::create_dir(d.join("sticky")).unwrap();
        mode(&d.join("sticky"), 0o1777);
        nix::unistd::mkfifo(&d.join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        std::os::unix::fs::symlink(d.join("f"), d.join("link")).unwrap();
        let odd = d.join("a 'b'\nc\\d $x");
        std::fs::write(&odd, vec![b'y'; 5000]).unwrap();
        let mut paths = vec!["f", "empty", "suid", "none", "sticky", "fifo", "link"]
            .into_iter()
            .map(|n| d.join(n))
            .collect::<Vec<_>>();
        paths.extend([odd, d.to_path_buf(), "/dev/null".into()]);
        if nix::unistd::geteuid().is_root() {
            // Owned by ids that have no name: stat says UNKNOWN.
            let p = d.join("unknown");
            std::fs::write(&p, "z").unwrap();
            nix::unistd::chown(&p, Some(54321.into()), Some(54321.into())).unwrap();
            paths.push(p);
        }
        for env in [&[][..], &[("GALLEY_AGENT_NO_HELPER", "1")][..]] {
            let mut a = agent_with("sh", env);
            for p in &paths {
                let (agent, gnu) = stat_lines(&mut a, p);
                assert_eq!(agent, gnu, "{p:?} with {env:?}");
            }
            a.close();
        }
    }

    /// The processes the agent starts, counted by strace, for `probes` rounds of stat and read
    /// of existing files.
    fn processes_for(probes: usize, dir: &std::path::Path) -> usize {
        let log = dir.join(format!("trace.{probes}"));
        let mut c = Command::new("strace");
        c.args([
            "-f",
            "-qq",
            "-e",
            "trace=execve,clone,clone3,fork,vfork",
            "-o",
        ])
        .arg(&log)
        .args(["bash", "-c"]);
        let mut a = Agent::start(c, &bootstrap(None), Duration::from_secs(20)).unwrap();
        let f = dir.join("probe.txt");
        std::fs::write(&f, "same content\n").unwrap();
        let p = f.to_string_lossy().into_owned();
        let d = dir.to_string_lossy().into_owned();
        for _ in 0..probes {
            assert_eq!(a.stat_read(&p, 4096).unwrap().unwrap().rc, 0);
            assert_eq!(a.stat_read(&d, 4096).unwrap().unwrap().rc, 0);
            assert_eq!(
                a.stat_read(&format!("{p}.missing"), 4096)
                    .unwrap()
                    .unwrap()
                    .rc,
                3
            );
            let out = a.read(&p, 1 << 20).unwrap().unwrap();
            assert_eq!(out.stdout, b"same content\n");
        }
        a.close();
        let text = std::fs::read_to_string(&log).unwrap();
        text.lines()
            .filter(|l| {
                ["execve(", "clone(", "clone3(", "fork(", "vfork("]
                    .iter()
                    .any(|c| l.contains(c))
            })
            .count()
    }

    #[test]
    fn probes_start_no_remote_process() {
        assert!(
            on_path("strace") && on_path("perl"),
            "this test counts processes with strace and the agent's helper is perl: install both (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let one = processes_for(1, dir.path());
        let many = processes_for(21, dir.path());
        // Starting the agent and its stat helper costs a few; 80 more probes cost none.
        assert_eq!(one, many, "processes for 4 probes: {one}; for 84: {many}");
        assert!((1..=6).contains(&one), "{one} processes to start a session");
    }

    #[test]
    fn a_bash_login_shell_runs_the_agent_itself() {
        let mut a = agent_with("bash", &[]);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        let p = f.to_string_lossy().into_owned();
        assert_eq!(
            a.write(&p, b"hi\n", &FileMeta::default())
                .unwrap()
                .unwrap()
                .rc,
            0
        );
        let (agent, gnu) = stat_lines(&mut a, &f);
        assert_eq!(agent, gnu);
        let out = a.stat_read(&p, 10).unwrap().unwrap();
        assert!(out.stdout_text().ends_with("\n+\nhi\n"), "{out:?}");
        let mut stdin = CommandSpec::new(&["cat"]);
        stdin.stdin = Some(b"in\n".to_vec());
        assert_eq!(run(&mut a, &stdin).stdout_text(), "in\n");
        a.close();
    }

    fn run(a: &mut Agent, spec: &CommandSpec) -> CommandOutput {
        a.run(spec, &|_, _| {}).unwrap().unwrap()
    }

    #[test]
    fn runs_commands_with_stdin_env_and_exit_codes() {
        let mut a = local_agent();
        let out = run(
            &mut a,
            &CommandSpec::new(&["sh", "-c", "echo out; echo err >&2; exit 7"]),
        );
        assert_eq!(
            (out.rc, out.stdout_text(), out.stderr_text()),
            (7, "out\n".into(), "err\n".into())
        );
        let mut spec = CommandSpec::new(&["cat"]);
        spec.stdin = Some(b"line1\nC fake 3 frame\n\0bin".to_vec());
        assert_eq!(run(&mut a, &spec).stdout, b"line1\nC fake 3 frame\n\0bin");
        let mut spec = CommandSpec::new(&["sh", "-c", "head -c 2; echo; echo \"$V\""]);
        spec.stdin = Some(b"abcdef".to_vec());
        spec.env = vec![("V".into(), "x y".into())];
        assert_eq!(run(&mut a, &spec).stdout_text(), "ab\nx y\n");
        let out = run(&mut a, &CommandSpec::new(&["printf", "no newline"]));
        assert_eq!(out.stdout_text(), "no newline");
        assert_eq!(
            run(&mut a, &CommandSpec::new(&["/nonexistent/prog"])).rc,
            127
        );
        a.close();
    }

    #[test]
    fn timeout_kills_the_whole_group_and_the_agent_goes_on() {
        let mut a = local_agent();
        let dir = tempfile::tempdir().unwrap();
        let mark = dir.path().join("survived");
        let script = format!(
            "(trap '' TERM; sleep 3; touch {}) & sleep 30",
            mark.display()
        );
        let mut spec = CommandSpec::new(&["sh", "-c", &script]);
        spec.timeout = Some(Duration::from_millis(300));
        let t = Instant::now();
        let out = run(&mut a, &spec);
        assert!(out.timed_out, "{out:?}");
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
        assert_eq!(
            run(&mut a, &CommandSpec::new(&["echo", "next"])).stdout_text(),
            "next\n"
        );
        std::thread::sleep(Duration::from_millis(3500));
        assert!(
            !mark.exists(),
            "a child ignoring SIGTERM survived the timeout"
        );
        a.close();
    }

    #[test]
    fn stat_read_is_answered_by_the_agent() {
        let mut a = local_agent();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let small = d.join("small 'q'\nx");
        std::fs::write(&small, "one\ntwo\n\n").unwrap();
        std::fs::write(d.join("nul"), b"a\0b").unwrap();
        std::fs::write(d.join("big"), vec![b'x'; 5000]).unwrap();
        let mut ask =
            |p: &std::path::Path| a.stat_read(&p.to_string_lossy(), 4096).unwrap().unwrap();
        let out = ask(&small);
        assert_eq!(out.rc, 0);
        let (st, content) = crate::host::posix::parse_stat_read("x", &out).unwrap();
        assert_eq!(st.unwrap().size, 9);
        assert_eq!(content, Some(Some(b"one\ntwo\n\n".to_vec())));
        let (_, content) = crate::host::posix::parse_stat_read("x", &ask(&d.join("nul"))).unwrap();
        assert_eq!(content, Some(Some(b"a\0b".to_vec())));
        let (st, content) = crate::host::posix::parse_stat_read("x", &ask(&d.join("big"))).unwrap();
        assert_eq!((st.unwrap().size, content), (5000, None));
        let (st, _) = crate::host::posix::parse_stat_read("x", &ask(d)).unwrap();
        assert!(st.unwrap().is_dir);
        assert_eq!(ask(&d.join("missing")).rc, 3);
        a.close();
    }

    #[test]
    fn writes_and_folders_are_done_by_the_agent() {
        use std::os::unix::fs::PermissionsExt;
        let mut a = local_agent();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let text = d.join("t 'x'\ny.txt");
        let p = text.to_string_lossy().into_owned();
        let none = FileMeta::default();
        let content = b"  leading spaces\\n and \\ backslashes\r\nno final newline";
        assert_eq!(a.write(&p, content, &none).unwrap().unwrap().rc, 0);
        assert_eq!(std::fs::read(&text).unwrap(), content);
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&text), 0o644);
        std::fs::set_permissions(&text, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(a.write(&p, b"second\n", &none).unwrap().unwrap().rc, 0);
        assert_eq!(mode(&text), 0o600, "a replaced file keeps its mode");
        let bin: Vec<u8> = (0..=255u8).cycle().take(70000).collect();
        let b = d.join("bin");
        let meta = FileMeta {
            mode: Some(0o640),
            ..Default::default()
        };
        assert_eq!(
            a.write(&b.to_string_lossy(), &bin, &meta)
                .unwrap()
                .unwrap()
                .rc,
            0
        );
        assert_eq!(std::fs::read(&b).unwrap(), bin);
        assert_eq!(mode(&b), 0o640);
        let out = a
            .write(&d.join("no/such/dir/f").to_string_lossy(), b"x", &none)
            .unwrap()
            .unwrap();
        assert_ne!(out.rc, 0);
        assert!(!out.stderr.is_empty());
        assert_eq!(
            a.write(&d.to_string_lossy(), b"x", &none)
                .unwrap()
                .unwrap()
                .rc,
            1
        );
        let nested = d.join("a/b c/d");
        let meta = FileMeta {
            mode: Some(0o700),
            ..Default::default()
        };
        assert_eq!(
            a.mkdir(&nested.to_string_lossy(), &meta)
                .unwrap()
                .unwrap()
                .rc,
            0
        );
        assert_eq!(mode(&nested), 0o700);
        // The session is still in step after all that.
        let echo = a
            .run(&CommandSpec::new(&["echo", "ok"]), &|_, _| {})
            .unwrap()
            .unwrap();
        assert_eq!(echo.stdout_text(), "ok\n");
        let left: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            !left
                .iter()
                .any(|n| n.to_string_lossy().contains(".galley-")),
            "{left:?}"
        );
        a.close();
    }

    fn galley_temp_files(d: &std::path::Path) -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".galley-"))
            .collect()
    }

    #[test]
    fn a_write_cut_off_mid_payload_leaves_the_old_file() {
        for kind in ['W', 'B'] {
            let mut a = local_agent();
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("app.conf");
            std::fs::write(&target, "old\n").unwrap();
            // Half the announced bytes, then the input ends (galley killed, connection dropped).
            let frame = format!("{kind} n1 1000 '' '' '' {}\n", target.display());
            let mut bytes = frame.into_bytes();
            bytes.extend_from_slice(&[b'x'; 500]);
            a.send(&bytes).unwrap();
            a.hang_up();
            let _ = a.child.wait();
            assert_eq!(std::fs::read(&target).unwrap(), b"old\n", "{kind}");
            assert_eq!(galley_temp_files(dir.path()), Vec::<String>::new());
        }
    }

    #[test]
    fn a_write_whose_checksum_differs_is_refused() {
        let mut a = local_agent();
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        std::fs::write(&target, "old\n").unwrap();
        for kind in ['W', 'B'] {
            let n = nonce();
            let mut frame =
                format!("{kind} {n} 4 '' '' '' {}\nnew\n", target.display()).into_bytes();
            frame.extend_from_slice(format!("{}\n", "0".repeat(64)).as_bytes());
            let out = a.exchange(&n, frame, None, HEAD_CAP, &|_, _| {}).unwrap();
            assert_eq!(out.rc, 1, "{kind}");
            assert!(
                out.stderr_text().contains("differs from the checksum sent"),
                "{out:?}"
            );
            assert_eq!(std::fs::read(&target).unwrap(), b"old\n");
        }
        assert_eq!(galley_temp_files(dir.path()), Vec::<String>::new());
        assert_eq!(
            a.write(&target.to_string_lossy(), b"new\n", &FileMeta::default())
                .unwrap()
                .unwrap()
                .rc,
            0
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"new\n");
        a.close();
    }

    #[test]
    fn stale_temp_files_of_dead_writers_are_removed_live_ones_kept() {
        let mut a = local_agent();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut dead = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = dead.id();
        dead.wait().unwrap();
        let stale = d.join(format!(".f.galley-{dead_pid}-123"));
        let live = d.join(format!(".f.galley-{}-456", std::process::id()));
        let other = d.join(format!(".g.galley-{dead_pid}-1"));
        for p in [&stale, &live, &other] {
            std::fs::write(p, "partial").unwrap();
        }
        let out = a.write(&d.join("f").to_string_lossy(), b"x", &FileMeta::default());
        assert_eq!(out.unwrap().unwrap().rc, 0);
        assert!(!stale.exists(), "a dead writer's temp file is removed");
        assert!(live.exists(), "a live writer's temp file is kept");
        assert!(other.exists(), "another file's temp files are not touched");
        a.close();
    }

    #[test]
    fn reads_are_whole_or_refused() {
        let mut a = local_agent();
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        std::fs::write(&f, &data).unwrap();
        let p = f.to_string_lossy().into_owned();
        let out = a.read(&p, 100_000).unwrap().unwrap();
        assert_eq!((out.rc, out.truncated), (0, 0));
        assert_eq!(out.stdout, data);
        let out = a.read(&p, 99_999).unwrap().unwrap();
        assert_eq!(out.rc, 4);
        assert!(
            out.stderr_text()
                .contains("100000 bytes, over the limit of 99999"),
            "{out:?}"
        );
        assert_eq!(a.read(&format!("{p}.missing"), 10).unwrap().unwrap().rc, 3);
        a.close();
    }

    #[test]
    fn bootstrap_quotes_the_script() {
        let b = bootstrap(Some("postgres"));
        assert!(b.contains("sudo -n -u postgres -- bash -c "), "{b}");
        assert!(!b.contains("# galley"), "comments are not sent: {b}");
        assert!(bootstrap(None).contains("exec bash -c "));
    }
}
