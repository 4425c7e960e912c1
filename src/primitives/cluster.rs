//! `cluster(#{ ... })`: the typed description of a kubeadm cluster that `k8s/topology` resolves
//! once from the parameters and the inventory, and every kubeadm-family recipe and stdlib function
//! reads. A registered type rather than a map, so a misspelt field (`c.etcd_endpont`, reading or
//! writing) is an error instead of a silent `()` or a new key, and a field the description lacks
//! is refused when it is built.

use std::collections::BTreeMap;

use rhai::{Array, Dynamic, Engine, Map, TypeBuilder, INT};
use serde::Deserialize;

use super::{from_map, reg, usage, RResult};

/// What `cluster()` reads: every field named, none unknown.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    topology: String,
    cps: Vec<String>,
    workers: Vec<String>,
    etcd: Vec<String>,
    lbs: Vec<String>,
    vrid: INT,
    endpoint: String,
    k8s: String,
    runtime: String,
    socket: String,
    addresses: BTreeMap<String, String>,
    cgroup_v1: bool,
    #[serde(default)]
    conntrack_fixed: bool,
    pod_cidr: String,
    service_cidr: String,
    cni: String,
    cni_version: String,
    api_port: INT,
    lb_port: INT,
    vip: String,
    image_repository: String,
    kube_user: String,
    install_method: String,
    scope: Vec<String>,
    #[serde(default)]
    etcd_endpoints: Vec<String>,
}

fn list(v: Vec<String>) -> Array {
    v.into_iter().map(Dynamic::from).collect()
}

/// A kubeadm cluster: hosts per role, versions, runtime, endpoint, networks. Host lists are
/// inventory names; `addresses` maps each to the address it is known by in the cluster.
#[derive(Debug, Clone, rhai::CustomType)]
#[rhai_type(name = "Cluster", extra = Self::build_extra)]
pub struct Cluster {
    #[rhai_type(readonly)]
    pub topology: String,
    /// Control planes; the recipe puts the one that founds the cluster first.
    pub cps: Array,
    #[rhai_type(readonly)]
    pub workers: Array,
    #[rhai_type(readonly)]
    pub etcd: Array,
    #[rhai_type(readonly)]
    pub lbs: Array,
    #[rhai_type(readonly)]
    pub vrid: INT,
    #[rhai_type(readonly)]
    pub endpoint: String,
    #[rhai_type(readonly)]
    pub k8s: String,
    #[rhai_type(readonly)]
    pub runtime: String,
    #[rhai_type(readonly)]
    pub socket: String,
    #[rhai_type(readonly)]
    pub addresses: Map,
    #[rhai_type(readonly)]
    pub cgroup_v1: bool,
    /// Some node cannot resize its connection-tracking table (fact `conntrack_max_fixed`):
    /// kube-proxy is told to leave it as it is.
    #[rhai_type(readonly)]
    pub conntrack_fixed: bool,
    #[rhai_type(readonly)]
    pub pod_cidr: String,
    #[rhai_type(readonly)]
    pub service_cidr: String,
    #[rhai_type(readonly)]
    pub cni: String,
    #[rhai_type(readonly)]
    pub cni_version: String,
    #[rhai_type(readonly)]
    pub api_port: INT,
    #[rhai_type(readonly)]
    pub lb_port: INT,
    #[rhai_type(readonly)]
    pub vip: String,
    #[rhai_type(readonly)]
    pub image_repository: String,
    #[rhai_type(readonly)]
    pub kube_user: String,
    #[rhai_type(readonly)]
    pub install_method: String,
    /// The hosts `--limit` keeps.
    #[rhai_type(readonly)]
    pub scope: Array,
    /// The external etcd members' client URLs (ha-external-etcd), set once they are known.
    pub etcd_endpoints: Array,
}

impl Cluster {
    fn build_extra(builder: &mut TypeBuilder<Self>) {
        builder.with_fn("to_debug", |c: &mut Cluster| format!("{c:?}"));
    }
}

impl From<Spec> for Cluster {
    fn from(s: Spec) -> Self {
        Cluster {
            topology: s.topology,
            cps: list(s.cps),
            workers: list(s.workers),
            etcd: list(s.etcd),
            lbs: list(s.lbs),
            vrid: s.vrid,
            endpoint: s.endpoint,
            k8s: s.k8s,
            runtime: s.runtime,
            socket: s.socket,
            addresses: s
                .addresses
                .into_iter()
                .map(|(k, v)| (k.into(), Dynamic::from(v)))
                .collect(),
            cgroup_v1: s.cgroup_v1,
            conntrack_fixed: s.conntrack_fixed,
            pod_cidr: s.pod_cidr,
            service_cidr: s.service_cidr,
            cni: s.cni,
            cni_version: s.cni_version,
            api_port: s.api_port,
            lb_port: s.lb_port,
            vip: s.vip,
            image_repository: s.image_repository,
            kube_user: s.kube_user,
            install_method: s.install_method,
            scope: list(s.scope),
            etcd_endpoints: list(s.etcd_endpoints),
        }
    }
}

fn cluster(spec: Map) -> RResult<Cluster> {
    from_map::<Spec>("cluster", Some(spec))
        .map(Cluster::from)
        .map_err(|e| {
            // The spec's entries are fields of the description, not options of a call.
            let (message, _) = crate::error::diagnostics::message_of(&e);
            usage(
                message
                    .replace("bad option: ", "")
                    .replace("option", "field"),
            )
        })
}

pub fn register(engine: &mut Engine) {
    engine.build_type::<Cluster>();
    reg(
        engine,
        "cluster",
        &["spec: Map", "Cluster"],
        &[
            "The typed description of a kubeadm cluster (what `k8s/topology`'s resolve() returns): every",
            "field given, none unknown. Fields read as `c.cps`; only `cps` and `etcd_endpoints` may be set.",
        ],
        cluster,
    );
}
