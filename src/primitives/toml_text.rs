//! `toml_set(text, keys, value)`: one key of a TOML document set, the rest of the text (comments,
//! order, formatting) kept, with toml_edit. Pure text in, text out, so recipes can edit a
//! generated config (containerd's config.toml) and write it whole with `write_file`.

use rhai::{Array, Dynamic, Engine};
use toml_edit::{DocumentMut, Item, Table, Value};

use super::{reg, usage, RResult};

/// Why `toml_set` cannot set the key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TomlSetError {
    /// The value is of a type TOML has no form for (its Rhai type name).
    #[error("a {0} is not a TOML value (give a string, integer, bool or array)")]
    NotValue(&'static str),
    #[error("the text is not TOML: {0}")]
    NotToml(toml_edit::TomlError),
    #[error("keys is empty")]
    NoKeys,
    /// A key on the way (dotted, up to it) holds something other than a table.
    #[error("`{0}` is not a table")]
    NotTable(String),
}

fn to_value(v: &Dynamic) -> Result<Value, TomlSetError> {
    if let Some(s) = v.clone().try_cast::<rhai::ImmutableString>() {
        return Ok(Value::from(s.as_str()));
    }
    if let Ok(i) = v.as_int() {
        return Ok(Value::from(i));
    }
    if let Ok(b) = v.as_bool() {
        return Ok(Value::from(b));
    }
    if let Some(a) = v.clone().try_cast::<Array>() {
        let mut arr = toml_edit::Array::new();
        for x in &a {
            arr.push(to_value(x)?);
        }
        return Ok(Value::Array(arr));
    }
    Err(TomlSetError::NotValue(v.type_name()))
}

/// Pure: `text` with `keys` (table names, then the key) set to `value`. Missing tables are
/// created (only the innermost gets a header); a key that is not a table on the way is an error.
pub fn set(text: &str, keys: &[String], value: Value) -> Result<String, TomlSetError> {
    let mut doc: DocumentMut = text.parse().map_err(TomlSetError::NotToml)?;
    let Some((last, tables)) = keys.split_last() else {
        return Err(TomlSetError::NoKeys);
    };
    let mut table: &mut Table = doc.as_table_mut();
    for (i, k) in tables.iter().enumerate() {
        let innermost = i + 1 == tables.len();
        let item = table.entry(k).or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(!innermost);
            Item::Table(t)
        });
        table = item
            .as_table_mut()
            .ok_or_else(|| TomlSetError::NotTable(keys[..=i].join(".")))?;
    }
    let mut value = value;
    match table.get_mut(last) {
        // Replace the value in place: the key keeps its indentation, the value its comment.
        Some(item) => {
            if let Some(old) = item.as_value() {
                *value.decor_mut() = old.decor().clone();
            }
            *item = Item::Value(value);
        }
        None => {
            table.insert(last, Item::Value(value));
        }
    }
    Ok(doc.to_string())
}

fn toml_set(text: &str, keys: Array, value: Dynamic) -> RResult<String> {
    let keys: Vec<String> = keys
        .iter()
        .map(|k| {
            k.clone()
                .into_string()
                .map_err(|_| usage("toml_set: every key must be a string"))
        })
        .collect::<RResult<_>>()?;
    let value = to_value(&value).map_err(|e| usage(format!("toml_set: {e}")))?;
    set(text, &keys, value).map_err(|e| usage(format!("toml_set: {e}")))
}

pub fn register(engine: &mut Engine) {
    reg(
        engine,
        "toml_set",
        &["text: &str", "keys: Array", "value: Dynamic", "String"],
        &[
            "The TOML text with one key set: keys are the table names then the key, e.g.",
            "[\"plugins\", \"io.containerd.grpc.v1.cri\", \"registry\", \"config_path\"]. Missing tables are created;",
            "comments and formatting elsewhere are kept. Pure: write the result with write_file.",
        ],
        toml_set,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sets_in_place_and_creates_only_the_innermost_header() {
        let text = "version = 2\n\n[plugins]\n\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n    sandbox_image = \"registry.k8s.io/pause:3.8\" # the default\n\n    [plugins.\"io.containerd.grpc.v1.cri\".registry]\n      config_path = \"\"\n";
        let out = set(
            text,
            &keys(&["plugins", "io.containerd.grpc.v1.cri", "sandbox_image"]),
            Value::from("m:5000/pause:3.10"),
        )
        .unwrap();
        assert!(
            out.contains("    sandbox_image = \"m:5000/pause:3.10\" # the default\n"),
            "{out}"
        );
        let out = set(
            &out,
            &keys(&[
                "plugins",
                "io.containerd.grpc.v1.cri",
                "registry",
                "config_path",
            ]),
            Value::from("/etc/containerd/certs.d"),
        )
        .unwrap();
        assert!(
            out.contains("      config_path = \"/etc/containerd/certs.d\"\n"),
            "{out}"
        );
        let fresh = set(
            "version = 3\n",
            &keys(&[
                "plugins",
                "io.containerd.cri.v1.images",
                "registry",
                "config_path",
            ]),
            Value::from("/etc/containerd/certs.d"),
        )
        .unwrap();
        assert_eq!(
            fresh,
            "version = 3\n\n[plugins.\"io.containerd.cri.v1.images\".registry]\nconfig_path = \"/etc/containerd/certs.d\"\n"
        );
        let v: toml::Value = toml::from_str(&fresh).unwrap();
        assert_eq!(
            v["plugins"]["io.containerd.cri.v1.images"]["registry"]["config_path"].as_str(),
            Some("/etc/containerd/certs.d")
        );
    }

    #[test]
    fn errors_say_what() {
        assert!(set("a = 1\n", &keys(&["a", "b"]), Value::from(1))
            .unwrap_err()
            .to_string()
            .contains("`a` is not a table"));
        assert!(set("[x\n", &keys(&["a"]), Value::from(1))
            .unwrap_err()
            .to_string()
            .contains("not TOML"));
    }
}
