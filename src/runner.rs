//! One run of a recipe from start to recap: targets, engine, evaluation, error rendering and the
//! exit code. The CLI's `run`/`plan` and the integration tests go through `execute`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::engine::{self, diagnostics, lint, recipe, Ctx, Mode, RunCtx, Sources, Target};
use crate::error::{Kind, Stop};
use crate::facts::sim::SimHost;
use crate::facts::Fixture;
use crate::host::{local::LocalHost, Host};
use crate::inventory::{HostEntry, Inventory};
use crate::mirror::{MirrorFlags, Mirrors};
use crate::report::{Format, Reporter};

/// The profile `plan` uses when neither --facts nor --profile is given.
pub const DEFAULT_PROFILE: &str = "rocky9";

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub recipe: String,
    pub mode: Mode,
    pub sets: Vec<(String, String)>,
    /// A facts file, or a folder of `<host>.json` files (plan).
    pub facts: Option<String>,
    pub profile: Option<String>,
    pub format: Format,
    pub diff: bool,
    pub timeout: Option<Duration>,
    pub inventory: Option<Inventory>,
    /// `--limit`: the hosts of `inventory` the run acts on (`None`: all). The others stay
    /// visible to the recipe (`hosts_all()`) and are only read: in apply they run in check mode.
    pub limit: Option<Vec<String>>,
    pub forks: usize,
    /// Stop after `params()` (for `galley show`).
    pub show_only: bool,
    /// `--mirror`, `--registry-mirror`, `--mirror-ca`.
    pub mirrors: MirrorFlags,
    /// A plan's facts given as data (before `facts` and `profile`), as they are, for every host.
    pub fixture: Option<Arc<Fixture>>,
    /// A plan's facts given as data per host (inventory name), before all the others.
    pub host_fixtures: Option<std::collections::BTreeMap<String, Arc<Fixture>>>,
}

/// A usage-level failure before the recipe runs (exit 2).
#[derive(Debug)]
pub struct SetupError(pub String);

/// The vars that give a host's node address when the inventory names it by DNS name or an
/// ssh-config alias (`node_ip` first, the name the kubeadm recipe reads too).
pub const ADDRESS_VARS: [&str; 2] = ["node_ip", "address"];

/// The IPv4 address a plan gives an inventory host: `node_ip`/`address` var, else its connection
/// address when that is an IPv4 address; `Ok(None)` when neither says (a DNS name, an alias).
pub fn known_address(entry: &HostEntry) -> Result<Option<String>, SetupError> {
    for key in ADDRESS_VARS {
        if let Some(v) = entry.vars.get(key) {
            let text = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            return match text.parse::<std::net::Ipv4Addr>() {
                Ok(_) => Ok(Some(text)),
                Err(_) => Err(SetupError(format!(
                    "host `{}`: {key} = {text} is not an IPv4 address (e.g. node_ip=10.0.0.11)",
                    entry.name
                ))),
            };
        }
    }
    Ok(entry
        .address
        .clone()
        .filter(|a| a.parse::<std::net::Ipv4Addr>().is_ok()))
}

/// Makes a profile's host distinct per inventory host: name, address, MAC and product_uuid. The
/// address is `known_address`, else one made up from the host's place in the inventory; it goes
/// on the default-route interface (else the first that is not loopback), the one a real host's
/// traffic to the others leaves by.
pub fn personalize(mut f: Fixture, entry: &HostEntry, index: usize) -> Result<Fixture, SetupError> {
    let n = index + 1;
    let known = known_address(entry)?;
    f.facts.hostname = entry.name.clone();
    f.facts.product_uuid = format!(
        "00000000-0000-4000-8000-{:012x}",
        0x9a11e7000000u64 + n as u64
    );
    let route = f.facts.default_interface.clone();
    let pick = f
        .facts
        .interfaces
        .iter()
        .position(|i| !route.is_empty() && i.name == route)
        .or_else(|| f.facts.interfaces.iter().position(|i| i.name != "lo"));
    if let Some(i) = pick.map(|p| &mut f.facts.interfaces[p]) {
        i.mac = format!("52:54:00:00:{:02x}:{:02x}", n / 256, n % 256);
        let addr = known.unwrap_or_else(|| format!("10.0.{}.{}", (10 + n) / 256, (10 + n) % 256));
        i.addresses = vec![format!("{addr}/24")];
    }
    Ok(f)
}

/// Plans from a folder of per-host facts: each host's own addresses, nothing made up.
fn facts_per_host(opts: &RunOptions) -> bool {
    opts.host_fixtures.is_some() || opts.facts.as_deref().is_some_and(|p| Path::new(p).is_dir())
}

fn fixture_for(opts: &RunOptions, entry: &HostEntry, index: usize) -> Result<Fixture, SetupError> {
    let err = |e: crate::facts::FixtureError| SetupError(e.to_string());
    if let Some(f) = opts.host_fixtures.as_ref().and_then(|m| m.get(&entry.name)) {
        return Ok(Fixture::clone(f));
    }
    if let Some(f) = &opts.fixture {
        return Ok(Fixture::clone(f));
    }
    match &opts.facts {
        Some(p) if Path::new(p).is_dir() => {
            let file = Path::new(p).join(format!("{}.json", entry.name));
            if !file.exists() {
                return Err(SetupError(format!(
                    "no facts for host `{}`: {} does not exist",
                    entry.name,
                    file.display()
                )));
            }
            Fixture::load(&file.to_string_lossy()).map_err(err)
        }
        Some(p) => {
            let f = Fixture::load(p).map_err(err)?;
            if index > 0 || opts.inventory.is_some() {
                personalize(f, entry, index)
            } else {
                Ok(f)
            }
        }
        None => {
            let f = Fixture::profile(opts.profile.as_deref().unwrap_or(DEFAULT_PROFILE))
                .map_err(err)?;
            if opts.inventory.is_some() {
                personalize(f, entry, index)
            } else {
                Ok(f)
            }
        }
    }
}

/// A plan's host answers from its facts file; any other run's host is the machine itself.
type Connected = (Arc<dyn Host>, Option<Arc<Fixture>>);

fn connect(opts: &RunOptions, entry: &HostEntry, index: usize) -> Result<Connected, SetupError> {
    if opts.mode == Mode::Plan {
        let fixture = Arc::new(fixture_for(opts, entry, index)?);
        return Ok((
            Arc::new(SimHost::new(&entry.name, fixture.clone())),
            Some(fixture),
        ));
    }
    let host = connect_live(entry).map_err(SetupError)?;
    Ok((host, None))
}

/// Connects to a live host: this machine, or one over SSH (lazily: nothing is contacted yet).
pub fn connect_live(entry: &HostEntry) -> Result<Arc<dyn Host>, String> {
    if entry.is_local() {
        return Ok(Arc::new(LocalHost::new(&entry.name)));
    }
    crate::host::connect_remote(entry).map_err(|e| e.to_string())
}

/// Builds the run's shared context and the context the top level starts in.
pub fn prepare(
    opts: &RunOptions,
    reporter: Arc<Reporter>,
    recipe_dir: Option<std::path::PathBuf>,
) -> Result<Ctx, SetupError> {
    let inv = opts.inventory.clone().unwrap_or_else(Inventory::local);
    if let Some(names) = &opts.limit {
        if let Some(n) = names
            .iter()
            .find(|n| !inv.hosts.iter().any(|h| &h.name == *n))
        {
            return Err(SetupError(format!(
                "--limit: host `{n}` is not in the inventory"
            )));
        }
    }
    let limited = |name: &str| {
        opts.limit
            .as_ref()
            .is_some_and(|l| !l.iter().any(|n| n == name))
    };
    // Every host's mirror settings are checked before any host is contacted.
    let mut mirrors = Vec::new();
    for entry in &inv.hosts {
        let m = Mirrors::resolve(&opts.mirrors, &entry.vars)
            .map_err(|e| SetupError(format!("host `{}`: {e}", entry.name)))?;
        mirrors.push(m);
    }
    let mut targets = BTreeMap::new();
    let mut order = Vec::new();
    let mut all = Vec::new();
    for ((i, entry), m) in inv.hosts.iter().enumerate().zip(mirrors) {
        // SSH connects lazily: a host outside the limit costs nothing until a recipe reads it.
        let (host, fixture) = connect(opts, entry, i)?;
        all.push(entry.name.clone());
        let outside = limited(&entry.name);
        let mut mode = opts.mode;
        if outside {
            // Outside --limit galley only reads: in apply, such a host is in check mode.
            mode = if mode == Mode::Apply {
                Mode::Check
            } else {
                mode
            };
        } else {
            reporter.host(&entry.name);
            order.push(entry.name.clone());
        }
        let mut target = Target::new(entry.clone(), host, mode)
            .with_mirrors(m)
            .with_fixture(fixture);
        target.outside_limit = outside;
        targets.insert(entry.name.clone(), Arc::new(target));
    }
    if opts.mode == Mode::Plan && opts.inventory.is_some() && !facts_per_host(opts) {
        let mut guessed = Vec::new();
        for entry in &inv.hosts {
            if entry.address.is_some() && known_address(entry)?.is_none() {
                guessed.push(entry.name.as_str());
            }
        }
        if !guessed.is_empty() {
            reporter.log(
                "-",
                crate::report::Level::Warn,
                &format!(
                    "plan: {} named by DNS name or alias, so this plan makes their addresses up (10.0.0.x): set node_ip=ADDRESS on each in the inventory, or plan with --facts from `galley facts --save`",
                    guessed.join(", ")
                ),
            );
        }
    }
    let run = Arc::new(RunCtx {
        mode: opts.mode,
        reporter,
        sets: opts.sets.clone(),
        params: Mutex::new(None),
        show_only: opts.show_only,
        deadline: opts.timeout.map(|t| Instant::now() + t),
        sources: Sources::default(),
        recipe_dir,
        order,
        all,
        targets,
        groups: inv.groups.clone(),
        forks: opts.forks.max(1),
    });
    let top = if run.order.len() == 1 {
        run.target(&run.order[0])
    } else {
        None
    };
    Ok(Ctx { run, target: top })
}

/// The outcome of a run: exit code plus what a caller (show, tests) may want to inspect.
pub struct Outcome {
    pub exit_code: i32,
    pub params: Option<rhai::Map>,
    pub reporter: Arc<Reporter>,
}

fn setup_failure(reporter: Arc<Reporter>, message: &str) -> Outcome {
    reporter.error(&format!("error: {message}"), 2);
    Outcome {
        exit_code: 2,
        params: None,
        reporter,
    }
}

/// Runs a recipe and returns its exit code: 0 success, 1 a step failed, 2 usage/recipe error,
/// 130 interrupted.
pub fn execute(opts: &RunOptions) -> Outcome {
    execute_to(opts, Arc::new(crate::report::sink::Std))
}

/// [`execute`] with the run's output written to `sink` (a buffer, for tests and embedders).
pub fn execute_to(opts: &RunOptions, sink: Arc<dyn crate::report::sink::Sink>) -> Outcome {
    let reporter = Arc::new(Reporter::to(sink, opts.format, opts.mode, opts.diff));
    let recipe = match recipe::load(&opts.recipe) {
        Ok(r) => r,
        Err(e) => return setup_failure(reporter, &e.to_string()),
    };
    let ctx = match prepare(opts, reporter.clone(), recipe.dir.clone()) {
        Ok(c) => c,
        Err(e) => return setup_failure(reporter, &e.0),
    };
    let run = ctx.run.clone();
    let engine = engine::build(ctx);
    run.sources.add(&recipe.source, &recipe.text);
    let result = engine
        .compile(&recipe.text)
        .map_err(|e| Box::new(e.into()))
        .map(|mut ast| {
            ast.set_source(recipe.source.as_str());
            ast
        });
    // What `galley check` finds stops a run before any host is touched.
    let problems = match &result {
        Ok(ast) if !opts.show_only => {
            lint::problems(&engine, ast, &recipe.source, recipe.dir.as_deref())
        }
        _ => Vec::new(),
    };
    let result = result.and_then(|ast| {
        if !problems.is_empty() {
            return Ok(());
        }
        if !opts.show_only {
            reporter.start(&recipe.name);
        }
        engine.run_ast(&ast)
    });
    let params = run.params.lock().unwrap().clone();
    let exit_code = match result {
        Ok(()) if !problems.is_empty() => {
            for p in &problems {
                reporter.error(&diagnostics::render(p, &run.sources), 2);
            }
            2
        }
        Ok(()) => unused_sets(opts, params.is_some()).map_or(0, |m| {
            reporter.error(&format!("error: {m}"), 2);
            2
        }),
        Err(e) if opts.show_only && Stop::Show.is(&e) => 0,
        Err(e) => {
            let d = diagnostics::diagnose(&e, &recipe.source, &run.sources, opts.timeout);
            let code = d.kind.exit_code();
            if let (Kind::Step, [only]) = (d.kind, run.order.as_slice()) {
                reporter.host_failed(only, &d.message); // the one host's failure, as on(...) says it
            }
            reporter.error(&diagnostics::render(&d, &run.sources), code);
            code
        }
    };
    for name in &run.order {
        if let Some(why) = run.target(name).and_then(|t| t.host.connect_failure()) {
            reporter.unreachable(name, &why);
        }
    }
    if !opts.show_only {
        reporter.recap(exit_code);
    }
    Outcome {
        exit_code,
        params,
        reporter,
    }
}

fn unused_sets(opts: &RunOptions, declared: bool) -> Option<String> {
    (!declared && !opts.sets.is_empty()).then(|| {
        format!(
            "--set {} given, but this recipe declares no parameters (it never calls params())",
            opts.sets[0].0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Interface;

    #[test]
    fn personalize_puts_the_address_on_the_default_route_interface() {
        let mut f = Fixture::default();
        let iface = |name: &str, addr: &str| Interface {
            name: name.into(),
            mac: "02:42:ac:11:00:02".into(),
            addresses: vec![addr.into()],
        };
        f.facts.interfaces = vec![
            iface("docker0", "172.17.0.1/16"),
            iface("eth0", "10.0.2.15/24"),
            iface("lo", "127.0.0.1/8"),
        ];
        f.facts.default_interface = "eth0".into();
        let entry = HostEntry {
            name: "w1".into(),
            address: Some("192.168.56.12".into()),
            ..Default::default()
        };
        let p = personalize(f.clone(), &entry, 1).unwrap();
        assert_eq!(p.facts.interfaces[0].addresses, ["172.17.0.1/16"]);
        assert_eq!(p.facts.interfaces[1].addresses, ["192.168.56.12/24"]);
        // Without a default route: the first interface that is not loopback, as before.
        f.facts.default_interface.clear();
        let p = personalize(f, &entry, 1).unwrap();
        assert_eq!(p.facts.interfaces[0].addresses, ["192.168.56.12/24"]);
    }
}
