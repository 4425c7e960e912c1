//! Replays the committed fuzz corpora (fuzz/corpus/<target>/*) through the same target bodies the
//! libFuzzer binaries run, so every test run proves that no input found so far panics.

#[path = "../fuzz/targets.rs"]
mod targets;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        if std::panic::catch_unwind(|| f(&data)).is_err() {
            panic!("{target}: input {} panics", path.display());
        }
        n += 1;
    }
    assert!(n > 0, "empty corpus for {target}");
}

#[test]
fn recipe_corpus() {
    replay("recipe", targets::recipe);
}

#[test]
fn set_arg_corpus() {
    replay("set_arg", targets::set_arg);
}

#[test]
fn facts_corpus() {
    replay("facts", targets::facts);
}

#[test]
fn quoting_corpus() {
    replay("quoting", targets::quoting);
}

#[test]
fn inventory_corpus() {
    replay("inventory", targets::inventory);
}

#[test]
fn remote_quoting_corpus() {
    replay("remote_quoting", targets::remote_quoting);
}

#[test]
fn glob_corpus() {
    replay("glob", targets::glob);
}
