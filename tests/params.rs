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
