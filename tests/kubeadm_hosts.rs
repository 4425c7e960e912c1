//! The kubeadm recipe against hosts shaped like real ones: Docker's bridges and a NAT interface
//! every VM shares (the node address), a pod network already running (a rerun), cgroup v1 (the
//! kubelet of 1.35+), a registry mirror (the sandbox image) and version settings as users write
//! them, on the command line or in the inventory.

mod recipes_support;

use galley::facts::{Fixture, Interface};
use recipes_support::{fixture, plan, Job, Plan};

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
    let p = ok(&Job::new("kubeadm")
        .profile("rocky9")
        .topology("single")
        .set("image_repository", "mirror.example.internal/k8s"));
    let text = p.render();
    assert!(
        text.contains("+  sandbox_image = \"mirror.example.internal/k8s/pause:3.10.2\""),
        "{text}"
    );
    assert!(text.contains("sandbox (pause) image mirror.example.internal/k8s/pause:3.10.2"));
    let p = ok(&Job::new("kubeadm")
        .profile("rocky9")
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
