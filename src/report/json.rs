//! `--output json`: one JSON object per line on stdout. The schema is in docs/output.md; every
//! string is redacted before it is serialised (JSON escaping would hide a secret holding `"`,
//! `\` or a tab from masking done afterwards), and the line once more.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::{redact, Action, Counts, Level};
use crate::mode::Mode;

pub fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0)
}

/// The line an event is written as: strings redacted, then serialised, then redacted again.
pub fn line(mut value: Value) -> String {
    redact::redact_json(&mut value);
    redact::redact(&value.to_string())
}

fn emit(value: Value) -> String {
    line(value) + "\n"
}

pub fn start(mode: Mode, recipe: &str) -> String {
    emit(
        json!({"type": "start", "mode": mode.as_str(), "recipe": recipe, "version": env!("CARGO_PKG_VERSION")}),
    )
}

pub fn action(a: &Action, mode: Mode) -> String {
    let mut v = action_value(a);
    if mode == Mode::Plan {
        v["duration_ms"] = 0.into(); // nothing ran; and the same plan prints the same bytes
    }
    emit(v)
}

pub fn action_value(a: &Action) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("type".into(), "action".into());
        let d = m.remove("duration").unwrap_or(Value::Null);
        m.insert("duration_ms".into(), d);
    }
    v
}

pub fn log(host: &str, level: Level, message: &str) -> String {
    emit(json!({"type": "log", "host": host, "level": level, "message": message}))
}

pub fn error(message: &str, exit_code: i32) -> String {
    emit(json!({"type": "error", "message": message, "exit_code": exit_code}))
}

pub fn recap(
    mode: Mode,
    elapsed: Duration,
    counts: &BTreeMap<String, Counts>,
    errors: &BTreeMap<String, String>,
    exit_code: i32,
) -> String {
    let duration_ms = match mode {
        Mode::Plan => json!(0),
        _ => json!((elapsed.as_secs_f64() * 1e6).round() / 1e3),
    };
    emit(json!({
        "type": "recap",
        "mode": mode.as_str(),
        "duration_ms": duration_ms,
        "hosts": counts,
        "host_errors": errors,
        "exit_code": exit_code,
    }))
}
