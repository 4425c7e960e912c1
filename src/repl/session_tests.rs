//! Session behaviour without a terminal: persistence across inputs, mode switches, groups,
//! completion data and `:run`.

use super::*;
use crate::inventory::{HostEntry, Inventory};

fn session(mode: Mode) -> Session {
    Session::new(RunOptions {
        mode,
        forks: 1,
        ..Default::default()
    })
    .unwrap()
}

fn int(s: &Session, name: &str) -> rhai::INT {
    s.var(name).unwrap().as_int().unwrap()
}

#[test]
fn variables_functions_and_imports_persist_across_inputs() {
    let mut s = session(Mode::Plan);
    assert_eq!(s.eval("let x = 40;"), 0);
    assert_eq!(s.eval("fn add(a, b) {\n  a + b\n}"), 0);
    assert_eq!(s.eval("let y = add(x, 2);"), 0);
    assert_eq!(int(&s, "y"), 42);
    assert_eq!(s.eval("import \"os\" as os;"), 0);
    assert_eq!(s.eval("let rhel = os::is_rhel();"), 0);
    assert!(s.var("rhel").unwrap().as_bool().unwrap(), "rocky9 is RHEL");
    assert_eq!(s.eval("let z = nope + 1;"), 2);
    assert_eq!(s.eval("let z = add(y, 1);"), 0);
    assert_eq!(int(&s, "z"), 43);
}

#[test]
fn a_mode_switch_keeps_scope_functions_and_imports() {
    let mut s = session(Mode::Plan);
    s.eval("import \"os\" as os; fn twice(a) { a * 2 } let n = 21;");
    s.set_mode(Mode::Plan, Some("ubuntu22.04".into())).unwrap();
    assert_eq!(s.eval("let m = twice(n) + os::major_version();"), 0);
    assert_eq!(int(&s, "m"), 42 + 22);
    assert_eq!(s.segments.len(), 2);
}

#[test]
fn completion_sees_result_properties_and_map_keys() {
    let mut s = session(Mode::Plan);
    s.eval("let r = run([\"uname\", \"-r\"]); let f = facts();");
    let names = s.names();
    let n = names.read().unwrap();
    let props: Vec<&String> = n.vars["r"].0.keys().collect();
    for p in ["stdout", "stderr", "rc", "status", "changed"] {
        assert!(props.iter().any(|k| *k == p), "{p} in {props:?}");
    }
    assert!(n.vars["f"].0["os"].0.contains_key("family"));
    assert!(n.functions.contains("write_file"));
    assert!(
        n.functions.contains("parse_int"),
        "the language's functions too"
    );
    assert!(!n.functions.iter().any(|f| f.starts_with("get$")));
}

#[test]
fn a_group_runs_each_input_once_per_host() {
    let host = |name: &str| HostEntry {
        name: name.into(),
        groups: vec!["web".into()],
        ..Default::default()
    };
    let mut inv = Inventory {
        hosts: vec![host("a"), host("b")],
        ..Default::default()
    };
    inv.groups
        .insert("web".into(), vec!["a".into(), "b".into()]);
    let mut s = Session::new(RunOptions {
        mode: Mode::Plan,
        inventory: Some(inv),
        forks: 2,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(s.selection, Selection::Host("a".into()));
    assert_eq!(s.handle(":host web"), Flow::Continue(0));
    assert_eq!(s.prompt(), "galley(web[2], plan)> ");
    assert_eq!(s.eval("let who = host().name;"), 0);
    assert_eq!(s.var("who").unwrap().to_string(), "b");
    assert_eq!(s.scope.len(), 1, "one `who`, not one per host");
    let hosts: Vec<String> = s
        .reporter
        .actions()
        .iter()
        .map(|a| a.host.clone())
        .collect();
    assert!(hosts.is_empty(), "host() records no action: {hosts:?}");
    assert_eq!(s.eval("write_file(\"/tmp/x\", \"1\")"), 0);
    let hosts: Vec<String> = s
        .reporter
        .actions()
        .iter()
        .map(|a| a.host.clone())
        .collect();
    assert_eq!(hosts, ["a", "b"]);
    assert_eq!(s.handle(":host nowhere"), Flow::Continue(2));
}

#[test]
fn run_recipe_shares_the_session_hosts_and_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("r.rhai");
    std::fs::write(
        &recipe,
        "let p = params(#{ text: \"a\" });\nwrite_file(\"/etc/galley-test\", p.text);\n",
    )
    .unwrap();
    let mut s = session(Mode::Plan);
    let spec = recipe.to_string_lossy().to_string();
    assert_eq!(
        s.run_recipe(&spec, vec![("text".into(), "hello".into())]),
        0
    );
    assert_eq!(s.eval("let t = read_file(\"/etc/galley-test\");"), 0);
    assert_eq!(s.var("t").unwrap().to_string(), "hello");
    assert_eq!(s.run_recipe(&spec, vec![("nope".into(), "1".into())]), 2);
    assert_eq!(s.run_recipe("no-such-recipe", vec![]), 2);
}
