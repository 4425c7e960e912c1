//! Option maps (`#{ creates: "/x", timeout: 30 }`) read into typed structs, so an unknown or
//! mistyped option is an error that names it, not something silently ignored.

use std::collections::BTreeMap;
use std::sync::Mutex;

use rhai::{Dynamic, Map};
use serde::de::DeserializeOwned;

use super::{usage, RResult};

/// Reads an options map into `T`; errors name the primitive and the offending option.
pub fn from_map<T: DeserializeOwned + Default>(primitive: &str, opts: Option<Map>) -> RResult<T> {
    let Some(map) = opts else {
        return Ok(T::default());
    };
    read::<T>(&map).map_err(|text| usage(explain::<T>(primitive, &map, &text)))
}

fn read<T: DeserializeOwned>(map: &Map) -> Result<T, String> {
    rhai::serde::from_dynamic(&Dynamic::from_map(map.clone())).map_err(|e| {
        let mut e = *e;
        e.clear_position();
        e.to_string()
            .trim_start_matches("Runtime error: ")
            .trim_start_matches("Syntax error: ")
            .to_string()
    })
}

/// The serde error of an options map in a recipe's terms: an unknown option with the known
/// ones, or a mistyped option by name (found by leaving each option out in turn).
fn explain<T: DeserializeOwned>(primitive: &str, map: &Map, text: &str) -> String {
    if let Some(rest) = text.strip_prefix("unknown field ") {
        let (name, known) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let known = known
            .trim_start_matches("one of ")
            .replace(" or ", ", ")
            .replace('`', "");
        return format!("{primitive}: unknown option {name} (known: {known})");
    }
    let Some((got, want)) = text
        .strip_prefix("Output type incorrect: ")
        .and_then(|t| t.strip_suffix(')'))
        .and_then(|t| t.split_once(" (expecting "))
    else {
        return format!("{primitive}: bad option: {text}");
    };
    let culprit = map.keys().find(|k| {
        let mut without = map.clone();
        without.remove(k.as_str());
        read::<T>(&without).is_ok()
    });
    let what = type_words(want);
    match culprit {
        Some(k) if map[k.as_str()].type_name() == got => format!(
            "{primitive}: option `{k}` must be {what}, not {} `{}`",
            article(got),
            map[k.as_str()]
        ),
        Some(k) => format!(
            "{primitive}: option `{k}`: each value in it must be {what}, not {} (`{}`)",
            article(got).replace("the ", "a "),
            map[k.as_str()]
        ),
        None => format!(
            "{primitive}: an option must be {what}, not {}",
            article(got)
        ),
    }
}

/// Rhai's and serde's type names as a recipe author says them.
fn type_words(rust: &str) -> &'static str {
    match rust {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
            "a whole number"
        }
        "f32" | "f64" => "a number",
        "bool" => "true or false",
        "char" | "String" | "string" | "&str" => "a string",
        t if t.contains("seq") || t.contains("array") || t.contains("Vec") => "an array",
        t if t.contains("map") || t.contains("struct") => "a map",
        _ => "another type",
    }
}

fn article(rhai_type: &str) -> String {
    match rhai_type {
        "i64" | "i32" | "u64" | "integer" => "the number".into(),
        "f64" | "f32" | "decimal" => "the number".into(),
        "string" | "&str" | "char" => "the string".into(),
        "bool" => "the value".into(),
        "array" => "the array".into(),
        "map" => "the map".into(),
        "()" => "the value".into(),
        other => format!("a {other}"),
    }
}

type Check = fn(&str, Map) -> RResult<()>;

static SCHEMAS: Mutex<BTreeMap<String, Check>> = Mutex::new(BTreeMap::new());

fn check<T: DeserializeOwned + Default>(primitive: &str, map: Map) -> RResult<()> {
    from_map::<T>(primitive, Some(map)).map(|_| ())
}

/// Declares that every map a recipe passes to `primitive` is read as `T` (for `galley check`).
pub fn schema<T: DeserializeOwned + Default>(primitive: &str) {
    SCHEMAS
        .lock()
        .unwrap()
        .insert(primitive.to_string(), check::<T>);
}

/// What is wrong with the literal options `given` to `primitive`, if anything. `given` holds the
/// options whose values are constants; one that must be there but is computed may be missing, so
/// a missing option is no error here.
pub fn check_literal(primitive: &str, given: Map) -> Option<String> {
    let check = *SCHEMAS.lock().unwrap().get(primitive)?;
    // Every primitive's `mode` is a file mode: a literal one is checked as the call would.
    let mode = given.get("mode").cloned();
    if let Err(e) = check(primitive, given) {
        let (message, _) = crate::error::diagnostics::message_of(&e);
        return (!message.contains("missing field")).then_some(message);
    }
    let e = mode_of(primitive, &mode?).err()?;
    Some(crate::error::diagnostics::message_of(&e).0)
}

/// A file mode from a recipe: `"0644"`, `"644"` or `644` (digits read as octal).
pub fn mode_of(primitive: &str, value: &Dynamic) -> RResult<u32> {
    let text = if value.is_int() {
        value.as_int().unwrap_or(0).to_string()
    } else {
        value.to_string()
    };
    let digits = text.trim().trim_start_matches("0o");
    let valid =
        !digits.is_empty() && digits.len() <= 4 && digits.chars().all(|c| ('0'..='7').contains(&c));
    if !valid {
        return Err(usage(format!(
            "{primitive}: mode `{text}` is not an octal file mode like \"0644\""
        )));
    }
    Ok(u32::from_str_radix(digits, 8).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Demo {
        #[allow(dead_code)]
        timeout: Option<u64>,
        #[allow(dead_code)]
        creates: Option<String>,
    }

    fn err(map: Map) -> String {
        let e = from_map::<Demo>("demo", Some(map)).unwrap_err();
        crate::error::diagnostics::message_of(&e).0
    }

    #[test]
    fn a_mistyped_or_unknown_option_is_named() {
        let mut m = Map::new();
        m.insert("creates".into(), "/x".into());
        m.insert("timeout".into(), "5".into());
        assert_eq!(
            err(m),
            "demo: option `timeout` must be a whole number, not the string `5`"
        );
        let mut m = Map::new();
        m.insert("timout".into(), Dynamic::from(5 as rhai::INT));
        assert_eq!(
            err(m),
            "demo: unknown option `timout` (known: timeout, creates)"
        );
    }

    #[test]
    fn modes() {
        assert_eq!(mode_of("x", &Dynamic::from("0644")).unwrap(), 0o644);
        assert_eq!(mode_of("x", &Dynamic::from("755")).unwrap(), 0o755);
        assert_eq!(
            mode_of("x", &Dynamic::from(600 as rhai::INT)).unwrap(),
            0o600
        );
        assert!(mode_of("x", &Dynamic::from("rw-r--r--")).is_err());
        assert!(mode_of("x", &Dynamic::from("0999")).is_err());
        assert!(mode_of("x", &Dynamic::from("12345")).is_err());
    }
}
