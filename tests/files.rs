//! `write_file`, `line_in_file` and `read_file` on real local files: backups that keep every
//! original and its mode, lines kept byte for byte (Latin-1, CRLF), a multi-line `line`
//! refused, and reads bounded before they start.

mod prim;

use std::fs;
use std::os::unix::fs::PermissionsExt;

fn mode(p: &std::path::Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn backups(dir: &std::path::Path, name: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with(&format!("{name}.")) && n.ends_with(".bak")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn backups_in_one_second_keep_every_original_with_its_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let key = dir.join("key.pem");
    fs::write(&key, "v1\n").unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let recipe = format!(
        "for v in [\"v2\", \"v3\", \"v4\"] {{ write_file(\"{}\", v + \"\\n\", #{{ backup: true }}); }}\n",
        key.display()
    );
    prim::apply(dir, &recipe).code(0);
    assert_eq!(fs::read_to_string(&key).unwrap(), "v4\n");
    let b = backups(dir, "key.pem");
    let mut kept: Vec<String> = b.iter().map(|p| fs::read_to_string(p).unwrap()).collect();
    kept.sort();
    assert_eq!(kept, vec!["v1\n", "v2\n", "v3\n"], "backups: {b:?}");
    for p in &b {
        assert_eq!(
            mode(p),
            0o600,
            "{} is not 0600 like the original",
            p.display()
        );
    }
}

#[test]
fn line_in_file_keeps_bytes_and_line_endings() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let f = dir.join("app.ini");
    fs::write(&f, b"name=caf\xe9\r\nkey=old\r\n").unwrap();
    let recipe = format!(
        "line_in_file(\"{p}\", \"key=new\", #{{ regex: \"^key=\" }});\nline_in_file(\"{p}\", \"extra=1\");\n",
        p = f.display()
    );
    prim::apply(dir, &recipe).code(0);
    assert_eq!(
        fs::read(&f).unwrap(),
        b"name=caf\xe9\r\nkey=new\r\nextra=1\r\n".to_vec()
    );
    let r = prim::apply(dir, &recipe);
    r.code(0);
    assert_eq!(
        r.statuses(),
        vec![
            ("line_in_file".into(), "ok".into()),
            ("line_in_file".into(), "ok".into())
        ]
    );
}

#[test]
fn line_in_file_refuses_a_multi_line_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let f = dir.join("f");
    fs::write(&f, "a\n").unwrap();
    let recipe = format!("line_in_file(\"{}\", \"b\\nc\");\n", f.display());
    prim::apply(dir, &recipe)
        .code(2)
        .has("contains a line break")
        .has("call it once per line");
    assert_eq!(fs::read_to_string(&f).unwrap(), "a\n");
}

#[test]
fn read_file_refuses_a_file_over_the_limit_before_reading_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let big = dir.join("big");
    fs::File::create(&big)
        .unwrap()
        .set_len(300 * 1024 * 1024)
        .unwrap();
    let recipe = format!("let s = read_file(\"{}\");\n", big.display());
    let before = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .unwrap()
        .max_rss();
    prim::apply(dir, &recipe)
        .code(1)
        .has("the file is 300.0 MiB; galley reads files of up to 32 MiB");
    let peak_kib = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .unwrap()
        .max_rss();
    assert!(
        peak_kib.max(before) < 100 * 1024,
        "refusing a 300 MiB file peaked at {peak_kib} KiB"
    );
}
