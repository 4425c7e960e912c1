//! The run and the current host, carried in the evaluation's tag (never in globals), so every
//! thread of a parallel `on()` acts on its own host while sharing one run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rhai::{Dynamic, EvalAltResult, Map, NativeCallContext};

use super::overlay::Overlay;
pub use crate::error::Sources;
use crate::facts::{Facts, Fixture};
use crate::host::{CommandOutput, CommandSpec, FileStat, Host, HostResult};
use crate::inventory::HostEntry;
use crate::mirror::Mirrors;
pub use crate::mode::Mode;
use crate::report::Reporter;

/// Everything one run shares across hosts and threads.
pub struct RunCtx {
    pub mode: Mode,
    pub reporter: Arc<Reporter>,
    /// `--set key=value` overrides, in command-line order.
    pub sets: Vec<(String, String)>,
    /// The parameters `params()` resolved (for `galley show` and unused-`--set` checks).
    pub params: Mutex<Option<Map>>,
    /// Stop right after `params()` (for `galley show`).
    pub show_only: bool,
    pub deadline: Option<Instant>,
    pub sources: Sources,
    /// Folder of the recipe being run (imports may resolve under it), if it is a file.
    pub recipe_dir: Option<PathBuf>,
    /// Targeted hosts in inventory order: the ones `--limit` keeps (`hosts()`).
    pub order: Vec<String>,
    /// Every inventory host in order, outside `--limit` too (`hosts_all()`).
    pub all: Vec<String>,
    pub targets: BTreeMap<String, Arc<Target>>,
    pub groups: BTreeMap<String, Vec<String>>,
    pub forks: usize,
}

impl RunCtx {
    /// Time left in the run's wall-clock budget.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Whether hosts' output is kept and printed step by step once all are done (plans, which
    /// must read the same on every run) rather than as it happens.
    pub fn groups_output(&self) -> bool {
        self.mode == Mode::Plan
    }

    pub fn target(&self, name: &str) -> Option<Arc<Target>> {
        self.targets.get(name).cloned()
    }
}

/// A host as the run sees it: the connector, its inventory entry, cached facts and the changes
/// check/plan predicted for it.
pub struct Target {
    pub entry: HostEntry,
    pub host: Arc<dyn Host>,
    /// The mode this host's steps run in: the run's, except check for a host outside `--limit`
    /// in an apply run.
    pub mode: Mode,
    /// Outside `--limit`: the recipe may read this host, never change it.
    pub outside_limit: bool,
    overlay: Mutex<Overlay>,
    facts: OnceLock<Facts>,
    /// A plan's facts file: it answers this host's facts and probes instead of the machine.
    fixture: Option<Arc<Fixture>>,
    /// The URL and registry mirrors and the mirror CA this host's run uses.
    pub mirrors: Mirrors,
    /// Set once the mirror CA is in the host's trust store (or would be, in check/plan).
    pub ca_installed: Mutex<bool>,
}

impl Target {
    pub fn new(entry: HostEntry, host: Arc<dyn Host>, mode: Mode) -> Self {
        Target {
            entry,
            host,
            mode,
            outside_limit: false,
            overlay: Mutex::new(Overlay::default()),
            facts: OnceLock::new(),
            fixture: None,
            mirrors: Mirrors::default(),
            ca_installed: Mutex::new(false),
        }
    }

    pub fn with_mirrors(mut self, mirrors: Mirrors) -> Self {
        self.mirrors = mirrors;
        self
    }

    pub fn with_fixture(mut self, fixture: Option<Arc<Fixture>>) -> Self {
        self.fixture = fixture;
        self
    }

    /// The facts file this host answers from (plans), if any.
    pub fn fixture(&self) -> Option<&Fixture> {
        self.fixture.as_deref()
    }

    /// Whether this host is the machine galley runs on (never a plan's simulated host): only
    /// there may galley probe in-process and use its own environment.
    pub fn is_this_machine(&self) -> bool {
        self.fixture.is_none() && self.entry.is_local()
    }

    pub fn name(&self) -> &str {
        &self.entry.name
    }

    pub fn facts(&self) -> HostResult<Facts> {
        if let Some(f) = self.facts.get() {
            return Ok(f.clone());
        }
        let f = match &self.fixture {
            Some(fixture) => fixture.facts.clone(),
            None => crate::facts::gather(&*self.host)?,
        };
        Ok(self.facts.get_or_init(|| f).clone())
    }

    /// Drops cached facts (after a change that alters them).
    pub fn overlay(&self) -> std::sync::MutexGuard<'_, Overlay> {
        self.overlay.lock().unwrap()
    }

    /// The file as this run believes it is: predicted content first, then the host.
    pub fn read_file(&self, path: &str) -> HostResult<Option<Vec<u8>>> {
        match self.overlay().file(path) {
            Some(p) => Ok(p.content.clone()),
            None => self.host.read_file(path),
        }
    }

    pub fn stat(&self, path: &str) -> HostResult<Option<FileStat>> {
        match self.overlay().file(path) {
            Some(p) => Ok(p.stat.clone()),
            None => self.host.stat(path),
        }
    }

    /// Runs a command with the run's remaining budget as an upper bound on its timeout.
    pub fn run(
        &self,
        run: &RunCtx,
        mut spec: CommandSpec,
        what: &str,
    ) -> HostResult<CommandOutput> {
        if let Some(left) = run.remaining() {
            spec.timeout = Some(spec.timeout.map_or(left, |t| t.min(left)));
        }
        // The live row shows the command as a shell reads it, each word redacted before it is
        // quoted; worded only for a command that runs long enough to get a row.
        let name = self.name();
        let shown = OnceLock::new();
        let out = self.host.run(&spec, &|elapsed, last| {
            if elapsed >= crate::report::LIVE_AFTER {
                let what = shown.get_or_init(|| super::act::live_what(what, &spec.argv));
                run.reporter.progress(name, what, elapsed, last)
            }
        });
        if let Some(what) = shown.get() {
            run.reporter.done(name, Some(what));
        }
        out
    }
}

/// What the tag holds: the run and the host this evaluation acts on. At a recipe's top level
/// there is no current host when several hosts are targeted: steps then go inside `on(...)`.
#[derive(Clone)]
pub struct Ctx {
    pub run: Arc<RunCtx>,
    pub target: Option<Arc<Target>>,
}

impl Ctx {
    pub fn into_dynamic(self) -> Dynamic {
        Dynamic::from(self)
    }

    /// The context of the current evaluation.
    pub fn of(nc: &NativeCallContext) -> Result<Ctx, Box<EvalAltResult>> {
        nc.tag()
            .and_then(|t| t.clone().try_cast::<Ctx>())
            .ok_or_else(|| "internal error: no host context in this evaluation".into())
    }

    /// The current host, or an error that says how to pick one.
    pub fn target(&self) -> Result<Arc<Target>, Box<EvalAltResult>> {
        self.target.clone().ok_or_else(|| {
            let msg = format!(
                "no current host: {} hosts are targeted ({}); put host steps inside on(hosts(), |h| {{ ... }}) or narrow the run with --limit",
                self.run.order.len(),
                self.run.order.join(", ")
            );
            crate::error::usage(msg)
        })
    }
}
