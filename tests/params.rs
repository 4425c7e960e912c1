//! Parameters as an operator meets them: `galley show` prints each one's description (the
//! comment beside it, or above it, in the recipe), and `--set` reads arrays and maps as JSON.

mod common;

use common::Test;

const RECIPE: &str = r#"//! Demo of parameters.
let p = params(#{
    version: "1.31",          // the release to install, e.g. "1.31"
    mirror: "https://x.example/repo", // where packages come from
    // hosts that also get the client,
    // as a list
    clients: [],
    labels: #{},              // node labels, as a map
    replicas: 3,
});
info(`clients ${p.clients} (${type_of(p.clients)}) labels ${p.labels} (${type_of(p.labels)})`);
"#;

#[test]
fn show_prints_each_parameters_description() {
    let ran = Test::new()
        .file("d.rhai", RECIPE)
        .args(&["show", "./d.rhai"])
        .run();
    ran.code(0);
    assert_eq!(
        ran.stdout,
        r#"Demo of parameters.

parameters (--set key=value; arrays and maps as JSON, e.g. --set key='["a"]'):
  clients   []                        hosts that also get the client, as a list
  labels    #{}                       node labels, as a map
  mirror    "https://x.example/repo"  where packages come from
  replicas  3
  version   "1.31"                    the release to install, e.g. "1.31"

imports: (none)
"#
    );
}

#[test]
fn set_reads_arrays_and_maps_as_json() {
    let ran = Test::new()
        .file("d.rhai", RECIPE)
        .args(&[
            "plan",
            "./d.rhai",
            "--set",
            r#"clients=["a", "b c", 3]"#,
            "--set",
            r#"labels={"tier": "db", "zone": 2}"#,
        ])
        .run();
    ran.code(0);
    ran.stdout_has(
        r#"    info local clients ["a", "b c", 3] (array) labels #{"tier": "db", "zone": 2} (map)"#,
    );
    // The comma-separated form still works for arrays.
    Test::new()
        .file("d.rhai", RECIPE)
        .args(&["plan", "./d.rhai", "--set", "clients=a,b"])
        .run()
        .code(0)
        .stdout_has(r#"clients ["a", "b"] (array)"#);
}

#[test]
fn a_map_parameter_refuses_what_is_not_a_json_object() {
    let ran = Test::new()
        .file("d.rhai", RECIPE)
        .args(&["plan", "./d.rhai", "--set", "labels=tier=db"])
        .run();
    ran.code(2);
    assert!(
        ran.stderr.starts_with(
            "error: --set labels=tier=db: `labels` expects a JSON object like {\"key\": \"value\"} (its default is #{})"
        ),
        "{}",
        ran.stderr
    );
    let ran = Test::new()
        .file("d.rhai", RECIPE)
        .args(&["plan", "./d.rhai", "--set", "clients=[a, b"])
        .run();
    ran.code(2);
    ran.stderr_has(
        "`clients` expects a JSON array like [\"a\", 2] or a comma-separated list like a,b",
    );
}

/// The parameters `galley show` prints without a description, from its output: each line of the
/// `parameters` section is `  name  default  description`, the default as Rhai shows it (a
/// string quoted, an array or map bracketed), so what follows the default is the description.
fn undescribed(show: &str) -> Vec<String> {
    let mut out = Vec::new();
    let section = show
        .lines()
        .skip_while(|l| !l.starts_with("parameters ("))
        .skip(1)
        .take_while(|l| !l.is_empty());
    for line in section {
        let line = line.trim_start();
        if line == "(none)" {
            continue;
        }
        let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim_start();
        if !rest[default_len(rest)..].trim().is_empty() {
            continue;
        }
        out.push(name.to_string());
    }
    out
}

/// How many bytes of `s` its leading default value takes.
fn default_len(s: &str) -> usize {
    let (mut depth, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => {
                quoted = !quoted;
                if !quoted && depth == 0 {
                    return i + 1;
                }
            }
            _ if quoted => {}
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            ' ' if depth == 0 => return i,
            _ => {}
        }
    }
    s.len()
}

/// Every parameter of every bundled recipe (as `galley list` names them) has a description in
/// `galley show`: the comment beside it in the recipe is the only help an operator gets.
#[test]
fn every_bundled_recipes_parameters_are_described() {
    // The check itself finds a parameter without one (`replicas` in the demo recipe).
    let demo = Test::new()
        .file("d.rhai", RECIPE)
        .args(&["show", "./d.rhai"])
        .run();
    demo.code(0);
    assert_eq!(undescribed(&demo.stdout), ["replicas"]);

    let list = Test::new().args(&["list"]).run();
    list.code(0);
    let recipes: Vec<String> = list
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("bundled recipes:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in std::fs::read_dir(root.join("recipes")).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|e| e == "rhai") {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                recipes.contains(&name),
                "`galley list` lacks {name}: {recipes:?}"
            );
        }
    }
    let mut missing = Vec::new();
    for r in &recipes {
        let shown = Test::new().args(&["show", r]).run();
        shown.code(0);
        assert!(
            shown.stdout.contains("\nparameters ("),
            "galley show {r}:\n{}",
            shown.stdout
        );
        for name in undescribed(&shown.stdout) {
            missing.push(format!("{r}: {name}"));
        }
    }
    assert!(
        missing.is_empty(),
        "parameters without a description (a `// comment` beside them in params(#{{...}})):\n{}",
        missing.join("\n")
    );
}
