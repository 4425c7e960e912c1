//! The recipes' building blocks on real Debian 12 hosts with real systemd (testbed nodes): the
//! docker recipe's configuration part (D4–D5: daemon.json, drop-in folder, restart only when the
//! configuration changed) and the kubeadm preflight's identity check on a pair of nodes that
//! share MAC and product_uuid, with the real facts gathering; and `galley facts --save` on a node,
//! fresh and converged, whose plan gives each step the status `run --check` gives there. galley
//! runs inside each node (the same binary, copied over SSH), so every probe and command is the
//! node's own.

#[path = "support/testbed.rs"]
mod testbed;

use testbed::actions;

/// One testbed of this file at a time: with its three tests booting nodes at once, nodes failed
/// to start (nspawn exit 255 while booting) in a full `cargo test`.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn sh(tb: &testbed::Testbed, node: &str, cmd: &str) -> String {
    let out = tb.ssh(node, cmd);
    assert!(
        out.status.success(),
        "{node}: `{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn logs(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "log")
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect()
}

const CONFIGURE: &str = "import \"runtimes/docker\" as docker;\ndocker::configure(false, false);\n";

#[test]
fn docker_configuration_restarts_only_when_it_changed() {
    let _one = one_at_a_time();
    let tb = testbed::Testbed::up(1, false).unwrap_or_else(|e| panic!("{e}"));
    tb.install_galley("node1");
    // The nodes are offline: a stand-in Docker (a real systemd service, and a `docker info`
    // that answers) takes the place of the packages D3 would install.
    sh(&tb, "node1", "printf '[Unit]\\nDescription=stand-in dockerd\\n[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/docker.service && printf '#!/bin/sh\\nexit 0\\n' > /usr/local/bin/docker && chmod +x /usr/local/bin/docker && systemctl daemon-reload");

    let (code, ev, err) = tb.galley("node1", CONFIGURE, "");
    assert_eq!(code, 0, "{err}\n{:?}", actions(&ev));
    let first = actions(&ev);
    for want in [
        "changed ensure_dir /etc/docker",
        "changed write_file /etc/docker/daemon.json",
        "changed ensure_dir /etc/systemd/system/docker.service.d",
        "changed systemctl daemon-reload",
        "changed systemctl restart docker",
        "changed systemctl enable --now docker",
        "ok wait_ready",
    ] {
        assert!(
            first.iter().any(|a| a.starts_with(want)),
            "no {want:?} in {first:#?}"
        );
    }
    let json = sh(&tb, "node1", "cat /etc/docker/daemon.json");
    assert!(
        json.contains("\"exec-opts\": [\"native.cgroupdriver=systemd\"]"),
        "{json}"
    );
    assert!(!json.contains("override_kernel_check"), "{json}");
    assert_eq!(sh(&tb, "node1", "systemctl is-active docker"), "active");
    assert_eq!(sh(&tb, "node1", "systemctl is-enabled docker"), "enabled");
    let pid = sh(&tb, "node1", "systemctl show -p MainPID --value docker");

    // Second run: nothing to do, and Docker keeps running untouched.
    let (code, ev, err) = tb.galley("node1", CONFIGURE, "");
    assert_eq!(code, 0, "{err}");
    let second = actions(&ev);
    assert!(second.iter().all(|a| a.starts_with("ok ")), "{second:#?}");
    assert_eq!(
        sh(&tb, "node1", "systemctl show -p MainPID --value docker"),
        pid
    );

    // Someone edits daemon.json: the next run puts it back and restarts Docker.
    sh(&tb, "node1", "sed -i 's/100m/5m/' /etc/docker/daemon.json");
    let (code, ev, err) = tb.galley("node1", CONFIGURE, "");
    assert_eq!(code, 0, "{err}");
    let third = actions(&ev);
    assert!(
        third
            .iter()
            .any(|a| a.starts_with("changed write_file /etc/docker/daemon.json")),
        "{third:#?}"
    );
    assert!(
        third
            .iter()
            .any(|a| a.starts_with("changed systemctl restart docker")),
        "{third:#?}"
    );
    assert_ne!(
        sh(&tb, "node1", "systemctl show -p MainPID --value docker"),
        pid
    );
    assert!(sh(&tb, "node1", "cat /etc/docker/daemon.json").contains("100m"));
}

#[test]
fn preflight_names_the_pair_that_shares_mac_and_product_uuid() {
    let _one = one_at_a_time();
    let tb = testbed::Testbed::up(3, true).unwrap_or_else(|e| panic!("{e}"));
    // Each node reports its identity as the preflight gathers it (facts: hostname, MACs of the
    // real interfaces, /sys/class/dmi/id/product_uuid).
    let mut ids = Vec::new();
    for node in ["node1", "node2", "node3"] {
        tb.install_galley(node);
        let (code, ev, err) = tb.galley(
            node,
            "import \"k8s/preflight\" as preflight;\nprint(preflight::identity(facts().hostname).to_json());\n",
            "",
        );
        assert_eq!(code, 0, "{node}: {err}");
        ids.push(logs(&ev).pop().expect("identity"));
    }
    let n1 = tb.node("node1").clone();
    let n2 = tb.node("node2").clone();
    assert!(
        ids[0].contains(&n1.mac.to_lowercase()) || ids[0].contains(&n1.mac),
        "{}",
        ids[0]
    );
    // The cross-host check over the real identities.
    let check = format!(
        "import \"k8s/preflight\" as preflight;\nfor c in preflight::clashes([{}]) {{ print(c); }}\n",
        ids.iter()
            .map(|j| format!("parse_json({})", serde_json::to_string(j).unwrap()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (code, ev, err) = tb.galley("node3", &check, "");
    assert_eq!(code, 0, "{err}");
    let clashes = logs(&ev);
    let mac = n1.mac.to_lowercase();
    assert_eq!(
        n1.product_uuid, n2.product_uuid,
        "the testbed's duplicate pair"
    );
    assert!(
        clashes.iter().any(|c| c.starts_with("MAC ")
            && c.to_lowercase().contains(&mac)
            && c.ends_with("node1, node2")),
        "{clashes:#?}"
    );
    assert!(
        clashes
            .iter()
            .any(|c| c.starts_with("product_uuid ") && c.ends_with("is shared by node1, node2")),
        "{clashes:#?}"
    );
    assert!(clashes.iter().all(|c| !c.contains("node3")), "{clashes:#?}");

    // P1 and P4 for real: node1 pings node2 the way the preflight does, and a port the node
    // really listens on (sshd's 22) is reported busy.
    let (code, _, err) = tb.galley(
        "node1",
        &format!(
            "import \"k8s/preflight\" as preflight;\nlet r = run([\"ping\", \"-c\", \"1\", \"-W\", \"2\", \"{}\"], #{{ readonly: true, check: false }});\nif r.rc != 0 {{ fail(\"ping\"); }}\npreflight::ports_open(\"lb\", \"1.35.4\", 22, \"\");\n",
            n2.address
        ),
        "",
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("ports [22] are in use; a lb needs them free (P4)"),
        "{err}"
    );
}

/// `status primitive` of each action but `wait_ready` (a plan never waits: always unknown).
fn steps(events: &[serde_json::Value]) -> Vec<String> {
    actions(events)
        .into_iter()
        .filter(|a| !a.contains(" wait_ready "))
        .map(|a| a.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect()
}

fn json_events(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn a_plan_from_saved_facts_says_what_check_says_on_a_systemd_host() {
    let _one = one_at_a_time();
    let tb = testbed::Testbed::up(1, false).unwrap_or_else(|e| panic!("{e}"));
    tb.install_galley("node1");
    sh(&tb, "node1", "printf '[Unit]\\nDescription=stand-in dockerd\\n[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/docker.service && printf '#!/bin/sh\\nexit 0\\n' > /usr/local/bin/docker && chmod +x /usr/local/bin/docker && systemctl daemon-reload");
    let forward = sh(&tb, "node1", "cat /proc/sys/net/ipv4/ip_forward");
    let recipe = format!(
        "import \"runtimes/docker\" as docker;\npkg([\"openssh-server\"]);\nsysctl(\"net.ipv4.ip_forward\", \"{forward}\", #{{ persist: false }});\ndocker::configure(false, false);\n"
    );
    tb.put("node1", "/root/r.rhai", &recipe);
    // Before and after the recipe applied: a fresh host, then a converged one (where a plan
    // from facts without packages, services and files said "changed" throughout).
    for round in ["fresh", "converged"] {
        let save = sh(
            &tb,
            "node1",
            "rm -rf /root/saved && galley facts --save /root/saved --recipe /root/r.rhai",
        );
        assert!(save.contains("saved /root/saved/local.json"), "{save}");
        let plan = tb.ssh(
            "node1",
            "NO_COLOR=1 galley plan /root/r.rhai --facts /root/saved/local.json --output json",
        );
        let check = tb.ssh(
            "node1",
            "NO_COLOR=1 galley run /root/r.rhai --check --output json",
        );
        let (p, c) = (json_events(&plan), json_events(&check));
        assert_eq!(
            steps(&p),
            steps(&c),
            "{round}: plan from saved facts and check disagree\nplan: {:#?}\ncheck: {:#?}\n{}",
            actions(&p),
            actions(&c),
            String::from_utf8_lossy(&plan.stderr)
        );
        assert_eq!(plan.status.code(), check.status.code(), "{round}");
        assert!(steps(&c).len() >= 6, "{round}: {:#?}", actions(&c));
        if round == "fresh" {
            assert!(steps(&c).iter().any(|s| s.starts_with("changed ")));
            let (code, _, err) = tb.galley("node1", &recipe, "");
            assert_eq!(code, 0, "{err}");
        } else {
            assert!(
                steps(&c).iter().all(|s| s.starts_with("ok ")),
                "{:#?}",
                actions(&c)
            );
        }
    }
}
