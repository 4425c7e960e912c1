//! The processes a local command started, found through `/proc`, so a timeout or Ctrl-C also kills
//! the ones that left its process group: a child that called `setsid` (a daemon, `setsid -f`) is
//! out of reach of `killpg` and used to outlive the kill and the run.
//!
//! Every command's leader is made a child subreaper (`PR_SET_CHILD_SUBREAPER`, kept across
//! `execve`), so the orphan of a double fork is reparented to the leader instead of to init and
//! stays in the leader's tree until the leader is gone. Each process is remembered with its start
//! time, checked right before each signal, so a pid reused meanwhile by an unrelated process is
//! left alone.

use std::collections::HashMap;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// One process: its pid and its start time (clock ticks since boot), together unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Proc {
    pub pid: i32,
    start: u64,
}

/// Parent pid and start time from `/proc/PID/stat` (the fields after the parenthesized name,
/// which may itself contain spaces and parentheses).
fn stat(pid: i32) -> Option<(i32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 is the state, 4 the parent pid, 22 the start time.
    let ppid = fields.get(1)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((ppid, start))
}

/// Every process below `root` (not `root` itself), parents before children.
pub fn descendants(root: i32) -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: HashMap<i32, Vec<Proc>> = HashMap::new();
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if let Some((ppid, start)) = stat(pid) {
            children.entry(ppid).or_default().push(Proc { pid, start });
        }
    }
    let mut out = Vec::new();
    let mut next = vec![root];
    while let Some(parent) = next.pop() {
        for p in children.remove(&parent).unwrap_or_default() {
            next.push(p.pid);
            out.push(p);
        }
    }
    out
}

impl Proc {
    /// Still the process we saw (same pid and start time) and not a zombie.
    pub fn alive(&self) -> bool {
        stat(self.pid).is_some_and(|(_, start)| start == self.start) && !self.zombie()
    }

    fn zombie(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).is_ok_and(|s| {
            s.rfind(')')
                .and_then(|i| s[i + 1..].split_whitespace().next())
                .is_some_and(|st| st == "Z")
        })
    }

    pub fn signal(&self, sig: Signal) {
        if self.alive() {
            let _ = kill(Pid::from_raw(self.pid), sig);
        }
    }
}

/// Adds to `known` the processes of `more` it does not hold yet.
pub fn merge(known: &mut Vec<Proc>, more: Vec<Proc>) {
    for p in more {
        if !known.contains(&p) {
            known.push(p);
        }
    }
}

/// SIGKILL to every process of `known` that is still alive and to everything they started since,
/// until none is left (a few rounds at most: each round kills what the last one found).
pub fn kill_all(known: &mut Vec<Proc>) {
    for _ in 0..20 {
        let alive: Vec<Proc> = known.iter().copied().filter(Proc::alive).collect();
        if alive.is_empty() {
            return;
        }
        for p in &alive {
            merge(known, descendants(p.pid));
        }
        for p in known.iter() {
            p.signal(Signal::SIGKILL);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_grandchild_and_kills_it() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        let root = child.id() as i32;
        let mut found = Vec::new();
        for _ in 0..100 {
            found = descendants(root);
            if !found.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(found.len(), 1, "{found:?}");
        let sleeper = found[0];
        assert!(sleeper.alive());
        kill_all(&mut found);
        assert!(!sleeper.alive());
        let _ = child.kill();
        let _ = child.wait();
    }
}
