//! One run of a recipe from start to recap: targets, engine, evaluation, error rendering and the
//! exit code. The CLI's `run`/`plan` and the integration tests go through `execute`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::engine::{self, diagnostics, recipe, Ctx, Mode, RunCtx, Sources, Target};
use crate::facts::Fixture;
use crate::host::{local::LocalHost, sim::SimHost, Host};
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
    pub forks: usize,
    /// Stop after `params()` (for `galley show`).
    pub show_only: bool,
    /// `--mirror`, `--registry-mirror`, `--mirror-ca`.
    pub mirrors: MirrorFlags,
}

/// A usage-level failure before the recipe runs (exit 2).
#[derive(Debug)]
pub struct SetupError(pub String);

/// Makes a profile's host distinct per inventory host: name, address, MAC and product_uuid.
pub fn personalize(mut f: Fixture, entry: &HostEntry, index: usize) -> Fixture {
    let n = index + 1;
    f.facts.hostname = entry.name.clone();
    f.facts.product_uuid = format!(
        "00000000-0000-4000-8000-{:012x}",
        0x9a11e7000000u64 + n as u64
    );
    if let Some(i) = f.facts.interfaces.iter_mut().find(|i| i.name != "lo") {
        i.mac = format!("52:54:00:00:{:02x}:{:02x}", n / 256, n % 256);
        let addr = entry
            .address
            .clone()
            .unwrap_or_else(|| format!("10.0.0.{}", 10 + n));
        i.addresses = vec![format!("{addr}/24")];
    }
    f
}

fn fixture_for(opts: &RunOptions, entry: &HostEntry, index: usize) -> Result<Fixture, SetupError> {
    let err = |e: crate::facts::FixtureError| SetupError(e.to_string());
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
        Some(p) => Fixture::load(p).map_err(err).map(|f| {
            if index > 0 || opts.inventory.is_some() {
                personalize(f, entry, index)
            } else {
                f
            }
        }),
        None => {
            let f = Fixture::profile(opts.profile.as_deref().unwrap_or(DEFAULT_PROFILE))
                .map_err(err)?;
            Ok(if opts.inventory.is_some() {
                personalize(f, entry, index)
            } else {
                f
            })
        }
    }
}

fn connect(
    opts: &RunOptions,
    entry: &HostEntry,
    index: usize,
) -> Result<Arc<dyn Host>, SetupError> {
    if opts.mode == Mode::Plan {
        return Ok(Arc::new(SimHost::new(
            &entry.name,
            fixture_for(opts, entry, index)?,
        )));
    }
    if entry.is_local() {
        return Ok(Arc::new(LocalHost::new(&entry.name)));
    }
    crate::host::connect_remote(entry).map_err(|e| SetupError(e.to_string()))
}

/// Builds the run's shared context and the context the top level starts in.
pub fn prepare(
    opts: &RunOptions,
    reporter: Arc<Reporter>,
    recipe_dir: Option<std::path::PathBuf>,
) -> Result<Ctx, SetupError> {
    let inv = opts.inventory.clone().unwrap_or_else(Inventory::local);
    // Every host's mirror settings are checked before any host is contacted.
    let mut mirrors = Vec::new();
    for entry in &inv.hosts {
        let m = Mirrors::resolve(&opts.mirrors, &entry.vars)
            .map_err(|e| SetupError(format!("host `{}`: {e}", entry.name)))?;
        mirrors.push(m);
    }
    let mut targets = BTreeMap::new();
    let mut order = Vec::new();
    for ((i, entry), m) in inv.hosts.iter().enumerate().zip(mirrors) {
        let host = connect(opts, entry, i)?;
        reporter.host(&entry.name);
        order.push(entry.name.clone());
        targets.insert(
            entry.name.clone(),
            Arc::new(Target::new(entry.clone(), host, opts.mode).with_mirrors(m)),
        );
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
    let reporter = Arc::new(Reporter::new(opts.format, opts.mode, opts.diff));
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
        .and_then(|mut ast| {
            ast.set_source(recipe.source.as_str());
            if !opts.show_only {
                reporter.start(&recipe.name);
            }
            engine.run_ast(&ast)
        });
    let params = run.params.lock().unwrap().clone();
    let exit_code = match result {
        Ok(()) => unused_sets(opts, params.is_some()).map_or(0, |m| {
            reporter.error(&format!("error: {m}"), 2);
            2
        }),
        Err(e)
            if opts.show_only
                && matches!(&*e, rhai::EvalAltResult::ErrorTerminated(t, _) if t.to_string() == diagnostics::SHOW) =>
        {
            0
        }
        Err(e) => {
            let d = diagnostics::diagnose(&e, &recipe.source, &run.sources, opts.timeout);
            let code = d.kind.exit_code();
            reporter.error(&diagnostics::render(&d, &run.sources), code);
            code
        }
    };
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
