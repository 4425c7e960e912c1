//! A forked recipe runs as it is: `galley fork kubeadm ./x && galley run ./x/kubeadm.rhai --plan`,
//! with the stdlib from the binary or, with --with-stdlib, from the copies beside it.

mod common;

use common::Test;

#[test]
fn forked_kubeadm_plans_unchanged() {
    let t = Test::new().args(&["fork", "kubeadm", "x"]);
    t.run().code(0).stdout_has("wrote x/kubeadm.rhai");
    let (dir, _) = t.keep();
    let bundled = common::Test::new()
        .args(&["plan", "kubeadm", "--output", "json"])
        .run();
    bundled.code(0);
    let forked = std::process::Command::new(common::galley_bin())
        .args(["run", "x/kubeadm.rhai", "--plan", "--output", "json"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&forked.stdout);
    assert_eq!(
        forked.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&forked.stderr)
    );
    assert_eq!(
        summaries(&stdout),
        summaries(&bundled.stdout),
        "the fork plans the same steps"
    );
}

#[test]
fn forked_stdlib_copies_are_the_ones_used() {
    let t = Test::new().args(&["fork", "kind", "k", "--with-stdlib"]);
    let ran = t.run();
    ran.code(0)
        .stdout_has("wrote k/kind.rhai")
        .stdout_has("wrote k/runtimes/docker.rhai")
        .stdout_has("wrote k/versions.rhai");
    let (dir, _) = t.keep();
    // Change the fork's copy of the docker module: the plan must show the change.
    let module = dir.path().join("k/runtimes/docker.rhai");
    let text = std::fs::read_to_string(&module).unwrap();
    std::fs::write(
        &module,
        text.replace("\"max-size\": \"100m\"", "\"max-size\": \"20m\""),
    )
    .unwrap();
    let out = std::process::Command::new(common::galley_bin())
        .args([
            "run",
            "k/kind.rhai",
            "--plan",
            "--diff",
            "--profile",
            "debian12",
        ])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("+    \"max-size\": \"20m\""), "{stdout}");
}

/// The action summaries of a JSON event stream, in order.
fn summaries(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "action")
        .map(|e| format!("{} {}", e["primitive"], e["summary"]))
        .collect()
}
