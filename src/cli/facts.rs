//! `galley facts`: gathers the facts of real hosts (one round trip each, in parallel) and prints
//! them, or saves one `<host>.json` per host that `--facts DIR` accepts, so a recipe can be
//! planned offline against a real fleet and a test can replay a real host.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use clap::Args;

use super::facts_save::{Found, Wanted};
use super::targets::TargetArgs;
use crate::facts::{Facts, Fixture};
use crate::host::{local::LocalHost, FileMeta, Host};
use crate::inventory::Inventory;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  galley facts                                  this machine, human-readable
  galley facts -H root@10.0.0.5 --json          one host, as JSON
  galley facts -i cluster.toml --save ./facts   one ./facts/<host>.json per host
  galley facts --save ./facts --recipe containerd --service nginx   what those plans need too
  galley facts -i cluster.toml --save ./facts --recipe kubeadm --set topology=multi
  galley plan kubeadm -i cluster.toml --facts ./facts")]
pub struct FactsArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Write one <host>.json fixture per host into this folder (created if needed), with the
    /// packages, services, files, read-only commands and kernel parameters the bundled recipes'
    /// plans ask about, as the host has them.
    #[arg(long, value_name = "DIR")]
    pub save: Option<String>,
    /// With --save: a package to save too (installed version, or absent); repeatable.
    #[arg(long = "package", value_name = "NAME", requires = "save")]
    pub packages: Vec<String>,
    /// With --save: a systemd unit to save too (active, enabled); repeatable.
    #[arg(long = "service", value_name = "NAME", requires = "save")]
    pub services: Vec<String>,
    /// With --save: a file (or folder) to save too; repeatable.
    #[arg(long = "file", value_name = "PATH", requires = "save")]
    pub files: Vec<String>,
    /// With --save: a kernel parameter to save too (net.ipv4.ip_forward); repeatable.
    #[arg(long = "sysctl", value_name = "KEY", requires = "save")]
    pub sysctl: Vec<String>,
    /// With --save: plan this recipe (a bundled name or a file) to learn what to save, instead of
    /// every bundled recipe; repeatable.
    #[arg(long = "recipe", value_name = "RECIPE", requires = "save")]
    pub recipes: Vec<String>,
    /// With --save: a parameter the recipes are planned with, as the runs to be planned will set
    /// it (e.g. topology=multi); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", requires = "save")]
    pub sets: Vec<String>,
    /// With --save: a URL mirror the recipes are planned with, as for plan; repeatable.
    #[arg(long = "mirror", value_name = "PREFIX=REPLACEMENT", requires = "save")]
    pub mirrors: Vec<String>,
    /// With --save: a registry mirror the recipes are planned with, as for plan; repeatable.
    #[arg(
        long = "registry-mirror",
        value_name = "REGISTRY=HOST[:PORT][/PATH]",
        requires = "save"
    )]
    pub registry_mirrors: Vec<String>,
    /// Print the facts as one JSON object keyed by host name.
    #[arg(long)]
    pub json: bool,
    /// Hosts gathered at once.
    #[arg(long, default_value_t = 10)]
    pub forks: usize,
}

/// Each host's connection and facts.
type Gathered = Result<(Arc<dyn Host>, Facts), String>;

fn gather_all(inv: &Inventory, forks: usize) -> Vec<Gathered> {
    let hosts = &inv.hosts;
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Gathered>>> = hosts.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..forks.clamp(1, hosts.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(entry) = hosts.get(i) else { break };
                let r = crate::runner::connect_live(entry).and_then(|h| {
                    let facts = crate::facts::gather(&*h).map_err(|e| e.to_string())?;
                    Ok((h, facts))
                });
                *slots[i].lock().unwrap() = Some(r);
            });
        }
    });
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .unwrap()
                .unwrap_or_else(|| Err("not gathered".into()))
        })
        .collect()
}

/// Each host's facts and, when saving, its facts file (`facts_save`), learnt over the hosts
/// that answered, together.
fn with_fixtures(
    inv: &Inventory,
    gathered: Vec<Gathered>,
    save: Option<&Wanted>,
) -> Vec<Result<(Facts, Option<Fixture>), String>> {
    let Some(wanted) = save else {
        return gathered
            .into_iter()
            .map(|r| r.map(|(_, f)| (f, None)))
            .collect();
    };
    let mut found = Vec::new();
    for (entry, r) in inv.hosts.iter().zip(&gathered) {
        if let Ok((host, facts)) = r {
            found.push(Found {
                entry: entry.clone(),
                host: host.clone(),
                facts: facts.clone(),
            });
        }
    }
    let mut saved = super::facts_save::fixtures(&found, inv, wanted).into_iter();
    gathered
        .into_iter()
        .map(|r| {
            let (_, facts) = r?;
            let fixture = saved.next().unwrap_or_else(|| Err("not saved".into()))?;
            Ok((facts, Some(fixture)))
        })
        .collect()
}

fn human(name: &str, f: &Facts) {
    crate::report::stdout::line(&format!(
        "{name}: {} ({}) {}, kernel {}, {} cpus, {} MB memory, {} MB swap, init {}, packages {}",
        if f.os.name.is_empty() {
            &f.os.id
        } else {
            &f.os.name
        },
        f.os.family,
        f.arch,
        f.kernel,
        f.cpus,
        f.memory_mb,
        f.swap_mb,
        f.init,
        if f.pkg_manager.is_empty() {
            "-"
        } else {
            &f.pkg_manager
        },
    ));
    for i in f.interfaces.iter().filter(|i| i.name != "lo") {
        crate::report::stdout::line(&format!("  {} {} {}", i.name, i.mac, i.addresses.join(" ")));
    }
    if !f.product_uuid.is_empty() {
        crate::report::stdout::line(&format!("  product_uuid {}", f.product_uuid));
    }
}

fn save(dir: &str, name: &str, fixture: &Fixture) -> Result<String, String> {
    if name.contains('/') || name.starts_with('.') {
        return Err(format!("host name `{name}` cannot be used as a file name"));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir}: {e}"))?;
    let path = Path::new(dir).join(format!("{name}.json"));
    let mut text = serde_json::to_string_pretty(fixture).map_err(|e| e.to_string())?;
    text.push('\n');
    let p = path.to_string_lossy().into_owned();
    LocalHost::new("local")
        .write_file(&p, text.as_bytes(), &FileMeta::default())
        .map_err(|e| e.to_string())?;
    Ok(p)
}

pub fn facts(a: FactsArgs) -> i32 {
    let inv = match a.targets.inventory() {
        Ok(i) => i.unwrap_or_else(Inventory::local),
        Err(e) => return super::usage_error(e),
    };
    let sets = match a
        .sets
        .iter()
        .map(|s| crate::engine::params::parse_set(s))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(s) => s,
        Err(e) => return super::usage_error(e),
    };
    let wanted = Wanted {
        packages: a.packages.clone(),
        services: a.services.clone(),
        files: a.files.clone(),
        sysctl: a.sysctl.clone(),
        recipes: a.recipes.clone(),
        sets,
        mirrors: crate::mirror::MirrorFlags {
            urls: a.mirrors.clone(),
            registries: a.registry_mirrors.clone(),
            ca: None,
        },
    };
    let gathered = gather_all(&inv, a.forks);
    let results = with_fixtures(&inv, gathered, a.save.is_some().then_some(&wanted));
    let mut failed = 0;
    let mut json = serde_json::Map::new();
    for (entry, r) in inv.hosts.iter().zip(results) {
        let (facts, fixture) = match r {
            Ok(f) => f,
            Err(e) => {
                crate::report::stdout::err_line(&format!("error: {}: {e}", entry.name));
                failed += 1;
                continue;
            }
        };
        if let (Some(dir), Some(fixture)) = (&a.save, &fixture) {
            match save(dir, &entry.name, fixture) {
                Ok(p) => crate::report::stdout::line(&format!("{}: saved {p}", entry.name)),
                Err(e) => {
                    crate::report::stdout::err_line(&format!("error: {}: {e}", entry.name));
                    failed += 1;
                }
            }
        } else if a.json {
            json.insert(
                entry.name.clone(),
                serde_json::to_value(&facts).unwrap_or_default(),
            );
        } else {
            human(&entry.name, &facts);
        }
    }
    if a.json && a.save.is_none() {
        crate::report::stdout::line(&serde_json::to_string_pretty(&json).unwrap_or_default());
    }
    i32::from(failed > 0)
}
