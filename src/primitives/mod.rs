//! The primitives recipes call. Each follows probe → decide → act: probe the host read-only,
//! decide in a pure function what must change, then act (apply) or record the change (check/plan).
//! Every call that may change something records one action.

mod act;
pub mod alternatives;
pub mod command;
pub mod download;
mod extract_links;
pub mod file;
mod http;
pub mod kernel;
pub mod kube;
pub mod mirrored;
mod options;
pub mod package;
mod pkgprobe;
mod pkgver;
pub mod repo;
mod result;
pub mod service;
pub mod signatures;
mod sleep;
pub mod system;
mod toml_text;
pub mod wait;

use std::sync::Arc;
use std::time::Instant;

use rhai::{Engine, EvalAltResult, FuncRegistration, NativeCallContext, Position, RhaiNativeFunc};

pub use options::{check_literal, from_map, mode_of};
pub use result::StepResult;

use crate::engine::{diagnostics::payload, Ctx, Mode, RunCtx, Target};
use crate::report::{redact::redact, Action, Status};

pub type RResult<T> = Result<T, Box<EvalAltResult>>;

/// Streams an http(s) URL into `out` with galley's HTTP client (for `galley artifacts
/// --download`); returns the SHA-256.
pub fn fetch_url(url: &str, out: &mut impl std::io::Write) -> Result<String, String> {
    http::fetch(url, out, None, None, &|_| {}).map(|(sha, _)| sha)
}

/// [`fetch_url`] that gives up after `secs` seconds (for reads that only inform, such as a
/// manifest's images or a published checksum).
pub fn fetch_url_within(
    url: &str,
    out: &mut impl std::io::Write,
    secs: u64,
) -> Result<String, String> {
    http::fetch(
        url,
        out,
        Some(std::time::Duration::from_secs(secs)),
        None,
        &|_| {},
    )
    .map(|(sha, _)| sha)
}

/// An error in how a primitive was called (bad argument or option): exit 2.
pub fn usage(msg: impl AsRef<str>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(payload("usage", msg.as_ref()), Position::NONE).into()
}

/// A step that failed on its host: exit 1.
pub fn step(msg: impl AsRef<str>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(payload("step", msg.as_ref()), Position::NONE).into()
}

/// Where in the recipe (or module) a primitive was called, as `source:line:column`.
pub fn site_of(nc: &NativeCallContext) -> Option<String> {
    let pos = nc.call_position();
    Some(format!(
        "{}:{}:{}",
        nc.call_source().unwrap_or(""),
        pos.line()?,
        pos.position().unwrap_or(0)
    ))
}

/// One primitive call in progress: the host it acts on and the action it will record.
pub struct Call {
    pub run: Arc<RunCtx>,
    pub target: Arc<Target>,
    pub action: Action,
    start: Instant,
}

impl Call {
    pub fn begin(
        nc: &NativeCallContext,
        primitive: &str,
        summary: impl Into<String>,
    ) -> RResult<Call> {
        let ctx = Ctx::of(nc)?;
        let target = ctx.target()?;
        let mut action = Action::new(target.name(), primitive, summary);
        action.site = site_of(nc);
        Ok(Call {
            run: ctx.run,
            target,
            action,
            start: Instant::now(),
        })
    }

    /// The mode this call runs in: its host's (check for a host outside `--limit`).
    pub fn mode(&self) -> Mode {
        self.target.mode
    }

    pub fn host(&self) -> &str {
        self.target.name()
    }

    /// Records the action with its final status and returns the result recipes see.
    pub fn finish(mut self, status: Status) -> StepResult {
        self.action.status = status;
        self.action.duration = self.start.elapsed();
        self.run.reporter.action(&self.action);
        if status == Status::Changed && self.target.outside_limit {
            self.run.reporter.log(
                self.host(),
                crate::report::Level::Warn,
                &format!(
                    "{} is outside --limit: `{}` was not done (galley only reads hosts outside the limit)",
                    self.host(),
                    self.action.summary
                ),
            );
        }
        StepResult::from_action(&self.action)
    }

    /// Records a failed action and returns the error that stops the recipe.
    pub fn fail(mut self, message: impl AsRef<str>) -> Box<EvalAltResult> {
        let message = format!(
            "{} on {}: {}",
            self.action.primitive,
            self.host(),
            message.as_ref()
        );
        self.action.error = Some(redact(&message));
        self.action.status = Status::Failed;
        self.action.unreachable = self.target.host.connect_failure().is_some();
        self.action.duration = self.start.elapsed();
        self.run.reporter.action(&self.action);
        if crate::host::exec::interrupted() {
            // The command died because of Ctrl-C: stop the run as interrupted (exit 130).
            return EvalAltResult::ErrorTerminated(
                crate::engine::diagnostics::INTERRUPT.into(),
                Position::NONE,
            )
            .into();
        }
        step(message)
    }
}

/// Registers a native function with its parameter info and doc comments (for `galley defs`,
/// `:help` in the REPL and editor completion).
pub fn reg<A: 'static, const N: usize, const X: bool, R: rhai::Variant + Clone, const F: bool>(
    engine: &mut Engine,
    name: &str,
    params: &[&str],
    docs: &[&str],
    func: impl RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
) {
    let comments: Vec<String> = docs.iter().map(|d| format!("/// {d}")).collect();
    signatures::record(name, params);
    FuncRegistration::new(name)
        .with_params_info(params)
        .with_comments(comments)
        .register_into_engine(engine, func);
}

pub fn register(engine: &mut Engine) {
    result::register(engine);
    command::register(engine);
    file::register(engine);
    system::register(engine);
    package::register(engine);
    service::register(engine);
    kernel::register(engine);
    alternatives::register(engine);
    download::register(engine);
    kube::register(engine);
    sleep::register(engine);
    wait::register(engine);
    repo::register(engine);
    mirrored::register(engine);
    toml_text::register(engine);
}
