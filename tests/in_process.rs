//! A run's output goes to the sink its reporter is given, so a program (or a test) can run
//! recipes in-process: here the bundled docker recipe planned for two profiles at once, on two
//! threads, each into its own buffer, and each buffer equal, byte for byte, to what the binary
//! prints for the same plan.

mod common;

use std::sync::Arc;

use galley::report::sink::Memory;
use galley::report::Format;
use galley::runner::{execute_to, RunOptions};

fn plan(profile: &str) -> (i32, String, String) {
    let sink = Arc::new(Memory::default());
    let opts = RunOptions {
        recipe: "docker".into(),
        mode: galley::mode::Mode::Plan,
        profile: Some(profile.into()),
        format: Format::Human,
        forks: 5,
        ..Default::default()
    };
    let out = execute_to(&opts, sink.clone());
    (out.exit_code, sink.stdout(), sink.stderr())
}

#[test]
fn two_runs_in_one_process_each_print_into_their_own_sink() {
    let a = std::thread::spawn(|| plan("centos7"));
    let b = std::thread::spawn(|| plan("ubuntu22.04"));
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert!(
        a.1.contains("yum") && b.1.contains("apt"),
        "{}\n{}",
        a.1,
        b.1
    );
    for ((code, out, err), profile) in [(a, "centos7"), (b, "ubuntu22.04")] {
        assert_eq!(code, 0, "{profile}: {err}");
        let bin = common::Test::new()
            .args(&["plan", "docker", "--profile", profile])
            .run();
        assert_eq!(
            out, bin.stdout,
            "{profile}: in-process output differs from the binary's"
        );
        assert_eq!(err, bin.stderr);
    }
}
