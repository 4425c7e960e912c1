//! How the prompt shows a value: a command's Result as status, exit code and output; maps and
//! arrays pretty-printed (short ones on one line); text as it is. Always redacted, and each
//! string is redacted before it is quoted, so escaping (`"` → `\"`) cannot hide a secret.

use rhai::{Array, Dynamic, Map};

use crate::primitives::StepResult;
use crate::report::redact::redact;

/// Nested values that fit in this width stay on one line.
const INLINE_WIDTH: usize = 72;

/// The text shown for a statement's value, or `None` for `()`.
pub fn value(v: &Dynamic) -> Option<String> {
    if v.is_unit() {
        return None;
    }
    let text = if let Some(r) = v.read_lock::<StepResult>() {
        result(&r)
    } else if v.is_string() {
        v.to_string()
    } else {
        pretty(v, 0)
    };
    Some(redact(&text))
}

/// `changed on local (rc 0)` then the output streams, indented.
pub fn result(r: &StepResult) -> String {
    let mut s = format!("{} on {} (rc {})", r.status, r.host, r.rc);
    for (name, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        let text = redact(text);
        if !text.trim().is_empty() {
            s.push_str(&format!("\n{name}:"));
            for l in text.trim_end().lines() {
                s.push_str("\n  ");
                s.push_str(l);
            }
        }
    }
    s
}

fn inline(v: &Dynamic) -> String {
    if let Some(r) = v.read_lock::<StepResult>() {
        format!("Result({} on {}, rc {})", r.status, r.host, r.rc)
    } else if let Some(m) = v.read_lock::<Map>() {
        let items: Vec<String> = m
            .iter()
            .map(|(k, v)| format!("{}: {}", key(&redact(k)), inline(v)))
            .collect();
        format!("#{{{}}}", items.join(", "))
    } else if let Some(a) = v.read_lock::<Array>() {
        let items: Vec<String> = a.iter().map(inline).collect();
        format!("[{}]", items.join(", "))
    } else if v.is_string() {
        format!("{:?}", redact(&v.to_string()))
    } else if v.is_char() {
        format!("{:?}", v.as_char().unwrap_or_default())
    } else {
        v.to_string()
    }
}

fn key(k: &str) -> String {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_alphanumeric() || c == '_');
    if plain {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

/// Multi-line layout for values too wide for one line.
pub fn pretty(v: &Dynamic, indent: usize) -> String {
    let one = inline(v);
    if !is_container(v) || one.chars().count() + 2 * indent <= INLINE_WIDTH {
        return one;
    }
    let pad = "  ".repeat(indent + 1);
    let close = "  ".repeat(indent);
    if let Some(m) = v.read_lock::<Map>() {
        let items: Vec<String> = m
            .iter()
            .map(|(k, v)| format!("{pad}{}: {},", key(&redact(k)), pretty(v, indent + 1)))
            .collect();
        return format!("#{{\n{}\n{close}}}", items.join("\n"));
    }
    if let Some(a) = v.read_lock::<Array>() {
        let items: Vec<String> = a
            .iter()
            .map(|v| format!("{pad}{},", pretty(v, indent + 1)))
            .collect();
        return format!("[\n{}\n{close}]", items.join("\n"));
    }
    one
}

fn is_container(v: &Dynamic) -> bool {
    v.is_map() || v.is_array()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_stay_on_one_line() {
        let mut m = Map::new();
        m.insert("a".into(), Dynamic::from(1 as rhai::INT));
        m.insert("two words".into(), "x".into());
        assert_eq!(value(&m.into()).unwrap(), r##"#{a: 1, "two words": "x"}"##);
        assert_eq!(value(&Dynamic::UNIT), None);
        assert_eq!(
            value(&"line one\nline two".into()).unwrap(),
            "line one\nline two"
        );
    }

    #[test]
    fn wide_values_are_laid_out_one_item_a_line() {
        let long: Array = (0..30).map(|i| Dynamic::from(format!("item{i}"))).collect();
        let mut m = Map::new();
        m.insert("items".into(), long.into());
        m.insert("n".into(), Dynamic::from(3 as rhai::INT));
        let text = value(&m.into()).unwrap();
        assert!(
            text.starts_with("#{\n  items: [\n    \"item0\",\n"),
            "{text}"
        );
        assert!(text.ends_with("  ],\n  n: 3,\n}"), "{text}");
    }

    #[test]
    fn results_show_status_rc_and_output() {
        let r = StepResult {
            rc: 0,
            stdout: "Linux\n".into(),
            status: "changed".into(),
            host: "local".into(),
            ..Default::default()
        };
        assert_eq!(
            value(&Dynamic::from(r.clone())).unwrap(),
            "changed on local (rc 0)\nstdout:\n  Linux"
        );
        let arr: Array = vec![Dynamic::from(r)];
        assert_eq!(
            value(&arr.into()).unwrap(),
            "[Result(changed on local, rc 0)]"
        );
    }
}
