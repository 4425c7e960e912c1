//! `galley check`: compile a recipe and lint it (imports resolve, called functions exist) without
//! running anything.

use std::sync::Arc;

use clap::Args;

use crate::engine::diagnostics::{self, Diagnostic, Frame, Kind};
use crate::engine::{self, lint, recipe, resolver, Mode};
use crate::report::{Format, Reporter};
use crate::runner::{prepare, RunOptions};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The recipe file (or bundled name) to check.
    pub recipe: String,
}

fn located(message: String, source: &str, pos: rhai::Position) -> Diagnostic {
    let at = pos.line().map(|line| Frame {
        source: source.into(),
        line,
        column: pos.position().unwrap_or(1),
        note: String::new(),
    });
    Diagnostic {
        message,
        kind: Kind::Recipe,
        at,
        chain: vec![],
    }
}

pub fn check(a: CheckArgs) -> i32 {
    let r = match recipe::load(&a.recipe) {
        Ok(r) => r,
        Err(e) => return super::usage_error(e),
    };
    let opts = RunOptions {
        mode: Mode::Plan,
        forks: 1,
        ..Default::default()
    };
    let reporter = Arc::new(Reporter::new(Format::Human, Mode::Plan, false));
    let ctx = match prepare(&opts, reporter, r.dir.clone()) {
        Ok(c) => c,
        Err(e) => return super::usage_error(e.0),
    };
    let run = ctx.run.clone();
    let engine = engine::build(ctx);
    run.sources.add(&r.source, &r.text);
    let ast = match engine.compile(&r.text) {
        Ok(ast) => ast,
        Err(e) => {
            let d = diagnostics::diagnose(&e.into(), &r.source, &run.sources, None);
            crate::report::stdout::err_line(&diagnostics::render(&d, &run.sources));
            return 2;
        }
    };
    let mut problems = Vec::new();
    for path in lint::imports(&ast) {
        if let Err(why) = resolver::check_shape(&path) {
            problems.push(located(
                format!("import \"{path}\" refused: {why}"),
                &r.source,
                rhai::Position::NONE,
            ));
        } else if !import_exists(&path, r.dir.as_deref()) {
            problems.push(located(
                format!(
                    "import \"{path}\": no such stdlib module or file under the recipe's folder"
                ),
                &r.source,
                rhai::Position::NONE,
            ));
        }
    }
    for (name, pos) in lint::unknown_calls(&engine, &ast) {
        problems.push(located(
            format!("unknown function `{name}` (see `galley defs` for the primitives)"),
            &r.source,
            pos,
        ));
    }
    for p in &problems {
        crate::report::stdout::err_line(&diagnostics::render(p, &run.sources));
    }
    if problems.is_empty() {
        crate::report::stdout::line(&format!(
            "ok: {} compiles; {} functions, imports: {}",
            r.source,
            ast.iter_functions().count(),
            lint::imports(&ast).join(", ")
        ));
        0
    } else {
        2
    }
}

fn import_exists(path: &str, dir: Option<&std::path::Path>) -> bool {
    let local = dir.is_some_and(|d| matches!(resolver::local_file(d, path), Ok(Some(_))));
    local || crate::embedded::stdlib(path).is_some()
}
