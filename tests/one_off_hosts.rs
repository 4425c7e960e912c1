//! `-H` one-off hosts: one address on two ports is two hosts (named with their ports), while the
//! same host given twice is still refused.

mod common;

use common::Test;

const WHO: &str =
    "on(\"all\", |h| { let me = host(); info(`${me.name} ${me.address}:${me.port}`); });\n";

#[test]
fn one_address_on_two_ports_is_two_hosts() {
    let ran = Test::new()
        .file("who.rhai", WHO)
        .args(&[
            "plan",
            "./who.rhai",
            "-H",
            "root@127.0.0.1:2299",
            "-H",
            "root@127.0.0.1:2300",
        ])
        .run();
    ran.code(0);
    assert_eq!(
        ran.stdout,
        "plan ./who.rhai (plan: no host contacted)
    info 127.0.0.1:2299 127.0.0.1:2299 127.0.0.1:2299
    info 127.0.0.1:2300 127.0.0.1:2300 127.0.0.1:2300
recap (plan)
  127.0.0.1:2299  ok=0 changed=0 failed=0 skipped=0
  127.0.0.1:2300  ok=0 changed=0 failed=0 skipped=0
  nothing was changed (plan mode)
"
    );
}

#[test]
fn the_same_host_twice_is_still_an_error() {
    let ran = Test::new()
        .file("who.rhai", WHO)
        .args(&[
            "plan",
            "./who.rhai",
            "-H",
            "root@127.0.0.1:2299",
            "-H",
            "admin@127.0.0.1:2299",
        ])
        .run();
    ran.code(2);
    ran.stderr_is("error: -H admin@127.0.0.1:2299: host `127.0.0.1` is given twice");
}
