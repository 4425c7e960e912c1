//! Day two on a running cluster (issue 15): the plans of upgrade, remove-node, certs,
//! etcd-backup and etcd-restore on the running clusters of tests/fixtures/facts/day2
//! (make-day2.py), as reviewed snapshots; their refusals, whole, with exit code 2 and nothing
//! changed; a rerun of a part-done upgrade; and the pure parts of the modules behind them
//! (the drain's PodDisruptionBudget stop, the certificate table, etcd's member list).

mod common;
mod recipes_support;

use recipes_support::{fixture, plan, Job, Plan};

plan_worker!();

/// A day-two cluster fixture folder.
fn cluster(name: &str) -> String {
    fixture(&format!("day2/{name}"))
}

/// `recipe` on the cluster `facts` of topology `t` (the inventories of recipes_support).
fn job(recipe: &str, t: &str, facts: &str) -> Job {
    Job::new(recipe).topology(t).facts(facts)
}

/// The same for remove-node, which reads the groups only (no topology parameters).
fn removal(t: &str, facts: &str) -> Job {
    let mut j = job("remove-node", t, facts);
    j.sets.clear();
    j
}

/// The settings an etcd-restore plan needs: the snapshot the fixtures' members have, confirmed.
const RESTORE: &[(&str, &str)] = &[
    ("snapshot", "/var/backups/etcd/snapshot.db"),
    ("confirm", "true"),
];

/// `job` with every setting of `sets`.
fn with(mut job: Job, sets: &[(&str, &str)]) -> Job {
    for (k, v) in sets {
        job = job.set(k, v);
    }
    job
}

/// Asserts that the plan's text has `needle`, showing the text when not.
fn has(text: &str, needle: &str) {
    assert!(text.contains(needle), "no {needle:?} in:\n{text}");
}

/// Asserts that the plan's text does not have `needle`.
fn lacks(text: &str, needle: &str) {
    assert!(!text.contains(needle), "{needle:?} in:\n{text}");
}

fn ok(job: Job) -> Plan {
    let p = plan(&job);
    assert_eq!(p.code, 0, "plan failed:\n{}\n{}", p.render(), p.stderr);
    p
}

fn snapshot(name: &str, job: Job) {
    let p = ok(job);
    insta::with_settings!({ snapshot_suffix => name.to_string(), prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("day2", p.render());
    });
}

#[test]
fn upgrade_plans() {
    let to = |j: Job| j.set("k8s_version", "1.37.2");
    snapshot(
        "upgrade-multi",
        to(job("upgrade", "multi", &cluster("multi-1.36"))),
    );
    snapshot(
        "upgrade-multi-part-done",
        to(job("upgrade", "multi", &cluster("multi-part"))),
    );
    snapshot(
        "upgrade-ha-stacked-batch-2",
        to(job("upgrade", "ha-stacked", &cluster("ha-stacked-1.36"))).set("batch", "2"),
    );
    snapshot(
        "upgrade-ha-external-etcd",
        to(job(
            "upgrade",
            "ha-external-etcd",
            &cluster("ha-external-1.36"),
        )),
    );
}

#[test]
fn a_rerun_of_a_part_done_upgrade_changes_only_the_nodes_not_on_the_new_version() {
    // cp1 and w1 run 1.37.2 (packages, API server, kubelets); w2 is still on 1.36.3.
    let p = ok(job("upgrade", "multi", &cluster("multi-part")).set("k8s_version", "1.37.2"));
    let text = p.render();
    for c in p.changed() {
        assert!(
            c.starts_with("w2 ") || (c.starts_with("cp1 kubectl ") && c.contains(" w2")),
            "a change for another node than w2: {c}\n{text}"
        );
    }
    has(&text, "cp1 runs 1.37.2 already: unchanged");
    has(&text, "w1 runs 1.37.2 already: unchanged");
    lacks(&text, "upgrade apply");
    has(&text, "changed w2 run: kubeadm upgrade node");
    has(&text, "cp1 kubectl: kubectl uncordon w2");

    // w2's packages moved, but the API server still sees its old kubelet (the run stopped
    // before the restart): the kubelet part is done again, the packages are left.
    let done = tempfile::tempdir().unwrap();
    copy_cluster(
        "multi-part",
        done.path(),
        &[("w2", &[("1.36.3", "1.37.2"), ("v1.36", "v1.37")])],
    );
    let upgrade =
        || {
            ok(job("upgrade", "multi", &done.path().display().to_string())
                .set("k8s_version", "1.37.2"))
        };
    let p = upgrade();
    let text = p.render();
    has(&text, "changed w2 systemctl: restart kubelet");
    lacks(&text, "yum: install");

    // Every node on the new version: nothing changes at all.
    edit_node(done.path(), "w2", |n| {
        n["status"]["nodeInfo"]["kubeletVersion"] = "v1.37.2".into();
    });
    let p = upgrade();
    assert!(p.changed().is_empty(), "{}", p.render());
    assert!(p.render().contains("every node runs 1.37.2: nothing to do"));
}

/// Copies day-two cluster `name` into `to`, with text replacements in some hosts' files.
fn copy_cluster(name: &str, to: &std::path::Path, edits: &[(&str, &[(&str, &str)])]) {
    for e in std::fs::read_dir(cluster(name)).unwrap() {
        let path = e.unwrap().path();
        let host = path.file_stem().unwrap().to_string_lossy().to_string();
        let mut text = std::fs::read_to_string(&path).unwrap();
        for (h, pairs) in edits {
            if *h == host || *h == "*" {
                for (from, into) in pairs.iter() {
                    text = text.replace(from, into);
                }
            }
        }
        std::fs::write(to.join(path.file_name().unwrap()), text).unwrap();
    }
}

/// Changes node `name` in what `kubectl get nodes -o json` answers on cp1 of the cluster in `dir`.
fn edit_node(dir: &std::path::Path, name: &str, f: impl Fn(&mut serde_json::Value)) {
    let path = dir.join("cp1.json");
    let mut fx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let c = fx["commands"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["argv"].to_string().contains("\"nodes\",\"-o\",\"json\""))
        .expect("cp1 answers kubectl get nodes");
    let mut list: serde_json::Value = serde_json::from_str(c["stdout"].as_str().unwrap()).unwrap();
    let n = list["items"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|n| n["metadata"]["name"] == name)
        .expect("the node is listed");
    f(n);
    c["stdout"] = list.to_string().into();
    std::fs::write(&path, fx.to_string()).unwrap();
}

/// The message of the error that ended the run (its first line, without `error: ` and the
/// source location below it).
fn message(p: &Plan) -> String {
    let e = p.error().unwrap_or_default();
    let first = e.lines().next().unwrap_or("");
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

/// A plan that must stop with exit code 2 and exactly `message`, before any host changes.
fn refused(job: Job, want: &str) {
    let p = plan(&job);
    assert_eq!(p.code, 2, "{}\n{}", p.render(), p.stderr);
    assert_eq!(message(&p), want, "{}", p.render());
    assert!(
        p.changed().is_empty(),
        "changes before the refusal:\n{}",
        p.render()
    );
}

#[test]
fn upgrade_refuses_a_skipped_minor_a_downgrade_and_kubelets_beyond_the_skew() {
    let multi = |facts: &str| job("upgrade", "multi", facts);
    let dir = tempfile::tempdir().unwrap();
    copy_cluster(
        "multi-1.36",
        dir.path(),
        &[("*", &[("1.36.3", "1.35.4"), ("v1.36", "v1.35")])],
    );
    refused(
        multi(&dir.path().display().to_string()).set("k8s_version", "1.37.2"),
        "k8s_version=1.37.2 skips a minor version: the control plane runs 1.35.4 (cp1), and kubeadm upgrades one minor at a time. Upgrade to 1.36 first (--set k8s_version=1.36.3), then to 1.37.2",
    );
    refused(
        multi(&cluster("multi-1.36")).set("k8s_version", "1.35.4"),
        "k8s_version=1.35.4 is older than what the cluster runs (1.36.3 on cp1): Kubernetes supports no downgrade, and galley does none. To finish an upgrade to 1.36.3, run upgrade with --set k8s_version=1.36.3; to go back, restore an etcd snapshot taken before the upgrade (galley run etcd-restore)",
    );
    // Part-upgraded: w1's kubelet is on 1.37.2 already, so 1.36.x would move it back.
    refused(
        multi(&cluster("multi-part")).set("k8s_version", "1.36.3"),
        "k8s_version=1.36.3 is older than what the cluster runs (1.37.2 on cp1): Kubernetes supports no downgrade, and galley does none. To finish an upgrade to 1.37.2, run upgrade with --set k8s_version=1.37.2; to go back, restore an etcd snapshot taken before the upgrade (galley run etcd-restore)",
    );
    // w2's kubelet stayed on 1.33 (package and node): four minors behind 1.37.
    let skew = tempfile::tempdir().unwrap();
    copy_cluster(
        "multi-1.36",
        skew.path(),
        &[("w2", &[("1.36.3-150500", "1.33.7-150500")])],
    );
    edit_node(skew.path(), "w2", |n| {
        n["status"]["nodeInfo"]["kubeletVersion"] = "v1.33.7".into();
    });
    refused(
        multi(&skew.path().display().to_string()).set("k8s_version", "1.37.2"),
        "the kubelets of [\"w2 (1.33.7)\"] are more than 3 minor versions older than 1.37.2, beyond the supported version skew: bring them to the control plane's version first (galley run upgrade --set k8s_version=1.36.3 upgrades only the nodes behind), or remove them (galley run remove-node --set node=NAME), then upgrade to 1.37.2",
    );
}

#[test]
fn upgrade_refuses_bad_settings_before_reading_any_host() {
    let multi = || job("upgrade", "multi", &cluster("multi-1.36"));
    refused(
        multi(),
        "upgrade needs the version to go to: --set k8s_version=1.N.P (a newer patch of the cluster's minor, or a patch of the next one)",
    );
    refused(
        multi().set("k8s_version", "1.37.2").set("batch", "0"),
        "batch=0: the number of workers upgraded at once is at least 1",
    );
    let p = plan(&multi().set("k8s_version", "1.37.2").set("batch", "two"));
    assert_eq!(p.code, 2, "{}", p.render());
    assert!(
        p.error().unwrap_or_default().contains("batch"),
        "{}",
        p.render()
    );
    refused(
        multi().set("k8s_version", "1.38.0"),
        "k8s_version=1.38.0: Kubernetes 1.38 is not one this project supports; pick a patch of [\"1.16\", \"1.24\", \"1.34\", \"1.35\", \"1.36\", \"1.37\"] (stdlib/versions.rhai)",
    );
    assert!(
        plan(&multi().set("k8s_version", "1.37.2").set("batch", "0"))
            .actions()
            .is_empty(),
        "a host was read before the refusal"
    );
}

#[test]
fn remove_node_plans() {
    for (name, t, facts, node) in [
        ("multi-worker", "multi", "multi-1.36", "w2"),
        (
            "ha-stacked-control-plane",
            "ha-stacked",
            "ha-stacked-1.36",
            "cp3",
        ),
        // A control plane with external etcd: no etcd member to remove.
        (
            "ha-external-etcd-control-plane",
            "ha-external-etcd",
            "ha-external-1.36",
            "cp2",
        ),
        (
            "ha-external-etcd-member",
            "ha-external-etcd",
            "ha-external-1.36",
            "etcd3",
        ),
    ] {
        snapshot(
            &format!("remove-node-{name}"),
            removal(t, &cluster(facts)).set("node", node),
        );
    }
}

#[test]
fn remove_node_refuses_an_unknown_node_and_the_last_control_plane() {
    refused(
        removal("multi", &cluster("multi-1.36")).set("node", "w9"),
        "node=w9 is neither a node of the cluster nor an inventory host (the cluster's nodes are [\"cp1\", \"w1\", \"w2\"]; the inventory has [\"cp1\", \"w1\", \"w2\"]): name a node as kubectl get nodes lists it",
    );
    refused(
        removal("multi", &cluster("multi-1.36")).set("node", "cp1"),
        "cp1 is the only control plane: removing it removes the cluster; the reset recipe does that (galley run reset)",
    );
    refused(
        removal("multi", &cluster("multi-1.36")),
        "remove-node needs the node to remove: --set node=NAME (kubectl get nodes lists them)",
    );
}

#[test]
fn remove_node_of_a_node_not_ready_does_not_drain_it() {
    // w2 is dead: NotReady in the API. Its pods cannot be evicted; the node still goes.
    let dir = tempfile::tempdir().unwrap();
    copy_cluster("multi-1.36", dir.path(), &[]);
    edit_node(dir.path(), "w2", |n| {
        n["status"]["conditions"][0]["status"] = "Unknown".into();
    });
    let p = ok(removal("multi", &dir.path().display().to_string()).set("node", "w2"));
    let text = p.render();
    lacks(&text, "drain w2");
    has(&text, "w2 is not Ready: not drained");
    has(
        &text,
        "changed cp1 kubectl: kubectl delete node w2 --ignore-not-found",
    );
}

#[test]
fn remove_node_where_the_plan_does_not_know_the_nodes_plans_drain_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    copy_cluster(
        "multi-1.36",
        dir.path(),
        &[("cp1", &[("\"nodes\",", "\"nodes-not-recorded\",")])],
    );
    let p = ok(removal("multi", &dir.path().display().to_string()).set("node", "w2"));
    let text = p.render();
    has(&text, "unknown cp1 kubectl_json: kubectl get nodes -o json");
    has(
        &text,
        "w2 is planned as a Ready node (drained, then deleted)",
    );
    has(&text, "changed cp1 kubectl: kubectl drain w2 ");
    has(
        &text,
        "changed cp1 kubectl: kubectl delete node w2 --ignore-not-found",
    );
}

#[test]
fn certs_plans() {
    snapshot("certs-multi", job("certs", "multi", &cluster("multi-1.36")));
    snapshot(
        "certs-ha-stacked-renew",
        job("certs", "ha-stacked", &cluster("ha-stacked-1.36")).set("renew", "true"),
    );
    snapshot(
        "certs-ha-external-etcd",
        job("certs", "ha-external-etcd", &cluster("ha-external-1.36")),
    );
}

#[test]
fn certs_without_renew_changes_nothing_and_says_what_it_did_not_see() {
    let p = ok(job("certs", "multi", &cluster("multi-1.36")));
    assert!(p.changed().is_empty(), "{}", p.render());
    // A control plane whose facts do not answer check-expiration: said, not taken as fine.
    let dir = tempfile::tempdir().unwrap();
    copy_cluster(
        "multi-1.36",
        dir.path(),
        &[(
            "cp1",
            &[("\"check-expiration\"", "\"check-expiration-not-recorded\"")],
        )],
    );
    let p = ok(job("certs", "multi", &dir.path().display().to_string()));
    assert!(
        p.render()
            .contains("cp1: kubeadm certs check-expiration is not known here (would check)"),
        "{}",
        p.render()
    );
}

#[test]
fn etcd_backup_and_restore_plans() {
    for (t, facts) in [
        ("multi", "multi-1.36"),
        ("ha-stacked", "ha-stacked-1.36"),
        ("ha-external-etcd", "ha-external-1.36"),
    ] {
        snapshot(
            &format!("etcd-backup-{t}"),
            job("etcd-backup", t, &cluster(facts)),
        );
    }
    // Copied to the machine galley runs on as well: the plan says the member's file is not
    // there yet (the save before it makes it), so the copy is a change.
    snapshot(
        "etcd-backup-fetched",
        job("etcd-backup", "multi", &cluster("multi-1.36")).set("fetch", "backups/{host}-etcd.db"),
    );
    for (t, facts) in [
        ("multi", "multi-1.36"),
        ("ha-stacked", "ha-stacked-1.36"),
        ("ha-external-etcd", "ha-external-1.36"),
    ] {
        snapshot(
            &format!("etcd-restore-{t}"),
            with(job("etcd-restore", t, &cluster(facts)), RESTORE),
        );
    }
}

#[test]
fn etcd_restore_refuses_without_confirm_and_stops_without_the_snapshot_everywhere() {
    let restore = || job("etcd-restore", "ha-stacked", &cluster("ha-stacked-1.36"));
    refused(
        restore().set("snapshot", "/var/backups/etcd/snapshot.db"),
        "etcd-restore replaces the cluster's whole state with the snapshot's (objects made since are gone): --set confirm=true to go on; galley plan etcd-restore ... --set confirm=true shows every step first",
    );
    refused(
        restore().set("confirm", "true"),
        "etcd-restore needs the snapshot's absolute path on the members: --set snapshot=/var/backups/etcd/snapshot.db (etcd-backup makes one)",
    );
    let p = plan(
        &restore()
            .set("confirm", "true")
            .set("snapshot", "/root/other.db"),
    );
    assert_eq!(p.code, 1, "{}", p.render());
    assert_eq!(
        message(&p),
        "the snapshot /root/other.db is not on [\"cp1\", \"cp2\", \"cp3\"]: copy it to the same path on every member (scp), then rerun; nothing was changed"
    );
    assert!(p.changed().is_empty(), "{}", p.render());
    refused(
        job("etcd-backup", "multi", &cluster("multi-1.36")).set("member", "w1"),
        "member=w1 is not an etcd member of this cluster; the members are [\"cp1\"]",
    );
}

/// Runs `body` after the day-two imports as a plan; what it printed with `print`.
fn eval(body: &str) -> Vec<String> {
    let script = format!(
        "import \"k8s/nodes\" as nodes;\nimport \"k8s/certs\" as certs;\nimport \"k8s/upgrade\" as upgrade;\nimport \"k8s/etcd_admin\" as etcd_admin;\n{body}\n"
    );
    let ran = common::Test::new()
        .file("t.rhai", &script)
        .args(&["plan", "./t.rhai", "--output", "json"])
        .run();
    ran.code(0);
    ran.logs()
}

/// kubectl drain's output when a budget refuses, as kubectl 1.37 writes it.
const DRAIN: &str = r#"node/w1 cordoned
Warning: ignoring DaemonSet-managed Pods: kube-system/calico-node-x7k2p, kube-system/kube-proxy-8zq4d
evicting pod shop/web-7d4b9c6f5-x2k8p
evicting pod shop/cache-0
error when evicting pods/"web-7d4b9c6f5-x2k8p" -n "shop" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.
pod/cache-0 evicted
error when evicting pods/"web-7d4b9c6f5-x2k8p" -n "shop" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.
There are pending pods in node "w1" when an error occurred: error when evicting pods/"web-7d4b9c6f5-x2k8p" -n "shop": global timeout reached: 5m0s
error: unable to drain node "w1" due to error: error when evicting pods/"web-7d4b9c6f5-x2k8p" -n "shop": global timeout reached: 5m0s, continuing command...
"#;

#[test]
fn a_drain_blocked_by_a_disruption_budget_stops_naming_the_budget() {
    let out = eval(&format!(
        r#"
        let blocked = nodes::refused_evictions({drain:?});
        print(blocked);
        let pod = #{{ metadata: #{{ name: "web-7d4b9c6f5-x2k8p", namespace: "shop", labels: #{{ app: "web", tier: "front" }} }} }};
        let pdbs = [
            #{{ metadata: #{{ name: "web", namespace: "shop" }}, spec: #{{ minAvailable: 2, selector: #{{ matchLabels: #{{ app: "web" }} }} }}, status: #{{ disruptionsAllowed: 0 }} }},
            #{{ metadata: #{{ name: "web", namespace: "other" }}, spec: #{{ minAvailable: 1, selector: #{{ matchLabels: #{{ app: "web" }} }} }}, status: #{{ disruptionsAllowed: 0 }} }},
            #{{ metadata: #{{ name: "cache", namespace: "shop" }}, spec: #{{ maxUnavailable: 1, selector: #{{ matchLabels: #{{ app: "cache" }} }} }}, status: #{{ disruptionsAllowed: 1 }} }},
            #{{ metadata: #{{ name: "front", namespace: "shop" }}, spec: #{{ maxUnavailable: 1, selector: #{{ matchExpressions: [#{{ key: "tier", operator: "In", values: ["front", "edge"] }}] }} }}, status: #{{ disruptionsAllowed: 0 }} }},
        ];
        let found = [#{{ namespace: "shop", pod: blocked[0].pod, budgets: nodes::budgets_of(pod, pdbs) }}];
        print(nodes::drain_stop("w1", 300, {drain:?}, found, "w1 stays cordoned"));
        print(nodes::drain_stop("w1", 300, "error: the server doesn't have a resource type \"nodes\"\n", [], "w1 stays cordoned"));
        "#,
        drain = DRAIN
    ));
    assert_eq!(
        out,
        vec![
            "[#{\"namespace\": \"shop\", \"pod\": \"web-7d4b9c6f5-x2k8p\"}]".to_string(),
            "drain of w1 stopped (kubectl drain, --timeout=300s): pod shop/web-7d4b9c6f5-x2k8p is held by PodDisruptionBudget shop/web (minAvailable 2, 0 disruptions allowed now), shop/front (maxUnavailable 1, 0 disruptions allowed now). w1 stays cordoned. Let the budget allow a disruption (more replicas on other nodes, or a lower minAvailable), then rerun".to_string(),
            "drain of w1 failed (kubectl drain, --timeout=300s): error: the server doesn't have a resource type \"nodes\". w1 stays cordoned".to_string(),
        ]
    );
}

#[test]
fn the_certificate_table_and_what_it_warns_about() {
    let text = "[check-expiration] Reading configuration from the cluster...\n\nCERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED\nadmin.conf                 Nov 07, 2027 08:10 UTC   340d            ca                      no\napiserver                  Dec 01, 2026 08:10 UTC   <invalid>       ca                      no\nfront-proxy-client         Dec 12, 2026 08:10 UTC   9d              front-proxy-ca          yes\n\nCERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED\nca                      Nov 05, 2035 08:10 UTC   8y              no\n";
    let out = eval(&format!(
        r#"
        let rows = certs::parse({text:?});
        print(rows.len());
        print(rows[3]);
        print(certs::table(rows));
        for w in certs::concerns("cp1", rows, 30) {{ print(w); }}
        print([certs::days_left("340d"), certs::days_left("8y"), certs::days_left("20h"), certs::days_left("<invalid>")]);
        "#
    ));
    assert_eq!(out[0], "4");
    assert_eq!(
        out[1],
        "#{\"authority\": \"\", \"expires\": \"Nov 05, 2035 08:10 UTC\", \"external\": \"no\", \"is_ca\": true, \"name\": \"ca\", \"residual\": \"8y\"}"
    );
    assert_eq!(
        out[2],
        "\nCERTIFICATE         EXPIRES                 LEFT       SIGNED BY       EXTERNAL\nadmin.conf          Nov 07, 2027 08:10 UTC  340d       ca              no\napiserver           Dec 01, 2026 08:10 UTC  <invalid>  ca              no\nfront-proxy-client  Dec 12, 2026 08:10 UTC  9d         front-proxy-ca  yes\nca                  Nov 05, 2035 08:10 UTC  8y         (CA)            no"
    );
    assert_eq!(
        out[3..].to_vec(),
        vec![
            "cp1: apiserver has expired (Dec 01, 2026 08:10 UTC)",
            "cp1: front-proxy-client expires in 9d (Dec 12, 2026 08:10 UTC)",
            "cp1: front-proxy-client is externally managed: kubeadm certs renew leaves it alone; renew it where it is made",
            "[340, 2920, 0, -1]",
        ]
    );
}

#[test]
fn versions_and_members_are_read_from_what_kubeadm_writes() {
    let out = eval(
        r#"
        print(upgrade::manifest_version("spec:\n  containers:\n  - command:\n    - kube-apiserver\n    image: registry.k8s.io/kube-apiserver:v1.36.3\n"));
        print(upgrade::manifest_version("no image here\n"));
        print(etcd_admin::parse_members("8e9e05c52164694d, started, cp1, https://10.0.0.11:2380, https://10.0.0.11:2379, false\n91bc3c398fb3c146, unstarted, , https://10.0.0.12:2380, , false\n"));
        print(etcd_admin::manifest_member("  - command:\n    - etcd\n    - --initial-advertise-peer-urls=https://10.0.0.13:2380\n    - --name=cp3\n    image: registry.k8s.io/etcd:3.6.8-0\n"));
        print(etcd_admin::initial_cluster(#{ b: #{ name: "cp2", address: "10.0.0.12" }, a: #{ name: "cp1", address: "10.0.0.11" } }));
        "#,
    );
    assert_eq!(
        out,
        vec![
            "1.36.3",
            "",
            "[#{\"id\": \"8e9e05c52164694d\", \"name\": \"cp1\", \"peer\": \"https://10.0.0.11:2380\"}, #{\"id\": \"91bc3c398fb3c146\", \"name\": \"\", \"peer\": \"https://10.0.0.12:2380\"}]",
            "#{\"address\": \"10.0.0.13\", \"name\": \"cp3\", \"version\": \"3.6.8\"}",
            "cp1=https://10.0.0.11:2380,cp2=https://10.0.0.12:2380",
        ]
    );
}

#[test]
fn on_debian_each_package_is_unheld_installed_and_held_again() {
    let dir = tempfile::tempdir().unwrap();
    copy_cluster("multi-1.36", dir.path(), &[]);
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let path = e.unwrap().path();
        let mut f: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f["facts"]["os"] = serde_json::json!({ "family": "debian", "id": "debian", "version_id": "12", "name": "Debian GNU/Linux 12 (bookworm)" });
        f["facts"]["pkg_manager"] = "apt".into();
        std::fs::write(&path, f.to_string()).unwrap();
    }
    let p =
        ok(job("upgrade", "multi", &dir.path().display().to_string()).set("k8s_version", "1.37.2"));
    let text = p.render();
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"))
    };
    assert!(
        at("changed w1 run: apt-mark unhold kubeadm")
            < at("changed w1 apt: install kubeadm=1.37.2-*"),
        "{text}"
    );
    assert!(
        at("changed w1 apt: install kubeadm=1.37.2-*")
            < at("changed w1 run: apt-mark hold kubeadm"),
        "{text}"
    );
    assert!(
        at("changed w1 run: apt-mark unhold kubelet kubectl")
            < at("changed w1 apt: install kubelet=1.37.2-* kubectl=1.37.2-*"),
        "{text}"
    );
    assert!(
        at("changed w1 apt: install kubelet=1.37.2-* kubectl=1.37.2-*")
            < at("changed w1 run: apt-mark hold kubelet kubectl"),
        "{text}"
    );
}

#[test]
fn a_node_cordoned_by_someone_else_stays_cordoned_after_its_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    copy_cluster("multi-1.36", dir.path(), &[]);
    edit_node(dir.path(), "w1", |n| {
        n["spec"]["unschedulable"] = true.into();
    });
    edit_node(dir.path(), "w2", |n| {
        n["spec"]["unschedulable"] = true.into();
        n["metadata"]["annotations"] =
            serde_json::json!({ "galley/cordoned-for": "upgrade to v1.37.2" });
    });
    let p =
        ok(job("upgrade", "multi", &dir.path().display().to_string()).set("k8s_version", "1.37.2"));
    let text = p.render();
    lacks(&text, "kubectl uncordon w1");
    lacks(&text, "annotate --overwrite node w1");
    has(&text, "changed cp1 kubectl: kubectl drain w1 ");
    has(
        &text,
        "w1 was cordoned before the upgrade, not by galley: it stays cordoned",
    );
    // galley's own cordon (a run that stopped) is undone.
    has(&text, "changed cp1 kubectl: kubectl uncordon w2");
}

#[test]
fn the_recipes_that_act_on_the_whole_cluster_refuse_a_limit() {
    for (recipe, sets) in [
        ("upgrade", &[("k8s_version", "1.37.2")][..]),
        ("etcd-backup", &[][..]),
        ("etcd-restore", RESTORE),
    ] {
        let j = with(
            job(recipe, "multi", &cluster("multi-1.36")).limit("w1"),
            sets,
        );
        refused(j, &format!("{recipe} acts on the whole cluster in its own order (kubectl from a control plane): run it without --limit; what is done already is left unchanged"));
    }
    refused(
        removal("multi", &cluster("multi-1.36")).set("node", "w2").limit("w2"),
        "remove-node acts on the whole cluster in its own order (kubectl from a control plane): run it without --limit; what is done already is left unchanged",
    );
    // certs renews only where the limit lets it.
    let p = ok(job("certs", "ha-stacked", &cluster("ha-stacked-1.36"))
        .set("renew", "true")
        .limit("cp2"));
    let text = p.render();
    has(&text, "changed cp2 run: kubeadm certs renew all");
    lacks(&text, "cp1 run: kubeadm certs renew all");
    has(&text, "[\"cp1\", \"cp3\"] are outside --limit: not renewed");
}

#[test]
fn forked_day_two_recipes_plan_the_same_steps() {
    for (recipe, sets) in [
        ("upgrade", &[("k8s_version", "1.37.2")][..]),
        ("certs", &[("renew", "true")][..]),
        ("etcd-backup", &[][..]),
        ("etcd-restore", RESTORE),
    ] {
        let t = common::Test::new().args(&["fork", recipe, "f", "--with-stdlib"]);
        t.run().code(0);
        let (dir, _) = t.keep();
        let bundled = with(job(recipe, "ha-stacked", &cluster("ha-stacked-1.36")), sets);
        let forked = Job {
            recipe: dir
                .path()
                .join(format!("f/{recipe}.rhai"))
                .display()
                .to_string(),
            ..bundled.clone()
        };
        assert_eq!(ok(forked).render(), ok(bundled).render(), "{recipe}");
    }
    let t = common::Test::new().args(&["fork", "remove-node", "f"]);
    t.run().code(0);
    let (dir, _) = t.keep();
    let bundled = removal("ha-stacked", &cluster("ha-stacked-1.36")).set("node", "cp3");
    let forked = Job {
        recipe: dir.path().join("f/remove-node.rhai").display().to_string(),
        ..bundled.clone()
    };
    assert_eq!(ok(forked).render(), ok(bundled).render());
}

#[test]
fn a_real_run_stops_at_a_blocked_drain_with_the_budget_named() {
    // A stand-in for kubectl (GALLEY_KUBECTL; the kubectl on PATH is never run): drain fails the
    // way kubectl's does when a budget refuses, the budgets and the pod are listed.
    let pdbs = serde_json::json!({ "items": [
        { "metadata": { "name": "web", "namespace": "shop" },
          "spec": { "minAvailable": 2, "selector": { "matchLabels": { "app": "web" } } },
          "status": { "disruptionsAllowed": 0 } },
        { "metadata": { "name": "cache", "namespace": "shop" },
          "spec": { "maxUnavailable": 1, "selector": { "matchLabels": { "app": "cache" } } },
          "status": { "disruptionsAllowed": 1 } }
    ] });
    let pod = serde_json::json!({ "metadata": { "name": "web-7d4b9c6f5-x2k8p", "namespace": "shop", "labels": { "app": "web" } } });
    let script = format!(
        "#!/bin/sh\ncase \"$*\" in\n  *\" drain \"*) cat >&2 <<'EOF'\n{DRAIN}EOF\n    exit 1 ;;\n  *poddisruptionbudgets*) echo '{pdbs}' ;;\n  *\" get pod \"*) echo '{pod}' ;;\n  *) echo \"unexpected: $*\" >&2; exit 2 ;;\nesac\n"
    );
    let t = common::Test::new()
        .file("kubectl", &script)
        .file(
            "t.rhai",
            "import \"k8s/nodes\" as nodes;\nnodes::drain(hosts()[0], \"w1\", 5, \"w1 stays cordoned and is not upgraded\");\n",
        );
    let kubectl = t.path().join("kubectl");
    std::fs::set_permissions(
        &kubectl,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let ran = t
        .env("GALLEY_KUBECTL", &kubectl.display().to_string())
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .args(&["run", "./t.rhai"])
        .run();
    ran.code(1).stderr_has(
        "drain of w1 stopped (kubectl drain, --timeout=5s): pod shop/web-7d4b9c6f5-x2k8p is held by PodDisruptionBudget shop/web (minAvailable 2, 0 disruptions allowed now). w1 stays cordoned and is not upgraded. Let the budget allow a disruption (more replicas on other nodes, or a lower minAvailable), then rerun",
    );
}

#[test]
fn certs_renew_says_it_leaves_the_external_etcd_hosts_certificates() {
    let p = ok(job("certs", "ha-external-etcd", &cluster("ha-external-1.36")).set("renew", "true"));
    let text = p.render();
    has(
        &text,
        "etcd1: etcd/peer expires in <30d (Dec 20 08:10:00 2026 GMT)",
    );
    has(&text, "renew=true does not renew the external etcd hosts' certificates ([\"etcd1\", \"etcd2\", \"etcd3\"])");
    lacks(&text, "changed etcd1");
    has(&text, "changed cp3 run: kubeadm certs renew all");
}
