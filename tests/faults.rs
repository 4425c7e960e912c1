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

#[test]
fn sigkill_mid_write_leaves_old_or_new_never_a_mix() {
    let t = Test::new();
    let target = t.path().join("data");
    let size = 4 * 1024 * 1024;
    std::fs::write(&target, "a".repeat(size)).unwrap();
    let recipe = format!(
        "let a = \"\"; a.pad({size}, \"a\");\nlet b = \"\"; b.pad({size}, \"b\");\nfor i in 0..1000 {{ write_file(\"{p}\", if i % 2 == 0 {{ b }} else {{ a }}); }}\n",
        p = target.display()
    );
    let t = t
        .file("k.rhai", &recipe)
        .args(&["run", "k.rhai", "--output", "json"]);
    for delay_ms in [150u64, 260, 370, 480, 590] {
        let mut child = t
            .command()
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        let data = std::fs::read(&target).unwrap();
        assert_eq!(
            data.len(),
            size,
            "truncated file after SIGKILL at {delay_ms} ms"
        );
        let first = data[0];
        assert!(
            data.iter().all(|&b| b == first),
            "mixed content after SIGKILL at {delay_ms} ms"
        );
    }
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
