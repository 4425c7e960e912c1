//! The run's secrets and the one function every output channel passes text through, so a value
//! marked `secret()` never reaches the terminal, JSON, logs, errors or REPL history.
//!
//! Masking finished text misses a secret that formatting has rewritten, so two rules hold:
//! channels redact values *before* they format them (JSON events redact each string, the REPL
//! and command lines redact each value or argv word before quoting it, diffs are made of redacted
//! content); and for the escapings galley cannot get in front of (Rhai's own display of maps and
//! arrays in `print`/`debug`, `{:?}` in traces, JSON inside a command's output), each secret is
//! registered with its escaped forms too. Both escapings (Rust/Rhai debug and JSON) work
//! character by character, so the escaped form of a secret is a substring of the escaped form
//! of any text that holds it.

use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shortest value accepted as a secret: shorter ones would redact ordinary words.
pub const MIN_SECRET_LEN: usize = 4;
pub const MASK: &str = "********";

/// A value too short to be masked safely (masking it would mask ordinary words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a secret must be at least {MIN_SECRET_LEN} characters long to be redacted safely")]
pub struct TooShort;

/// Registers a value (and each of its lines) to be masked from now on.
pub fn add(value: &str) -> Result<(), TooShort> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(());
    }
    if trimmed.chars().count() < MIN_SECRET_LEN {
        return Err(TooShort);
    }
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for part in std::iter::once(trimmed).chain(trimmed.lines().map(str::trim)) {
        if part.chars().count() < MIN_SECRET_LEN {
            continue;
        }
        for form in escaped_forms(part) {
            if !all.contains(&form) {
                all.push(form);
            }
        }
    }
    // Longest first, so a secret containing another is masked whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    Ok(())
}

/// The text as given, debug-escaped (`"` → `\"`, tab → `\t`, as Rhai shows strings inside maps
/// and arrays) and JSON-escaped, each also escaped once more (a debug display inside a JSON
/// string, or a traced `{:?}` of a debug display).
pub fn escaped_forms(text: &str) -> Vec<String> {
    fn debug(s: &str) -> String {
        let q = format!("{s:?}");
        q[1..q.len() - 1].to_string()
    }
    fn json(s: &str) -> String {
        let q = serde_json::to_string(s).unwrap_or_default();
        q.get(1..q.len().saturating_sub(1))
            .unwrap_or("")
            .to_string()
    }
    let mut forms = vec![text.to_string()];
    for once in [debug(text), json(text)] {
        for form in [debug(&once), json(&once), once] {
            if !forms.contains(&form) {
                forms.push(form);
            }
        }
    }
    forms
}

/// The text with every registered secret replaced by a mask.
pub fn redact(text: &str) -> String {
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if all.is_empty() || !all.iter().any(|s| text.contains(s.as_str())) {
        return text.to_string();
    }
    let mut out = text.to_string();
    for s in all.iter() {
        out = out.replace(s.as_str(), MASK);
    }
    out
}

/// Every string inside a JSON value redacted (keys too), before the value is serialised.
pub fn redact_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => *s = redact(s),
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => {
            let taken = std::mem::take(map);
            for (k, mut v) in taken {
                redact_json(&mut v);
                map.insert(redact(&k), v);
            }
        }
        _ => {}
    }
}

pub fn is_secret(text: &str) -> bool {
    SECRETS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|s| text.contains(s.as_str()))
}

/// Forgets every secret. Only for fuzzing and tests that need a clean slate; a run never forgets.
#[doc(hidden)]
pub fn forget_all() {
    SECRETS.write().unwrap_or_else(|e| e.into_inner()).clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_registered_values_and_their_lines() {
        add("tok-abc123\nsecond-line-xyz").unwrap();
        assert_eq!(
            redact("join --token tok-abc123 now"),
            format!("join --token {MASK} now")
        );
        assert_eq!(redact("second-line-xyz"), MASK);
        assert!(is_secret("x tok-abc123"));
        assert!(add("abc").is_err());
    }

    #[test]
    fn masks_debug_and_json_escaped_forms() {
        add("it's\"q\\x\tyz-unit").unwrap();
        let shown = format!("{:?}", vec!["pre it's\"q\\x\tyz-unit post"]);
        assert_eq!(redact(&shown), format!("[\"pre {MASK} post\"]"));
        let json = serde_json::json!({ "m": "it's\"q\\x\tyz-unit" }).to_string();
        assert_eq!(redact(&json), format!("{{\"m\":\"{MASK}\"}}"));
        let mut v = serde_json::json!({ "a": ["x it's\"q\\x\tyz-unit"] });
        redact_json(&mut v);
        assert_eq!(v, serde_json::json!({ "a": [format!("x {MASK}")] }));
    }
}
