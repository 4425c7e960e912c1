//! The primitives recipes call. Each follows probe → decide → act: probe the host read-only,
//! decide in a pure function what must change, then act (apply) or record the change (check/plan).
//! Every call that may change something records one action.

mod act;
pub mod alternatives;
mod cluster;
pub mod command;
pub mod download;
mod extract_links;
mod fetch;
pub mod file;
mod http;
pub mod kernel;
pub mod kube;
pub mod mirrored;
mod options;
pub mod orchestration;
pub mod package;
pub mod params;
pub mod repo;
pub mod service;
mod sleep;
pub mod system;
mod template;
mod toml_text;
mod user;
pub mod wait;

use rhai::{Engine, EvalAltResult, FuncRegistration, RhaiNativeFunc};

pub use crate::executor::StepResult;
pub use http::HttpError;
pub use options::{check_literal, from_map, mode_of};

pub use crate::error::{refusal, step, usage};
pub use crate::executor::{site_of, Call};

pub type RResult<T> = Result<T, Box<EvalAltResult>>;

/// Streams an http(s) URL into `out` with galley's HTTP client (for `galley artifacts
/// --download`); returns the SHA-256.
pub fn fetch_url(url: &str, out: &mut impl std::io::Write) -> Result<String, HttpError> {
    http::fetch(url, out, None, None, &|_| {}).map(|(sha, _)| sha)
}

/// [`fetch_url`] that gives up after `secs` seconds (for reads that only inform, such as a
/// manifest's images or a published checksum).
pub fn fetch_url_within(
    url: &str,
    out: &mut impl std::io::Write,
    secs: u64,
) -> Result<String, HttpError> {
    http::fetch(
        url,
        out,
        Some(std::time::Duration::from_secs(secs)),
        None,
        &|_| {},
    )
    .map(|(sha, _)| sha)
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
    crate::signatures::record(name, params);
    FuncRegistration::new(name)
        .with_params_info(params)
        .with_comments(comments)
        .register_into_engine(engine, func);
}

/// Registers a primitive as `name(args)` and as `name(args, opts)`, written as the primitive's
/// doc comments, then `"name": Opts, [params], "Ret", f, (args)`: the doc comments are the
/// registration's (as [`reg`] takes them), `Opts` is the schema its options map is read as (for
/// `galley check`), and `f` takes the options as `Option<Map>` (`None` for the first form).
macro_rules! reg_with_opts {
    ($engine:expr, $(#[doc = $doc:literal])+ $name:literal: $opts:ty, [$($param:literal),*], $ret:literal, $f:path, ($($arg:ident: $ty:ty),*)) => {{
        $crate::primitives::options::schema::<$opts>($name);
        let docs = $crate::primitives::doc_lines(&[$($doc),+]);
        $crate::primitives::reg($engine, $name, &[$($param,)* $ret], &docs,
            |nc: rhai::NativeCallContext, $($arg: $ty),*| $f(nc, $($arg,)* None));
        $crate::primitives::reg($engine, $name, &[$($param,)* "opts: Map", $ret], &docs,
            |nc: rhai::NativeCallContext, $($arg: $ty,)* o: rhai::Map| $f(nc, $($arg,)* Some(o)));
    }};
}
pub(crate) use reg_with_opts;

/// The text of `///` lines as a macro receives them (`#[doc = " text"]`): without the one space
/// after the slashes.
pub fn doc_lines<'a>(docs: &[&'a str]) -> Vec<&'a str> {
    docs.iter()
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .collect()
}

pub fn register(engine: &mut Engine) {
    crate::executor::result::register(engine);
    command::register(engine);
    file::register(engine);
    system::register(engine);
    package::register(engine);
    service::register(engine);
    kernel::register(engine);
    alternatives::register(engine);
    download::register(engine);
    fetch::register(engine);
    kube::register(engine);
    sleep::register(engine);
    wait::register(engine);
    repo::register(engine);
    mirrored::register(engine);
    toml_text::register(engine);
    orchestration::register(engine);
    user::register(engine);
    cluster::register(engine);
    template::register(engine);
}
