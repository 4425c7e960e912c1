//! Facts in, changes out: the kubeadm host preparation planned against each family's bare
//! profile (everything to do, with the exact commands) and against a prepared facts file
//! (tests/fixtures/facts/*-prepared.json: everything `ok`, no command at all).

mod prim;

use std::path::Path;

const RHEL_PREP: &str = r#"
yum_repo("kubernetes", #{
    name: "Kubernetes",
    baseurl: "https://pkgs.k8s.io/core:/stable:/v1.31/rpm/",
    enabled: true, gpgcheck: true,
    gpgkey: "https://pkgs.k8s.io/core:/stable:/v1.31/rpm/repodata/repomd.xml.key",
    exclude: ["kubelet", "kubeadm", "kubectl", "cri-tools", "kubernetes-cni"],
});
yum_repo_url("https://download.docker.com/linux/centos/docker-ce.repo");
selinux("permissive");
swapoff();
modprobe("br_netfilter");
sysctl("net.ipv4.ip_forward", 1);
sysctl("net.bridge.bridge-nf-call-iptables", "1");
alternatives("iptables", "/usr/sbin/iptables-legacy");
yum(["kubelet-1.31.4", "kubeadm-1.31.4", "kubectl-1.31.4"], #{ disable_excludes: "kubernetes" });
systemctl("enable --now", "kubelet");
"#;

const DEB_PREP: &str = r#"
apt_repo("kubernetes", #{
    uri: "https://pkgs.k8s.io/core:/stable:/v1.31/deb/", suite: "/",
    key_url: "https://pkgs.k8s.io/core:/stable:/v1.31/deb/Release.key",
});
swapoff();
modprobe("br_netfilter");
sysctl("net.ipv4.ip_forward", 1);
sysctl("net.bridge.bridge-nf-call-iptables", "1");
alternatives("iptables", "/usr/sbin/iptables-legacy");
apt(["kubelet=1.31.4-1.1", "kubeadm=1.31.4-1.1", "kubectl=1.31.4-1.1"]);
systemctl("enable --now", "kubelet");
"#;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/facts")
        .join(name)
        .display()
        .to_string()
}

/// On a bare profile everything is to do; the bridge sysctl is `unknown`: the profile says the
/// host has no such parameter before br_netfilter is loaded, and a plan cannot tell whether the
/// module it loads first brings it.
fn all_to_do(statuses: &[(String, String)]) -> bool {
    statuses
        .iter()
        .all(|(p, s)| s == "changed" || (p == "sysctl" && s == "unknown"))
        && statuses.iter().filter(|(_, s)| s == "unknown").count() == 1
}

fn kernel_cmds() -> Vec<String> {
    vec![
        "swapoff -a".into(),
        "modprobe br_netfilter".into(),
        "sysctl -w net.ipv4.ip_forward=1".into(),
        "sysctl -w net.bridge.bridge-nf-call-iptables=1".into(),
    ]
}

#[test]
fn rhel_bare_hosts_get_everything() {
    let tmp = tempfile::tempdir().unwrap();
    for (profile, pm) in [("centos7", "yum"), ("rocky9", "dnf")] {
        let r = prim::plan(tmp.path(), RHEL_PREP, profile);
        r.code(0);
        assert!(all_to_do(&r.statuses()), "{profile}: {:?}", r.statuses());
        let mut want = vec!["setenforce 0".to_string()];
        want.extend(kernel_cmds());
        want.push("alternatives --set iptables /usr/sbin/iptables-legacy".into());
        want.push(format!(
            "{pm} install -y --disableexcludes=kubernetes kubelet-1.31.4 kubeadm-1.31.4 kubectl-1.31.4"
        ));
        want.push("systemctl enable --now kubelet".into());
        assert_eq!(r.commands(), want, "{profile}");
    }
}

#[test]
fn rhel_prepared_hosts_are_ok_without_commands() {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["centos7-prepared.json", "rocky9-prepared.json"] {
        let r = prim::plan(tmp.path(), RHEL_PREP, &fixture(f));
        r.code(0);
        assert!(
            r.statuses().iter().all(|(_, s)| s == "ok"),
            "{f}: {:?}\n{}",
            r.statuses(),
            r.stdout
        );
        assert_eq!(r.statuses().len(), 10);
        assert!(r.commands().is_empty(), "{f}: {:?}", r.commands());
    }
}

#[test]
fn debian_bare_hosts_get_everything() {
    let tmp = tempfile::tempdir().unwrap();
    for profile in ["debian12", "ubuntu22.04"] {
        let r = prim::plan(tmp.path(), DEB_PREP, profile);
        r.code(0);
        assert!(all_to_do(&r.statuses()), "{profile}: {:?}", r.statuses());
        let mut want = kernel_cmds();
        want.push("update-alternatives --set iptables /usr/sbin/iptables-legacy".into());
        // The repository was added in this plan: the lists are refreshed first.
        want.push("apt-get update -y -q".into());
        want.push("apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --allow-downgrades kubelet=1.31.4-1.1 kubeadm=1.31.4-1.1 kubectl=1.31.4-1.1".into());
        want.push("systemctl enable --now kubelet".into());
        assert_eq!(r.commands(), want, "{profile}");
    }
}

#[test]
fn debian_prepared_hosts_are_ok_without_commands() {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["debian12-prepared.json", "ubuntu22.04-prepared.json"] {
        let r = prim::plan(tmp.path(), DEB_PREP, &fixture(f));
        r.code(0);
        assert!(
            r.statuses().iter().all(|(_, s)| s == "ok"),
            "{f}: {:?}\n{}",
            r.statuses(),
            r.stdout
        );
        assert_eq!(r.statuses().len(), 8);
        assert!(r.commands().is_empty(), "{f}: {:?}", r.commands());
    }
}

#[test]
fn predictions_make_repeated_steps_ok() {
    let tmp = tempfile::tempdir().unwrap();
    let twice = format!("{RHEL_PREP}\n{RHEL_PREP}");
    for profile in ["centos7", "rocky9"] {
        let r = prim::plan(tmp.path(), &twice, profile);
        r.code(0);
        let s = r.statuses();
        assert!(all_to_do(&s[..10]), "{s:?}");
        assert!(s[10..].iter().all(|(_, st)| st == "ok"), "{profile}: {s:?}");
    }
    let twice = format!("{DEB_PREP}\n{DEB_PREP}");
    for profile in ["debian12", "ubuntu22.04"] {
        let r = prim::plan(tmp.path(), &twice, profile);
        r.code(0);
        assert!(
            r.statuses()[8..].iter().all(|(_, st)| st == "ok"),
            "{profile}: {:?}",
            r.statuses()
        );
    }
}

#[test]
fn services_follow_fixture_and_predictions() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = r#"
systemctl("start", "kubelet");
systemctl("stop", "kubelet");
systemctl("stop", "kubelet");
systemctl("restart", "kubelet");
systemctl("daemon-reload");
systemctl("mask", "firewalld");
systemctl("unmask", "firewalld");
systemctl("disable --now", "kubelet");
"#;
    let r = prim::plan(tmp.path(), recipe, &fixture("rocky9-prepared.json"));
    r.code(0);
    let st: Vec<String> = r.statuses().into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        st,
        ["ok", "changed", "ok", "changed", "changed", "changed", "changed", "changed"]
    );
    assert_eq!(
        r.commands(),
        [
            "systemctl stop kubelet",
            "systemctl restart kubelet",
            "systemctl daemon-reload",
            "systemctl mask firewalld",
            "systemctl unmask firewalld",
            "systemctl disable --now kubelet",
        ]
    );
    prim::plan(tmp.path(), r#"systemctl("bounce", "x");"#, "rocky9")
        .code(2)
        .has("unknown action `bounce`");
}

#[test]
fn packages_pin_upgrade_remove_in_plans() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = r#"
yum("kubeadm-1.31.4");
yum("kubeadm-1.32.0");
yum("kubelet-1.30.0");
yum("kubectl", #{ state: "absent" });
yum("kubectl", #{ state: "absent" });
yum("bash", #{ state: "latest" });
"#;
    let r = prim::plan(tmp.path(), recipe, &fixture("centos7-prepared.json"));
    r.code(0);
    let st: Vec<String> = r.statuses().into_iter().map(|(_, s)| s).collect();
    assert_eq!(st, ["ok", "changed", "changed", "changed", "ok", "ok"]);
    assert_eq!(
        r.commands(),
        [
            "yum install -y kubeadm-1.32.0",
            "yum downgrade -y kubelet-1.30.0",
            "yum remove -y kubectl",
        ]
    );
    let r = prim::plan(
        tmp.path(),
        r#"apt("kubeadm=1.31.4-1.1"); apt("curl"); apt("kubectl", #{ state: "absent", purge: true });"#,
        &fixture("debian12-prepared.json"),
    );
    r.code(0);
    assert_eq!(r.commands(), [
        "apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold curl",
        "apt-get purge -y -q kubectl",
    ]);
    // pkg() picks by family.
    let r = prim::plan(tmp.path(), r#"pkg(["curl"]);"#, "ubuntu22.04");
    assert!(r.code(0).commands()[0].starts_with("apt-get install"));
    let r = prim::plan(tmp.path(), r#"pkg(["curl"]);"#, "rocky9");
    assert_eq!(r.code(0).commands(), ["dnf install -y curl"]);
}

#[test]
fn selinux_on_hosts_without_it_is_ok() {
    let tmp = tempfile::tempdir().unwrap();
    let r = prim::plan(tmp.path(), r#"selinux("permissive");"#, "debian12");
    r.code(0).has("SELinux is not installed");
    assert_eq!(r.statuses()[0].1, "ok");
    prim::plan(tmp.path(), r#"selinux("off");"#, "rocky9")
        .code(2)
        .has("unknown state");
}
