//! `wait_ready(#{...})`: polls one target — a TCP port, an HTTP status, a command, a file, a
//! systemd unit, Kubernetes nodes or objects, pods — until it is ready or the timeout passes, with
//! a growing interval, live progress and an error naming the target and the last state seen.
//! Waiting changes nothing, so a ready target is `ok`; in plan the step is recorded as `ok`
//! ("would wait for ..."); in check the target is probed once and, when not ready, `skipped`.
//!
//! This file holds the options and the limits on waiting (which `sleep` shares) and the
//! registration; `target.rs` reads the one target out of the options, `probe.rs` probes it once
//! (with one file per family of targets: `ports.rs`, `http.rs`, `host.rs`, `kube.rs`), and
//! `poll.rs` is the one waiting loop.

mod host;
mod http;
mod kube;
mod poll;
mod ports;
mod probe;
mod target;

use rhai::{Dynamic, Engine};
use serde::Deserialize;

use super::{reg, usage, RResult};
pub use http::status_ok;
pub use kube::{kube_state, pods_state};
use poll::wait_ready;
pub use target::Target;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitOpts {
    tcp: Option<String>,
    http: Option<String>,
    cmd: Option<Vec<String>>,
    file: Option<String>,
    service: Option<String>,
    kube: Option<String>,
    pods: Option<String>,
    /// http: the wanted status (default: any 2xx).
    status: Option<Dynamic>,
    /// http: accept any TLS certificate.
    #[serde(default)]
    insecure: bool,
    /// kube: the condition that must be True (default `Ready`).
    condition: Option<String>,
    /// kube "nodes" / pods: at least this many (default 1).
    count: Option<Dynamic>,
    namespace: Option<String>,
    /// Seconds to wait in all (default 300).
    timeout: Option<Dynamic>,
    /// Seconds between the first probes (default 1); grows by half each time up to max_interval.
    interval: Option<Dynamic>,
    /// Longest pause between probes in seconds (default 10).
    max_interval: Option<Dynamic>,
    kubeconfig: Option<String>,
    kubectl: Option<String>,
}

/// Longest pause a recipe may ask for (`sleep`, `wait_ready`'s timeout and intervals): a year.
/// Longer ones are mistakes, and overflow the clock arithmetic.
pub const MAX_WAIT_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// A number of seconds as people write it: `1e300`, not three hundred digits.
fn shown(x: f64) -> String {
    if x.abs() >= 1e9 {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

pub fn too_long(what: &str, x: f64) -> Box<rhai::EvalAltResult> {
    usage(format!(
        "{what} {} seconds is too long (at most {MAX_WAIT_SECS}, a year)",
        shown(x)
    ))
}

fn secs(what: &str, v: &Option<Dynamic>, default: f64) -> RResult<f64> {
    let Some(v) = v else { return Ok(default) };
    let x = if v.is_int() {
        v.as_int().unwrap_or(0) as f64
    } else if v.is_float() {
        v.as_float().unwrap_or(0.0)
    } else {
        return Err(usage(format!(
            "wait_ready: {what} must be a number of seconds"
        )));
    };
    if x > MAX_WAIT_SECS {
        Err(too_long(&format!("wait_ready: {what}"), x))
    } else if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(usage(format!("wait_ready: {what} must be positive")))
    }
}

pub fn register(engine: &mut Engine) {
    super::options::schema::<WaitOpts>("wait_ready");
    reg(engine, "wait_ready", &["target: Map", "Result"], &[
        "Waits until one target is ready: tcp: \"host:port\"; http: url (+ status, insecure); cmd: argv (exit 0);",
        "file: path; service: unit (active); kube: \"nodes\" or \"kind/name\" (+ condition, default Ready, and",
        "count); pods: selector (+ namespace): all Running and Ready. timeout (default 300 s), interval",
        "(default 1 s, growing by half up to max_interval, default 10 s). On timeout the error names the",
        "target and the last state seen. `ok` when ready; plan records it; check probes once.",
    ], wait_ready);
}
