//! `template()`: a file beside the recipe rendered with the recipe's values, written like any
//! other content; refused outside the recipe's folder and for a placeholder it was not given.

mod common;

use common::Test;

#[test]
fn a_file_beside_the_recipe_is_rendered_and_written() {
    let keep = tempfile::tempdir().unwrap();
    let out = keep.path().join("haproxy.cfg");
    let recipe = format!(
        "write_file(\"{}\", template(\"conf/haproxy.cfg\", #{{ port: 6443, name: \"api\" }}));\n",
        out.display()
    );
    let r = Test::new()
        .file(
            "conf/haproxy.cfg",
            "frontend ${name}\n  bind *:${port}\n  # $${literal}\n",
        )
        .file("r.rhai", &recipe)
        .args(&["run", "r.rhai"])
        .run();
    r.code(0);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "frontend api\n  bind *:6443\n  # ${literal}\n"
    );
}

#[test]
fn a_missing_value_names_the_file_and_line() {
    let r = Test::new()
        .file("t.conf", "a\nport ${port}\n")
        .file(
            "r.rhai",
            "let x = template(\"t.conf\", #{ name: \"api\" });\n",
        )
        .args(&["plan", "r.rhai"])
        .run();
    r.code(2)
        .stderr_has("template(\"t.conf\"): ")
        .stderr_has("t.conf:2: `${port}` is not among the values given (name)");
}

#[test]
fn paths_outside_the_recipe_folder_are_refused() {
    for path in ["../etc/passwd", "/etc/passwd"] {
        let r = Test::new()
            .file("r.rhai", &format!("let x = template(\"{path}\", #{{}});\n"))
            .args(&["plan", "r.rhai"])
            .run();
        r.code(2).stderr_has(
            "give a path inside the recipe's folder (no absolute path, no `.` or `..`)",
        );
    }
}

#[test]
fn a_symlink_out_of_the_recipe_folder_is_refused_as_imports_are() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.conf"), "x = ${x}\n").unwrap();
    let t = Test::new().file("r.rhai", "let x = template(\"link.conf\", #{ x: 1 });\n");
    std::os::unix::fs::symlink(
        outside.path().join("secret.conf"),
        t.path().join("link.conf"),
    )
    .unwrap();
    t.args(&["plan", "r.rhai"])
        .run()
        .code(2)
        .stderr_has("it is a symlink that leads outside the recipe's folder");
}
