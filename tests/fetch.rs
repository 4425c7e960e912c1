//! `fetch(src, dest)` over a real sshd on loopback (tests/support/sshd.rs): a file bigger than
//! any whole-file read (40 MB, over the 32 MiB read limit) arrives byte for byte with mode 0600;
//! a rerun is `ok`; a changed local copy is fetched again; `{host}` names each host's copy; a
//! copy cut off mid-transfer (the remote `cat` killed once part of it has arrived) leaves the
//! old local file as it was and no temp file; a missing file is an error that says so; a plan
//! writes nothing.

#[path = "support/scratch.rs"]
mod scratch;
#[path = "support/sshd.rs"]
mod sshd;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scratch::Scratch;
use sshd::Sshd;

/// A scratch folder with `remote/` (the host's side) and `here/`, where galley runs.
fn scratch() -> Scratch {
    Scratch::new("galley-fetch-", &["remote", "here"]).working_in("here")
}

/// `n` bytes that are not all alike (a copy that drops or repeats a block shows).
fn payload(n: usize) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state & 0xff) as u8
        })
        .collect()
}

fn temp_copies(dir: &Path) -> Vec<(PathBuf, u64)> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".galley-fetch-")
        })
        .map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
        .collect()
}

fn recipe(s: &Scratch, src: &Path, dest: &str) -> String {
    s.file(
        "f.rhai",
        &format!(
            "on(\"box\", || fetch(\"{}\", \"{dest}\"));\n",
            src.display()
        ),
    )
}

#[test]
fn a_file_over_the_read_limit_arrives_whole_private_and_only_when_it_differs() {
    let sshd = Sshd::start();
    let s = scratch();
    let inv = s.file("inv.toml", &sshd.host_toml("box", "root"));
    let src = s.path("remote").join("snapshot.db");
    let data = payload(40_000_000);
    fs::write(&src, &data).unwrap();
    let r = recipe(&s, &src, "backups/{host}-snapshot.db");
    let copy = s.path("here").join("backups/box-snapshot.db");

    let (code, out) = s.run(&["plan", &r, "-i", &inv]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("fetch"), "{out}");
    assert!(!copy.exists(), "the plan wrote the copy");

    let (code, out) = s.run(&["run", &r, "-i", &inv]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("changed=1"), "{out}");
    assert!(
        fs::read(&copy).unwrap() == data,
        "the copy differs from the host's file"
    );
    let mode = fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(temp_copies(&s.path("here/backups")).is_empty());

    let (code, out) = s.run(&["run", &r, "-i", &inv]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("changed=0"), "the rerun fetched again: {out}");

    fs::write(&copy, b"stale").unwrap();
    let (code, out) = s.run(&["run", &r, "-i", &inv]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("changed=1"), "{out}");
    assert!(fs::read(&copy).unwrap() == data);
}

#[test]
fn a_copy_cut_off_midway_leaves_the_old_file_and_no_temp_file() {
    let sshd = Sshd::start();
    let s = scratch();
    let inv = s.file("inv.toml", &sshd.host_toml("box", "root"));
    let src = s.path("remote").join("big.db");
    // Big enough that the copy is seen under way on this machine's loopback.
    let block = payload(1_000_000);
    let mut f = fs::File::create(&src).unwrap();
    for _ in 0..400 {
        std::io::Write::write_all(&mut f, &block).unwrap();
    }
    drop(f);
    let r = recipe(&s, &src, "big.db");
    let copy = s.path("here").join("big.db");
    for round in 0..2 {
        fs::write(&copy, b"old content\n").unwrap();
        let child = s
            .galley(&["run", &r, "-i", &inv])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The remote side is this machine: once part of the copy has arrived, its `cat` dies.
        let until = Instant::now() + Duration::from_secs(120);
        loop {
            let partial = temp_copies(&s.path("here"))
                .iter()
                .any(|(_, n)| *n > 0 && *n < 400_000_000);
            if partial {
                break;
            }
            assert!(
                Instant::now() < until,
                "round {round}: the copy was never seen under way"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        let killed = Command::new("pkill")
            .args(["-KILL", "-f", &format!("cat -- {}", src.display())])
            .status()
            .unwrap();
        assert!(killed.success(), "round {round}: no remote cat to kill");
        let out = child.wait_with_output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "round {round}: {said}");
        assert!(said.contains("big.db"), "{said}");
        assert_eq!(fs::read(&copy).unwrap(), b"old content\n", "round {round}");
        assert!(
            temp_copies(&s.path("here")).is_empty(),
            "round {round}: a temp file was left"
        );
    }
}

#[test]
fn a_missing_file_is_an_error_that_names_it_and_writes_nothing() {
    let sshd = Sshd::start();
    let s = scratch();
    let inv = s.file("inv.toml", &sshd.host_toml("box", "root"));
    let src = s.path("remote").join("absent.db");
    let r = recipe(&s, &src, "absent.db");
    let (code, out) = s.run(&["run", &r, "-i", &inv]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "{} does not exist on box: nothing to fetch",
            src.display()
        )),
        "{out}"
    );
    assert!(!s.path("here/absent.db").exists());
    // A folder is not a file, and a destination that names no file is the recipe's mistake.
    let r = recipe(&s, &s.path("remote"), "x");
    let (code, out) = s.run(&["run", &r, "-i", &inv]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("is a directory: fetch copies one file"),
        "{out}"
    );
    let r = recipe(&s, &src, "backups/");
    let (code, out) = s.run(&["run", &r, "-i", &inv]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("must name a file on this machine"), "{out}");
}

#[test]
fn a_symlink_at_dest_is_replaced_not_followed() {
    let sshd = Sshd::start();
    let s = scratch();
    let inv = s.file("inv.toml", &sshd.host_toml("box", "root"));
    let src = s.path("remote").join("kubeconfig");
    fs::write(&src, "from the host\n").unwrap();
    let elsewhere = s.path("elsewhere");
    fs::write(&elsewhere, "not to be touched\n").unwrap();
    std::os::unix::fs::symlink(&elsewhere, s.path("here/admin.conf")).unwrap();
    let r = recipe(&s, &src, "admin.conf");
    let (code, out) = s.run(&["run", &r, "-i", &inv]);
    assert_eq!(code, 0, "{out}");
    let dest = s.path("here/admin.conf");
    assert!(!fs::symlink_metadata(&dest)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_to_string(&dest).unwrap(), "from the host\n");
    assert_eq!(
        fs::read_to_string(&elsewhere).unwrap(),
        "not to be touched\n"
    );
}
