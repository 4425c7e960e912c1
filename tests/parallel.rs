//! Parallel `on(...)` through the library with several local hosts: real processes run at once,
//! values come back in host order, failures are collected per host, batches stop early, and each
//! host's closure gets its own copy of captured values.

use std::time::{Duration, Instant};

use galley::engine::Mode;
use galley::inventory::{HostEntry, Inventory};
use galley::report::Format;
use galley::runner::{execute, RunOptions};

fn inventory(n: usize) -> Inventory {
    let hosts: Vec<HostEntry> = (1..=n)
        .map(|i| HostEntry {
            name: format!("h{i}"),
            groups: vec!["workers".into()],
            ..Default::default()
        })
        .collect();
    let mut inv = Inventory {
        groups: Default::default(),
        hosts,
    };
    inv.groups.insert(
        "workers".into(),
        inv.hosts.iter().map(|h| h.name.clone()).collect(),
    );
    inv
}

fn run(recipe: &str, hosts: usize, forks: usize) -> (i32, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.rhai");
    std::fs::write(&path, recipe).unwrap();
    let opts = RunOptions {
        recipe: path.display().to_string(),
        mode: Mode::Apply,
        format: Format::Json,
        inventory: Some(inventory(hosts)),
        forks,
        ..Default::default()
    };
    let start = Instant::now();
    let code = execute(&opts).exit_code;
    (code, start.elapsed())
}

/// The most hosts whose two-second steps were running at the same moment, from the start and
/// end times each host's step wrote (the hosts share the machine's clock). Concurrency is judged
/// by overlap, not by a wall-clock bound a loaded machine could break.
fn most_at_once(dir: &std::path::Path, hosts: usize) -> usize {
    let spans: Vec<(u128, u128)> = (1..=hosts)
        .map(|i| {
            let t = std::fs::read_to_string(dir.join(format!("h{i}"))).unwrap();
            let w: Vec<u128> = t.split_whitespace().map(|x| x.parse().unwrap()).collect();
            (w[0], w[1])
        })
        .collect();
    spans
        .iter()
        .map(|(s, _)| spans.iter().filter(|(a, b)| a <= s && s < b).count())
        .max()
        .unwrap()
}

fn timed_step(dir: &std::path::Path) -> String {
    format!(
        r#"run(["sh", "-c", "s=$(date +%s%N); sleep 2; echo $s $(date +%s%N) > {}/$0", h])"#,
        dir.display()
    )
}

#[test]
fn eight_hosts_sleep_in_parallel_and_values_keep_host_order() {
    let spans = tempfile::tempdir().unwrap();
    let recipe = format!(
        r#"let v = on("workers", |h| {{ {}; h }});
if v != ["h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8"] {{ fail(`order: ${{v}}`); }}"#,
        timed_step(spans.path())
    );
    let (code, _) = run(&recipe, 8, 10);
    assert_eq!(code, 0);
    assert_eq!(most_at_once(spans.path(), 8), 8, "all eight hosts at once");
}

#[test]
fn forks_limit_concurrency() {
    let spans = tempfile::tempdir().unwrap();
    let recipe = format!(r#"on("all", |h| {});"#, timed_step(spans.path()));
    let (code, _) = run(&recipe, 4, 2);
    assert_eq!(code, 0);
    assert_eq!(
        most_at_once(spans.path(), 4),
        2,
        "two at a time, as forks says"
    );
}

#[test]
fn one_failing_host_lets_the_others_finish_then_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = format!(
        r#"on("all", |h| {{
    if h == "h2" {{ run(["false"]); }}
    run(["sleep", "0.3"]);
    run(["touch", "{d}/" + h]);
}});
run(["touch", "{d}/after"]);"#,
        d = dir.path().display()
    );
    let (code, _) = run(&recipe, 3, 10);
    assert_eq!(code, 1);
    assert!(dir.path().join("h1").exists() && dir.path().join("h3").exists());
    assert!(!dir.path().join("h2").exists() && !dir.path().join("after").exists());
}

#[test]
fn try_on_returns_per_host_records() {
    let recipe = r#"let r = try_on("all", |h| { if h == "h2" { fail("nope"); } h + "!" });
if r[0].ok != true || r[0].value != "h1!" { fail(`h1: ${r[0]}`); }
if r[1].ok != false || !r[1].error.contains("nope") { fail(`h2: ${r[1]}`); }
if r[2].value != "h3!" { fail(`h3: ${r[2]}`); }"#;
    assert_eq!(run(recipe, 3, 10).0, 0);
}

#[test]
fn batches_stop_before_the_next_batch_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = format!(
        r#"on("all", #{{ batch: 2 }}, |h| {{ if h == "h1" {{ fail("bad"); }} run(["touch", "{d}/" + h]); }});"#,
        d = dir.path().display()
    );
    assert_eq!(run(&recipe, 4, 10).0, 1);
    assert!(dir.path().join("h2").exists());
    assert!(!dir.path().join("h3").exists() && !dir.path().join("h4").exists());
}

#[test]
fn captured_values_are_copied_per_host_without_data_races() {
    let recipe = r#"let acc = [];
let counts = on("all", |h| { for i in 0..200 { acc.push(i); } acc.len() });
for c in counts { if c != 200 { fail(`a host saw ${c}`); } }
if acc.len() != 0 { fail("the caller's array changed"); }"#;
    for _ in 0..5 {
        assert_eq!(run(recipe, 20, 20).0, 0);
    }
}

#[test]
fn on_one_returns_a_value_and_top_level_needs_a_host() {
    assert_eq!(
        run(
            r#"let x = on_one("h2", || host().name); if x != "h2" { fail(x); }"#,
            3,
            10
        )
        .0,
        0
    );
    assert_eq!(run(r#"run(["true"]);"#, 3, 10).0, 2);
}
