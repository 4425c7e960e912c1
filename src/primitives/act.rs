//! What converging primitives share: the executor's probe and act, and the "one name or a list
//! of names" arguments recipes pass.

use rhai::{Array, Dynamic};

use super::{usage, Call, RResult};
pub use crate::executor::{act, probe, spec_of, tail};

/// Whether the current host is the machine galley runs on (never true for a plan's simulated
/// host): in-process network probes and galley's own environment apply only there.
pub fn is_local(call: &Call) -> bool {
    call.target.is_this_machine()
}

/// `"a"` or `["a", "b"]` as a list of non-empty strings.
pub fn names_of(primitive: &str, what: &str, value: &Dynamic) -> RResult<Vec<String>> {
    let items: Vec<Dynamic> = if value.is_array() {
        value.clone().cast::<Array>()
    } else {
        vec![value.clone()]
    };
    let mut out = Vec::new();
    for v in items {
        let Some(s) = v.clone().try_cast::<rhai::ImmutableString>() else {
            return Err(usage(format!(
                "{primitive}: each {what} must be a string, got a {}",
                v.type_name()
            )));
        };
        let s = s.trim().to_string();
        if s.is_empty() {
            return Err(usage(format!("{primitive}: empty {what} name")));
        }
        out.push(s);
    }
    Ok(out)
}

/// An option that may be one string or a list of strings (`gpgkey`, `exclude`, `enable_repo`).
#[derive(Debug, Clone, serde::Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn list(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => s.split_whitespace().map(str::to_string).collect(),
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), vec!["b", "c"]);
        assert_eq!(tail("a", 5), vec!["a"]);
    }

    #[test]
    fn names_from_string_or_array() {
        let one = names_of("yum", "package", &Dynamic::from("lvm2")).unwrap();
        assert_eq!(one, vec!["lvm2"]);
        let arr: Array = vec!["a".into(), "b".into()];
        assert_eq!(
            names_of("yum", "package", &Dynamic::from(arr)).unwrap(),
            vec!["a", "b"]
        );
        let bad: Array = vec![Dynamic::from(3 as rhai::INT)];
        assert!(names_of("yum", "package", &Dynamic::from(bad)).is_err());
    }

    #[test]
    fn one_or_many_splits_words() {
        assert_eq!(OneOrMany::One("a b".into()).list(), vec!["a", "b"]);
        assert_eq!(OneOrMany::Many(vec!["a b".into()]).list(), vec!["a b"]);
    }
}
