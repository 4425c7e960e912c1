//! The kubeadm recipe against hosts shaped like real ones: Docker's bridges and a NAT interface
//! every VM shares (the node address), a pod network already running (a rerun), cgroup v1 (the
//! kubelet of 1.35+), a registry mirror (the sandbox image) and version settings as users write
//! them, on the command line or in the inventory.

mod recipes_support;

use galley::facts::{Fixture, Interface};
use recipes_support::{fixture, plan, profile_with_containerd, Job, Plan, CONTAINERD_DEFAULTS};

plan_worker!();

fn ok(job: &Job) -> Plan {
    let p = plan(job);
    assert_eq!(p.code, 0, "plan failed\n{}\n{}", p.render(), p.stderr);
    p
}

fn refused(job: &Job, wanted: &[&str]) -> String {
    let p = plan(job);
    assert_eq!(
        p.code,
        2,
        "should be refused:\n{}\n{}",
        p.render(),
        p.stderr
    );
    let err = p.error().unwrap_or_default();
    for w in wanted {
        assert!(err.contains(w), "error lacks {w:?}:\n{err}");
    }
    err
}

/// The kubeadm commands of a plan, one line each.
fn kubeadm_lines(p: &Plan) -> Vec<String> {
    p.render()
        .lines()
        .filter(|l| l.contains(" kubeadm "))
        .map(str::to_string)
        .collect()
}

/// Three VMs with Docker installed (br-*, docker0), NAT on eth0 (10.0.2.15 on each, the
/// default route) and the host-only network the inventory names on eth1 (192.168.56.0/24, in
/// Calico's usual 192.168.0.0/16: the pod CIDR goes elsewhere).
fn docker_nat() -> Job {
    Job::new("kubeadm")
        .facts(&fixture("docker-nat"))
        .topology("multi")
        .set("pod_cidr", "10.200.0.0/16")
        .address("cp1", "192.168.56.11")
        .address("w1", "192.168.56.12")
        .address("w2", "192.168.56.13")
}

#[test]
fn the_node_address_is_the_one_the_inventory_names_not_a_bridge_or_the_nat() {
    let p = ok(&docker_nat());
    let text = p.render();
    assert!(text.contains("advertiseAddress: 192.168.56.11"), "{text}");
    for line in kubeadm_lines(&p) {
        for wrong in ["172.17.", "172.18.", "10.0.2.15"] {
            assert!(!line.contains(wrong), "{wrong} used: {line}");
        }
    }
    // The workers join the control plane's own address.
    assert!(
        text.contains("kubeadm join 192.168.56.11:6443"),
        "{}",
        kubeadm_lines(&p).join("\n")
    );
    // The reachability check pings the first control plane's node address (the workers check
    // only it, see preflight::reach_pairs), not a bridge address every host has.
    assert!(
        text.contains("w1 run: ping -c 1 -W 2 192.168.56.11"),
        "{text}"
    );
    assert!(!text.contains("ping -c 1 -W 2 172.1"), "{text}");
}

#[test]
fn without_an_inventory_address_on_the_host_the_default_route_decides_and_a_shared_one_is_refused()
{
    // The inventory names the hosts by addresses they do not have (a NAT port forward, say):
    // the default-route interface is eth0, 10.0.2.15 on every VM.
    let job = Job::new("kubeadm")
        .facts(&fixture("docker-nat"))
        .topology("multi")
        .set("pod_cidr", "10.200.0.0/16");
    refused(&job, &["would all advertise 10.0.2.15", "node_ip"]);
}

#[test]
fn the_host_var_node_ip_overrides() {
    let job = Job::new("kubeadm")
        .facts(&fixture("docker-nat"))
        .topology("multi")
        .set("pod_cidr", "10.200.0.0/16")
        .var("cp1", "node_ip", "192.168.56.11")
        .var("w1", "node_ip", "192.168.56.12")
        .var("w2", "node_ip", "192.168.56.13");
    let p = ok(&job);
    assert!(p.render().contains("advertiseAddress: 192.168.56.11"));
}

/// Interfaces by name with their addresses.
type Ifs<'a> = &'a [(&'a str, &'a [&'a str])];

/// The converged host (the recipes ran there) with a pod network's own interfaces on it.
fn running(cni: &str, ifs: Ifs) -> (tempfile::TempDir, Job) {
    let mut f = Fixture::load(&fixture("converged-rocky9.json")).unwrap();
    for (name, addrs) in ifs {
        f.facts.interfaces.push(Interface {
            name: name.to_string(),
            mac: "ee:ee:ee:ee:ee:ee".into(),
            addresses: addrs.iter().map(|a| a.to_string()).collect(),
        });
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cp1.json"),
        serde_json::to_string(&f).unwrap(),
    )
    .unwrap();
    let job = Job::new("kubeadm")
        .facts(&dir.path().display().to_string())
        .topology("single")
        .set("cni", cni);
    (dir, job)
}

#[test]
fn a_rerun_on_a_running_pod_network_is_not_refused() {
    let cases: &[(&str, Ifs)] = &[
        (
            "calico",
            &[
                ("cali7d4e2a91b0c", &[]),
                ("tunl0", &["192.168.118.128/32"]),
                ("vxlan.calico", &["192.168.118.129/32"]),
            ],
        ),
        (
            "flannel",
            &[
                ("cni0", &["10.244.0.1/24"]),
                ("flannel.1", &["10.244.0.0/32"]),
            ],
        ),
        ("weave", &[("weave", &["10.32.0.1/12"]), ("datapath", &[])]),
        (
            "kube-router",
            &[
                ("kube-bridge", &["10.244.0.1/24"]),
                ("kube-dummy-if", &["10.96.0.10/32"]),
            ],
        ),
    ];
    for (cni, ifs) in cases {
        let (_dir, job) = running(cni, ifs);
        let p = plan(&job);
        assert_eq!(
            p.code,
            0,
            "{cni}: rerun refused\n{}\n{}",
            p.render(),
            p.stderr
        );
        // The converged facts are of a Calico cluster: with Calico the rerun changes nothing.
        if *cni == "calico" {
            assert!(
                p.changed().is_empty(),
                "calico rerun changes:\n  {}",
                p.changed().join("\n  ")
            );
        }
    }
}

#[test]
fn a_pod_cidr_in_a_real_host_network_is_still_refused() {
    let (_dir, job) = running("calico", &[("tunl0", &["192.168.118.128/32"])]);
    refused(
        &job.set("pod_cidr", "10.0.0.0/16"),
        &["overlaps the hosts' network 10.0.0.11/24"],
    );
}

#[test]
fn cgroup_v1_gets_fail_cgroup_v1_false_with_a_warning_or_is_refused() {
    // CentOS 7's profile: cgroup v1 (/sys/fs/cgroup is a tmpfs), like this project's testbed host.
    let job = Job::new("kubeadm").profile("centos7").topology("multi");
    let p = ok(&job);
    let text = p.render();
    assert!(text.contains("+failCgroupV1: false"), "{text}");
    assert!(
        text.contains("run cgroup v1: the kubelets get failCgroupV1: false"),
        "{text}"
    );
    refused(
        &job.set("allow_cgroup_v1", "false"),
        &["cgroup v1", "allow_cgroup_v1=true"],
    );
    // cgroup v2 hosts get no such setting.
    let p = ok(&Job::new("kubeadm").profile("rocky9").topology("multi"));
    assert!(!p.render().contains("failCgroupV1"));
}

#[test]
fn the_sandbox_image_follows_the_mirror_and_the_version() {
    // A host whose containerd prints its defaults, so the plan shows the config it writes.
    let (_keep, rocky9) = profile_with_containerd("rocky9", CONTAINERD_DEFAULTS);
    let p = ok(&Job::new("kubeadm")
        .facts(&rocky9)
        .topology("single")
        .set("image_repository", "mirror.example.internal/k8s"));
    let text = p.render();
    assert!(
        text.contains("+    sandbox_image = \"mirror.example.internal/k8s/pause:3.10.2\""),
        "{text}"
    );
    assert!(text.contains("sandbox (pause) image mirror.example.internal/k8s/pause:3.10.2"));
    let p = ok(&Job::new("kubeadm")
        .facts(&rocky9)
        .topology("single")
        .set("k8s_version", "1.35.4"));
    assert!(p.render().contains("registry.k8s.io/pause:3.10.1"));
    let p = ok(&Job::new("kubeadm")
        .profile("ubuntu22.04")
        .topology("single")
        .set("runtime", "cri-dockerd")
        .set("image_repository", "mirror.example.internal/k8s"));
    assert!(p
        .render()
        .contains("--pod-infra-container-image=mirror.example.internal/k8s/pause:3.10.2"));
}

#[test]
fn version_settings_are_checked_and_a_leading_v_is_accepted() {
    let single = || Job::new("kubeadm").profile("rocky9").topology("single");
    let p = ok(&single().set("k8s_version", "v1.36.3"));
    let text = p.render();
    assert!(text.contains("kubernetesVersion: v1.36.3"), "{text}");
    assert!(!text.contains("vv1"), "{text}");
    refused(
        &single().set("k8s_version", "banana"),
        &["k8s_version=banana is not a version"],
    );
    refused(
        &single().set("k8s_version", "1.31.4"),
        &["k8s_version=1.31.4", "1.37", "1.34"],
    );
    refused(
        &single().set("cni_version", "latest"),
        &["cni_version=latest is not a version"],
    );
    refused(
        &Job::new("docker")
            .profile("rocky9")
            .set("docker_version", "stable"),
        &["docker_version=stable is not a version"],
    );
}

#[test]
fn inventory_vars_set_parameters_and_set_wins_over_them() {
    let multi = || {
        Job::new("kubeadm")
            .profile("rocky9")
            .topology("multi")
            .var("cp1", "k8s_version", "1.36.3")
            .var("w1", "k8s_version", "1.36.3")
            .var("w2", "k8s_version", "1.36.3")
    };
    let p = ok(&multi());
    assert!(p.render().contains("kubernetesVersion: v1.36.3"));
    let p = ok(&multi().set("k8s_version", "1.35.4"));
    assert!(p.render().contains("kubernetesVersion: v1.35.4"));
    let err = refused(
        &multi().var("w2", "k8s_version", "1.35.4"),
        &["inventory var `k8s_version`", "w2"],
    );
    assert!(err.contains("--set k8s_version="), "{err}");
}

#[test]
fn a_ping_the_facts_say_fails_stops_the_plan_and_an_unanswered_one_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    for h in ["cp1", "w1", "w2"] {
        let mut f = Fixture::load(&format!("{}/{h}.json", fixture("docker-nat"))).unwrap();
        if h == "w2" {
            f.commands.push(galley::facts::CommandFixture {
                argv: ["ping", "-c", "1", "-W", "2", "192.168.56.11"]
                    .map(String::from)
                    .to_vec(),
                rc: 1,
                stdout: String::new(),
                stderr: "1 packets transmitted, 0 received".into(),
            });
        }
        std::fs::write(
            dir.path().join(format!("{h}.json")),
            serde_json::to_string(&f).unwrap(),
        )
        .unwrap();
    }
    let job = docker_nat().facts(&dir.path().display().to_string());
    let p = plan(&job);
    assert_eq!(p.code, 1, "{}", p.render());
    let err = p.error().unwrap_or_default();
    assert!(
        err.contains("w2 cannot reach cp1 (192.168.56.11)"),
        "{err}\n{}",
        p.render()
    );
    assert!(p
        .render()
        .contains("unknown w1 run: ping -c 1 -W 2 192.168.56.11\n"));
}

/// Two real testbed nodes' facts (tests/fixtures/facts/testbed-docker-flannel/README.md):
/// Docker's bridges, flannel's interfaces, a shared NAT address on the default route, cgroup v1.
fn testbed_nodes() -> Job {
    Job::new("kubeadm")
        .facts(&fixture("testbed-docker-flannel"))
        .group("control_plane", &["node1"])
        .group("workers", &["node2"])
        .set("topology", "multi")
        .set("cni", "flannel")
}

#[test]
fn captured_testbed_nodes_advertise_their_own_address_and_get_fail_cgroup_v1_false() {
    let p = ok(&testbed_nodes()
        .address("node1", "10.213.96.11")
        .address("node2", "10.213.96.12"));
    let text = p.render();
    assert!(text.contains("advertiseAddress: 10.213.96.11"), "{text}");
    assert!(text.contains("kubeadm join 10.213.96.11:6443"), "{text}");
    assert!(text.contains("+failCgroupV1: false"), "{text}");
    for line in kubeadm_lines(&p) {
        for wrong in ["172.17.", "172.18.", "10.0.2.15", "10.244."] {
            assert!(!line.contains(wrong), "{wrong} used: {line}");
        }
    }
    // Named by addresses the nodes do not have, both fall back to the NAT default route.
    refused(&testbed_nodes(), &["would all advertise 10.0.2.15"]);
}

/// `base` (a facts file under tests/fixtures/facts) as host `name` at 10.0.0.`n`: its own
/// hostname, address, MAC and product_uuid, so the P2 uniqueness check sees distinct hosts.
fn host_as(base: &str, name: &str, n: u8) -> Fixture {
    let mut f = Fixture::load(&fixture(base)).unwrap();
    f.facts.hostname = name.into();
    f.facts.product_uuid = format!("4c4c4544-0000-4000-8000-0000000000{n:02x}");
    for i in f.facts.interfaces.iter_mut().filter(|i| i.name != "lo") {
        i.addresses = vec![format!("10.0.0.{n}/24")];
        i.mac = format!("52:54:00:00:00:{n:02x}");
    }
    f
}

/// Writes each (host, fixture) as `<host>.json` into a new folder.
fn folder(hosts: Vec<(&str, Fixture)>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (h, f) in hosts {
        std::fs::write(
            dir.path().join(format!("{h}.json")),
            serde_json::to_string(&f).unwrap(),
        )
        .unwrap();
    }
    dir
}

/// A running external etcd member: what k8s/etcd leaves (etcd-member-rocky9.json) plus the
/// certificates kubeadm made from the cluster's CA.
fn etcd_member(name: &str, n: u8) -> Fixture {
    let mut f = host_as("etcd-member-rocky9.json", name, n);
    for (path, text) in [
        (
            "/etc/kubernetes/pki/etcd/ca.crt",
            "etcd CA cert of the running cluster\n",
        ),
        (
            "/etc/kubernetes/pki/etcd/ca.key",
            "etcd CA key of the running cluster\n",
        ),
        ("/etc/kubernetes/pki/etcd/server.crt", "server\n"),
        ("/etc/kubernetes/pki/etcd/peer.crt", "peer\n"),
        (
            "/etc/kubernetes/pki/etcd/healthcheck-client.crt",
            "healthcheck\n",
        ),
        (
            "/etc/kubernetes/pki/apiserver-etcd-client.crt",
            "client cert\n",
        ),
        (
            "/etc/kubernetes/pki/apiserver-etcd-client.key",
            "client key\n",
        ),
    ] {
        let mode = if path.ends_with(".key") {
            "0600"
        } else {
            "0644"
        };
        f.files.insert(
            path.into(),
            galley::facts::FileEntry::Full(galley::facts::FileFixture {
                content: text.into(),
                mode: mode.into(),
                owner: "root".into(),
                group: "root".into(),
            }),
        );
    }
    f.dirs.push("/etc/kubernetes/pki/etcd".into());
    f.dirs.push("/var/lib/etcd/member".into());
    f
}

/// An external etcd cluster of etcd1 and etcd2 (running, 10.0.0.13-14) behind two running control
/// planes, and etcd3 (10.0.0.15), a fresh host, added to the etcd group; `first` lists etcd3 first.
fn etcd_grows(etcd3_first: bool) -> (tempfile::TempDir, Job) {
    let dir = folder(vec![
        ("cp1", host_as("new-first-cp/cp1.json", "cp1", 11)),
        ("cp2", host_as("new-first-cp/cp2.json", "cp2", 12)),
        ("etcd1", etcd_member("etcd1", 13)),
        ("etcd2", etcd_member("etcd2", 14)),
        ("etcd3", host_as("new-first-cp/cp0.json", "etcd3", 15)),
    ]);
    let etcd: &[&str] = if etcd3_first {
        &["etcd3", "etcd1", "etcd2"]
    } else {
        &["etcd1", "etcd2", "etcd3"]
    };
    let mut job = Job::new("kubeadm")
        .facts(&dir.path().display().to_string())
        .group("control_plane", &["cp1", "cp2"])
        .group("etcd", etcd)
        .set("topology", "ha-external-etcd")
        .set("k8s_version", "1.35.4")
        .set("control_plane_endpoint", "k8s-api.example.internal:6443");
    for (h, n) in [
        ("cp1", 11),
        ("cp2", 12),
        ("etcd1", 13),
        ("etcd2", 14),
        ("etcd3", 15),
    ] {
        job = job.address(h, &format!("10.0.0.{n}"));
    }
    (dir, job)
}

#[test]
fn a_new_etcd_member_is_added_from_a_healthy_member_and_starts_as_existing() {
    for etcd3_first in [false, true] {
        let (_dir, job) = etcd_grows(etcd3_first);
        let p = ok(&job);
        let text = p.render();
        if std::env::var_os("SHOW_PLAN").is_some() {
            println!("{text}");
        }
        // Added on a running member, health checked there first (a read the facts cannot answer).
        let add = text
            .lines()
            .position(|l| {
                l.starts_with("changed etcd1 run: sh -c ")
                    && l.contains("etcdctl --endpoints=https://10.0.0.13:2379")
                    && l.contains("member add etcd3 --peer-urls=https://10.0.0.15:2380")
            })
            .unwrap_or_else(|| panic!("no etcdctl member add on etcd1:\n{text}"));
        assert!(
            text.lines().any(
                |l| l.starts_with("unknown etcd1 run: sh -c ") && l.contains("endpoint health")
            ),
            "{text}"
        );
        // Then etcd3 starts as a member of the existing cluster: the running members and itself.
        let start = text
            .lines()
            .position(|l| l.starts_with("changed etcd3 run: kubeadm init phase etcd local"))
            .unwrap_or_else(|| panic!("etcd3 does not start:\n{text}"));
        assert!(add < start, "member add must come first:\n{text}");
        assert!(
            text.contains("initial-cluster-state\n          | +        value: \"existing\""),
            "{text}"
        );
        assert!(
            text.contains("value: \"etcd1=https://10.0.0.13:2380,etcd2=https://10.0.0.14:2380,etcd3=https://10.0.0.15:2380\""),
            "{text}"
        );
        assert!(!text.contains("value: \"new\""), "{text}");
        // etcd3 gets the running cluster's CA; no second CA is made, even with etcd3 listed first.
        assert!(
            !text.contains("changed etcd3 run: kubeadm init phase certs etcd-ca"),
            "{text}"
        );
        assert!(
            text.contains("+etcd CA cert of the running cluster"),
            "{text}"
        );
        assert!(
            text.contains("etcd runs on [\"etcd1\", \"etcd2\"]: [\"etcd3\"] join it one at a time"),
            "{text}"
        );
        // The running members' etcd is left as it is: no new configuration, no kubeadm phase.
        // (Their other changes come from the fixture's older runtime, containerd 1.7.)
        let elsewhere: Vec<String> = p
            .changed()
            .into_iter()
            .filter(|c| {
                (c.starts_with("etcd1 ") || c.starts_with("etcd2 "))
                    && (c.contains("etcd-kubeadm.yaml") || c.contains("kubeadm init phase"))
            })
            .collect();
        assert!(
            elsewhere.is_empty(),
            "running members change:\n  {}",
            elsewhere.join("\n  ")
        );
    }
}

#[test]
fn a_new_etcd_cluster_still_forms_with_every_member_as_new() {
    let p = ok(&Job::new("kubeadm")
        .profile("rocky9")
        .topology("ha-external-etcd"));
    let text = p.render();
    assert!(text.contains("value: \"new\""), "{text}");
    assert!(!text.contains("member add"), "{text}");
    assert!(
        text.contains("value: \"etcd1=https://10.0.0.14:2380,etcd2=https://10.0.0.15:2380,etcd3=https://10.0.0.16:2380\""),
        "{text}"
    );
}

#[test]
fn no_healthy_etcd_member_stops_the_addition() {
    let (dir, job) = etcd_grows(false);
    for (h, n) in [("etcd1", 13), ("etcd2", 14)] {
        let mut f = etcd_member(h, n);
        let crictl = "crictl --runtime-endpoint unix:///run/containerd/containerd.sock";
        let pki = "/etc/kubernetes/pki/etcd";
        f.commands.push(galley::facts::CommandFixture {
            argv: vec![
                "sh".into(),
                "-c".into(),
                format!("{crictl} exec \"$({crictl} ps -q --name '^etcd$' --state running | head -n 1)\" etcdctl --endpoints=https://10.0.0.{n}:2379 --cacert={pki}/ca.crt --cert={pki}/healthcheck-client.crt --key={pki}/healthcheck-client.key endpoint health"),
            ],
            rc: 1,
            stdout: String::new(),
            stderr: format!("https://10.0.0.{n}:2379 is unhealthy: failed to commit proposal: context deadline exceeded"),
        });
        std::fs::write(
            dir.path().join(format!("{h}.json")),
            serde_json::to_string(&f).unwrap(),
        )
        .unwrap();
    }
    let p = plan(&job);
    assert_eq!(p.code, 1, "{}", p.render());
    let err = p.error().unwrap_or_default();
    assert!(
        err.contains("no etcd member of [\"etcd1\", \"etcd2\"] is healthy"),
        "{err}"
    );
    assert!(!p.render().contains("member add etcd3"), "{}", p.render());
}

/// converged-rocky9.json runs Kubernetes 1.37.2; the inventory still asks for 1.36.3, the version
/// it was installed with before `kubeadm upgrade`.
fn upgraded(edit: impl Fn(&mut Fixture)) -> (tempfile::TempDir, Job) {
    let mut f = Fixture::load(&fixture("converged-rocky9.json")).unwrap();
    edit(&mut f);
    let dir = folder(vec![("cp1", f)]);
    let job = Job::new("kubeadm")
        .facts(&dir.path().display().to_string())
        .topology("single")
        .set("k8s_version", "1.36.3");
    (dir, job)
}

#[test]
fn a_rerun_after_an_upgrade_does_not_downgrade_the_packages() {
    let (_dir, job) = upgraded(|_| {});
    let err = refused(
        &job,
        &[
            "Kubernetes 1.36.3 was asked for, but these nodes have newer packages: cp1 (kubeadm 1.37.2-1.el9, kubelet 1.37.2-1.el9, kubectl 1.37.2-1.el9)",
            "does not downgrade",
            "--set k8s_version=1.37.2",
            "kubeadm upgrade",
        ],
    );
    assert!(!err.contains("vv"), "{err}");
    // Half-way through an upgrade (kubeadm first, as kubeadm upgrade has it): still refused.
    let (_dir, job) = upgraded(|f| {
        f.packages.insert("kubelet".into(), "1.36.3-1.el9".into());
        f.packages.insert("kubectl".into(), "1.36.3-1.el9".into());
    });
    refused(&job, &["cp1 (kubeadm 1.37.2-1.el9)"]);
    // Debian's version strings, on the same host shape.
    let (_dir, job) = upgraded(|f| {
        let deb = Fixture::load(&fixture("ubuntu22.04-prepared.json")).unwrap();
        f.facts.os = deb.facts.os;
        f.facts.pkg_manager = deb.facts.pkg_manager;
        for n in ["kubeadm", "kubelet", "kubectl"] {
            f.packages.insert(n.into(), "1.37.2-1.1".into());
        }
    });
    refused(&job, &["kubeadm 1.37.2-1.1", "--set k8s_version=1.37.2"]);
    // The version installed, or a newer one, goes on as before.
    let (_dir, job) = upgraded(|_| {});
    let p = ok(&job.set("k8s_version", "1.37.2"));
    assert!(p.changed().is_empty(), "{}", p.changed().join("\n"));
}

/// The keepalived.conf diff of host `h` in a plan.
fn keepalived_of(text: &str, h: &str) -> String {
    let from = text
        .find(&format!(
            "changed {h} write_file: /etc/keepalived/keepalived.conf"
        ))
        .unwrap_or_else(|| panic!("no keepalived.conf on {h}:\n{text}"));
    let rest = &text[from..];
    let end = rest[1..].find("\nchanged ").map_or(rest.len(), |e| e + 1);
    rest[..end].to_string()
}

#[test]
fn keepalived_derives_its_router_id_from_the_vip_and_talks_unicast_to_the_other_lb_hosts() {
    // ha-stacked: lb1-lb3 are 10.0.0.17-19, the VIP 10.0.0.100.
    let job = || Job::new("kubeadm").profile("rocky9").topology("ha-stacked");
    let text = ok(&job()).render();
    let lb1 = keepalived_of(&text, "lb1");
    for want in [
        "+    virtual_router_id 100\n",
        "+    unicast_src_ip 10.0.0.17\n",
        "+    unicast_peer {\n",
        "+        10.0.0.18\n",
        "+        10.0.0.19\n",
    ] {
        assert!(lb1.contains(want), "lb1 lacks {want:?}:\n{lb1}");
    }
    assert!(!lb1.contains("10.0.0.17\n          | +        10"), "{lb1}");
    let lb2 = keepalived_of(&text, "lb2");
    for want in [
        "+    unicast_src_ip 10.0.0.18\n",
        "+        10.0.0.17\n",
        "+        10.0.0.19\n",
    ] {
        assert!(lb2.contains(want), "lb2 lacks {want:?}:\n{lb2}");
    }
    assert!(!text.contains("virtual_router_id 51"), "{text}");
    // Chosen with --set or an inventory var (the same parameter), checked at plan time.
    let text = ok(&job().set("vrid", "7")).render();
    assert!(keepalived_of(&text, "lb3").contains("+    virtual_router_id 7\n"));
    let mut inv = job();
    for h in ["cp1", "cp2", "cp3", "w1", "w2", "w3", "lb1", "lb2", "lb3"] {
        inv = inv.var(h, "vrid", "42");
    }
    let text = ok(&inv).render();
    assert!(keepalived_of(&text, "lb1").contains("+    virtual_router_id 42\n"));
    refused(&job().set("vrid", "256"), &["vrid=256", "1 to 255"]);
    refused(&job().set("vrid", "-3"), &["vrid=-3", "1 to 255"]);
    refused(
        &job().set("vip", "10.0.1.0"),
        &["vip=10.0.1.0", "set vrid=1..255"],
    );
    refused(
        &job().set("vip", "api.example"),
        &["vip=api.example is not an IPv4 address"],
    );
}

#[test]
fn a_joined_control_plane_waits_for_its_own_api_server_not_the_load_balancer() {
    let text = ok(&Job::new("kubeadm").profile("rocky9").topology("ha-stacked")).render();
    for (h, a) in [("cp2", "10.0.0.12"), ("cp3", "10.0.0.13")] {
        let own = format!(
            "{h} wait_ready: would wait for cmd kubectl --kubeconfig /etc/kubernetes/admin.conf --server https://{a}:6443 get --raw /readyz"
        );
        assert!(text.contains(&own), "{h} lacks {own:?}:\n{text}");
        assert!(
            !text.contains(&format!(
                "{h} wait_ready: would wait for cmd kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw /readyz"
            )),
            "{text}"
        );
    }
    // The first control plane, after init, checks the endpoint the joins will use.
    assert!(text.contains(
        "cp1 wait_ready: would wait for cmd kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw /readyz"
    ));
}

/// With the API servers on another port than kubeadm's 6443, every control plane listens
/// there: the first through its init configuration's bindPort, each joined one through
/// `--apiserver-bind-port` (without it kubeadm gives the joined API server 6443, where HAProxy
/// does not look and its own wait_ready would wait in vain).
#[test]
fn every_control_plane_listens_on_the_api_port_it_is_given() {
    let job = Job::new("kubeadm")
        .profile("rocky9")
        .topology("ha-stacked")
        .set("api_port", "8443")
        .set("lb_port", "6443");
    let p = ok(&job);
    let text = p.render();
    assert!(text.contains("bindPort: 8443"), "{text}");
    let joins: Vec<String> = kubeadm_lines(&p)
        .into_iter()
        .filter(|l| l.contains("kubeadm join") && l.contains("--control-plane"))
        .collect();
    assert_eq!(joins.len(), 2, "{joins:#?}");
    for (j, a) in joins.iter().zip(["10.0.0.12", "10.0.0.13"]) {
        assert!(
            j.contains(&format!(
                "--apiserver-advertise-address {a} --apiserver-bind-port 8443 "
            )),
            "{j}"
        );
        let own = format!("--server https://{a}:8443 get --raw /readyz");
        assert!(text.contains(&own), "lacks {own:?}:\n{text}");
    }
    // On kubeadm's own port the flag is not written.
    let default = ok(&Job::new("kubeadm").profile("rocky9").topology("ha-stacked"));
    assert!(!default.render().contains("--apiserver-bind-port"));
}

/// The testbed nodes as a later capture finds them: in a network namespace of their own,
/// nf_conntrack_max is read-only (`stat -c %a` gives 444 there; kube-proxy 1.36 stopped on
/// exactly that in tests/k8s_multi.rs: "open /proc/sys/net/netfilter/nf_conntrack_max:
/// permission denied").
#[test]
fn a_node_that_cannot_resize_conntrack_gives_kube_proxy_max_per_core_zero() {
    let nodes = |fixed: &[&str]| {
        let hosts = ["node1", "node2"].map(|h| {
            let path = format!("{}/{h}.json", fixture("testbed-docker-flannel"));
            let mut f = Fixture::load(&path).unwrap();
            f.facts.conntrack_max_fixed = fixed.contains(&h);
            (h, f)
        });
        folder(hosts.into_iter().collect())
    };
    let job = |dir: &tempfile::TempDir| {
        testbed_nodes()
            .facts(dir.path().to_str().unwrap())
            .address("node1", "10.213.96.11")
            .address("node2", "10.213.96.12")
    };
    let fixed = nodes(&["node2"]);
    let text = ok(&job(&fixed)).render();
    let config: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once("| +").map(|(_, c)| c))
        .collect();
    let at = config
        .iter()
        .position(|l| *l == "kind: KubeProxyConfiguration")
        .unwrap_or_else(|| panic!("no KubeProxyConfiguration:\n{text}"));
    assert_eq!(config[at + 1..at + 3], ["conntrack:", "  maxPerCore: 0"]);
    assert!(
        text.contains("[\"node2\"] cannot resize the connection-tracking table"),
        "{text}"
    );
    let ordinary = nodes(&[]);
    let text = ok(&job(&ordinary)).render();
    assert!(!text.contains("KubeProxyConfiguration"), "{text}");
}

/// `kubeadm reset` leaves the pod network's interfaces; the reset recipe removes them (a reset
/// node's old cni0 subnet stopped its pods in the next cluster, tests/k8s_multi.rs found), but
/// not the pods' veths nor tunl0, which cannot be deleted.
#[test]
fn reset_removes_the_pod_networks_interfaces() {
    let (dir, _) = running(
        "flannel",
        &[
            ("cni0", &["10.244.0.1/24"]),
            ("flannel.1", &["10.244.0.0/32"]),
            ("vethabc", &[]),
            ("tunl0", &[]),
        ],
    );
    let p = ok(&Job::new("reset")
        .facts(&dir.path().display().to_string())
        .group("control_plane", &["cp1"]));
    let text = p.render();
    for gone in ["run: ip link delete cni0", "run: ip link delete flannel.1"] {
        assert!(text.contains(gone), "{gone} missing:\n{text}");
    }
    for kept in ["vethabc", "tunl0"] {
        assert!(!text.contains(&format!("delete {kept}")), "{kept}:\n{text}");
    }
}
