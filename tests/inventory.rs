//! Inventories as users have them: Ansible INI and YAML (written after Ansible's documented
//! examples) read to the same hosts, groups and vars as galley's TOML; `--limit`, `-H` and bad
//! inventories through the built binary.

use std::process::Command;

use galley::inventory::Inventory;
use serde_json::json;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/inventory");

fn load(name: &str) -> Inventory {
    Inventory::load(&format!("{DIR}/{name}")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn ansible_ini_and_yaml_read_like_the_equivalent_toml() {
    let toml = load("native.toml");
    let ini = load("ansible.ini");
    let yaml = load("ansible.yml");
    assert_eq!(ini, toml, "INI differs from TOML");
    assert_eq!(yaml, toml, "YAML differs from TOML");
    // And the content is what Ansible would make of it.
    let host = |name: &str| toml.hosts.iter().find(|h| h.name == name).unwrap();
    let h2 = host("host2");
    assert_eq!(h2.vars["http_port"], json!(303));
    assert_eq!(
        h2.vars["ntp_server"],
        json!("ntp.atlanta.example.com"),
        "group var beats all:vars"
    );
    assert_eq!(
        h2.vars["escape_pods"],
        json!(2),
        "parent group var reaches the host"
    );
    assert_eq!(h2.groups, ["atlanta", "raleigh", "southeast", "usa"]);
    assert_eq!(host("host3").vars["ntp_server"], json!("ntp.example.com"));
    let jumper = host("jumper");
    assert_eq!(
        (jumper.address.as_deref(), jumper.port),
        (Some("192.0.2.50"), Some(5555))
    );
    assert!(!jumper.vars.contains_key("ansible_host"));
    assert_eq!(host("badwolf.example.com").port, Some(5309));
    assert_eq!(toml.groups["ungrouped"], ["mail.example.com", "jumper"]);
    assert_eq!(toml.groups["usa"], ["host1", "host2", "host3"]);
    assert_eq!(toml.groups["ranged"].len(), 6);
    assert_eq!(toml.hosts.len(), 17);
}

fn galley(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_galley"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn recipe(dir: &tempfile::TempDir) -> String {
    write_recipe(dir, "${me.vars.ntp_server}")
}

fn write_recipe(dir: &tempfile::TempDir, extra: &str) -> String {
    let p = dir.path().join("who.rhai");
    let body = format!(
        "on(\"all\", |h| {{ let me = host(); info(`${{me.name}} ${{me.address}}:${{me.port}} ${{me.groups}} {extra}`); }});\n"
    );
    std::fs::write(&p, body).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn plan_over_an_ansible_inventory_with_limit() {
    let dir = tempfile::tempdir().unwrap();
    let r = recipe(&dir);
    let inv = format!("{DIR}/ansible.ini");
    let (code, out) = galley(&["plan", &r, "-i", &inv, "--limit", "southeast,!raleigh"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "host1 host1:22 [\"atlanta\", \"southeast\", \"usa\"] ntp.atlanta.example.com"
        ),
        "{out}"
    );
    assert!(!out.contains("host2 ") && !out.contains("host3 "), "{out}");
    let (code, out) = galley(&["plan", &r, "-i", &inv, "--limit", "nosuchgroup"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("no host or group matches `nosuchgroup`"),
        "{out}"
    );
}

#[test]
fn one_off_hosts_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let r = write_recipe(&dir, "${me.user}");
    let (code, out) = galley(&["plan", &r, "-H", "admin@10.1.2.3:2222", "-H", "web"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("10.1.2.3 10.1.2.3:2222 [\"ungrouped\"] admin"),
        "{out}"
    );
    assert!(out.contains("web web:22"), "{out}");
    let (code, out) = galley(&["plan", &r, "-H", "a:b:c"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("[user@]host[:port]"), "{out}");
}

#[test]
fn bad_inventories_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let r = recipe(&dir);
    let cases = [
        (
            "bad.ini",
            "[web]\nw1\n\n[site:children]\nweb\ndb\n",
            "bad.ini:6: group `site` lists unknown group `db` as a child",
        ),
        (
            "dup.ini",
            "[web]\nw1\nw1\n",
            "dup.ini:3: duplicate host `w1` in group `web`",
        ),
        (
            "bad.toml",
            "[hosts.a]\n[groups.g]\nhosts = [\"a\", \"b\"]\n",
            "bad.toml:3: group `g` lists unknown host `b`",
        ),
        (
            "bad.yml",
            "all:\n  children:\n    web:\n      hosts: [a, b]\n",
            "bad.yml:3: `web.hosts` must be a mapping",
        ),
    ];
    for (name, text, want) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let (code, out) = galley(&["plan", &r, "-i", &p.to_string_lossy()]);
        assert_eq!(code, 2, "{out}");
        assert!(out.contains(want), "{name}: want {want:?} in {out}");
    }
    let (code, out) = galley(&["plan", &r, "-i", "/nonexistent/hosts.toml"]);
    assert_eq!(code, 2);
    assert!(
        out.contains("/nonexistent/hosts.toml: cannot read the inventory"),
        "{out}"
    );
}

#[test]
fn plans_over_hosts_named_by_dns_name_or_alias() {
    let inv = format!("{DIR}/dns-names.ini");
    let (code, out) = galley(&["plan", "kubeadm", "-i", &inv, "--set", "topology=multi"]);
    assert_eq!(code, 0, "{out}");
    // node_ip is the node's address; the DNS-named hosts get made-up ones, and the plan says so.
    assert!(
        out.contains("w1.example.internal, w2-bastion named by DNS name or alias, so this plan makes their addresses up"),
        "{out}"
    );
    assert!(out.contains("set node_ip=ADDRESS"), "{out}");
    assert!(
        out.contains("w2-bastion run kubeadm join 10.20.0.11:6443"),
        "{out}"
    );
    assert!(out.contains("ping -c 1 -W 2 10.20.0.11"), "{out}");

    // A node_ip that is no address is refused before anything runs, naming the host.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.ini");
    std::fs::write(&bad, "[control_plane]\ncp1 node_ip=cp1.lan\n").unwrap();
    let (code, out) = galley(&["plan", "kubeadm", "-i", &bad.to_string_lossy()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("host `cp1`: node_ip = cp1.lan is not an IPv4 address"),
        "{out}"
    );
}
