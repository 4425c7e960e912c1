//! apt and systemctl on a real Debian 12 host with real systemd (a testbed node), from the
//! node's local file repository of tiny .deb packages. galley itself runs inside the node (the
//! same binary, copied over SSH), so every probe and command is the node's own.

mod prim;
#[path = "support/testbed.rs"]
mod testbed;

use std::process::Command;

struct Node<'a> {
    tb: &'a testbed::Testbed,
    name: &'static str,
}

impl Node<'_> {
    fn sh(&self, cmd: &str) -> String {
        let out = self.tb.ssh(self.name, cmd);
        assert!(
            out.status.success(),
            "`{cmd}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Writes the recipe on the node and runs `galley run` there with JSON output.
    fn galley(&self, recipe: &str) -> prim::Ran {
        let mut child = Command::new("ssh")
            .arg("-F")
            .arg(self.tb.ssh_config())
            .args(["--", self.name, "cat > /root/r.rhai"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(recipe.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
        let out = self.tb.ssh(
            self.name,
            "NO_COLOR=1 galley run /root/r.rhai --output json",
        );
        prim::Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn statuses(r: &prim::Ran) -> Vec<String> {
    r.statuses().into_iter().map(|(_, s)| s).collect()
}

#[test]
fn apt_and_systemctl_on_real_systemd() {
    let tb = testbed::Testbed::up(1, false).unwrap_or_else(|e| panic!("{e}"));
    tb.install_galley("node1");
    let n = Node {
        tb: &tb,
        name: "node1",
    };

    // Pinned install: the lists are missing, so apt-get update runs first.
    let r = n.galley(r#"apt("galley-hello=1.0-1");"#);
    r.code(0);
    assert_eq!(statuses(&r), ["changed"]);
    let cmds = r.commands();
    assert!(cmds[0].starts_with("apt-get update"), "{cmds:?}");
    assert!(
        cmds[1].ends_with("--allow-downgrades galley-hello=1.0-1"),
        "{cmds:?}"
    );
    assert_eq!(n.sh("galley-hello"), "galley-hello 1.0-1");

    // Already so: ok, and no command (not even a refresh).
    let r = n.galley(r#"apt("galley-hello=1.0-1"); apt("galley-hello");"#);
    r.code(0);
    assert_eq!(statuses(&r), ["ok", "ok"]);
    assert!(r.commands().is_empty(), "{:?}", r.commands());

    // latest: upgrades (pulling its new dependency), then ok.
    let r = n.galley(r#"apt("galley-hello", #{ state: "latest" });"#);
    r.code(0);
    assert_eq!(statuses(&r), ["changed"]);
    assert_eq!(n.sh("galley-hello"), "galley-hello 2.0-1");
    assert_eq!(n.sh("dpkg-query -W -f '${Version}' galley-dep"), "1.0-1");
    assert_eq!(
        statuses(&n.galley(r#"apt("galley-hello", #{ state: "latest" });"#)),
        ["ok"]
    );

    // An unknown package: apt's own message.
    n.galley(r#"apt("galley-no-such-package");"#)
        .code(1)
        .has("Unable to locate package galley-no-such-package");

    // A packaged unit: enable --now, then ok; stop; disable.
    let r = n.galley(r#"apt("galley-svc"); systemctl("enable --now", "galley-svc");"#);
    r.code(0);
    assert_eq!(statuses(&r), ["changed", "changed"]);
    assert_eq!(n.sh("systemctl is-active galley-svc"), "active");
    assert_eq!(n.sh("systemctl is-enabled galley-svc"), "enabled");
    let r = n.galley(r#"apt("galley-svc"); systemctl("enable --now", "galley-svc"); systemctl("start", "galley-svc");"#);
    assert_eq!(statuses(r.code(0)), ["ok", "ok", "ok"]);
    assert!(r.commands().is_empty(), "{:?}", r.commands());

    // A unit written by the recipe: restarted only when its file changed.
    let unit = r#"
let u = write_file("/etc/systemd/system/galley-web.service", `[Unit]
Description=galley test unit
[Service]
ExecStart=/bin/sh -c 'while :; do sleep 3600; done'
[Install]
WantedBy=multi-user.target
`);
if u.changed { systemctl("daemon-reload"); }
systemctl("enable --now", "galley-web");
if u.changed { systemctl("restart", "galley-web"); }
wait_ready(#{ service: "galley-web", timeout: 10 });
"#;
    let r = n.galley(unit);
    r.code(0);
    assert_eq!(
        statuses(&r),
        ["changed", "changed", "changed", "changed", "ok"]
    );
    assert_eq!(n.sh("systemctl is-active galley-web"), "active");
    let r = n.galley(unit);
    r.code(0);
    assert_eq!(statuses(&r), ["ok", "ok", "ok"]);
    assert!(r.commands().is_empty(), "{:?}", r.commands());

    let r = n.galley(r#"systemctl("disable --now", "galley-web"); systemctl("stop", "galley-svc"); systemctl("mask", "galley-svc");"#);
    assert_eq!(statuses(r.code(0)), ["changed", "changed", "changed"]);
    assert_eq!(n.sh("systemctl is-enabled galley-svc || true"), "masked");
    let r = n.galley(r#"systemctl("unmask", "galley-svc"); apt(["galley-hello", "galley-svc"], #{ state: "absent" });"#);
    assert_eq!(statuses(r.code(0)), ["changed", "changed"]);
    assert_eq!(n.sh("command -v galley-hello || echo gone"), "gone");
    let r = n.galley(r#"apt(["galley-hello", "galley-svc"], #{ state: "absent" });"#);
    assert_eq!(statuses(r.code(0)), ["ok"]);
}
