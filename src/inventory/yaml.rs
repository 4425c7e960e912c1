//! Ansible's YAML inventory, read as Ansible reads it: top-level groups (usually `all`), each
//! with optional `hosts` (name → vars or nothing), `vars` and `children` (nested groups).

use std::collections::HashMap;

use serde_yaml_ng::{Mapping, Value as Yaml};

use super::model::{expand_range, host_and_port, Builder, Vars};
use super::{Inventory, InventoryError};

/// The first line where each mapping key appears, for messages about parsed values (the YAML
/// value tree keeps no positions). Built in one pass over the text: looking each key up by
/// scanning the text made an inventory of many groups quadratic (5,000 groups: minutes).
struct KeyLines<'a>(HashMap<&'a str, usize>);

/// Colons per line considered as the end of a key (an IPv6 host name has up to eight).
const KEY_COLONS: usize = 16;

impl<'a> KeyLines<'a> {
    fn new(text: &'a str) -> Self {
        let mut map = HashMap::new();
        for (i, l) in text.lines().enumerate() {
            let t = l.trim_start().trim_start_matches("- ");
            for (at, _) in t.match_indices(':').take(KEY_COLONS) {
                let key = t[..at].trim_end();
                let unquoted = key
                    .strip_prefix('"')
                    .and_then(|k| k.strip_suffix('"'))
                    .or_else(|| key.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')));
                for k in [Some(key), unquoted].into_iter().flatten() {
                    map.entry(k).or_insert(i + 1);
                }
            }
        }
        KeyLines(map)
    }

    fn line(&self, key: &str) -> Option<usize> {
        self.0.get(key).copied()
    }
}

fn key_text(k: &Yaml) -> Option<String> {
    match k {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

struct Reader<'a> {
    b: Builder,
    lines: KeyLines<'a>,
}

impl Reader<'_> {
    fn err(&self, key: &str, msg: String) -> InventoryError {
        self.b.error(self.lines.line(key), msg)
    }

    fn vars(&self, owner: &str, v: &Yaml) -> Result<Vars, InventoryError> {
        match v {
            Yaml::Null => Ok(Vars::new()),
            Yaml::Mapping(m) => {
                let mut out = Vars::new();
                for (k, v) in m {
                    let key = key_text(k).ok_or_else(|| {
                        self.err(owner, format!("`{owner}`: a var name must be text"))
                    })?;
                    let json = serde_json::to_value(v)
                        .map_err(|e| self.err(&key, format!("var `{key}`: {e}")))?;
                    out.insert(key, json);
                }
                Ok(out)
            }
            _ => Err(self.err(
                owner,
                format!("`{owner}`: vars must be a mapping of name: value"),
            )),
        }
    }

    fn group(&mut self, name: &str, body: &Yaml) -> Result<(), InventoryError> {
        let line = self.lines.line(name).unwrap_or(0);
        self.b.group(name, line).defined = true;
        let map: &Mapping = match body {
            Yaml::Null => return Ok(()),
            Yaml::Mapping(m) => m,
            _ => {
                return Err(self.err(
                    name,
                    format!("group `{name}` must be a mapping with hosts, vars or children"),
                ))
            }
        };
        for (k, v) in map {
            match key_text(k).as_deref() {
                Some("hosts") => self.hosts(name, v)?,
                Some("vars") => {
                    let vars = self.vars(name, v)?;
                    self.b.group(name, line).vars.extend(vars);
                }
                Some("children") => self.children(name, v)?,
                other => {
                    return Err(self.err(
                        name,
                        format!(
                            "group `{name}`: unknown key `{}` (hosts, vars or children)",
                            other.unwrap_or("?")
                        ),
                    ))
                }
            }
        }
        Ok(())
    }

    /// The entries of `group.<part>` (an empty list for `null`), keyed by their text.
    fn entries<'y>(
        &self,
        group: &str,
        part: &str,
        (mapping_of, item): (&str, &str),
        v: &'y Yaml,
    ) -> Result<Vec<(String, &'y Yaml)>, InventoryError> {
        let map: &Mapping = match v {
            Yaml::Null => return Ok(Vec::new()),
            Yaml::Mapping(m) => m,
            _ => {
                return Err(self.err(
                    group,
                    format!("`{group}.{part}` must be a mapping of {mapping_of}"),
                ))
            }
        };
        map.iter()
            .map(|(k, body)| {
                let name = key_text(k).ok_or_else(|| {
                    self.err(group, format!("`{group}.{part}`: a {item} must be text"))
                })?;
                Ok((name, body))
            })
            .collect()
    }

    fn hosts(&mut self, group: &str, v: &Yaml) -> Result<(), InventoryError> {
        for (pattern, hv) in self.entries(group, "hosts", ("host names", "host name"), v)? {
            let line = self.lines.line(&pattern).unwrap_or(0);
            let vars = self.vars(&pattern, hv)?;
            for name in expand_range(&pattern).map_err(|e| self.b.error(Some(line), e))? {
                let (name, port) = host_and_port(&name).map_err(|e| self.b.error(Some(line), e))?;
                let raw = self.b.host(&name, line);
                raw.vars.extend(vars.clone());
                if port.is_some() {
                    raw.port = port;
                }
                // A group may be spelled out in several places; Ansible merges them.
                if !self.b.group(group, line).hosts.contains(&name) {
                    self.b.member(group, &name, line)?;
                }
            }
        }
        Ok(())
    }

    fn children(&mut self, group: &str, v: &Yaml) -> Result<(), InventoryError> {
        for (child, body) in self.entries(group, "children", ("groups", "group name"), v)? {
            let line = self.lines.line(&child).unwrap_or(0);
            self.b
                .group(group, line)
                .children
                .push((child.clone(), line));
            self.group(&child, body)?;
        }
        Ok(())
    }
}

pub fn parse(file: &str, text: &str) -> Result<Inventory, InventoryError> {
    let b = Builder::new(file);
    let doc: Yaml = serde_yaml_ng::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        b.error(line, e.to_string())
    })?;
    let mut r = Reader {
        b,
        lines: KeyLines::new(text),
    };
    match &doc {
        Yaml::Null => {}
        Yaml::Mapping(m) => {
            for (k, body) in m {
                let name =
                    key_text(k).ok_or_else(|| r.b.error(None, "a group name must be text"))?;
                r.group(&name, body)?;
            }
        }
        _ => {
            return Err(r.b.error(
                Some(1),
                "an inventory is a mapping of groups (usually starting with `all:`)",
            ))
        }
    }
    r.b.resolve()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_children_and_vars() {
        let text = "all:\n  vars:\n    ntp: ntp.example.com\n  children:\n    web:\n      hosts:\n        w[1:2]:\n          http_port: 80\n      vars:\n        tier: web\n    db:\n      hosts:\n        d1:\n";
        let inv = parse("inv.yml", text).unwrap();
        let names: Vec<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["w1", "w2", "d1"]);
        assert_eq!(inv.hosts[0].vars["http_port"], json!(80));
        assert_eq!(inv.hosts[0].vars["tier"], json!("web"));
        assert_eq!(inv.hosts[2].vars["ntp"], json!("ntp.example.com"));
        assert_eq!(inv.groups["db"], ["d1"]);
    }

    #[test]
    fn errors_have_lines() {
        let e = parse("inv.yml", "all:\n  hosts:\n    a:\n    a:\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().contains("duplicate entry"), "{e}");
        let e = parse(
            "inv.yml",
            "all:\n  children:\n    web:\n      hostz:\n        a:\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().contains("unknown key `hostz`"), "{e}");
        let e = parse("inv.yml", "all: [1, 2\n").unwrap_err();
        assert!(e.line.is_some(), "{e}");
    }
}
