//! Plans against facts captured from a real host with `galley facts --save`, not made up or
//! folded from our own plans: tests/fixtures/facts/captured-debian12-vm.json is the Debian 12 VM
//! this project's sessions run on (2026-12), captured with `galley facts --save DIR` on the machine
//! itself. What the capture covers: the gathered facts only (OS, kernel, interfaces and their
//! addresses, default route, cgroup version, PID 1, package manager): it was captured before
//! `--save` recorded files, packages, services or command outputs, so every probe of those reads
//! as absent or unknown.
//!
//! What it showed: PID 1 is not systemd (`process_api`), /sys/fs/cgroup is a tmpfs (cgroup v1),
//! two extra interfaces without addresses (ifb0, ifb1), and dnf installed beside apt-get on
//! Debian (the gatherer used to report `dnf`; it now prefers the family's own manager).

mod recipes_support;

use recipes_support::{fixture, plan, Job};

plan_worker!();

fn captured() -> String {
    fixture("captured-debian12-vm.json")
}

#[test]
fn a_host_without_systemd_stops_at_the_first_unit_instead_of_planning_success() {
    for recipe in ["docker", "containerd"] {
        let p = plan(&Job::new(recipe).facts(&captured()));
        assert_eq!(p.code, 1, "{recipe}:\n{}", p.render());
        // The step that failed carries the reason (the run's own error points at it).
        let err = format!("{}\n{}", p.error().unwrap_or_default(), p.render());
        assert!(
            err.contains("does not run systemd (PID 1 is `process_api`)"),
            "{recipe}: {err}\n{}",
            p.render()
        );
        // Debian's packages come from apt, dnf installed or not.
        let text = p.render();
        assert!(text.contains("local apt: install"), "{recipe}:\n{text}");
        assert!(!text.contains("dnf "), "{recipe}:\n{text}");
    }
}

#[test]
fn kubeadm_on_the_captured_host_sees_cgroup_v1_then_stops_at_systemd() {
    let p = plan(&Job::new("kubeadm").facts(&captured()));
    let text = p.render();
    assert_eq!(p.code, 1, "{text}");
    assert!(
        text.contains("run cgroup v1: the kubelets get failCgroupV1: false"),
        "{text}"
    );
    assert!(text.contains("does not run systemd"), "{text}");
}

#[test]
fn the_node_address_of_the_captured_host_is_its_default_route_ipv4() {
    // eth0 has 192.0.2.2/24, fd00::2/64 and a link-local v6; ifb0 and ifb1 have none.
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("addr.rhai");
    std::fs::write(
        &recipe,
        "import \"os\" as os;\ninfo(`address ${os::address()} on ${os::interface()}`);\n",
    )
    .unwrap();
    let p = plan(&Job::new(&recipe.display().to_string()).facts(&captured()));
    assert_eq!(p.code, 0, "{}", p.render());
    assert!(
        p.render().contains("address 192.0.2.2 on eth0"),
        "{}",
        p.render()
    );
}
