//! `params(#{...})`: a recipe declares its parameters and defaults once; `--set key=value`
//! overrides are coerced to each default's type, and an unknown key is an error naming the known.
//! Inventory vars named like a parameter set it too: `--set` over host vars over group vars over
//! the defaults (the inventory merges host over group vars before this sees them).

use rhai::{Array, Dynamic, Map};

/// A parameter value from `--set` or the inventory that does not fit the recipe's `params()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// `--set` names a key the recipe does not declare; `known` lists the declared ones.
    #[error("unknown parameter `{key}` in --set; this recipe's parameters are: {known}")]
    Unknown { key: String, known: String },
    /// A `--set` value that is not of its default's type.
    #[error("--set {key}={raw}: `{key}` expects {want} (its default is {default})")]
    SetType {
        key: String,
        raw: String,
        want: &'static str,
        default: String,
    },
    /// An inventory var that is not of its parameter's type; `hosts` are the hosts that set it.
    #[error("inventory var {key}={raw} (hosts {hosts}): parameter `{key}` expects {want} (its default is {default})")]
    VarType {
        key: String,
        raw: String,
        hosts: String,
        want: &'static str,
        default: String,
    },
    /// Hosts' inventory vars that give a run-wide parameter different values (`values`: each
    /// value and its hosts).
    #[error("inventory var `{key}` sets this recipe's parameter `{key}` differently per host ({values}); it holds for the whole run: give it one value (a group var on all), or --set {key}=VALUE")]
    Differs { key: String, values: String },
}

/// A `--set` argument without `key=`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--set expects key=value, got `{0}`")]
pub struct NotKeyValue(pub String);

/// Applies `--set` overrides to the declared defaults.
pub fn resolve(defaults: &Map, sets: &[(String, String)]) -> Result<Map, ParamError> {
    let mut out = defaults.clone();
    for (key, raw) in sets {
        let Some(default) = defaults.get(key.as_str()) else {
            let known: Vec<&str> = defaults.keys().map(|k| k.as_str()).collect();
            return Err(ParamError::Unknown {
                key: key.clone(),
                known: known.join(", "),
            });
        };
        let value = coerce(default, raw).map_err(|want| ParamError::SetType {
            key: key.clone(),
            raw: raw.clone(),
            want,
            default: show(default),
        })?;
        out.insert(key.as_str().into(), value);
    }
    Ok(out)
}

/// The parameters the targeted hosts' inventory vars set: for each declared key some host has as
/// a var, the value those hosts agree on (a run-wide parameter cannot differ per host), coerced
/// like `--set`. `hosts`: (name, merged vars) in inventory order.
pub fn from_inventory(
    defaults: &Map,
    hosts: &[(&str, &std::collections::BTreeMap<String, serde_json::Value>)],
) -> Result<Map, ParamError> {
    let mut out = Map::new();
    for (key, default) in defaults {
        let mut values: Vec<(String, Vec<&str>)> = Vec::new();
        for (name, vars) in hosts {
            let Some(v) = vars.get(key.as_str()) else {
                continue;
            };
            let raw = match v {
                serde_json::Value::String(s) => s.clone(),
                // Arrays and maps as JSON, which an array or map parameter reads as such.
                other => other.to_string(),
            };
            match values.iter_mut().find(|(r, _)| *r == raw) {
                Some((_, names)) => names.push(name),
                None => values.push((raw, vec![name])),
            }
        }
        match values.as_slice() {
            [] => {}
            [(raw, names)] => {
                let value = coerce(default, raw).map_err(|want| ParamError::VarType {
                    key: key.to_string(),
                    raw: raw.clone(),
                    hosts: names.join(", "),
                    want,
                    default: show(default),
                })?;
                out.insert(key.clone(), value);
            }
            several => {
                let list: Vec<String> = several
                    .iter()
                    .map(|(raw, names)| format!("{raw:?} on {}", names.join(", ")))
                    .collect();
                return Err(ParamError::Differs {
                    key: key.to_string(),
                    values: list.join("; "),
                });
            }
        }
    }
    Ok(out)
}

fn show(v: &Dynamic) -> String {
    if v.is_string() {
        format!("{:?}", v.to_string())
    } else {
        v.to_string()
    }
}

/// Converts a command-line string to the type of `default`; on failure says what was expected.
pub fn coerce(default: &Dynamic, raw: &str) -> Result<Dynamic, &'static str> {
    if default.is_int() {
        raw.trim()
            .parse::<rhai::INT>()
            .map(Dynamic::from)
            .map_err(|_| "an integer")
    } else if default.is_float() {
        raw.trim()
            .parse::<rhai::FLOAT>()
            .map(Dynamic::from)
            .map_err(|_| "a number")
    } else if default.is_bool() {
        match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true.into()),
            "false" | "no" | "off" | "0" => Ok(false.into()),
            _ => Err("true or false"),
        }
    } else if default.is_array() {
        if raw.trim_start().starts_with('[') {
            return json(raw)
                .filter(Dynamic::is_array)
                .ok_or("a JSON array like [\"a\", 2] or a comma-separated list like a,b");
        }
        let items: Array = raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Dynamic::from(s.to_string()))
            .collect();
        Ok(items.into())
    } else if default.is_map() {
        json(raw)
            .filter(Dynamic::is_map)
            .ok_or("a JSON object like {\"key\": \"value\"}")
    } else {
        Ok(raw.to_string().into())
    }
}

/// A JSON text as a Rhai value (arrays and maps from `--set`).
fn json(raw: &str) -> Option<Dynamic> {
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    rhai::serde::to_dynamic(value).ok()
}

/// The description written beside each parameter of the `params(#{ ... })` call that starts on
/// line `line` (1-based): the comment after `key: value,` on its line, else the comment lines
/// just above the key.
pub fn descriptions(text: &str, line: usize) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut above: Vec<String> = Vec::new();
    let mut depth = 0i32;
    for (i, l) in text.lines().enumerate().skip(line.saturating_sub(1)) {
        let (code, comment) = split_comment(l);
        let code = if i + 1 == line {
            // The call's own line: only what follows `params(#{`.
            match code.find("#{") {
                Some(at) => {
                    depth = 1;
                    &code[at + 2..]
                }
                None => code,
            }
        } else {
            code
        };
        let trimmed = code.trim();
        if depth == 1 {
            if let Some((key, _)) = trimmed.split_once(':') {
                let key = key.trim().trim_matches('"');
                if !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    let text = match comment {
                        Some(c) => c.to_string(),
                        None => above.join(" "),
                    };
                    if !text.is_empty() {
                        out.insert(key.to_string(), text);
                    }
                }
            }
            match (trimmed.is_empty(), comment) {
                (true, Some(c)) => above.push(c.to_string()),
                _ => above.clear(),
            }
        }
        for c in code.chars() {
            match c {
                '{' | '[' | '(' => depth += 1,
                '}' | ']' | ')' => depth -= 1,
                _ => {}
            }
        }
        if depth <= 0 && i + 1 > line {
            break;
        }
    }
    out
}

/// A line's code and its `//` comment (outside strings), the comment trimmed.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let bytes: Vec<(usize, char)> = line.char_indices().collect();
    for (n, &(i, c)) in bytes.iter().enumerate() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '`' || c == '\'' => quote = Some(c),
            None if c == '/' && bytes.get(n + 1).is_some_and(|&(_, d)| d == '/') => {
                let comment = line[i + 2..].trim_start_matches('/').trim();
                return (&line[..i], Some(comment));
            }
            None => {}
        }
    }
    (line, None)
}

/// Parses `key=value`.
pub fn parse_set(arg: &str) -> Result<(String, String), NotKeyValue> {
    match arg.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(NotKeyValue(arg.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Map {
        let mut m = Map::new();
        m.insert("k8s_version".into(), "1.31.4".into());
        m.insert("replicas".into(), Dynamic::from(3 as rhai::INT));
        m.insert("yum_update".into(), false.into());
        m.insert("ratio".into(), Dynamic::from(0.5 as rhai::FLOAT));
        m.insert("hosts".into(), Dynamic::from(Array::new()));
        m
    }

    fn set(k: &str, v: &str) -> Vec<(String, String)> {
        vec![(k.into(), v.into())]
    }

    #[test]
    fn coerces_to_the_defaults_type() {
        let m = resolve(&defaults(), &set("replicas", "5")).unwrap();
        assert_eq!(m["replicas"].as_int().unwrap(), 5);
        let m = resolve(&defaults(), &set("yum_update", "yes")).unwrap();
        assert!(m["yum_update"].as_bool().unwrap());
        let m = resolve(&defaults(), &set("hosts", "a, b")).unwrap();
        assert_eq!(m["hosts"].clone().into_array().unwrap().len(), 2);
        let m = resolve(&defaults(), &set("k8s_version", "1.16.6")).unwrap();
        assert_eq!(m["k8s_version"].to_string(), "1.16.6");
        assert_eq!(m["replicas"].as_int().unwrap(), 3);
    }

    #[test]
    fn wrong_type_says_what_it_expects() {
        let e = resolve(&defaults(), &set("replicas", "many"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "--set replicas=many: `replicas` expects an integer (its default is 3)"
        );
        let e = resolve(&defaults(), &set("yum_update", "maybe"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("true or false"), "{e}");
    }

    #[test]
    fn unknown_key_lists_the_known_ones() {
        let e = resolve(&defaults(), &set("k8s_verison", "1"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "unknown parameter `k8s_verison` in --set; this recipe's parameters are: hosts, k8s_version, ratio, replicas, yum_update");
    }

    #[test]
    fn inventory_vars_set_declared_parameters_and_must_agree() {
        use std::collections::BTreeMap;
        let mut a = BTreeMap::new();
        a.insert("k8s_version".to_string(), serde_json::json!("1.36.3"));
        a.insert("replicas".to_string(), serde_json::json!(4));
        a.insert("unrelated".to_string(), serde_json::json!("x"));
        let mut b = BTreeMap::new();
        b.insert("k8s_version".to_string(), serde_json::json!("1.36.3"));
        let m = from_inventory(&defaults(), &[("cp1", &a), ("w1", &b)]).unwrap();
        assert_eq!(m["k8s_version"].to_string(), "1.36.3");
        assert_eq!(m["replicas"].as_int().unwrap(), 4);
        assert!(!m.contains_key("unrelated"));
        b.insert("k8s_version".to_string(), serde_json::json!("1.35.4"));
        let e = from_inventory(&defaults(), &[("cp1", &a), ("w1", &b)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"1.36.3\" on cp1; \"1.35.4\" on w1"), "{e}");
        a.insert("replicas".to_string(), serde_json::json!("many"));
        let e = from_inventory(&defaults(), &[("cp1", &a)])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("inventory var replicas=many (hosts cp1)"),
            "{e}"
        );
    }

    #[test]
    fn arrays_and_maps_from_json() {
        let mut d = defaults();
        d.insert("labels".into(), Dynamic::from(Map::new()));
        let m = resolve(&d, &set("hosts", r#"["a", 2]"#)).unwrap();
        let a = m["hosts"].clone().into_array().unwrap();
        assert_eq!((a[0].to_string(), a[1].as_int().unwrap()), ("a".into(), 2));
        let m = resolve(&d, &set("labels", r#"{"tier": "db"}"#)).unwrap();
        assert_eq!(m["labels"].clone().cast::<Map>()["tier"].to_string(), "db");
        let e = resolve(&d, &set("labels", "tier=db"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("expects a JSON object"), "{e}");
        let e = resolve(&d, &set("hosts", "[a, b")).unwrap_err().to_string();
        assert!(e.contains("expects a JSON array"), "{e}");
    }

    #[test]
    fn descriptions_beside_or_above_each_key() {
        let text = "let x = 1;\nlet p = params(#{ a: 1, // first\n    url: \"https://x\",   // the mirror // really\n    // about b\n    // more\n    b: [1, 2],\n    c: \"//\",\n});\n// after: 3\n";
        let d = descriptions(text, 2);
        assert_eq!(d["a"], "first");
        assert_eq!(d["url"], "the mirror // really");
        assert_eq!(d["b"], "about b more");
        assert!(!d.contains_key("c") && !d.contains_key("after"), "{d:?}");
    }

    #[test]
    fn parse_set_needs_an_equals_sign() {
        assert_eq!(parse_set("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_set("novalue").is_err());
        assert!(parse_set("=x").is_err());
    }
}
