//! One REPL session: the engine `galley run` uses (same sandbox, primitives and stdlib), one
//! Scope across inputs, the functions defined so far, the imports made so far, the current host
//! and mode, and the inputs that succeeded (for `:save`).
//!
//! Each input is compiled on its own and run against the session's scope, merged with the
//! functions of earlier inputs. Rhai forgets `import` between separately compiled inputs, so
//! each successful `import "x" as y;` is also registered as a static module `y` in the engine
//! (and registered again when a mode switch rebuilds the engine).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rhai::{Dynamic, Engine, EvalAltResult, Expr, Position, Scope, Stmt, AST};

use super::complete::{Getters, Names, Shape};
use super::help::is_plumbing;
use super::save::Kept;
use super::{input, interrupt, render};
use crate::embedded;
use crate::engine::{self, diagnostics, Ctx, Mode, RunCtx, Target};
use crate::report::Reporter;
use crate::runner::{prepare, RunOptions};

/// What statements act on: one host, or each host of a group in turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    Host(String),
    Group(String, Vec<String>),
}

/// What the caller does after an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on; the input's exit code (0 ok, 1 a step failed, 2 usage error, 130 interrupted).
    Continue(i32),
    Quit,
}

pub struct Session {
    pub(super) opts: RunOptions,
    pub(super) reporter: Arc<Reporter>,
    pub(super) run: Arc<RunCtx>,
    pub(super) engine: Engine,
    scope: Scope<'static>,
    /// Functions defined by earlier inputs.
    pub(super) fns: AST,
    /// `(path, alias)` of successful top-level imports, in order.
    imports: Vec<(String, String)>,
    /// Every input by source name, so errors can quote it after an engine rebuild.
    inputs: Vec<(String, String)>,
    /// Which input defined each function, so errors inside it quote the right text.
    fn_sources: HashMap<String, String>,
    pub(super) kept: Vec<Kept>,
    pub(super) selection: Selection,
    count: usize,
    /// Where each mode began in the reporter's action list.
    pub(super) segments: Vec<(usize, Mode)>,
    getters: Getters,
    /// Function names (the engine's, with imported modules); refreshed when the engine changes.
    base_functions: Vec<(String, String)>,
    pub(super) checker: Engine,
    names: Arc<RwLock<Names>>,
}

fn cwd() -> Option<PathBuf> {
    std::env::current_dir().ok()
}

/// Getter names (`get$stdout` → `stdout`) by the type they read.
fn getters_of(engine: &Engine) -> Getters {
    let mut out = Getters::new();
    for (ty, name) in engine.collect_fn_metadata(
        None,
        |info| {
            let m = info.metadata;
            let prop = m.name.strip_prefix("get$")?;
            let ty = *m.param_types.first()?;
            (m.num_params == 1).then(|| (ty, prop.to_string()))
        },
        false,
    ) {
        out.entry(ty).or_default().push(name);
    }
    out
}

/// `(namespace, name)` of every callable function, the language's own included.
fn functions_of(engine: &Engine) -> Vec<(String, String)> {
    engine.collect_fn_metadata(
        None,
        |info| {
            let name = info.metadata.name.as_str();
            (!is_plumbing(name)).then(|| (info.namespace.to_string(), name.to_string()))
        },
        true,
    )
}

/// Top-level `import "path" as alias;` statements of an input.
fn imports_of(ast: &AST) -> Vec<(String, String)> {
    ast.statements()
        .iter()
        .filter_map(|s| match s {
            Stmt::Import(x, _) => match &x.0 {
                Expr::StringConstant(path, _) if !x.1.name.is_empty() => {
                    Some((path.to_string(), x.1.name.to_string()))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

impl Session {
    pub fn new(opts: RunOptions) -> Result<Session, String> {
        let reporter = Arc::new(Reporter::new(opts.format, opts.mode, opts.diff));
        let ctx = prepare(&opts, reporter.clone(), cwd()).map_err(|e| e.0)?;
        let first = ctx
            .run
            .order
            .first()
            .cloned()
            .ok_or("the inventory has no hosts")?;
        let engine = engine::build(ctx.clone());
        let s = Session {
            segments: vec![(0, opts.mode)],
            opts,
            reporter,
            run: ctx.run,
            getters: getters_of(&engine),
            base_functions: functions_of(&engine),
            engine,
            scope: Scope::new(),
            fns: AST::empty(),
            imports: Vec::new(),
            inputs: Vec::new(),
            fn_sources: HashMap::new(),
            kept: Vec::new(),
            selection: Selection::Host(first),
            count: 0,
            checker: input::checker(),
            names: Arc::new(RwLock::new(Names::default())),
        };
        s.refresh_names();
        Ok(s)
    }

    /// The completion data, shared with the line editor.
    pub fn names(&self) -> Arc<RwLock<Names>> {
        self.names.clone()
    }

    pub fn mode(&self) -> Mode {
        self.run.mode
    }

    /// The current host, or the group with its size (`web[3]`).
    pub fn selection_name(&self) -> String {
        match &self.selection {
            Selection::Host(h) => h.clone(),
            Selection::Group(g, members) => format!("{g}[{}]", members.len()),
        }
    }

    pub fn prompt(&self) -> String {
        let who = self.selection_name();
        match self.mode() {
            Mode::Apply => format!("galley({who})> "),
            m => format!("galley({who}, {})> ", m.as_str()),
        }
    }

    pub fn is_incomplete(&self, text: &str) -> bool {
        input::is_incomplete(&self.checker, text)
    }

    /// A variable's value (for tests and completion).
    pub fn var(&self, name: &str) -> Option<Dynamic> {
        self.scope.get_value::<Dynamic>(name)
    }

    /// Handles one complete input: a meta-command or Rhai statements.
    pub fn handle(&mut self, input: &str) -> Flow {
        let t = input.trim();
        if t.is_empty() {
            return Flow::Continue(0);
        }
        if t.starts_with(':') {
            return self.meta(t);
        }
        Flow::Continue(self.eval(input))
    }

    pub(super) fn targets(&self) -> Vec<Arc<Target>> {
        let names = match &self.selection {
            Selection::Host(h) => vec![h.clone()],
            Selection::Group(_, members) => members.clone(),
        };
        names.iter().filter_map(|n| self.run.target(n)).collect()
    }

    /// Runs Rhai statements on the current host (each host of a group in turn); prints the
    /// value or the error. Returns the exit code the input would have in a recipe.
    pub fn eval(&mut self, text: &str) -> i32 {
        self.count += 1;
        let source = format!("<input {}>", self.count);
        self.inputs.push((source.clone(), text.to_string()));
        self.run.sources.add(&source, text);
        let mut ast = match self.engine.compile_with_scope(&self.scope, text) {
            Ok(a) => a,
            Err(e) => return self.show_error(e.into(), &source, false),
        };
        ast.set_source(source.as_str());
        let combined = self.fns.merge(&ast);
        let targets = self.targets();
        let label = targets.len() > 1;
        let mut code = 0;
        for t in targets {
            let ctx = Ctx {
                run: self.run.clone(),
                target: Some(t.clone()),
            };
            self.engine.set_default_tag(ctx.into_dynamic());
            let (engine, scope) = (&self.engine, &mut self.scope);
            let (result, stopped) =
                interrupt::evaluating(|| engine.eval_ast_with_scope::<Dynamic>(scope, &combined));
            match result {
                Ok(v) => show_value(&v, label.then(|| t.name())),
                Err(e) => code = code.max(self.show_error(*e, &source, stopped)),
            }
            if stopped {
                break;
            }
        }
        dedup(&mut self.scope);
        if code == 0 {
            self.fns = combined.clone_functions_only();
            for f in ast.iter_functions() {
                self.fn_sources.insert(f.name.to_string(), source.clone());
            }
            for (path, alias) in imports_of(&ast) {
                self.imports.retain(|(_, a)| *a != alias);
                self.imports.push((path.clone(), alias.clone()));
                if let Err(e) = self.register_import(&path, &alias) {
                    crate::report::stdout::err_line(&format!(
                        "warning: `{alias}::` will not resolve in later inputs: {e}"
                    ));
                }
            }
            self.kept.push(Kept::Statement(text.trim_end().to_string()));
        }
        self.refresh_names();
        code
    }

    fn show_error(&self, e: EvalAltResult, source: &str, stopped: bool) -> i32 {
        let e = relocate(e, &self.fn_sources);
        let d = diagnostics::diagnose(&e, source, &self.run.sources, None);
        crate::report::stdout::err_line(&diagnostics::render(&d, &self.run.sources));
        if stopped {
            if d.kind != crate::error::Kind::Interrupted {
                crate::report::stdout::err_line("interrupted: stopped by Ctrl-C");
            }
            return 130;
        }
        d.kind.exit_code()
    }

    /// Makes `alias::f()` compile and resolve in later inputs.
    fn register_import(&mut self, path: &str, alias: &str) -> Result<(), String> {
        let module = self
            .engine
            .module_resolver()
            .resolve(&self.engine, None, path, Position::NONE)
            .map_err(|e| {
                let d = diagnostics::diagnose(&e, "<import>", &self.run.sources, None);
                d.message
            })?;
        self.engine.register_static_module(alias, module);
        self.base_functions = functions_of(&self.engine);
        Ok(())
    }

    /// Switches mode: a new run context (hosts reconnected or simulated) and engine; the scope,
    /// functions and imports carry over.
    pub(super) fn set_mode(&mut self, mode: Mode, facts: Option<String>) -> Result<(), String> {
        let mut opts = self.opts.clone();
        opts.mode = mode;
        if let Some(src) = facts {
            if std::path::Path::new(&src).exists() {
                opts.facts = Some(src);
                opts.profile = None;
            } else {
                opts.profile = Some(src);
                opts.facts = None;
            }
        }
        let ctx = prepare(&opts, self.reporter.clone(), cwd()).map_err(|e| e.0)?;
        for (name, text) in &self.inputs {
            ctx.run.sources.add(name, text);
        }
        self.engine = engine::build(ctx.clone());
        self.run = ctx.run;
        self.opts = opts;
        for (path, alias) in self.imports.clone() {
            if let Err(e) = self.register_import(&path, &alias) {
                crate::report::stdout::err_line(&format!(
                    "warning: import \"{path}\" as {alias}: {e}"
                ));
            }
        }
        self.base_functions = functions_of(&self.engine);
        self.segments.push((self.reporter.actions().len(), mode));
        self.refresh_names();
        Ok(())
    }

    /// Rebuilds what completion offers from the scope, functions, imports and hosts.
    pub(super) fn refresh_names(&self) {
        let mut n = Names {
            stdlib: embedded::stdlib_names(),
            hosts: self.run.order.clone(),
            groups: self.run.groups.keys().cloned().collect(),
            recipes: recipe_names(),
            ..Default::default()
        };
        for (ns, name) in &self.base_functions {
            if ns.is_empty() {
                n.functions.insert(name.clone());
            } else {
                n.modules
                    .entry(ns.clone())
                    .or_default()
                    .insert(name.clone());
            }
        }
        for f in self.fns.iter_functions() {
            if !is_plumbing(f.name) {
                n.functions.insert(f.name.to_string());
            }
        }
        for (name, _, value) in self.scope.iter_raw() {
            n.vars
                .insert(name.to_string(), Shape::of(value, &self.getters));
        }
        *self.names.write().unwrap() = n;
    }
}

/// Bundled recipes and the `.rhai` files in the current folder.
fn recipe_names() -> Vec<String> {
    let mut out = embedded::recipe_names();
    if let Ok(dir) = std::fs::read_dir(".") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.ends_with(".rhai") {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}

fn show_value(v: &Dynamic, host: Option<&str>) {
    let text = render::value(v).map(|t| t.trim_end_matches('\n').to_string());
    match (text, host) {
        (Some(text), None) => crate::report::stdout::line(&text),
        (Some(text), Some(h)) => {
            crate::report::stdout::line(&format!("{h}: {}", text.replace('\n', "\n  ")))
        }
        (None, _) => {}
    }
}

/// Names the input a session function came from in errors raised inside it (a merged AST
/// reports the running input instead).
fn relocate(e: EvalAltResult, sources: &HashMap<String, String>) -> EvalAltResult {
    match e {
        EvalAltResult::ErrorInFunctionCall(name, src, inner, pos) => {
            let src = match sources.get(&name) {
                Some(s) if src.is_empty() || src.starts_with("<input ") => s.clone(),
                _ => src,
            };
            let inner = Box::new(relocate(*inner, sources));
            EvalAltResult::ErrorInFunctionCall(name, src, inner, pos)
        }
        other => other,
    }
}

/// Keeps each variable's latest value only: an input that declares `let r` again (or a group
/// running an input once per host) would otherwise leave the shadowed values in the scope.
fn dedup(scope: &mut Scope<'static>) {
    let mut seen = std::collections::HashSet::new();
    // `iter_raw` goes from the latest variable back; shared values stay shared.
    let mut vars: Vec<(String, bool, Dynamic)> = scope
        .iter_raw()
        .filter(|(n, ..)| seen.insert(n.to_string()))
        .map(|(n, c, v)| (n.to_string(), c, v.clone()))
        .collect();
    if vars.len() == scope.len() {
        return;
    }
    vars.reverse();
    scope.clear();
    for (n, constant, v) in vars {
        if constant {
            scope.push_constant_dynamic(n, v);
        } else {
            scope.push_dynamic(n, v);
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
