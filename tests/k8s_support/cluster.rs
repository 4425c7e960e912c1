//! The world the bundled kubeadm recipe runs in when a test drives it from this machine: testbed
//! nodes able to run a kubelet, with no route out, and on the testbed's bridge the mirrors an
//! air-gapped site has (the real registry with the images; a plain HTTP server with the package
//! repositories and manifests of testbed/k8s-repos.sh, and the site's own Debian mirror, which
//! each node's apt sources name as a site would). The recipe reaches all of it only through
//! `--mirror` and `--registry-mirror`. Included by the tests that need it (k8s_multi, k8s_ha)
//! with `#[path]`, beside `mod common`, `mod testbed` and `mod k8s_support`; each uses part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::Command;

use crate::common::{Ran, Test};
use crate::k8s_support::mirrors::{FileServer, Registry};
use crate::k8s_support::K8S_VERSION;
use crate::testbed::{self, Testbed};

pub struct World {
    pub tb: Testbed,
    pub files: FileServer,
    _registry: Registry,
    _tree: tempfile::TempDir,
}

/// `bash ARGS…`, which must succeed; what it printed.
fn script(args: &[&str]) -> String {
    let out = Command::new("bash").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "bash {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl World {
    /// `n` nodes, the images pushed, the repositories built and served, each node prepared.
    pub fn up(n: usize) -> World {
        World::up_with(n, &[K8S_VERSION])
    }

    /// As `up`, with the images and the package repository of each of `versions` (a minor's
    /// repository each, as pkgs.k8s.io has).
    pub fn up_with(n: usize, versions: &[&str]) -> World {
        let tb = Testbed::up_for_kubernetes(n).unwrap_or_else(|e| panic!("{e}"));
        let gw = tb.gateway();
        let registry = Registry::start(&format!("{gw}:5000"));
        let node_sh = testbed::k8s_node_script();
        let node_sh = node_sh.to_str().unwrap();
        let tree = tempfile::tempdir().unwrap();
        let repos = node_sh.replace("k8s-node.sh", "k8s-repos.sh");
        for v in versions {
            script(&[node_sh, "images", v, &format!("{gw}:5000")]);
            script(&[&repos, v, tree.path().to_str().unwrap()]);
        }
        let files = FileServer::start(&format!("{gw}:8080"), tree.path());
        for node in &tb.nodes {
            tb.prep_kubernetes(&node.name)
                .unwrap_or_else(|e| panic!("{e}"));
            tb.put(
                &node.name,
                "/etc/apt/sources.list.d/site-debian.list",
                format!("deb [trusted=yes] http://{gw}:8080/deb.debian.org/debian bookworm main\n"),
            );
        }
        World {
            tb,
            files,
            _registry: registry,
            _tree: tree,
        }
    }

    /// Every node with its address as `node_ip` (the nodes have no default route of their
    /// own), then `groups` as (name, hosts).
    fn inventory(&self, groups: &[(&str, &[&str])]) -> String {
        let mut s = String::new();
        for n in &self.tb.nodes {
            s.push_str(&format!(
                "[hosts.{0}]\naddress = \"{0}\"\nvars = {{ node_ip = \"{1}\" }}\n",
                n.name, n.address
            ));
        }
        for (name, hosts) in groups {
            let list: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
            s.push_str(&format!("[groups.{name}]\nhosts = [{}]\n", list.join(", ")));
        }
        s.push_str(&format!(
            "[groups.all.vars]\nssh_config_file = \"{}\"\n\
             ssh_options = [\"ServerAliveInterval=5\", \"ServerAliveCountMax=6\"]\n",
            self.tb.ssh_config().display()
        ));
        s
    }

    /// `galley run kubeadm -i inv.toml --output json` with the mirrors, then `args`.
    pub fn kubeadm(&self, groups: &[(&str, &[&str])], args: &[&str]) -> Ran {
        self.galley("kubeadm", groups, args)
    }

    /// `galley run RECIPE -i inv.toml --output json` with the mirrors, then `args`.
    pub fn galley(&self, recipe: &str, groups: &[(&str, &[&str])], args: &[&str]) -> Ran {
        self.galley_as(&["run", recipe, "--output", "json"], groups, args)
    }

    /// `galley WORDS... -i inv.toml` with the mirrors (for `facts` only with `--save`, which
    /// plans with them), then `args`, in a folder of its own.
    pub fn galley_as(&self, words: &[&str], groups: &[(&str, &[&str])], args: &[&str]) -> Ran {
        let gw = self.tb.gateway();
        let mut all: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        all.extend(["-i".to_string(), "inv.toml".to_string()]);
        if words[0] != "facts" || words.contains(&"--save") {
            for up in [
                "https://pkgs.k8s.io",
                "https://download.docker.com",
                "https://github.com",
            ] {
                all.push("--mirror".into());
                all.push(format!("{up}=http://{gw}:8080/{}", &up["https://".len()..]));
            }
            for registry in ["registry.k8s.io", "ghcr.io"] {
                all.push("--registry-mirror".into());
                all.push(format!("{registry}=http://{gw}:5000"));
            }
        }
        all.extend(args.iter().map(|s| s.to_string()));
        let began = std::time::Instant::now();
        let ran = Test::new()
            .file("inv.toml", &self.inventory(groups))
            .args(&all)
            .run();
        // Where a cluster test's minutes go, in its log (printed when it fails, or with
        // --nocapture).
        eprintln!(
            "galley {} {}: {:.1}s",
            words.join(" "),
            args.join(" "),
            began.elapsed().as_secs_f64()
        );
        ran
    }

    /// The real kubectl on node1 with the admin kubeconfig; fails the test on an error.
    pub fn kubectl(&self, args: &str) -> String {
        self.kubectl_on("node1", args)
    }

    /// The real kubectl on control plane `node` with its admin kubeconfig.
    pub fn kubectl_on(&self, node: &str, args: &str) -> String {
        self.try_kubectl_on(node, args)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The real kubectl on `node`: its trimmed stdout, or what it said when it failed.
    pub fn try_kubectl_on(&self, node: &str, args: &str) -> Result<String, String> {
        let cmd = format!("kubectl --kubeconfig /etc/kubernetes/admin.conf {args}");
        let out = self.tb.ssh(node, &cmd);
        if !out.status.success() {
            return Err(format!(
                "{node}: `{cmd}` failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Waits up to `secs` for the API server of each of `cps`, asked on its own address (not
    /// through a load balancer, which picks one), to let the admin do everything; fails the
    /// test with what each one answered and the last lines its log has, when one does not.
    pub fn each_api_server_authorizes_the_admin(&self, cps: &[&str], secs: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let answers: Vec<(String, Result<String, String>)> = cps
                .iter()
                .map(|cp| {
                    let addr = &self.tb.node(cp).address;
                    let asked = format!(
                        "--server https://{addr}:6443 --request-timeout=5s auth can-i '*' '*'"
                    );
                    (cp.to_string(), self.try_kubectl_on(cp, &asked))
                })
                .collect();
            if answers.iter().all(|(_, a)| a.as_deref() == Ok("yes")) {
                return;
            }
            if std::time::Instant::now() > deadline {
                let mut report = String::new();
                for (cp, a) in &answers {
                    report.push_str(&format!("{cp}: {a:?}\n"));
                    let log = self.tb.ssh(
                        cp,
                        "crictl --runtime-endpoint unix:///run/containerd/containerd.sock logs --tail 40 \
                         $(crictl --runtime-endpoint unix:///run/containerd/containerd.sock ps -q --name kube-apiserver | head -1) 2>&1",
                    );
                    report.push_str(&String::from_utf8_lossy(&log.stdout));
                }
                panic!(
                    "an API server does not let the admin do everything after {secs}s:\n{report}"
                );
            }
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
    }

    /// `name=Ready-status kubelet-version`, a line per node.
    pub fn nodes(&self) -> String {
        self.nodes_on("node1")
    }

    /// `nodes()` as control plane `node` sees them.
    pub fn nodes_on(&self, node: &str) -> String {
        self.kubectl_on(
            node,
            "get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status} {.status.nodeInfo.kubeletVersion}{\"\\n\"}{end}'",
        )
    }

    /// `pod@node=phase`, a line per pod of `namespace`.
    pub fn pods(&self, namespace: &str) -> String {
        self.pods_on("node1", namespace)
    }

    /// `pods()` as control plane `node` sees them.
    pub fn pods_on(&self, node: &str, namespace: &str) -> String {
        self.kubectl_on(node, &format!(
            "get pods -n {namespace} -o jsonpath='{{range .items[*]}}{{.metadata.name}}@{{.spec.nodeName}}={{.status.phase}}{{\"\\n\"}}{{end}}'"
        ))
    }

    /// `kubectl apply` of `manifest` on control plane `node`.
    pub fn apply_on(&self, node: &str, manifest: &str) {
        self.tb.put(node, "/root/workload.yaml", manifest);
        self.kubectl_on(node, "apply -f /root/workload.yaml");
    }
}

/// `galley facts --save` of the hosts of `groups` for the kubeadm recipe with `args`, then
/// `run kubeadm --check` and `plan kubeadm --facts` of what was saved: both must change nothing
/// on a converged cluster (a plan from saved facts says what `--check` says).
pub fn plan_from_saved_facts_agrees(w: &World, groups: &[(&str, &[&str])], args: &[&str]) {
    let saved = tempfile::tempdir().unwrap();
    let dir = saved.path().display().to_string();
    w.galley_as(
        &["facts", "--save", &dir, "--recipe", "kubeadm"],
        groups,
        args,
    )
    .code(0);
    let check = w.galley_as(
        &["run", "kubeadm", "--check", "--output", "json"],
        groups,
        args,
    );
    check.code(0);
    assert_eq!(changed(&check), BTreeMap::new(), "--check found changes");
    let plan = w.galley_as(
        &["plan", "kubeadm", "--facts", &dir, "--output", "json"],
        groups,
        args,
    );
    plan.code(0);
    assert_eq!(
        changed(&plan),
        BTreeMap::new(),
        "the plan from saved facts differs from --check"
    );
}

/// What `nodes()` says of a healthy cluster of `names`.
pub fn ready(names: &[&str]) -> String {
    ready_at(names, K8S_VERSION)
}

/// What `nodes()` says of a healthy cluster of `names` whose kubelets run `version`.
pub fn ready_at(names: &[&str], version: &str) -> String {
    names
        .iter()
        .map(|n| format!("{n}=True {version}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The changed actions of a run, per host.
pub fn changed(run: &Ran) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in run.events() {
        if e["type"] == "action" && e["status"] == "changed" {
            out.entry(e["host"].as_str().unwrap_or("").to_string())
                .or_default()
                .push(format!(
                    "{} {}",
                    e["primitive"].as_str().unwrap_or(""),
                    e["summary"].as_str().unwrap_or("")
                ));
        }
    }
    out
}

/// Prints the `n` slowest steps of `run` (host, duration, step) to the test's log: where a
/// cluster test spends its minutes.
pub fn slowest_steps(run: &Ran, n: usize) {
    let mut steps: Vec<(f64, String)> = run
        .events()
        .iter()
        .filter(|e| e["type"] == "action")
        .map(|e| {
            (
                e["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0,
                format!(
                    "{} {} {}",
                    e["host"].as_str().unwrap_or(""),
                    e["primitive"].as_str().unwrap_or(""),
                    e["summary"].as_str().unwrap_or("")
                ),
            )
        })
        .collect();
    steps.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (secs, step) in steps.iter().take(n) {
        eprintln!("{secs:>7.1}s  {step}");
    }
}

/// Whether `pods()` output shows a pod named `prefix…` running on each of `nodes`.
pub fn running_on(pods: &str, prefix: &str, nodes: &[&str]) -> Result<(), String> {
    for n in nodes {
        let on = pods
            .lines()
            .any(|l| l.starts_with(prefix) && l.ends_with(&format!("@{n}=Running")));
        if !on {
            return Err(format!("no {prefix}… running on {n}:\n{pods}"));
        }
    }
    Ok(())
}

/// Fails unless `host` has a changed action of which `what` holds.
pub fn assert_did(made: &BTreeMap<String, Vec<String>>, host: &str, what: impl Fn(&str) -> bool) {
    assert!(
        made.get(host).is_some_and(|a| a.iter().any(|a| what(a))),
        "{host} did not do what was expected; changed: {made:#?}"
    );
}

/// agnhost's image (Kubernetes' e2e workload, testbed/k8s-node.sh pushes it) under its upstream
/// name, which the nodes reach through the registry mirror of registry.k8s.io.
pub fn agnhost() -> String {
    let node_sh = testbed::k8s_node_script();
    let tag = script(&[node_sh.to_str().unwrap(), "agnhost-tag", K8S_VERSION]);
    format!("registry.k8s.io/e2e-test-images/agnhost:{tag}")
}

/// A Deployment `name` of one agnhost pod and a PodDisruptionBudget `name` that keeps it: no
/// voluntary disruption is allowed, so a drain of its node cannot finish.
pub fn guarded(name: &str) -> String {
    let pod = format!(
        r#"      containers:
      - name: pause
        image: {image}
        args: ["pause"]
"#,
        image = agnhost()
    );
    [deployment(name, 1, &pod), budget(name)].join("---\n")
}

/// A Deployment `name` of `replicas` agnhost netexec pods (HTTP on 8080: /hostname, /dial), no
/// two on one node, and a Service `name` on port 80 in front of them.
pub fn netexec(name: &str, replicas: u32) -> String {
    let pod = format!("{}{}", spread(name), netexec_container(""));
    [deployment(name, replicas, &pod), service(name, None)].join("---\n")
}

/// A Deployment `name` of `replicas` pods whose pod spec is `pod` (YAML at the pod spec's
/// indentation, six spaces).
pub fn deployment(name: &str, replicas: u32, pod: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: default
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
{pod}"#
    )
}

/// The pod spec's part that keeps two pods of `app` off one node.
pub fn spread(app: &str) -> String {
    format!(
        r#"      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchLabels: {{app: {app}}}
            topologyKey: kubernetes.io/hostname
"#
    )
}

/// The pod spec's `containers:`: agnhost's netexec on 8080, Ready when it answers `/healthz`;
/// `extra` is more of the container's fields (eight spaces in).
pub fn netexec_container(extra: &str) -> String {
    format!(
        r#"      containers:
      - name: netexec
        image: {image}
        args: ["netexec", "--http-port=8080"]
        ports:
        - containerPort: 8080
        readinessProbe:
          httpGet: {{path: /healthz, port: 8080}}
          periodSeconds: 2
{extra}"#,
        image = agnhost()
    )
}

/// A PodDisruptionBudget `name` keeping at least one pod of app `name`.
pub fn budget(name: &str) -> String {
    format!(
        r#"apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {name}
  namespace: default
spec:
  minAvailable: 1
  selector:
    matchLabels: {{app: {name}}}
"#
    )
}

/// A Service `name` on port 80 in front of app `name`'s port 8080; a NodePort one when
/// `node_port` is given.
pub fn service(name: &str, node_port: Option<u16>) -> String {
    let (kind, port) = match node_port {
        Some(p) => ("  type: NodePort\n", format!("    nodePort: {p}\n")),
        None => ("", String::new()),
    };
    format!(
        r#"apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: default
spec:
{kind}  selector: {{app: {name}}}
  ports:
  - port: 80
    targetPort: 8080
{port}"#
    )
}

/// netexec's `/dial` on pod `from` (reached through the API server's proxy, from control plane
/// `node`): `from` connects `tries` times to `host:port` and asks each answer's /hostname; the
/// names it got back.
///
/// A pod that has just become Ready may not yet be routable from every node: flannel adds a new
/// node's route, neighbour and forwarding entries when its own watch sees the node's lease, and
/// the API server reaches `from` over that route. So a failed attempt is retried for up to 90 s;
/// the test's log says how long it took, and a last failure prints node's routes and neighbours.
pub fn dial(w: &World, node: &str, from: &str, host: &str, port: u16, tries: u32) -> Vec<String> {
    let cmd = format!(
        "kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw '/api/v1/namespaces/default/pods/{from}:8080/proxy/dial?request=hostname&protocol=http&host={host}&port={port}&tries={tries}'"
    );
    let start = std::time::Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let out = w.tb.ssh(node, &cmd);
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        // The API server could not reach `from`, or `from` could not reach `host`: netexec
        // answers 200 with the failures under "errors".
        let failure = if out.status.success() {
            let v: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("/dial answered {text:?}: {e}"));
            match v["errors"].as_array() {
                Some(errors) if !errors.is_empty() => text.clone(),
                _ => {
                    if attempts > 1 {
                        eprintln!(
                            "dial from {from} to {host}:{port} answered after {attempts} attempts, {:?}",
                            start.elapsed()
                        );
                    }
                    return v["responses"]
                        .as_array()
                        .unwrap_or_else(|| {
                            panic!("/dial from {from} to {host}:{port} got no answer: {text}")
                        })
                        .iter()
                        .map(|r| r.as_str().unwrap_or("").to_string())
                        .collect();
                }
            }
        } else {
            format!("{text}{}", String::from_utf8_lossy(&out.stderr).trim())
        };
        if start.elapsed() > std::time::Duration::from_secs(90) {
            let diag = w.tb.ssh(
                node,
                "ip route; ip neigh show dev flannel.1; bridge fdb show dev flannel.1; \
                 kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o wide; \
                 kubectl --kubeconfig /etc/kubernetes/admin.conf get pods -A -o wide",
            );
            panic!(
                "{node}: `{cmd}` failed {attempts} times in {:?}: {failure}\n{}{}",
                start.elapsed(),
                String::from_utf8_lossy(&diag.stdout),
                String::from_utf8_lossy(&diag.stderr)
            );
        }
        eprintln!("dial from {from} to {host}:{port}, attempt {attempts}: {failure}");
        std::thread::sleep(std::time::Duration::from_secs(3));
    }
}

/// `pod=ip@node`, each pod of Deployment `app`, sorted by node.
pub fn pods_of(w: &World, node: &str, app: &str) -> Vec<(String, String, String)> {
    let out = w.kubectl_on(
        node,
        &format!(
            "get pods -l app={app} -o jsonpath='{{range .items[*]}}{{.metadata.name}} {{.status.podIP}} {{.spec.nodeName}}{{\"\\n\"}}{{end}}'"
        ),
    );
    let mut pods: Vec<(String, String, String)> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3).then(|| (f[0].to_string(), f[1].to_string(), f[2].to_string()))
        })
        .collect();
    pods.sort_by(|a, b| a.2.cmp(&b.2));
    pods
}
