//! Running a local process the way a provisioning tool must: in its own process group, so a
//! timeout or Ctrl-C kills the whole tree (even children that ignore SIGTERM, and through
//! [`super::tree`] those that left the group with `setsid`), with bounded capture and live
//! progress.

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::capture::{drain, Capture, HEAD_CAP, TAIL_CAP};
use super::tree;
use super::{CommandOutput, CommandSpec, HostError, HostResult, ProgressFn};

/// Set by the Ctrl-C handler; every running command notices it within a tick and is killed.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How long a process group gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(2);
const TICK: Duration = Duration::from_millis(50);
/// After the main process exits, how long to wait for background children holding its pipes.
const PIPE_GRACE: Duration = Duration::from_millis(300);

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

struct Stream {
    capture: Arc<Mutex<Capture>>,
    done: mpsc::Receiver<()>,
}

fn spawn_reader(
    reader: Option<impl std::io::Read + Send + 'static>,
    last: Arc<Mutex<String>>,
) -> Stream {
    let capture = Arc::new(Mutex::new(Capture::new(HEAD_CAP, TAIL_CAP)));
    let (tx, done) = mpsc::channel();
    if let Some(r) = reader {
        let cap = capture.clone();
        thread::spawn(move || {
            drain(r, &cap, &last);
            let _ = tx.send(());
        });
    }
    Stream { capture, done }
}

impl Stream {
    fn take(self, deadline: Instant) -> (Vec<u8>, u64) {
        let _ = self
            .done
            .recv_timeout(deadline.saturating_duration_since(Instant::now()));
        let cap = std::mem::take(&mut *self.capture.lock().unwrap());
        cap.finish()
    }
}

fn build(spec: &CommandSpec) -> HostResult<Command> {
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(HostError::Other(
            "empty argv: give at least the program to run".into(),
        ));
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            // Orphans of the command's tree (a double fork's daemon) stay under the leader, where
            // a timeout kill finds them, instead of being handed to init.
            nix::sys::prctl::set_child_subreaper(true).map_err(std::io::Error::from)
        });
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    Ok(cmd)
}

/// Why a command could not start. A missing `cwd` gives the same error as a missing program
/// (ENOENT from the exec), so it is told apart here.
fn spawn_error(spec: &CommandSpec, source: std::io::Error) -> HostError {
    if let Some(cwd) = &spec.cwd {
        if !std::path::Path::new(cwd).is_dir() {
            let why = if std::path::Path::new(cwd).exists() {
                "is not a folder"
            } else {
                "does not exist"
            };
            return HostError::Other(format!(
                "cannot start `{}`: its cwd `{cwd}` {why}",
                spec.argv[0]
            ));
        }
    }
    HostError::Spawn {
        program: spec.argv[0].clone(),
        source,
    }
}

/// Runs `spec` locally: the process gets its own group, which is killed on timeout or Ctrl-C.
pub fn run_local(spec: &CommandSpec, progress: ProgressFn) -> HostResult<CommandOutput> {
    let mut child = build(spec)?
        .spawn()
        .map_err(|source| spawn_error(spec, source))?;
    let start = Instant::now();
    if let (Some(data), Some(mut stdin)) = (spec.stdin.clone(), child.stdin.take()) {
        thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let last = Arc::new(Mutex::new(String::new()));
    let out = spawn_reader(child.stdout.take(), last.clone());
    let err = spawn_reader(child.stderr.take(), last.clone());
    let pgid = Pid::from_raw(child.id() as i32);
    let (tx, exited) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let (status, timed_out, interrupted) =
        supervise(&exited, pgid, spec.timeout, start, &last, progress);
    let pipe_deadline = Instant::now() + PIPE_GRACE;
    let (stdout, t1) = out.take(pipe_deadline);
    let (stderr, t2) = err.take(pipe_deadline);
    let rc = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(CommandOutput {
        rc,
        stdout,
        stderr,
        truncated: t1 + t2,
        timed_out,
        interrupted,
        duration: start.elapsed(),
        unknown: false,
    })
}

type Exited = mpsc::Receiver<std::io::Result<ExitStatus>>;

fn status_of(r: Result<std::io::Result<ExitStatus>, mpsc::RecvError>) -> ExitStatus {
    r.ok()
        .and_then(Result::ok)
        .unwrap_or_else(|| ExitStatus::from_raw(9))
}

/// Waits for the child's exit, reporting progress each tick; kills its group on timeout or
/// interrupt. Returns (status, timed out, interrupted).
fn supervise(
    exited: &Exited,
    pgid: Pid,
    timeout: Option<Duration>,
    start: Instant,
    last: &Mutex<String>,
    progress: ProgressFn,
) -> (ExitStatus, bool, bool) {
    loop {
        match exited.recv_timeout(TICK) {
            Ok(r) => return (status_of(Ok(r)), false, false),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return (status_of(exited.recv()), false, false)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let elapsed = start.elapsed();
        let timed_out = timeout.is_some_and(|t| elapsed >= t);
        if timed_out || interrupted() {
            return (kill_group(exited, pgid), timed_out, !timed_out);
        }
        progress(elapsed, &last.lock().unwrap());
    }
}

/// SIGTERM to the whole group and every process below the leader (in the group or not), then
/// SIGKILL after the grace period; waits for the leader.
fn kill_group(exited: &Exited, pgid: Pid) -> ExitStatus {
    let mut known = tree::descendants(pgid.as_raw());
    let _ = killpg(pgid, Signal::SIGTERM);
    for p in &known {
        p.signal(Signal::SIGTERM);
    }
    let status = match exited.recv_timeout(KILL_GRACE) {
        Ok(r) => status_of(Ok(r)),
        Err(_) => {
            tree::merge(&mut known, tree::descendants(pgid.as_raw()));
            let _ = killpg(pgid, Signal::SIGKILL);
            status_of(exited.recv())
        }
    };
    // The leader is gone; make sure no straggler (one ignoring SIGTERM, in the group or out of
    // it) survives.
    let _ = killpg(pgid, Signal::SIGKILL);
    tree::kill_all(&mut known);
    status
}
