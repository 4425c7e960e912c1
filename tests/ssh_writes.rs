//! Remote writes and reads under faults, over a real sshd on loopback (tests/support/sshd.rs):
//! galley SIGKILLed, interrupted (SIGINT) or its connection dropped while a 30 MB `write_file`
//! is being received; a full tmpfs; files over the read limit. The "remote" host is this
//! machine, so each test watches the agent's temp file appear and grow before it strikes: that
//! proves the fault landed inside the write, not before or after it.

#[path = "support/scratch.rs"]
mod scratch;
#[path = "support/sshd.rs"]
mod sshd;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scratch::Scratch;
use sshd::Sshd;

const BIG: usize = 30_000_000;

/// galley's temp files for `name` in `dir`: (path, size, mode).
fn temp_files(dir: &Path, name: &str) -> Vec<(PathBuf, u64, u32)> {
    let prefix = format!(".{name}.galley-");
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((e.path(), m.len(), m.permissions().mode() & 0o7777))
        })
        .collect()
}

/// Waits until a temp file for `name` holds part of the payload (more than nothing, less than
/// all): the write is under way. Returns its path and mode.
fn wait_mid_write(child: &mut Child, dir: &Path, name: &str) -> (PathBuf, u32) {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((p, _, mode)) = temp_files(dir, name)
            .into_iter()
            .find(|(_, size, _)| *size > 0 && (*size as usize) < BIG)
        {
            return (p, mode);
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "galley ended before the write was seen under way"
        );
        assert!(Instant::now() < until, "the write never started");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The pid in a temp file's name (`.NAME.galley-PID-RANDOM`): the remote agent's.
fn writer_pid(temp: &Path) -> u32 {
    let n = temp.file_name().unwrap().to_string_lossy().into_owned();
    let rest = n.split(".galley-").nth(1).unwrap();
    rest.split('-').next().unwrap().parse().unwrap()
}

fn alive(pid: u32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    matches!(state, Some(c) if c != 'Z' && c != 'X')
}

fn wait_gone(pid: u32) {
    let until = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(
            Instant::now() < until,
            "the remote agent {pid} did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The sshd process serving the agent `pid` (its nearest `sshd*` ancestor).
fn sshd_of(pid: u32) -> u32 {
    let mut p = pid;
    loop {
        let stat = fs::read_to_string(format!("/proc/{p}/stat")).unwrap();
        let (comm, rest) = stat.split_once(") ").unwrap();
        if comm.contains("(sshd") {
            return p;
        }
        p = rest.split(' ').nth(1).unwrap().parse().unwrap();
        assert!(p > 1, "no sshd above the agent {pid}");
    }
}

fn setup(sshd: &Sshd, s: &Scratch) -> (String, String, PathBuf) {
    let inv = s.file("inv.toml", &sshd.host_toml("box", "root"));
    let target = s.path("remote").join("big");
    let recipe = s.file(
        "w.rhai",
        &format!(
            "let big = \"\";\nbig.pad({BIG}, \"n\");\non(\"box\", || write_file(\"{}\", big));\n",
            target.display()
        ),
    );
    (inv, recipe, target)
}

fn assert_old(target: &Path, what: &str) {
    let data = fs::read(target).unwrap();
    assert!(
        data == b"old content\n",
        "{what}: the target is not the old file ({} bytes)",
        data.len()
    );
}

enum Fault {
    KillGalley,
    Interrupt,
    DropConnection,
}

fn fault_mid_write(fault: Fault, what: &str) {
    let sshd = Sshd::start();
    let s = Scratch::new("galley-ssh-writes-", &["remote"]);
    let (inv, recipe, target) = setup(&sshd, &s);
    let remote = s.path("remote");
    for round in 0..3 {
        fs::write(&target, "old content\n").unwrap();
        let mut child = s
            .galley(&["run", &recipe, "-i", &inv])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (temp, mode) = wait_mid_write(&mut child, &remote, "big");
        assert_eq!(
            mode & 0o077,
            0,
            "{what}: the remote temp file is readable by others while written ({mode:o})"
        );
        let agent = writer_pid(&temp);
        match fault {
            Fault::KillGalley => child.kill().unwrap(),
            Fault::Interrupt => {
                nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGINT,
                )
                .unwrap();
            }
            Fault::DropConnection => {
                let server = sshd_of(agent);
                nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(server as i32),
                    nix::sys::signal::Signal::SIGKILL,
                )
                .unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        // The failed step (stdout) carries the reason; the run's error (stderr) points at it.
        let stderr = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        match fault {
            Fault::KillGalley => {}
            Fault::Interrupt => assert_eq!(out.status.code(), Some(130), "{what}: {stderr}"),
            Fault::DropConnection => {
                assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
                // The failed step's line says why; the final error points at it, once.
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(stdout.contains("connection lost"), "{what}: {stdout}");
                assert!(stderr.contains("(the error is above)"), "{what}: {stderr}");
            }
        }
        wait_gone(agent);
        assert_old(&target, &format!("{what}, round {round}"));
        assert_eq!(
            temp_files(&remote, "big"),
            vec![],
            "{what}: a temp file was left behind"
        );
    }
    // The next run writes the whole file.
    let (code, all) = s.run(&["run", &recipe, "-i", &inv]);
    assert_eq!(code, 0, "{all}");
    let data = fs::read(&target).unwrap();
    assert!(data.len() == BIG && data.iter().all(|&b| b == b'n'));
}

#[test]
fn sigkill_of_galley_mid_write_leaves_the_old_remote_file() {
    fault_mid_write(Fault::KillGalley, "SIGKILL of galley");
}

#[test]
fn ctrl_c_mid_write_leaves_the_old_remote_file() {
    fault_mid_write(Fault::Interrupt, "SIGINT of galley");
}

#[test]
fn a_dropped_connection_mid_write_leaves_the_old_remote_file() {
    fault_mid_write(Fault::DropConnection, "dropped connection");
}

struct Mount(PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn remote_disk_full_keeps_the_old_file_and_leaves_no_temp_file() {
    let sshd = Sshd::start();
    let s = Scratch::new("galley-ssh-writes-", &["remote"]);
    let inv = s.file("inv.toml", &sshd.host_toml("box", "root"));
    let mnt = s.path("small");
    fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(ok.success(), "mount tmpfs failed (this test needs root)");
    let _guard = Mount(mnt.clone());
    fs::write(mnt.join("key.pem"), "old\n").unwrap();
    fs::set_permissions(mnt.join("key.pem"), fs::Permissions::from_mode(0o600)).unwrap();
    // Past the 64 KiB that fit, the payload holds a line that looks like an agent request: the
    // rest of the payload must be drained, never read as requests.
    let marker = s.path("injected");
    let recipe = s.file(
        "w.rhai",
        &format!(
            r#"let head = ""; head.pad(150000, "k");
let tail = ""; tail.pad(50000, "k");
let big = head + "\nC 0 -1 touch {m}\n" + tail;
let r = try_on("box", |h| write_file("{d}/key.pem", big));
print("ERR " + r[0].error);
on("box", || print("AFTER " + run(["echo", "in step"]).stdout));
"#,
            m = marker.display(),
            d = mnt.display()
        ),
    );
    let (code, all) = s.run(&["run", &recipe, "-i", &inv]);
    assert_eq!(code, 0, "{all}");
    assert!(all.contains("No space left on device"), "{all}");
    assert!(all.contains("AFTER in step"), "{all}");
    assert!(
        !marker.exists(),
        "part of the payload was run as a request: {all}"
    );
    assert_eq!(fs::read_to_string(mnt.join("key.pem")).unwrap(), "old\n");
    assert_eq!(temp_files(&mnt, "key.pem"), vec![]);
}

#[test]
fn remote_reads_are_whole_or_refused_never_cut() {
    let sshd = Sshd::start();
    let s = Scratch::new("galley-ssh-writes-", &["remote"]);
    let inv = s.file("inv.toml", &sshd.host_toml("box", "root"));
    let remote = s.path("remote");
    // 10 MiB: over the 8 MiB output cap, under the read limit; lines that differ.
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(&format!("line {i}\n"));
        i += 1;
    }
    fs::write(remote.join("ten"), &text).unwrap();
    let f = fs::File::create(remote.join("huge")).unwrap();
    f.set_len(40 * 1024 * 1024).unwrap();
    let recipe = s.file(
        "r.rhai",
        &format!(
            r#"on("box", || {{
    print(`LEN ${{read_file("{d}/ten").len()}}`);
    line_in_file("{d}/ten", "added");
    read_file("{d}/huge");
}});
"#,
            d = remote.display()
        ),
    );
    let (code, all) = s.run(&["run", &recipe, "-i", &inv]);
    assert_eq!(code, 1, "{all}");
    assert!(all.contains(&format!("LEN {}", text.len())), "{all}");
    assert_eq!(
        fs::read_to_string(remote.join("ten")).unwrap(),
        format!("{text}added\n"),
        "line_in_file must keep every byte of a 10 MiB file"
    );
    assert!(
        all.contains("the file is 40.0 MiB; galley reads files of up to 32 MiB"),
        "{all}"
    );
}
