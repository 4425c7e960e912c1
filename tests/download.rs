//! `download` from an HTTP server on loopback: checksum match, a second run that is `ok` without
//! fetching again, a mismatch that fails and leaves no file, HTTP errors; and `extract` of a real
//! tarball with its `ok` second run.

mod prim;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn payload() -> Vec<u8> {
    (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect()
}

#[test]
fn download_verifies_skips_and_refuses_mismatch() {
    let body = payload();
    let sum = prim::sha256sum(&body);
    let fetched = Arc::new(AtomicUsize::new(0));
    let count = fetched.clone();
    let served = body.clone();
    let server = prim::HttpServer::start(move |path, _| match path {
        "/kubectl" => {
            count.fetch_add(1, Ordering::SeqCst);
            (200, served.clone())
        }
        _ => (404, b"no".to_vec()),
    });
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let dest = dir.join("bin/kubectl");
    let dest_s = dest.display().to_string();
    let url = server.url("/kubectl");
    let good = format!(r#"download("{url}", "{dest_s}", #{{ sha256: "{sum}", mode: "0755" }});"#);

    let r = prim::apply(dir, &good);
    r.code(0).has(&sum);
    assert_eq!(r.statuses(), vec![("download".into(), "changed".into())]);
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(fetched.load(Ordering::SeqCst), 1);

    // Second run: the file has the checksum, nothing is fetched.
    let r = prim::apply(dir, &good);
    r.code(0);
    assert_eq!(r.statuses(), vec![("download".into(), "ok".into())]);
    assert_eq!(fetched.load(Ordering::SeqCst), 1);

    // A wrong checksum: fails, names both sums, and leaves neither the file nor a temp file.
    let other = dir.join("other");
    let bad_sum = "0".repeat(64);
    let bad = format!(
        r#"download("{url}", "{}", #{{ sha256: "{bad_sum}" }});"#,
        other.display()
    );
    let r = prim::apply(dir, &bad);
    r.code(1).has("checksum mismatch").has(&bad_sum).has(&sum);
    assert!(!other.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".galley-download-")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A changed file with the wanted checksum given is fetched again.
    std::fs::write(&dest, b"tampered").unwrap();
    let r = prim::apply(dir, &good);
    r.code(0);
    assert_eq!(r.statuses(), vec![("download".into(), "changed".into())]);
    assert_eq!(std::fs::read(&dest).unwrap(), body);

    // HTTP errors name the status.
    let missing = format!(
        r#"download("{}", "{}/x");"#,
        server.url("/nope"),
        dir.display()
    );
    prim::apply(dir, &missing).code(1).has("HTTP 404");
}

#[test]
fn download_in_plan_predicts_and_contacts_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let sum = "a".repeat(64);
    let recipe = format!(
        r#"download("http://127.0.0.1:9/kubectl", "/usr/local/bin/kubectl", #{{ sha256: "{sum}", mode: "0755" }});
download("http://127.0.0.1:9/kubectl", "/usr/local/bin/kubectl", #{{ sha256: "{sum}", mode: "0755" }});
if !file_exists("/usr/local/bin/kubectl") {{ fail("not predicted") }}
"#
    );
    for profile in ["centos7", "rocky9", "ubuntu22.04", "debian12"] {
        let r = prim::plan(tmp.path(), &recipe, profile);
        r.code(0);
        assert_eq!(
            r.statuses(),
            vec![
                ("download".into(), "changed".into()),
                ("download".into(), "ok".into())
            ],
            "{profile}"
        );
    }
}

#[test]
fn extract_unpacks_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("src/kubernetes/server/bin")).unwrap();
    std::fs::write(dir.join("src/kubernetes/server/bin/kubectl"), "#!/bin/sh\n").unwrap();
    let tgz = dir.join("k.tar.gz");
    let st = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&tgz)
        .arg("-C")
        .arg(dir.join("src"))
        .arg("kubernetes")
        .status()
        .unwrap();
    assert!(st.success());
    let out = dir.join("out");
    let recipe = format!(r#"extract("{}", "{}");"#, tgz.display(), out.display());
    let r = prim::apply(dir, &recipe);
    r.code(0);
    assert_eq!(r.statuses(), vec![("extract".into(), "changed".into())]);
    assert!(out.join("kubernetes/server/bin/kubectl").is_file());
    let r = prim::apply(dir, &recipe);
    r.code(0);
    assert_eq!(r.statuses(), vec![("extract".into(), "ok".into())]);
    assert!(r.commands().is_empty());
    // creates guards too; a broken archive surfaces tar's message.
    let with_creates = format!(
        r#"extract("{}", "{}", #{{ creates: "{}/kubernetes" }});"#,
        tgz.display(),
        out.display(),
        out.display()
    );
    assert_eq!(
        prim::apply(dir, &with_creates).code(0).statuses()[0].1,
        "ok"
    );
    std::fs::write(dir.join("bad.tgz"), b"not a tarball").unwrap();
    let bad = format!(
        r#"extract("{}/bad.tgz", "{}/o2");"#,
        dir.display(),
        dir.display()
    );
    prim::apply(dir, &bad).code(1).has("tar");
}

#[test]
fn extract_refuses_to_write_through_a_symlink_planted_in_dest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let tar = |name: &str, src: &std::path::Path, entries: &[&str]| {
        let st = std::process::Command::new("tar")
            .arg("-cf")
            .arg(dir.join(name))
            .arg("-C")
            .arg(src)
            .args(entries)
            .status()
            .unwrap();
        assert!(st.success());
    };
    let outside = dir.join("outside");
    std::fs::create_dir(&outside).unwrap();
    // First archive: a symlink `evil` pointing out of dest.
    let one = dir.join("one");
    std::fs::create_dir(&one).unwrap();
    std::os::unix::fs::symlink(&outside, one.join("evil")).unwrap();
    tar("one.tar", &one, &["evil"]);
    // Second archive: a file written through `evil/`, plus a new top-level entry so the
    // extraction is not skipped as already done.
    let two = dir.join("two");
    std::fs::create_dir_all(two.join("evil")).unwrap();
    std::fs::write(two.join("evil/pwned"), "owned\n").unwrap();
    std::fs::write(two.join("new.txt"), "new\n").unwrap();
    tar("two.tar", &two, &["evil/pwned", "new.txt"]);
    let dest = dir.join("dest");
    let recipe = format!(
        "extract(\"{d}/one.tar\", \"{dest}\");\nextract(\"{d}/two.tar\", \"{dest}\");\n",
        d = dir.display(),
        dest = dest.display()
    );
    let r = prim::apply(dir, &recipe);
    r.code(1)
        .has(&format!("{}/evil is a symbolic link", dest.display()))
        .has("writes evil/pwned through it");
    assert!(
        !outside.join("pwned").exists(),
        "extract wrote outside dest through a planted symlink"
    );
    assert!(!dest.join("new.txt").exists(), "nothing is extracted");
    // A symlink the archive itself names (not written through) is fine, again and again.
    let recipe = format!(
        "extract(\"{d}/one.tar\", \"{d}/d2\", #{{ creates: \"{d}/never\" }});\n",
        d = dir.display()
    );
    prim::apply(dir, &recipe).code(0);
    prim::apply(dir, &recipe).code(0);
}
