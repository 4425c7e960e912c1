//! The README's and docs' examples run, so they cannot drift: every `galley ...` line in a fenced
//! block that needs no host (no inventory, no `-H`, no apply) runs through the built binary, each
//! in a folder of its own, and must succeed. A line that names a forked folder (`./my-docker/...`)
//! gets that fork first. Left out, each for its reason: the REPL's lines (interactive; driven
//! through a pty by tests/repl.rs) and `--download` (it fetches from the upstream hosts).

mod common;

use std::path::Path;
use std::process::Command;

/// `(file:line, command)` for every host-free `galley` line in the fenced blocks of `text`.
fn examples(name: &str, text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let t = line.trim();
        if !fenced || !t.starts_with("galley ") {
            continue;
        }
        // Drop a trailing comment (two spaces or more, then `#` or prose as in repl.md's table).
        let cmd = t.split(" #").next().unwrap_or(t);
        let cmd = cmd.split("   ").next().unwrap_or(cmd).trim().to_string();
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let needs_a_host = words
            .iter()
            .any(|w| ["-i", "-H", "--inventory"].contains(w))
            || (words[1] == "run" && !words.contains(&"--plan"))
            || cmd.ends_with('\\');
        let left_out = words[1] == "repl" || words.contains(&"--download");
        if !needs_a_host && !left_out {
            out.push((format!("{name}:{}", n + 1), cmd));
        }
    }
    out
}

fn galley(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_galley"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn every_host_free_example_in_the_readme_and_docs_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = common::doc_pages();
    let mut ran = 0;
    let mut failed = Vec::new();
    for f in &files {
        let name = f.strip_prefix(root).unwrap().display().to_string();
        for (at, cmd) in examples(&name, &std::fs::read_to_string(f).unwrap()) {
            let dir = tempfile::tempdir().unwrap();
            // `> FILE` redirections write into the example's folder instead.
            let cmd_line = cmd.split(" > ").next().unwrap().to_string();
            let words: Vec<&str> = cmd_line.split_whitespace().skip(1).collect();
            for w in &words {
                if let Some(rest) = w.strip_prefix("./my-") {
                    if let Some((recipe, _)) = rest.split_once('/') {
                        let fork = galley(dir.path(), &["fork", recipe, &format!("./my-{recipe}")]);
                        assert!(fork.status.success(), "{at}: fork for `{cmd}`");
                    }
                }
            }
            let out = galley(dir.path(), &words);
            ran += 1;
            if !out.status.success() {
                failed.push(format!(
                    "{at}: `{cmd}` exited {:?}\n{}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert!(ran >= 12, "only {ran} examples found: is the scan looking?");
}

#[test]
fn the_scan_keeps_host_free_lines_and_leaves_out_the_rest() {
    let text = "```sh\ngalley plan docker        # a comment\ngalley run docker\ngalley plan kubeadm -i c.toml\ngalley run ./x.rhai --plan\ngalley repl --plan\n```\ngalley list\n";
    let got: Vec<String> = examples("t.md", text).into_iter().map(|e| e.1).collect();
    assert_eq!(
        got,
        vec!["galley plan docker", "galley run ./x.rhai --plan"]
    );
}

/// docs/primitives.md has a section for every function galley registers (as `galley defs`
/// writes them), so no primitive goes undocumented.
#[test]
fn every_primitive_has_a_section_in_docs_primitives() {
    let t = common::Test::new().args(&["defs", "d"]);
    t.run().code(0);
    let (dir, _) = t.keep();
    let defs = std::fs::read_to_string(dir.path().join("d/__static__.d.rhai")).unwrap();
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/primitives.md"),
    )
    .unwrap();
    let headings: Vec<&str> = docs.lines().filter(|l| l.starts_with("### ")).collect();
    // Methods and property accessors (`get rc`) of galley's value types, not primitives.
    let methods = ["get", "set", "to_string", "to_debug"];
    let mut names: Vec<&str> = defs
        .lines()
        .filter_map(|l| l.strip_prefix("fn "))
        .filter_map(|l| l.split('(').next())
        .filter(|n| !methods.contains(n) && !n.contains(' '))
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() > 40, "{names:?}");
    let missing: Vec<&&str> = names
        .iter()
        .filter(|n| !headings.iter().any(|h| h.contains(&format!("`{n}("))))
        .collect();
    assert!(missing.is_empty(), "not in docs/primitives.md: {missing:?}");
}
