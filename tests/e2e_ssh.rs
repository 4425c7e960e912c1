//! End to end on real hosts: galley on this machine drives systemd-nspawn testbed nodes over real
//! SSH (tier 3). Needs root and the testbed's tools; without them the tests fail and say why.

mod common;
#[path = "support/testbed.rs"]
mod testbed;

use std::time::{Duration, Instant};

use common::{Ran, Test};
use testbed::Testbed;

fn inventory(tb: &Testbed) -> String {
    let mut s = String::new();
    for n in &tb.nodes {
        s.push_str(&format!("[hosts.{0}]\naddress = \"{0}\"\n", n.name));
    }
    s.push_str(&format!(
        // A dead host is noticed after ServerAliveInterval × ServerAliveCountMax (galley's default
        // is 15 s × 4); the testbed shortens it, as an operator can per inventory.
        "[groups.web]\nhosts = [\"node2\", \"node3\"]\n[groups.all.vars]\nssh_config_file = \"{}\"\nssh_options = [\"ServerAliveInterval=2\", \"ServerAliveCountMax=3\"]\n",
        tb.ssh_config().display()
    ));
    s
}

/// Runs a recipe against the testbed: `galley ARGS... r.rhai -i inv.toml`.
fn galley(tb: &Testbed, recipe: &str, extra: &[&str]) -> Ran {
    let mut args = vec!["run", "r.rhai", "-i", "inv.toml"];
    args.extend_from_slice(extra);
    Test::new()
        .file("inv.toml", &inventory(tb))
        .file("r.rhai", recipe)
        .args(&args)
        .run()
}

fn sh(tb: &Testbed, node: &str, cmd: &str) -> String {
    let out = tb.ssh(node, cmd);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn run_sh_and_write_file_over_ssh(tb: &Testbed) {
    let recipe = r#"on_one("node1", || {
    let r = run(["sh", "-c", "echo \"$1 $2\"", "x", "a b", "it's $HOME; ok"]);
    if r.stdout != "a b it's $HOME; ok\n" { fail(`quoting: ${r.stdout}`); }
    let s = sh("hostname; echo second");
    if s.stdout != "node1\nsecond\n" { fail(`sh: ${s.stdout}`); }
    write_file("/etc/galley-e2e.conf", "key=value\n", #{ mode: "0640", owner: "deploy", group: "adm" });
});"#;
    galley(tb, recipe, &[]).code(0);
    assert_eq!(
        sh(tb, "node1", "stat -c '%a %U %G' /etc/galley-e2e.conf"),
        "640 deploy adm"
    );
    assert_eq!(sh(tb, "node1", "cat /etc/galley-e2e.conf"), "key=value");
    assert_eq!(
        sh(
            tb,
            "node1",
            "ls -a /etc | grep -c '^[.].*[.]galley-' || true"
        ),
        "0",
        "a temp file was left"
    );
    let again = galley(
        tb,
        r#"on_one("node1", || write_file("/etc/galley-e2e.conf", "key=value\n", #{ mode: "0640", owner: "deploy", group: "adm" }));"#,
        &[],
    );
    again.code(0);
    assert_eq!(again.count("changed"), 0, "{}", again.stdout);
}

fn facts_of_real_hosts(tb: &Testbed) {
    let recipe = r#"let f = on("all", |h| { let f = facts(); `${f.hostname} ${f.init} ${f.product_uuid} ${f.interfaces.filter(|i| i.name != "lo").map(|i| i.mac)}` });
for line in f { print(line); }"#;
    let r = galley(tb, recipe, &[]);
    r.code(0);
    for n in &tb.nodes {
        let want = format!(
            "{} systemd {} [\"{}\"]",
            n.name,
            n.product_uuid.to_lowercase(),
            n.mac
        );
        r.stdout_has(&want);
    }
}

fn on_runs_across_three_nodes_in_parallel(tb: &Testbed) {
    // Parallel means the three hosts' steps overlap in time (the nodes share the machine's
    // clock): every host starts its one-second step before any host has finished its own. No
    // wall-clock bound, which a loaded machine would break without anything being wrong.
    let r = galley(
        tb,
        r#"let v = on("all", |h| run(["sh", "-c", "echo \"$(hostname) $(date +%s%N) $(sleep 1; date +%s%N)\""]).stdout); for l in v { print(l); }"#,
        &[],
    );
    r.code(0);
    let mut spans = Vec::new();
    for n in ["node1", "node2", "node3"] {
        // The printed line: `<hostname> <start ns> <end ns>` (the recap's lines hold the
        // command, whose words are not numbers).
        let t: Vec<u128> = r
            .stdout
            .lines()
            .find_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                let at = w.iter().position(|x| *x == n)?;
                let t: Vec<u128> = w[at + 1..].iter().map_while(|x| x.parse().ok()).collect();
                (t.len() == 2).then_some(t)
            })
            .unwrap_or_else(|| panic!("no times for {n}:\n{}", r.stdout));
        spans.push((t[0], t[1]));
    }
    let last_start = spans.iter().map(|s| s.0).max().unwrap();
    let first_end = spans.iter().map(|s| s.1).min().unwrap();
    assert!(
        last_start < first_end,
        "the hosts ran one after another, not together: {spans:?}"
    );
    let web = galley(
        tb,
        r#"let v = on("web", |h| h); if v != ["node2", "node3"] { fail(`${v}`); }"#,
        &[],
    );
    web.code(0);
}

fn apt_pin_upgrade_remove_from_a_local_repository(tb: &Testbed) {
    let pin = galley(tb, r#"on_one("node3", || apt("galley-hello=1.0-1"));"#, &[]);
    pin.code(0);
    assert_eq!(
        sh(tb, "node3", "dpkg-query -W -f '${Version}' galley-hello"),
        "1.0-1"
    );
    let again = galley(tb, r#"on_one("node3", || apt("galley-hello=1.0-1"));"#, &[]);
    assert_eq!(again.count("changed"), 0, "{}", again.stdout);
    galley(
        tb,
        r#"on_one("node3", || apt("galley-hello", #{ state: "latest" }));"#,
        &[],
    )
    .code(0);
    assert_eq!(
        sh(tb, "node3", "dpkg-query -W -f '${Version}' galley-hello"),
        "2.0-1"
    );
    assert_eq!(
        sh(tb, "node3", "dpkg-query -W -f '${Status}' galley-dep"),
        "install ok installed"
    );
    galley(
        tb,
        r#"on_one("node3", || apt(["galley-hello", "galley-dep"], #{ state: "absent" }));"#,
        &[],
    )
    .code(0);
    assert_eq!(
        sh(
            tb,
            "node3",
            "dpkg-query -W -f '${Status}' galley-hello 2>/dev/null || echo gone"
        ),
        "gone"
    );
}

const UNIT: &str = r#"on_one("node2", || {
    let unit = write_file("/etc/systemd/system/galley-e2e.service", `[Unit]
Description=galley e2e (VERSION)
[Service]
ExecStart=/bin/sh -c 'exec sleep 100000'
[Install]
WantedBy=multi-user.target
`);
    if unit.changed { systemctl("daemon-reload"); }
    systemctl("enable --now", "galley-e2e");
    if unit.changed { systemctl("restart", "galley-e2e"); }
    wait_ready(#{ service: "galley-e2e", timeout: 20 });
    wait_ready(#{ tcp: "127.0.0.1:22", timeout: 10 });
});"#;

fn systemctl_and_wait_ready_on_a_unit_written_by_the_recipe(tb: &Testbed) {
    galley(tb, &UNIT.replace("VERSION", "1"), &[]).code(0);
    assert_eq!(
        sh(
            tb,
            "node2",
            "systemctl is-active galley-e2e; systemctl is-enabled galley-e2e"
        ),
        "active\nenabled"
    );
    let pid = sh(tb, "node2", "systemctl show -p MainPID --value galley-e2e");
    let second = galley(tb, &UNIT.replace("VERSION", "1"), &[]);
    second.code(0);
    assert_eq!(
        second.count("changed"),
        0,
        "second run should be all ok:\n{}",
        second.stdout
    );
    assert_eq!(
        sh(tb, "node2", "systemctl show -p MainPID --value galley-e2e"),
        pid,
        "restarted without a change"
    );
    galley(tb, &UNIT.replace("VERSION", "2"), &[]).code(0);
    assert_ne!(
        sh(tb, "node2", "systemctl show -p MainPID --value galley-e2e"),
        pid,
        "not restarted after a change"
    );
}

fn docker_configuration_steps_converge_then_change_nothing(tb: &Testbed) {
    // D4–D5 as the docker recipe does them (stdlib/runtimes/docker.rhai), minus the service,
    // which needs the Docker packages: daemon.json, the drop-in folder, daemon-reload.
    let recipe = r#"import "runtimes/docker" as docker;
on_one("node1", || {
    ensure_dir("/etc/docker");
    write_file("/etc/docker/daemon.json", docker::daemon_json(true));
    if ensure_dir("/etc/systemd/system/docker.service.d").changed { systemctl("daemon-reload"); }
});"#;
    let first = galley(tb, recipe, &[]);
    first.code(0);
    assert_eq!(first.count("changed"), 4, "{}", first.stdout);
    let second = galley(tb, recipe, &[]);
    second.code(0);
    assert_eq!(second.count("changed"), 0, "{}", second.stdout);
    let json = sh(tb, "node1", "cat /etc/docker/daemon.json");
    assert!(
        json.contains("native.cgroupdriver=systemd")
            && json.contains("overlay2.override_kernel_check=true"),
        "{json}"
    );
    assert_eq!(
        sh(
            tb,
            "node1",
            "test -d /etc/systemd/system/docker.service.d && echo yes"
        ),
        "yes"
    );
}

/// The scenarios share one 3-node testbed, booted once and torn down when `tb` drops (also when
/// a scenario panics), so a run leaves nothing behind.
#[test]
fn scenarios_on_three_real_hosts_over_ssh() {
    let tb = Testbed::up(3, false).unwrap_or_else(|e| panic!("the testbed could not start: {e}"));
    run_sh_and_write_file_over_ssh(&tb);
    facts_of_real_hosts(&tb);
    on_runs_across_three_nodes_in_parallel(&tb);
    apt_pin_upgrade_remove_from_a_local_repository(&tb);
    systemctl_and_wait_ready_on_a_unit_written_by_the_recipe(&tb);
    docker_configuration_steps_converge_then_change_nothing(&tb);
}

#[test]
fn a_node_powered_off_mid_run_fails_alone_and_nothing_hangs() {
    let tb = Testbed::up(3, false).unwrap_or_else(|e| panic!("the testbed could not start: {e}"));
    let t = Test::new()
        .file("inv.toml", &inventory(&tb))
        .file(
            "r.rhai",
            r#"on("all", |h| { run(["sleep", "2"]); run(["touch", "/root/after"]); });"#,
        )
        .args(&["run", "r.rhai", "-i", "inv.toml"]);
    let mut cmd = t.command();
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let start = Instant::now();
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    tb.poweroff("node3").unwrap();
    let out = child.wait_with_output().unwrap();
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(stderr.contains("node3"), "{stderr}");
    assert!(stderr.contains("1 of 3 hosts failed"), "{stderr}");
    for n in ["node1", "node2"] {
        assert_eq!(
            sh(&tb, n, "test -e /root/after && echo yes"),
            "yes",
            "{n} did not finish"
        );
    }
}
