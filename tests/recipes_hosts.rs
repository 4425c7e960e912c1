//! Plans on hosts shaped like the real ones that exposed issue 11's defects: firewalld running
//! with SELinux enforcing (Rocky's defaults), a minimal Debian without iptables, a cloud VM
//! without nested virtualization, a Debian host whose KVM stack is installed, a 1.24 control
//! plane, and a fleet large enough that the reachability preflight's growth shows.

mod recipes_support;

use recipes_support::{fixture, plan, Job, Plan};

plan_worker!();

fn ok(job: Job) -> Plan {
    let p = plan(&job);
    assert_eq!(p.code, 0, "plan failed:\n{}\n{}", p.render(), p.stderr);
    p
}

/// The rendered lines of `host` that mention `needle`, in plan order.
fn lines<'a>(p: &'a str, host: &str, needle: &str) -> Vec<&'a str> {
    p.lines()
        .filter(|l| l.contains(&format!(" {host} ")) && l.contains(needle))
        .collect()
}

fn kubeadm(topology: &str) -> Job {
    Job::new("kubeadm").topology(topology)
}

#[test]
fn firewalld_lets_in_the_cni_traffic_on_nodes_and_vrrp_and_haproxy_on_lb_hosts() {
    let calico = ok(kubeadm("ha-stacked").facts(&fixture("rocky9-firewalld-enforcing.json")));
    let text = calico.render();
    for host in ["cp1", "w1"] {
        for rule in ["port=179/tcp", "protocol=4", "port=4789/udp"] {
            let l = lines(
                &text,
                host,
                &format!("firewall-cmd --permanent --add-{rule}"),
            );
            assert!(
                l.iter().any(|l| l.trim_start().starts_with("changed")),
                "{host} does not open {rule}:\n{text}"
            );
        }
    }
    for rule in ["protocol=112", "port=6443/tcp"] {
        let l = lines(&text, "lb1", &format!("--add-{rule}"));
        assert!(!l.is_empty(), "lb1 does not open {rule}:\n{text}");
    }
    // VRRP and the pod network's ports belong to their roles only.
    assert!(
        lines(&text, "w1", "--add-protocol=112").is_empty(),
        "{text}"
    );
    assert!(
        lines(&text, "lb1", "--add-port=4789/udp").is_empty(),
        "{text}"
    );

    for (cni, rules) in [
        ("flannel", &["port=8472/udp"][..]),
        ("weave", &["port=6783/tcp", "port=6783-6784/udp"][..]),
        ("kube-router", &["port=179/tcp", "protocol=4"][..]),
    ] {
        let p = ok(kubeadm("multi")
            .facts(&fixture("rocky9-firewalld-enforcing.json"))
            .set("cni", cni));
        let text = p.render();
        for rule in rules {
            assert!(
                !lines(&text, "w2", &format!("--add-{rule}")).is_empty(),
                "{cni}: w2 does not open {rule}:\n{text}"
            );
        }
        assert!(
            lines(&text, "w2", "--add-port=4789/udp").is_empty() || cni == "calico",
            "{text}"
        );
    }
}

#[test]
fn selinux_enforcing_lb_hosts_let_haproxy_reach_the_api_servers() {
    let p = ok(kubeadm("ha-stacked").facts(&fixture("rocky9-firewalld-enforcing.json")));
    let text = p.render();
    for lb in ["lb1", "lb2", "lb3"] {
        let set = lines(&text, lb, "setsebool -P haproxy_connect_any 1");
        assert_eq!(set.len(), 1, "{lb}:\n{text}");
        assert!(set[0].trim_start().starts_with("changed"), "{}", set[0]);
        // Before HAProxy is (re)started with its backends on 6443.
        let pos = |needle: &str| text.find(&format!("{lb} {needle}"));
        assert!(
            pos("run: setsebool") < pos("systemctl: restart haproxy"),
            "{text}"
        );
    }
    // Not on the Kubernetes nodes, which SELinux permissive covers (I2).
    assert!(lines(&text, "cp1", "setsebool").is_empty(), "{text}");
}

#[test]
fn minimal_debian_gets_iptables_before_anything_uses_it_and_no_legacy_switch_today() {
    let p = ok(kubeadm("single").facts(&fixture("debian12-minimal.json")));
    let text = p.render();
    let install = text
        .find("cp1 apt: install iptables")
        .unwrap_or_else(|| panic!("iptables is not installed:\n{text}"));
    assert!(
        !text.contains("iptables-legacy"),
        "current Kubernetes needs no legacy backend:\n{text}"
    );
    if let Some(kube) = text.find("kubeadm init") {
        assert!(install < kube, "{text}");
    }

    // The book's 1.16 does need it: installed first, switched after.
    let book = ok(kubeadm("single")
        .facts(&fixture("debian12-minimal.json"))
        .set("k8s_version", "1.16.6"));
    let text = book.render();
    let install = text
        .find("cp1 apt: install iptables")
        .unwrap_or_else(|| panic!("iptables is not installed:\n{text}"));
    let switch = text
        .find("/usr/sbin/iptables-legacy")
        .unwrap_or_else(|| panic!("no switch to legacy for 1.16:\n{text}"));
    assert!(
        install < switch,
        "the switch comes before the package:\n{text}"
    );
}

#[test]
fn minikube_without_a_vm_driver_installs_docker_first() {
    // kvm2 on a VM without nested virtualization is refused, pointing at driver=docker...
    let kvm = plan(&Job::new("minikube").facts(&fixture("rocky9-novirt.json")));
    assert_ne!(kvm.code, 0);
    assert!(
        kvm.render().contains("--set driver=docker"),
        "{}",
        kvm.render()
    );

    // ...which must then work: Docker installed and running before `minikube start`.
    for driver in ["docker", "none"] {
        let p = ok(Job::new("minikube")
            .facts(&fixture("rocky9-novirt.json"))
            .set("driver", driver));
        let text = p.render();
        let docker = text
            .find("docker-ce")
            .unwrap_or_else(|| panic!("driver={driver}: Docker is not installed:\n{text}"));
        let enabled = text
            .find("enable --now docker")
            .unwrap_or_else(|| panic!("driver={driver}: Docker is not started:\n{text}"));
        let start = text.find("minikube start").expect("minikube start");
        assert!(docker < start && enabled < start, "{text}");
        assert_eq!(
            text.contains("conntrack-tools"),
            driver == "none",
            "{driver}:\n{text}"
        );
    }
}

#[test]
fn debian_kvm_packages_are_named_as_dpkg_lists_them_so_a_rerun_changes_nothing() {
    let p = ok(Job::new("minikube").facts(&fixture("debian12-kvm.json")));
    let text = p.render();
    assert!(!text.contains("qemu-kvm"), "{text}");
    assert!(
        !p.changed()
            .iter()
            .any(|c| c.contains("libvirt-daemon-system")),
        "the installed KVM stack is installed again:\n{:#?}",
        p.changed()
    );
}

#[test]
fn a_single_node_on_1_24_loses_both_control_plane_taints() {
    let taint = |k8s: &str| {
        let p = ok(kubeadm("single")
            .facts(&fixture("rocky9-k8s1.24-initialized.json"))
            .set("k8s_version", k8s));
        p.changed()
            .into_iter()
            .filter(|c| c.contains(" taint nodes --all "))
            .map(|c| c.rsplit(' ').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        taint("1.24.17"),
        [
            "node-role.kubernetes.io/master-",
            "node-role.kubernetes.io/control-plane-"
        ]
    );
    // Before 1.24 only `master`, after it only `control-plane` (the minors the table has).
    assert_eq!(taint("1.16.6"), ["node-role.kubernetes.io/master-"]);
    assert_eq!(taint("1.34.4"), ["node-role.kubernetes.io/control-plane-"]);
}

#[test]
fn untaint_removes_only_the_taints_a_node_still_has() {
    // The nodes' taint keys are read once and compared key by key: on a 1.24 node that kept
    // only `control-plane`, the `master` taint, which no node has any more, is left alone.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("rocky9-k8s1.24-initialized.json")).unwrap();
    let mut f: serde_json::Value = serde_json::from_str(&text).unwrap();
    for c in f["commands"].as_array_mut().unwrap() {
        if c["argv"].to_string().contains("spec.taints") {
            c["stdout"] = "node-role.kubernetes.io/control-plane".into();
        }
    }
    let path = dir.path().join("cp.json");
    std::fs::write(&path, f.to_string()).unwrap();
    let p = ok(kubeadm("single")
        .facts(path.to_str().unwrap())
        .set("k8s_version", "1.24.17"));
    let taints: Vec<String> = p
        .changed()
        .into_iter()
        .filter(|c| c.contains(" taint nodes --all "))
        .collect();
    assert_eq!(taints.len(), 1, "{taints:?}");
    assert!(taints[0].ends_with(" node-role.kubernetes.io/control-plane-"));
}

/// The hosts pinged in a plan, as (from, to address) pairs.
fn pings(p: &Plan) -> Vec<(String, String)> {
    p.actions()
        .into_iter()
        .filter_map(|a| {
            let argv: Vec<&str> = a["commands"][0]
                .as_array()?
                .iter()
                .filter_map(|x| x.as_str())
                .collect();
            (argv.first() == Some(&"ping")).then(|| {
                (
                    a["host"].as_str().unwrap().to_string(),
                    argv.last().unwrap().to_string(),
                )
            })
        })
        .collect()
}

#[test]
fn reachability_grows_with_the_hosts_not_their_square() {
    let workers: Vec<String> = (1..=40).map(|i| format!("w{i}")).collect();
    let names: Vec<&str> = workers.iter().map(String::as_str).collect();
    let job = Job::new("kubeadm")
        .group("control_plane", &["cp1", "cp2", "cp3"])
        .group("lb", &["lb1", "lb2"])
        .group("workers", &names)
        .set("topology", "ha-stacked")
        .set("vip", "10.0.0.200");
    let p = ok(job);
    let pairs = pings(&p);
    let hosts = 3 + 2 + 40;
    // Addresses: cp1..cp3 = .11-.13, lb1, lb2 = .14, .15 (recipes_support numbers hosts in order).
    assert!(
        pairs.len() <= 3 * hosts,
        "{} pings for {hosts} hosts",
        pairs.len()
    );
    let has = |from: &str, to: &str| pairs.iter().any(|(f, t)| f == from && t == to);
    for w in &workers {
        assert!(
            has(w, "10.0.0.11"),
            "{w} does not check the first control plane"
        );
        assert!(has(w, "10.0.0.14"), "{w} does not check the first lb host");
    }
    for (cp, addr) in [
        ("cp1", "10.0.0.11"),
        ("cp2", "10.0.0.12"),
        ("cp3", "10.0.0.13"),
    ] {
        for other in ["cp1", "cp2", "cp3", "lb1", "lb2"] {
            if other != cp {
                assert!(has(other, addr), "{other} does not check {cp}");
            }
        }
    }
    assert!(!has("w1", "10.0.0.17"), "workers do not ping each other");
}

/// A running cluster (cp1, w1, w2 as a real apply leaves them; cp1 with a bootstrap token
/// from `kubeadm init` that expired and one made later) and a fresh Rocky host w3.
fn add_worker() -> Job {
    Job::new("kubeadm")
        .facts(&fixture("add-worker"))
        .group("control_plane", &["cp1"])
        .group("workers", &["w1", "w2", "w3"])
        .set("topology", "multi")
}

#[test]
fn limit_to_a_new_worker_joins_it_and_changes_nothing_elsewhere() {
    let p = ok(add_worker().limit("w3"));
    let text = p.render();
    let elsewhere: Vec<String> = p
        .changed()
        .into_iter()
        .filter(|c| !c.starts_with("w3 "))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "changes outside --limit:\n{elsewhere:#?}\n{text}"
    );
    assert!(
        !p.actions()
            .iter()
            .any(|a| a["host"] != "w3" && a["summary"].as_str().unwrap_or("").contains("restart")),
        "{text}"
    );
    // The new worker gets the whole node setup and joins with the token read from cp1 (the
    // unexpired one, redacted) and the CA hash, both read: no `kubeadm token create`.
    let join = text
        .lines()
        .find(|l| l.starts_with("changed w3 run: kubeadm join 10.0.0.11:6443 --token "))
        .unwrap_or_else(|| panic!("w3 does not join:\n{text}"));
    assert!(
        !join.contains("x8m2qa") && join.contains("********"),
        "{join}"
    );
    assert!(!join.contains("<token>"), "{join}");
    assert!(!text.contains("token create"), "{text}");
    assert!(text.contains("cp1 run: kubeadm token list"), "{text}");
    assert!(
        p.changed()
            .iter()
            .any(|c| c.starts_with("w3 ") && c.contains("kubelet")),
        "w3 gets no kubelet:\n{text}"
    );
    // The recap lists the hosts acted on; cp1 appears only through what was read there.
    assert!(lines(&text, "w1", "changed").is_empty(), "{text}");
}

#[test]
fn limit_without_the_first_control_plane_on_a_fresh_cluster_is_refused() {
    let p = plan(
        &Job::new("kubeadm")
            .profile("rocky9")
            .topology("multi")
            .limit("w2"),
    );
    assert_eq!(p.code, 2, "{}", p.render());
    let err = p.error().unwrap_or_default();
    assert!(
        err.contains("cp1, the first control plane, is outside --limit and has no cluster yet"),
        "{err}"
    );
    assert!(p.changed().is_empty(), "{}", p.render());
}

#[test]
fn limit_without_a_usable_token_on_the_control_plane_says_how_to_make_one() {
    // The same cluster two days later: the token expired, nothing else.
    let dir = tempfile::tempdir().unwrap();
    for h in ["cp1", "w1", "w2", "w3"] {
        let from = std::path::Path::new(&fixture("add-worker")).join(format!("{h}.json"));
        let mut text = std::fs::read_to_string(from).unwrap();
        if h == "cp1" {
            text = text.replace("21h         2026-12-02", "<invalid>   2026-12-02");
        }
        std::fs::write(dir.path().join(format!("{h}.json")), text).unwrap();
    }
    let p = plan(
        &add_worker()
            .facts(&dir.path().display().to_string())
            .limit("w3"),
    );
    assert_eq!(p.code, 1, "{}", p.render());
    let err = p.error().unwrap_or_default();
    assert!(
        err.contains("no usable bootstrap token: run `kubeadm token create --ttl 2h` on cp1"),
        "{err}"
    );
}

/// The actions' own commands and files (not the notes), as text.
fn acted(p: &Plan) -> String {
    p.render()
        .lines()
        .filter(|l| !l.trim_start().starts_with("warn ") && !l.trim_start().starts_with("info "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_book_profile_does_what_works_today_and_says_where_it_departs() {
    let book = |recipe: &str| {
        Job::new(recipe)
            .facts(&fixture("centos7-eol.json"))
            .set("profile", "book")
    };
    let departures = |p: &Plan| -> Vec<String> {
        p.render()
            .lines()
            .filter(|l| l.contains("departs from the book"))
            .map(str::to_string)
            .collect()
    };

    let p = ok(book("kubeadm").topology("multi"));
    let notes = departures(&p).join("\n");
    let done = acted(&p);
    // I1/I3: no repository serves 1.16 packages: the release binaries, the book's step quoted.
    assert!(
        notes.contains("(I1, I3)") && notes.contains("packages.cloud.google.com"),
        "{notes}"
    );
    assert!(
        done.contains("https://dl.k8s.io/release/v1.16.6/bin/linux/amd64/kubeadm"),
        "{done}"
    );
    assert!(!done.contains("packages.cloud.google.com"), "{done}");
    // S4: Calico 3.8's manifest from the archive.
    assert!(
        notes.contains("(S4)") && notes.contains("docs.projectcalico.org/v3.8"),
        "{notes}"
    );
    assert!(
        done.contains(
            "apply -f https://projectcalico.docs.tigera.io/archive/v3.8/manifests/calico.yaml"
        ),
        "{done}"
    );
    assert!(!done.contains("docs.projectcalico.org"), "{done}");
    // CentOS 7 is EOL: its base repositories at the vault.
    assert!(notes.contains("vault.centos.org"), "{notes}");
    assert!(
        done.contains("+baseurl=https://vault.centos.org/7.9.2009/os/$basearch/")
            && done.contains("-mirrorlist=http://mirrorlist.centos.org/"),
        "{done}"
    );
    let vault = done.find("CentOS-Base.repo").unwrap();
    let first_yum = done.find(" yum: install").unwrap();
    assert!(
        vault < first_yum,
        "the vault comes after the first yum install:\n{done}"
    );

    // flannel v0.11.0's extensions/v1beta1 DaemonSets: v0.12.0's manifest.
    let p = ok(book("kubeadm").topology("multi").set("cni", "flannel"));
    assert!(
        departures(&p).join("\n").contains("extensions/v1beta1"),
        "{}",
        p.render()
    );
    assert!(
        acted(&p).contains("flannel/v0.12.0/Documentation/kube-flannel.yml"),
        "{}",
        p.render()
    );

    // kind v0.7.0: go install, not go get.
    let p = ok(book("kind"));
    assert!(departures(&p).join("\n").contains("(K2)"), "{}", p.render());
    let done = acted(&p);
    assert!(
        done.contains("go install sigs.k8s.io/kind@v0.7.0"),
        "{done}"
    );
    assert!(!done.contains("go get"), "{done}");
}

#[test]
fn reset_removes_the_etcd_hosts_kubelet_drop_in() {
    // An external etcd member as k8s/etcd leaves it: etcd's static pod under a kubelet started
    // by galley's drop-in.
    let p = ok(Job::new("reset")
        .facts(&fixture("etcd-member-rocky9.json"))
        .group("etcd", &["etcd1"]));
    let text = p.render();
    let rm = lines(&text, "etcd1", "20-etcd-service-manager.conf");
    assert!(
        rm.iter()
            .any(|l| l.trim_start().starts_with("changed") && l.contains("rm -f")),
        "{text}"
    );
    let reset = text
        .find("etcd1 run: kubeadm reset --force")
        .expect("reset");
    let gone = text.find("20-etcd-service-manager.conf").unwrap();
    assert!(reset < gone, "{text}");
    assert!(
        text[gone..].contains("etcd1 systemctl: daemon-reload"),
        "{text}"
    );
}

#[test]
fn a_new_host_listed_first_in_control_plane_joins_the_running_cluster() {
    // cp1 and cp2 run the cluster; cp0, fresh, was put at the top of control_plane.
    let p = ok(Job::new("kubeadm")
        .facts(&fixture("new-first-cp"))
        .group("control_plane", &["cp0", "cp1", "cp2"])
        .set("topology", "ha-stacked")
        .set("control_plane_endpoint", "k8s-api.example.internal:6443"));
    let text = p.render();
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("changed") && l.contains("run: kubeadm init --")),
        "a second cluster would be initialised:\n{text}"
    );
    assert!(
        text.lines().any(|l| l
            .starts_with("changed cp0 run: kubeadm join k8s-api.example.internal:6443")
            && l.contains("--control-plane")),
        "{text}"
    );
    assert!(text.contains("cp1 already runs the cluster"), "{text}");
}
