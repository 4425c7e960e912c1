//! The module graph points one way: the shape docs/architecture.md describes, kept by a test
//! instead of by review.

use std::collections::BTreeMap;
use std::path::Path;

/// Each module's layer: a module may use only modules of a lower layer.
const LAYERS: &[(&str, u32)] = &[
    ("glob", 0),
    ("embedded", 0),
    ("mode", 0),
    ("signatures", 0),
    ("memory", 0),
    ("recipe_folder", 0),
    ("inventory", 1),
    ("host", 2),
    ("report", 2),
    ("mirror", 2),
    ("error", 3),
    ("facts", 3),
    ("executor", 4),
    ("primitives", 5),
    ("engine", 6),
    ("runner", 7),
    ("repl", 8),
    ("cli", 9),
];

/// The top-level module a file under src/ belongs to.
fn module_of(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Code lines, without comments (a doc comment may name any module).
fn code(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.trim_start().starts_with("//"))
}

fn files() -> Vec<(String, std::path::PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    sources(&src, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap().to_path_buf();
            let text = std::fs::read_to_string(&p).unwrap();
            (module_of(&rel), rel, text)
        })
        .collect()
}

#[test]
fn no_module_uses_one_above_it() {
    let layer: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let re = regex::Regex::new(r"crate::([a-z_]+)").unwrap();
    let mut wrong = Vec::new();
    for (module, rel, text) in files() {
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(&mine) = layer.get(module.as_str()) else {
            panic!(
                "src/{} is in no layer: add its module to LAYERS",
                rel.display()
            );
        };
        for line in code(&text) {
            for c in re.captures_iter(line) {
                let used = &c[1];
                if used == module {
                    continue;
                }
                let theirs = *layer.get(used).unwrap_or_else(|| {
                    panic!("src/{}: crate::{used} is in no layer", rel.display())
                });
                if theirs >= mine {
                    wrong.push(format!(
                        "src/{}: {module} uses {used}: {}",
                        rel.display(),
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
}
#[test]
fn only_the_executor_the_cli_and_the_report_know_the_mode() {
    let allowed = ["executor", "report", "runner", "repl", "cli", "mode"];
    let re = regex::Regex::new(
        r"(^|[^:\w])Mode::|\bcall\.mode\(\)|\.mode\.predicts\(\)|\brun\.mode\b|\btarget\.mode\b",
    )
    .unwrap();
    let mut wrong = Vec::new();
    for (module, rel, text) in files() {
        if allowed.contains(&module.as_str()) {
            continue;
        }
        for line in code(&text) {
            if re.is_match(line) {
                wrong.push(format!("src/{}: {}", rel.display(), line.trim()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the mode outside the executor:\n{}",
        wrong.join("\n")
    );
}
