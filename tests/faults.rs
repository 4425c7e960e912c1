//! Fault injection on real files and processes: a full disk during a write, SIGKILL in the middle
//! of writes, and a command printing a gigabyte. Needs root (for the tmpfs mount); without it the
//! test fails saying so rather than skipping.

mod common;
use common::Test;
use std::time::Duration;

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "tests/faults.rs needs root (it mounts a small tmpfs); run the suite as root"
    );
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".galley-"))
        .collect()
}

struct Mount(std::path::PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn disk_full_during_write_keeps_the_old_file_and_leaves_no_temp_file() {
    require_root();
    let t = Test::new();
    let mnt = t.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(ok.success(), "mount tmpfs failed");
    let _guard = Mount(mnt.clone());
    std::fs::write(mnt.join("app.conf"), "old\n").unwrap();
    let recipe = format!(
        "let big = \"x\";\nbig.pad(200000, \"y\");\nwrite_file(\"{}/app.conf\", big);\n",
        mnt.display()
    );
    // Keep the builder (and so the temp folder holding the mount) alive until the end.
    let t = t.file("w.rhai", &recipe).args(&["run", "w.rhai"]);
    let r = t.run();
    r.code(1).stderr_has("No space left on device");
    assert_eq!(
        std::fs::read_to_string(mnt.join("app.conf")).unwrap(),
        "old\n"
    );
    assert_eq!(leftovers(&mnt), Vec::<String>::new());
}

/// galley's temp files for `data` written by process `pid`, with their sizes.
fn temp_files_of(dir: &std::path::Path, pid: u32) -> Vec<(String, u64)> {
    let prefix = format!(".data.galley-{pid}-");
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .filter_map(|e| {
            Some((
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().ok()?.len(),
            ))
        })
        .collect()
}

#[test]
fn sigkill_mid_write_leaves_old_or_new_never_a_mix() {
    let t = Test::new();
    let dir = t.path().to_path_buf();
    let target = dir.join("data");
    let size = 4 * 1024 * 1024;
    std::fs::write(&target, "a".repeat(size)).unwrap();
    let recipe = format!(
        "let a = \"\"; a.pad({size}, \"a\");\nlet b = \"\"; b.pad({size}, \"b\");\nfor i in 0..1000 {{ write_file(\"{p}\", if i % 2 == 0 {{ b }} else {{ a }}); }}\n",
        p = target.display()
    );
    let t = t
        .file("k.rhai", &recipe)
        .args(&["run", "k.rhai", "--output", "json"]);
    // Each round kills galley once its temp file is seen; a round counts when that temp file is
    // still there after the kill: the kill landed inside the write, before the rename.
    let (mut landed, mut rounds) = (0, 0);
    while landed < 5 {
        rounds += 1;
        assert!(
            rounds <= 40,
            "only {landed} of {rounds} kills landed mid-write"
        );
        let mut child = t
            .command()
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let until = std::time::Instant::now() + Duration::from_secs(30);
        while temp_files_of(&dir, pid).is_empty() {
            assert!(
                std::time::Instant::now() < until,
                "no temp file `.data.galley-{pid}-*` appeared"
            );
            std::thread::sleep(Duration::from_micros(100));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let left = temp_files_of(&dir, pid);
        let data = std::fs::read(&target).unwrap();
        assert_eq!(
            data.len(),
            size,
            "truncated file after SIGKILL (round {rounds})"
        );
        let first = data[0];
        assert!(
            data.iter().all(|&b| b == first),
            "mixed content after SIGKILL (round {rounds})"
        );
        if !left.is_empty() {
            landed += 1;
            eprintln!("round {rounds}: killed mid-write, temp file left: {left:?}");
        }
    }
    assert!(!leftovers(&dir).is_empty());
    // The next write to the same file removes the temp files whose writer is gone.
    let again = format!("write_file(\"{}\", \"done\\n\");\n", target.display());
    std::fs::write(dir.join("again.rhai"), again).unwrap();
    let out = std::process::Command::new(common::galley_bin())
        .args(["run", "again.rhai"])
        .current_dir(&dir)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "done\n");
    assert_eq!(leftovers(&dir), Vec::<String>::new());
    drop(t);
}

#[test]
fn a_gigabyte_of_output_keeps_memory_bounded() {
    let recipe = "let r = run([\"head\", \"-c\", \"1073741824\", \"/dev/zero\"]);\nprint(`kept ${r.stdout.len()}`);\n";
    let t = Test::new().file("g.rhai", recipe).args(&["run", "g.rhai"]);
    let before = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .unwrap()
        .max_rss();
    let r = t.run();
    r.code(0).stdout_has("kept ");
    let peak_kib = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .unwrap()
        .max_rss();
    assert!(peak_kib.max(before) < 200 * 1024, "peak RSS {peak_kib} KiB");
    eprintln!("peak RSS with 1 GiB of output: {peak_kib} KiB");
}
