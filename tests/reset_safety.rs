//! `reset` flushes iptables only when asked (`--set confirm=true`), and then sets the policies to
//! ACCEPT before flushing, so a DROP policy cannot cut the host off.

mod common;

use common::Test;

const INVENTORY: &str = r#"[hosts.cp1]
address = "10.0.0.11"
[groups.control_plane]
hosts = ["cp1"]
"#;

fn facts() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/facts/converged-rocky9.json"
    )
    .to_string()
}

fn plan(extra: &[&str]) -> common::Ran {
    let facts = facts();
    let mut args = vec!["plan", "reset", "-i", "inv.toml", "--facts", &facts];
    args.extend_from_slice(extra);
    Test::new().file("inv.toml", INVENTORY).args(&args).run()
}

#[test]
fn without_confirm_the_rules_stay_and_the_plan_says_why() {
    let ran = plan(&[]);
    ran.code(0);
    assert_eq!(
        ran.stdout,
        "plan reset (plan: no host contacted)
 changed cp1 run kubeadm reset --force
 changed cp1 run rm -rf /etc/cni/net.d
    warn cp1 iptables rules left as they are: flushing every rule can cut this host off (a DROP policy, or rules SSH depends on); --set confirm=true flushes them, with the policies set to ACCEPT first
 changed cp1 sh if command -v ipvsadm >/dev/null; then ipvsadm --clear; fi
 changed cp1 run rm -f /root/.kube/config /etc/profile.d/kubeconfig.sh
recap (plan)
  cp1  ok=0 changed=4 failed=0 skipped=0
  nothing was changed (plan mode)
"
    );
}

#[test]
fn with_confirm_the_policies_are_accept_before_the_flush() {
    let ran = plan(&["--set", "confirm=true", "--output", "json"]);
    ran.code(0);
    let flush: Vec<String> = ran
        .events()
        .iter()
        .filter(|e| e["type"] == "action" && e["primitive"] == "sh")
        .map(|e| e["commands"][0][2].as_str().unwrap().to_string())
        .filter(|c| c.contains("iptables"))
        .collect();
    assert_eq!(
        flush,
        ["iptables -P INPUT ACCEPT && iptables -P FORWARD ACCEPT && iptables -P OUTPUT ACCEPT && iptables -F && iptables -t nat -F && iptables -t mangle -F && iptables -X && if systemctl is-active --quiet docker; then systemctl restart docker; fi"]
    );
    assert!(
        !ran.stdout.contains("iptables rules left"),
        "{}",
        ran.stdout
    );
}
