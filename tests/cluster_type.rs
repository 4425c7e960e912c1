//! The kubeadm family's cluster description is a registered type: built once by
//! `k8s/topology`, read by field, with misspelt fields refused, and buildable by any recipe from
//! the few kubeadm parameters it declares.

mod common;

use common::Test;

fn plan(body: &str) -> common::Ran {
    let script = format!("import \"k8s/topology\" as topology;\n{body}\n");
    Test::new()
        .file("t.rhai", &script)
        .args(&["plan", "./t.rhai"])
        .run()
}

#[test]
fn a_recipe_builds_the_cluster_from_only_the_parameters_it_declares() {
    let r = plan(
        "let p = params(#{ topology: \"single\", cni: \"flannel\" });\nlet c = topology::of(p);\nprint(`${type_of(c)} ${c.topology} ${c.cni} ${c.pod_cidr} ${c.cps} ${c.api_port}`);",
    );
    r.code(0)
        .stdout_has("Cluster single flannel 10.244.0.0/16 [\"local\"] 6443");
}

#[test]
fn a_misspelt_field_is_an_error_reading_and_writing() {
    let r = plan("let c = topology::of(#{});\nprint(c.etcd_endpont);");
    r.code(2)
        .stderr_has(
            "Unknown property 'etcd_endpont' - a getter is not registered for type 'Cluster'",
        )
        .stderr_has(" --> ./t.rhai:3:9");
    let r = plan("let c = topology::of(#{});\nc.endpoint = \"x:6443\";");
    r.code(2).stderr_has("endpoint");
    // The two fields a recipe grows may be set.
    let r = plan("let c = topology::of(#{});\nc.etcd_endpoints = [\"https://10.0.0.5:2379\"];\nc.cps = c.cps;\nprint(c.etcd_endpoints[0]);");
    r.code(0).stdout_has("https://10.0.0.5:2379");
}

#[test]
fn a_description_missing_or_adding_a_field_is_refused() {
    let r = plan("let c = cluster(#{ topology: \"single\" });");
    r.code(2).stderr_has("error: cluster: missing field `cps`");
    let r = plan("let c = cluster(#{ topology: \"single\", bogus: 1 });");
    r.code(2)
        .stderr_has("error: cluster: unknown field `bogus` (known: topology, cps, workers,");
}

/// `topology::defaults()` is the kubeadm recipe's parameters and defaults, as `galley show`
/// lists them.
#[test]
fn the_family_defaults_are_the_kubeadm_recipe_s_parameters() {
    let show = Test::new().args(&["show", "kubeadm"]).run();
    show.code(0);
    let mut shown = serde_json::Map::new();
    let table = show
        .stdout
        .split("parameters (")
        .nth(1)
        .expect("a parameter table");
    for line in table.lines().skip(1) {
        if !line.starts_with("  ") {
            break;
        }
        let mut words = line.split_whitespace();
        let (Some(name), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        shown.insert(name.into(), serde_json::from_str(value).expect(value));
    }
    let r = plan("print(topology::defaults().to_json());");
    r.code(0);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("info") && l.contains('{'))
        .unwrap();
    let json = &line[line.find('{').unwrap()..];
    let defaults: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
    assert_eq!(defaults, shown);
}
