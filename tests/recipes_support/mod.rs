//! Plans of the bundled recipes for the recipe tests: run in a child process of the test binary
//! (the library's `execute` with an inventory built here, JSON events on the child's stdout),
//! rendered as deterministic text: no durations, hosts worked one at a time (`forks: 1`).
//!
//! Every test file that uses it declares the worker with `plan_worker!();`.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use galley::engine::Mode;
use galley::inventory::{HostEntry, Inventory};
use galley::report::Format;
use galley::runner::{execute, RunOptions};
use serde::{Deserialize, Serialize};

pub const PROFILES: [&str; 4] = ["centos7", "rocky9", "ubuntu22.04", "debian12"];

/// One plan to make.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Job {
    /// Bundled recipe name or path.
    pub recipe: String,
    pub profile: Option<String>,
    /// A facts file, or a folder of `<host>.json`.
    pub facts: Option<String>,
    pub sets: Vec<(String, String)>,
    /// Groups in order, each with its hosts; empty: no inventory (the local host).
    pub groups: Vec<(String, Vec<String>)>,
    #[serde(default)]
    pub mode_check: bool,
    /// Inventory addresses other than the default 10.0.0.<11 + index>: (host, address).
    #[serde(default)]
    pub addresses: Vec<(String, String)>,
    /// Inventory host vars: (host, key, value).
    #[serde(default)]
    pub vars: Vec<(String, String, String)>,
    /// `--limit PATTERN` over the inventory.
    #[serde(default)]
    pub limit: Option<String>,
    /// `--mirror PREFIX=REPLACEMENT` flags.
    #[serde(default)]
    pub mirrors: Vec<String>,
    /// `--registry-mirror REGISTRY=HOST` flags.
    #[serde(default)]
    pub registry_mirrors: Vec<String>,
}

impl Job {
    pub fn new(recipe: &str) -> Job {
        Job {
            recipe: recipe.into(),
            ..Default::default()
        }
    }
    pub fn profile(mut self, p: &str) -> Job {
        self.profile = Some(p.into());
        self
    }
    pub fn facts(mut self, f: &str) -> Job {
        self.facts = Some(f.into());
        self
    }
    pub fn set(mut self, k: &str, v: &str) -> Job {
        self.sets.push((k.into(), v.into()));
        self
    }
    pub fn limit(mut self, pattern: &str) -> Job {
        self.limit = Some(pattern.into());
        self
    }
    pub fn group(mut self, g: &str, hosts: &[&str]) -> Job {
        self.groups
            .push((g.into(), hosts.iter().map(|h| h.to_string()).collect()));
        self
    }
    /// The inventory names `host` by `address`.
    pub fn address(mut self, host: &str, address: &str) -> Job {
        self.addresses.push((host.into(), address.into()));
        self
    }
    /// A host var in the inventory (the merged value the host sees).
    pub fn var(mut self, host: &str, key: &str, value: &str) -> Job {
        self.vars.push((host.into(), key.into(), value.into()));
        self
    }
    /// The inventories the tests use, by topology.
    pub fn topology(self, t: &str) -> Job {
        match t {
            "single" => self.group("control_plane", &["cp1"]),
            "multi" => self
                .group("control_plane", &["cp1"])
                .group("workers", &["w1", "w2"]),
            "ha-stacked" => self
                .group("control_plane", &["cp1", "cp2", "cp3"])
                .group("workers", &["w1", "w2", "w3"])
                .group("lb", &["lb1", "lb2", "lb3"])
                .set("vip", "10.0.0.100"),
            "ha-external-etcd" => self
                .group("control_plane", &["cp1", "cp2", "cp3"])
                .group("etcd", &["etcd1", "etcd2", "etcd3"])
                .group("workers", &["w1", "w2", "w3"])
                .set("control_plane_endpoint", "k8s-api.example.internal:6443"),
            other => panic!("no test inventory for topology {other}"),
        }
        .set("topology", t)
    }

    fn inventory(&self) -> Option<Inventory> {
        if self.groups.is_empty() {
            return None;
        }
        let mut hosts: Vec<HostEntry> = Vec::new();
        let mut groups = BTreeMap::new();
        for (g, names) in &self.groups {
            for h in names {
                if let Some(e) = hosts.iter_mut().find(|e| &e.name == h) {
                    e.groups.push(g.clone());
                    continue;
                }
                let address = self.addresses.iter().find(|(n, _)| n == h).map_or_else(
                    || format!("10.0.0.{}", 11 + hosts.len()),
                    |(_, a)| a.clone(),
                );
                let vars = self
                    .vars
                    .iter()
                    .filter(|(n, _, _)| n == h)
                    .map(|(_, k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                hosts.push(HostEntry {
                    name: h.clone(),
                    address: Some(address),
                    user: Some("root".into()),
                    groups: vec![g.clone()],
                    vars,
                    ..Default::default()
                });
            }
            groups.insert(g.clone(), names.clone());
        }
        Some(Inventory { hosts, groups })
    }
}

/// What a plan printed.
#[derive(Debug, Clone)]
pub struct Plan {
    pub code: i32,
    pub events: Vec<serde_json::Value>,
    pub stderr: String,
}

const JOB_VAR: &str = "GALLEY_TEST_PLAN_JOB";

/// The child side: runs the job given in the environment and exits with its code.
pub fn worker() {
    let Ok(text) = std::env::var(JOB_VAR) else {
        return;
    };
    let job: Job = serde_json::from_str(&text).expect("job");
    // GALLEY_TEST_RECIPES: a folder of recipes (a fork) to run instead of the bundled ones.
    let recipe = match std::env::var("GALLEY_TEST_RECIPES") {
        Ok(dir) if !job.recipe.contains('/') => format!("{dir}/{}.rhai", job.recipe),
        _ => job.recipe.clone(),
    };
    let inventory = job.inventory();
    let limit = job.limit.as_ref().map(|pattern| {
        galley::inventory::limit_names(inventory.as_ref().expect("--limit needs groups"), pattern)
            .expect("limit")
    });
    let opts = RunOptions {
        recipe,
        mode: if job.mode_check {
            Mode::Check
        } else {
            Mode::Plan
        },
        sets: job.sets.clone(),
        facts: job.facts.clone(),
        profile: job.profile.clone(),
        format: Format::Json,
        inventory,
        limit,
        forks: 1,
        mirrors: galley::mirror::MirrorFlags {
            urls: job.mirrors.clone(),
            registries: job.registry_mirrors.clone(),
            ca: None,
        },
        ..Default::default()
    };
    let outcome = execute(&opts);
    std::process::exit(outcome.exit_code);
}

/// Declares the test the child process runs (it does nothing in a normal test run).
#[macro_export]
macro_rules! plan_worker {
    () => {
        #[test]
        fn zz_plan_worker() {
            recipes_support::worker();
        }
    };
}

pub fn plan(job: &Job) -> Plan {
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "zz_plan_worker",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(JOB_VAR, serde_json::to_string(job).unwrap())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .env_remove("GALLEY_KUBECTL")
        .output()
        .expect("run the plan worker");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect();
    Plan {
        code: out.status.code().unwrap_or(-1),
        events,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn s<'a>(v: &'a serde_json::Value, k: &str) -> &'a str {
    v.get(k).and_then(|x| x.as_str()).unwrap_or("")
}

impl Plan {
    pub fn actions(&self) -> Vec<&serde_json::Value> {
        self.events
            .iter()
            .filter(|e| s(e, "type") == "action")
            .collect()
    }

    /// Actions that would change something, as `host primitive summary`.
    pub fn changed(&self) -> Vec<String> {
        self.actions()
            .into_iter()
            .filter(|a| s(a, "status") == "changed")
            .map(|a| format!("{} {} {}", s(a, "host"), s(a, "primitive"), s(a, "summary")))
            .collect()
    }

    /// The error that ended the run, if any.
    pub fn error(&self) -> Option<String> {
        self.events
            .iter()
            .find(|e| s(e, "type") == "error")
            .map(|e| s(e, "message").to_string())
    }

    /// Deterministic text for snapshots: every action (status, host, primitive, summary, the
    /// commands it would run, file diffs — shown once when several hosts get the same), logs and
    /// the final error; no durations.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut seen_diffs: HashMap<String, String> = HashMap::new();
        for e in &self.events {
            match s(e, "type") {
                "action" => {
                    let commands: Vec<String> = e["commands"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| {
                            let argv: Vec<String> = c
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(|a| a.as_str().unwrap_or("").to_string())
                                .collect();
                            shell_join(&argv)
                        })
                        .collect();
                    // A run's summary is its command: show it once, unquoted where plain.
                    let own = matches!(s(e, "primitive"), "run" | "sh") && commands.len() == 1;
                    let summary = if own {
                        commands[0].clone()
                    } else {
                        s(e, "summary").to_string()
                    };
                    out.push_str(&format!(
                        "{:>7} {} {}: {}\n",
                        s(e, "status"),
                        s(e, "host"),
                        s(e, "primitive"),
                        summary
                    ));
                    for c in commands.iter().filter(|_| !own) {
                        out.push_str(&format!("          $ {c}\n"));
                    }
                    let diff = s(e, "diff");
                    if !diff.is_empty() {
                        let key = format!("{}\n{}", s(e, "summary"), diff);
                        match seen_diffs.get(&key) {
                            Some(h) => out.push_str(&format!("          (same diff as on {h})\n")),
                            None => {
                                seen_diffs.insert(key, s(e, "host").to_string());
                                for l in diff.lines() {
                                    out.push_str(&format!("          | {l}\n"));
                                }
                            }
                        }
                    }
                    if let Some(err) = e.get("error").and_then(|x| x.as_str()) {
                        out.push_str(&format!("          error: {err}\n"));
                    }
                }
                "log" => out.push_str(&format!(
                    "{:>7} {}: {}\n",
                    s(e, "level"),
                    s(e, "host"),
                    s(e, "message")
                )),
                "error" => out.push_str(&format!("  ERROR {}\n", s(e, "message"))),
                _ => {}
            }
        }
        out.push_str(&format!("exit code {}\n", self.code));
        out
    }

    /// Everything a person would read from the plan, as one text (for `contains` checks).
    pub fn text(&self) -> String {
        self.render()
    }
}

fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%^".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The crate's folder (for fixtures).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// A facts fixture under tests/fixtures/facts.
pub fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures/facts")
        .join(name)
        .display()
        .to_string()
}

/// What containerd 1.x's `containerd config default` prints, the parts the recipes change (as
/// tests/fixtures/facts/converged-rocky9.json records it).
pub const CONTAINERD_DEFAULTS: &str = "disabled_plugins = []\nimports = []\noom_score = 0\nversion = 2\n\n[plugins]\n\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n    sandbox_image = \"registry.k8s.io/pause:3.8\"\n\n    [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n      default_runtime_name = \"runc\"\n\n      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes]\n\n        [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n          runtime_type = \"io.containerd.runc.v2\"\n\n          [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n            BinaryName = \"\"\n            SystemdCgroup = false\n";

/// A built-in profile whose host answers `containerd config default` with `defaults`, so a
/// plan shows the config.toml apply writes from them (without an answer it is "would check").
/// The file lives as long as the returned folder.
pub fn profile_with_containerd(profile: &str, defaults: &str) -> (tempfile::TempDir, String) {
    let mut f: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(format!("profiles/{profile}.json"))).unwrap(),
    )
    .unwrap();
    f["commands"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"argv": ["containerd", "config", "default"], "stdout": defaults}));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{profile}-containerd.json"));
    std::fs::write(&path, f.to_string()).unwrap();
    let path = path.display().to_string();
    (dir, path)
}
