//! The one place an Engine is built: sandbox, module resolver, primitives and the tag that carries
//! the run and current host. The CLI, the REPL and the tests all use `build`.

pub mod lint;
pub mod recipe;
pub mod resolver;
pub mod sandbox;

use std::sync::Arc;

use rhai::Engine;

pub use crate::error::diagnostics;
pub use crate::executor::{Ctx, RunCtx, Sources, Target};
pub use crate::mode::Mode;
pub use crate::primitives::params;

/// Builds the sandboxed engine for a run. Evaluation starts on `ctx`'s host.
pub fn build(ctx: Ctx) -> Engine {
    let run: Arc<RunCtx> = ctx.run.clone();
    let mut engine = Engine::new();
    sandbox::apply(&mut engine, run.deadline);
    engine.set_module_resolver(resolver::Resolver::new(run.clone()));
    engine.set_default_tag(ctx.into_dynamic());
    crate::error::register(&mut engine);
    crate::primitives::register(&mut engine);
    let reporter = run.reporter.clone();
    engine.on_print(move |s| reporter.log("-", crate::report::Level::Info, s));
    engine.on_debug(|s, src, pos| tracing::debug!(source = src.unwrap_or(""), %pos, "{}", crate::report::redact::redact(s)));
    engine
}
