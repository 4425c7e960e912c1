//! `:run RECIPE [k=v ...]`: a recipe run inside the session, like `galley run` but on the
//! session's hosts (same connections, and in check/plan the same predicted state) and mode. The
//! recipe gets its own scope, parameters and imports; the session's variables are untouched.

use std::sync::{Arc, Mutex};

use super::commands::counts_of;
use super::interrupt;
use super::session::{Selection, Session};
use crate::engine::{self, diagnostics, recipe, Ctx, RunCtx, Sources};
use crate::inventory::Inventory;
use crate::runner::{prepare, RunOptions};

impl Session {
    /// A run context for the recipe that shares this session's hosts.
    fn recipe_ctx(
        &self,
        sets: Vec<(String, String)>,
        dir: Option<std::path::PathBuf>,
    ) -> Result<Arc<RunCtx>, String> {
        let opts = RunOptions {
            mode: self.run.mode,
            sets,
            forks: self.run.forks,
            inventory: Some(Inventory::default()),
            ..Default::default()
        };
        let ctx = prepare(&opts, self.reporter.clone(), dir).map_err(|e| e.0)?;
        let Ctx { run, target } = ctx;
        drop(target);
        let base = Arc::try_unwrap(run).map_err(|_| "internal error: run context is shared")?;
        Ok(Arc::new(RunCtx {
            order: self.run.order.clone(),
            all: self.run.all.clone(),
            targets: self.run.targets.clone(),
            groups: self.run.groups.clone(),
            params: Mutex::new(None),
            sources: Sources::default(),
            ..base
        }))
    }

    /// Returns the exit code the recipe would have had under `galley run`.
    pub(super) fn run_recipe(&mut self, spec: &str, sets: Vec<(String, String)>) -> i32 {
        let recipe = match recipe::load(spec) {
            Ok(r) => r,
            Err(e) => {
                crate::report::stdout::err_line(&format!("error: {e}"));
                return 2;
            }
        };
        let had_sets = !sets.is_empty();
        let run = match self.recipe_ctx(sets, recipe.dir.clone()) {
            Ok(r) => r,
            Err(e) => {
                crate::report::stdout::err_line(&format!("error: {e}"));
                return 2;
            }
        };
        let top = match &self.selection {
            Selection::Host(h) => run.target(h),
            Selection::Group(..) => None,
        };
        let engine = engine::build(Ctx {
            run: run.clone(),
            target: top,
        });
        run.sources.add(&recipe.source, &recipe.text);
        let before = self.reporter.actions().len();
        crate::report::stdout::line(&format!("{} {}", run.mode.as_str(), recipe.name));
        let (result, stopped) = interrupt::evaluating(|| {
            engine
                .compile(&recipe.text)
                .map_err(|e| Box::new(e.into()))
                .and_then(|mut ast| {
                    ast.set_source(recipe.source.as_str());
                    engine.run_ast(&ast)
                })
        });
        let declared = run.params.lock().unwrap().is_some();
        let code = match result {
            Ok(()) if had_sets && !declared => {
                crate::report::stdout::err_line(&format!(
                    "error: parameters given, but {spec} declares none (it never calls params())"
                ));
                2
            }
            Ok(()) => 0,
            Err(e) => {
                let d = diagnostics::diagnose(&e, &recipe.source, &run.sources, None);
                crate::report::stdout::err_line(&diagnostics::render(&d, &run.sources));
                if stopped {
                    130
                } else {
                    d.kind.exit_code()
                }
            }
        };
        let c = counts_of(&self.reporter.actions()[before..]);
        crate::report::stdout::line(&format!(
            "{}: ok={} changed={} failed={} skipped={}{}",
            recipe.name,
            c.ok,
            c.changed,
            c.failed,
            c.skipped,
            if code == 0 {
                String::new()
            } else {
                format!(" (exit code {code})")
            }
        ));
        self.kept
            .push(super::save::Kept::Note(format!(":run {spec}")));
        code
    }
}
