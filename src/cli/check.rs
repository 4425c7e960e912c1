//! `galley check`: compile a recipe and lint it (imports resolve, called functions exist) without
//! running anything.

use std::sync::Arc;

use clap::Args;

use crate::engine::diagnostics;
use crate::engine::{self, lint, recipe, Mode};
use crate::report::{Format, Reporter};
use crate::runner::{prepare, RunOptions};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The recipe file (or bundled name) to check.
    pub recipe: String,
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
    let problems = lint::problems(&engine, &ast, &r.source, r.dir.as_deref());
    for p in &problems {
        crate::report::stdout::err_line(&diagnostics::render(p, &run.sources));
    }
    if problems.is_empty() {
        let functions = ast.iter_functions().count();
        let mut line = format!(
            "ok: {} compiles; {functions} function{}",
            r.source,
            if functions == 1 { "" } else { "s" }
        );
        let imports = lint::imports(&ast);
        if !imports.is_empty() {
            line.push_str(&format!("; imports: {}", imports.join(", ")));
        }
        crate::report::stdout::line(&line);
        0
    } else {
        2
    }
}
