//! No page names a file the project does not ship (issue 18, item 11). The docs had pointed at
//! a `DESIGN.md` and a `STEPS.md` that are not in the repository and at `src/engine/params.rs`
//! after the code had moved to `src/primitives/params.rs`; a reader who follows such a name finds
//! nothing, and nothing else notices when a file is moved. So every repo-relative path that
//! README.md and docs/*.md name, backticked or plain, must exist: paths under the project's top
//! folders (`src/`, `tests/`, `docs/`, ...), top-level files named in capitals (`README.md`),
//! and the targets of relative Markdown links. A `:line` suffix, a `#anchor` and trailing
//! punctuation are not part of a path; a name with a glob or placeholder in it
//! (`tests/operations/<name>/*.json`) stands for many files and is left out.

mod common;

use std::path::Path;

/// The folders a repo-relative path in the docs starts with.
const TOP: &[&str] = &[
    "src", "tests", "docs", "recipes", "stdlib", "testbed", "scripts", "examples", "benches", ".ci",
];

/// `(line, path)` for every repo-relative path `text` names: under one of `TOP` or a top-level
/// file in capitals, as written from the repository's root; and, marked with a leading `./`,
/// a relative link target, as written from the page's own folder.
fn named_paths(text: &str) -> Vec<(usize, String)> {
    let top = TOP
        .iter()
        .map(|t| regex::escape(t))
        .collect::<Vec<_>>()
        .join("|");
    // Not inside a longer word or path (a URL's `/src/`, `primitives/src/`, `$HOME/tests/`).
    let under = regex::Regex::new(&format!(
        r#"(?:^|[^\w\-./~$@:])((?:{top})/[^\s`"'(),;|\[\]]*)"#
    ))
    .unwrap();
    let capitals = regex::Regex::new(r"(?:^|[^\w\-./])([A-Z][A-Z0-9_]*\.md)\b").unwrap();
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for c in under.captures_iter(line) {
            let p = c[1].split(['#', ':']).next().unwrap();
            let p = p.trim_end_matches(['.', ',', ';', '!', '?']);
            let placeholder = p.contains(['*', '<', '>', '{', '}', '…', '$']);
            if !placeholder {
                out.push((n + 1, p.to_string()));
            }
        }
        for c in capitals.captures_iter(line) {
            out.push((n + 1, c[1].to_string()));
        }
        for c in link.captures_iter(line) {
            let target = c[1].split('#').next().unwrap();
            if !target.is_empty() && !target.contains("://") && !target.starts_with("mailto:") {
                out.push((n + 1, format!("./{target}")));
            }
        }
    }
    out
}

#[test]
fn every_path_the_readme_and_docs_name_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = common::doc_pages();
    let mut checked = 0;
    let mut missing = Vec::new();
    for f in &files {
        let name = f.strip_prefix(root).unwrap().display();
        for (line, p) in named_paths(&std::fs::read_to_string(f).unwrap()) {
            let at = match p.strip_prefix("./") {
                Some(rel) => f.parent().unwrap().join(rel),
                None => root.join(&p),
            };
            checked += 1;
            if !at.exists() {
                missing.push(format!("{name}:{line}: {p}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the docs name files the repository does not have:\n{}",
        missing.join("\n")
    );
    assert!(
        checked >= 100,
        "only {checked} paths found: is the scan looking?"
    );
}

#[test]
fn the_scan_reads_paths_as_written_and_leaves_out_placeholders() {
    let text = "See `src/primitives/params.rs:138`, src/cli/show.rs. and tests/params.rs#L5;\n\
                `tests/operations/<name>/*.json`, stdlib/{os,versions}.rhai, src/…\n\
                https://github.com/x/y/tree/main/src/z and a/src/b, `.ci/run`: DESIGN.md's layout\n\
                [the SSH page](ssh.md#agents), [rhai](https://rhai.rs), [up](#top)\n";
    let got: Vec<(usize, String)> = named_paths(text);
    let want = [
        (1, "src/primitives/params.rs"),
        (1, "src/cli/show.rs"),
        (1, "tests/params.rs"),
        (3, ".ci/run"),
        (3, "DESIGN.md"),
        (4, "./ssh.md"),
    ];
    let want: Vec<(usize, String)> = want.iter().map(|(n, p)| (*n, p.to_string())).collect();
    assert_eq!(got, want);
}
