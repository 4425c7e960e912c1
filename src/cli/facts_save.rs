//! What `galley facts --save` writes beside a host's facts: the packages, services, files,
//! read-only commands and kernel parameters that plans ask about, as the host has them, so a plan
//! from the saved file says what `run --check` on that host says.
//!
//! What to save is found by planning: the bundled recipes (or those `--recipe` names) are planned
//! against the host's facts with a facts file that notes every question its probes ask
//! (`facts::Recorder`); the live host answers those questions (read-only: package queries,
//! `systemctl is-active`/`is-enabled`, reading and stat'ing files, /proc/sys, and the commands
//! recipes mark `readonly`, which `--check` runs too); then the recipes are planned again with
//! the answers, since a converged host takes other branches that ask more, until nothing new is
//! asked. `--package`, `--service`, `--file` and `--sysctl` name more.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::facts::{Asked, CommandFixture, Facts, FileEntry, FileFixture, Fixture, Recorder};
use crate::host::{CommandSpec, Host, HostError};
use crate::inventory::{restrict, HostEntry, Inventory};
use crate::mirror::MirrorFlags;
use crate::mode::Mode;
use crate::primitives::package::{manager_for, parse_dpkg_query, parse_rpm_q, DPKG_FMT, RPM_QF};
use crate::primitives::service::UnitState;
use crate::report::Format;
use crate::runner::{execute_to, RunOptions};

/// Rounds of plan-then-ask at most: each round can only follow branches the last one opened.
const ROUNDS: usize = 4;
/// A file saved with its content only up to this size (and only when it is text).
const CONTENT_MAX: u64 = 1 << 20;
/// How long one read-only command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// What to save beyond what the recipes ask: `--package`, `--service`, `--file`, `--sysctl`;
/// the recipes to plan (`--recipe`; none: every bundled recipe); and the settings to plan them
/// with (`--set`, `--mirror`, `--registry-mirror`), those the runs to be planned will get.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    pub packages: Vec<String>,
    pub services: Vec<String>,
    pub files: Vec<String>,
    pub sysctl: Vec<String>,
    pub recipes: Vec<String>,
    pub sets: Vec<(String, String)>,
    pub mirrors: MirrorFlags,
}

/// A host to save: its inventory entry, its connection and the facts gathered from it.
pub struct Found {
    pub entry: HostEntry,
    pub host: Arc<dyn Host>,
    pub facts: Facts,
}

/// The facts file of each host of `found` (in order): its facts, and its answers to what the
/// plans ask. Each recipe is planned on each host alone and on all of them together (a
/// multi-host recipe asks a worker what it asks only beside its control plane), with the
/// settings of `wanted`.
pub fn fixtures(
    found: &[Found],
    inventory: &Inventory,
    wanted: &Wanted,
) -> Vec<Result<Fixture, String>> {
    let names: Vec<String> = found.iter().map(|f| f.entry.name.clone()).collect();
    let fleet = restrict(inventory, &names);
    let mut fixtures: BTreeMap<String, Fixture> = found
        .iter()
        .map(|f| {
            let fixture = Fixture {
                facts: f.facts.clone(),
                ..Default::default()
            };
            (f.entry.name.clone(), fixture)
        })
        .collect();
    let recipes = if wanted.recipes.is_empty() {
        crate::embedded::recipe_names()
    } else {
        wanted.recipes.clone()
    };
    let mut given = Asked::default();
    given.packages.extend(wanted.packages.iter().cloned());
    given.services.extend(wanted.services.iter().cloned());
    given.reads.extend(wanted.files.iter().cloned());
    given.sysctl.extend(wanted.sysctl.iter().cloned());
    let mut asked: BTreeMap<String, Asked> =
        names.iter().map(|n| (n.clone(), given.clone())).collect();
    let mut answered: BTreeMap<String, Asked> = BTreeMap::new();
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    for _ in 0..ROUNDS {
        for recipe in &recipes {
            for name in &names {
                let alone = restrict(inventory, std::slice::from_ref(name));
                let one = BTreeMap::from([(name.clone(), fixtures[name].clone())]);
                for (h, a) in plan_asks(recipe, &alone, &one, wanted) {
                    asked.entry(h).or_default().merge(a);
                }
            }
            if names.len() > 1 {
                for (h, a) in plan_asks(recipe, &fleet, &fixtures, wanted) {
                    asked.entry(h).or_default().merge(a);
                }
            }
        }
        let new: BTreeMap<String, Asked> = names
            .iter()
            .filter(|n| !failed.contains_key(*n))
            .map(|n| {
                let done = answered.get(n).cloned().unwrap_or_default();
                (n.clone(), missing(&asked[n], &done))
            })
            .filter(|(_, a)| *a != Asked::default())
            .collect();
        if new.is_empty() {
            break;
        }
        // The hosts answer at once, each over its own connection.
        let answers: Vec<(String, Result<Fixture, String>)> = std::thread::scope(|s| {
            let jobs: Vec<_> = found
                .iter()
                .filter_map(|f| {
                    let q = new.get(&f.entry.name)?;
                    let mut fixture = fixtures[&f.entry.name].clone();
                    Some((
                        f.entry.name.clone(),
                        s.spawn(move || {
                            answer(&*f.host, &f.facts, q, &mut fixture).map(|()| fixture)
                        }),
                    ))
                })
                .collect();
            jobs.into_iter()
                .map(|(n, j)| (n, j.join().unwrap_or_else(|_| Err("panicked".into()))))
                .collect()
        });
        for (name, r) in answers {
            match r {
                Ok(f) => {
                    fixtures.insert(name.clone(), f);
                    answered
                        .entry(name.clone())
                        .or_default()
                        .merge(new[&name].clone());
                }
                Err(e) => {
                    failed.insert(name, e);
                }
            }
        }
    }
    names
        .iter()
        .map(|n| match failed.remove(n) {
            Some(e) => Err(e),
            None => Ok(fixtures.remove(n).unwrap_or_default()),
        })
        .collect()
}

/// What planning `recipe` on `inventory` asks of each host's fixture (`fixtures`, by name). The
/// plan's own output and outcome do not matter here (a recipe that refuses still asked what it
/// asked before).
fn plan_asks(
    recipe: &str,
    inventory: &Inventory,
    fixtures: &BTreeMap<String, Fixture>,
    wanted: &Wanted,
) -> BTreeMap<String, Asked> {
    let mut notes = BTreeMap::new();
    let mut given = BTreeMap::new();
    for (name, fixture) in fixtures {
        let mut f = fixture.clone();
        f.asked = Recorder::on();
        notes.insert(name.clone(), f.asked.clone());
        given.insert(name.clone(), Arc::new(f));
    }
    let opts = RunOptions {
        recipe: recipe.to_string(),
        mode: Mode::Plan,
        format: Format::Silent,
        inventory: Some(inventory.clone()),
        forks: 1,
        sets: wanted.sets.clone(),
        mirrors: wanted.mirrors.clone(),
        host_fixtures: Some(given),
        ..Default::default()
    };
    execute_to(&opts, Arc::new(crate::report::sink::Memory::default()));
    notes.into_iter().map(|(n, r)| (n, r.taken())).collect()
}

/// What `asked` has that `answered` has not.
fn missing(asked: &Asked, answered: &Asked) -> Asked {
    Asked {
        packages: &asked.packages - &answered.packages,
        services: &asked.services - &answered.services,
        reads: &asked.reads - &answered.reads,
        stats: &(&asked.stats - &answered.stats) - &asked.reads,
        commands: &asked.commands - &answered.commands,
        sysctl: &asked.sysctl - &answered.sysctl,
    }
}

fn run(host: &dyn Host, argv: &[String]) -> Result<CommandFixture, String> {
    let spec = CommandSpec {
        timeout: Some(COMMAND_TIMEOUT),
        ..CommandSpec::new(argv)
    };
    let (rc, stdout, stderr) = match host.run(&spec, &|_, _| {}) {
        Ok(out) => (out.rc, out.stdout_text(), out.stderr_text()),
        // What a shell on the host says of a program it does not have.
        Err(e @ HostError::Spawn { .. }) => (127, String::new(), format!("{e}\n")),
        Err(e) => return Err(format!("`{}`: {e}", argv.join(" "))),
    };
    Ok(CommandFixture {
        argv: argv.to_vec(),
        rc,
        stdout,
        stderr,
    })
}

/// Asks the live host `new` and adds its answers to `fixture`.
fn answer(
    host: &dyn Host,
    facts: &Facts,
    new: &Asked,
    fixture: &mut Fixture,
) -> Result<(), String> {
    if !new.packages.is_empty() {
        fixture
            .packages
            .extend(installed(host, facts, &new.packages)?);
    }
    for unit in &new.services {
        let ask = |q: &str| -> Result<String, String> {
            let argv = ["systemctl", q, unit].map(String::from);
            Ok(run(host, &argv)?.stdout.trim().to_string())
        };
        let state = UnitState {
            active: ask("is-active")?,
            enabled: ask("is-enabled")?,
        };
        fixture.services.insert(
            unit.clone(),
            crate::facts::ServiceFixture {
                active: state.is_active(),
                enabled: state.is_enabled(),
            },
        );
    }
    for path in new.reads.iter().chain(&new.stats) {
        save_path(host, path, new.reads.contains(path), fixture)?;
    }
    for argv in &new.commands {
        fixture.commands.push(if argv == &["getenforce"] {
            // As the live probe asks it: a host without SELinux has no getenforce.
            let sh = crate::primitives::kernel::GETENFORCE_SH;
            CommandFixture {
                argv: argv.clone(),
                ..run(host, &["sh", "-c", sh].map(String::from))?
            }
        } else {
            run(host, argv)?
        });
    }
    for key in &new.sysctl {
        let path = crate::primitives::kernel::sysctl_path(key);
        let value = host
            .read_file(&path)
            .map_err(|e| e.to_string())?
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        fixture.sysctl.insert(key.clone(), value);
    }
    Ok(())
}

/// The installed versions among `names`, as the package probes of a live host read them.
fn installed(
    host: &dyn Host,
    facts: &Facts,
    names: &std::collections::BTreeSet<String>,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let names: Vec<String> = names.iter().cloned().collect();
    let deb = match manager_for(&facts.os.family, &facts.pkg_manager) {
        Some("apt") => true,
        Some(_) => false,
        None => return Ok(Default::default()),
    };
    let mut argv: Vec<String> = if deb {
        vec![
            "dpkg-query".into(),
            "-W".into(),
            "-f".into(),
            DPKG_FMT.replace("\\t", "\t").replace("\\n", "\n"),
        ]
    } else {
        vec![
            "rpm".into(),
            "-q".into(),
            "--qf".into(),
            RPM_QF.replace("\\n", "\n"),
        ]
    };
    argv.extend(names);
    let out = run(host, &argv)?;
    Ok(if deb {
        parse_dpkg_query(&out.stdout)
    } else {
        parse_rpm_q(&out.stdout)
    })
}

/// A path as the host has it: a folder in `dirs`, a file in `files` (its content when `read`,
/// it is text and not too big; else its metadata only), nothing when it does not exist.
fn save_path(host: &dyn Host, path: &str, read: bool, fixture: &mut Fixture) -> Result<(), String> {
    let Some(st) = host.stat(path).map_err(|e| e.to_string())? else {
        return Ok(());
    };
    if st.is_dir {
        if !fixture.dirs.iter().any(|d| d == path) {
            fixture.dirs.push(path.to_string());
        }
        return Ok(());
    }
    let content = if read && st.size <= CONTENT_MAX {
        host.read_file(path)
            .map_err(|e| e.to_string())?
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default()
    } else {
        String::new()
    };
    fixture.files.insert(
        path.to_string(),
        FileEntry::Full(FileFixture {
            content,
            mode: format!("{:04o}", st.mode & 0o7777),
            owner: st.owner,
            group: st.group,
        }),
    );
    Ok(())
}
