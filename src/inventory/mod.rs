//! Hosts and groups a run targets: galley's TOML inventory, Ansible INI and YAML inventories as
//! they are, or one-off `-H user@host:port` hosts. Without any of them there is one host, `local`.

mod ini;
mod limit;
mod model;
mod toml_format;
mod yaml;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use limit::{apply_limit, limit_names, restrict, LimitError};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostEntry {
    pub name: String,
    /// Address to connect to; `None` for the local machine.
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub user: Option<String>,
    /// Variables: the host's own over its groups' over `all`'s.
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub groups: Vec<String>,
}

impl HostEntry {
    pub fn local() -> Self {
        HostEntry {
            name: "local".into(),
            ..Default::default()
        }
    }

    pub fn is_local(&self) -> bool {
        self.address.is_none()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub hosts: Vec<HostEntry>,
    /// Group name → member host names, in inventory order.
    pub groups: BTreeMap<String, Vec<String>>,
}

/// A bad inventory: the file, the line when known, and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct InventoryError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

/// A `-H [user@]host[:port]` that names no host galley can reach.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The spec as given and what is wrong with it.
    #[error("-H {spec}: {why} (expected [user@]host[:port])")]
    Bad { spec: String, why: &'static str },
    /// Two specs that name the same host (`name`, with its port where ports tell them apart).
    #[error("-H {spec}: host `{name}` is given twice")]
    Twice { spec: String, name: String },
}

/// The inventory formats galley reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Ini,
    Yaml,
}

impl Format {
    /// By extension: `.toml`, `.yml`/`.yaml`; anything else is read as Ansible INI (whose
    /// files are often just called `hosts`).
    pub fn of(path: &str) -> Format {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".toml") {
            Format::Toml
        } else if lower.ends_with(".yml") || lower.ends_with(".yaml") {
            Format::Yaml
        } else {
            Format::Ini
        }
    }
}

impl Inventory {
    pub fn local() -> Self {
        Inventory {
            hosts: vec![HostEntry::local()],
            groups: BTreeMap::new(),
        }
    }

    /// Reads an inventory file; the format comes from its extension.
    pub fn load(path: &str) -> Result<Inventory, InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|e| InventoryError {
            file: path.to_string(),
            line: None,
            message: format!("cannot read the inventory: {e}"),
        })?;
        Self::parse(path, &text, Format::of(path))
    }

    pub fn parse(file: &str, text: &str, format: Format) -> Result<Inventory, InventoryError> {
        match format {
            Format::Toml => toml_format::parse(file, text),
            Format::Ini => ini::parse(file, text),
            Format::Yaml => yaml::parse(file, text),
        }
    }

    /// One-off hosts from `-H [user@]host[:port]` (IPv6 as `[addr]:port`).
    pub fn from_specs(specs: &[String]) -> Result<Inventory, SpecError> {
        let parsed = specs
            .iter()
            .map(|s| parse_spec(s))
            .collect::<Result<Vec<_>, _>>()?;
        let mut hosts: Vec<HostEntry> = Vec::new();
        for (s, mut e) in specs.iter().zip(parsed.iter().cloned()) {
            // One address on several ports is several hosts, named with their ports.
            let ports_differ = parsed.iter().any(|o| o.name == e.name && o.port != e.port);
            if let (true, Some(port)) = (ports_differ, e.port) {
                e.name = if e.name.contains(':') {
                    format!("[{}]:{port}", e.name)
                } else {
                    format!("{}:{port}", e.name)
                };
            }
            if hosts.iter().any(|h| h.name == e.name) {
                return Err(SpecError::Twice {
                    spec: s.clone(),
                    name: e.name,
                });
            }
            hosts.push(e);
        }
        let names = hosts.iter().map(|h| h.name.clone()).collect();
        let mut groups = BTreeMap::new();
        groups.insert("ungrouped".to_string(), names);
        for h in &mut hosts {
            h.groups = vec!["ungrouped".into()];
        }
        Ok(Inventory { hosts, groups })
    }

    /// Sets a var on every host (command-line settings such as --accept-new-host-keys).
    pub fn set_var(&mut self, key: &str, value: serde_json::Value) {
        for h in &mut self.hosts {
            h.vars.insert(key.to_string(), value.clone());
        }
    }

    /// Puts `-o` options given on the command line before the inventory's own.
    pub fn prepend_ssh_options(&mut self, options: &[String]) {
        if options.is_empty() {
            return;
        }
        for h in &mut self.hosts {
            let mut all: Vec<serde_json::Value> = options.iter().cloned().map(Into::into).collect();
            match h.vars.remove("ssh_options") {
                Some(serde_json::Value::Array(a)) => all.extend(a),
                Some(other) => all.push(other),
                None => {}
            }
            h.vars.insert("ssh_options".into(), all.into());
        }
    }
}

fn parse_spec(spec: &str) -> Result<HostEntry, SpecError> {
    let bad = |why: &'static str| SpecError::Bad {
        spec: spec.to_string(),
        why,
    };
    let (user, rest) = match spec.rsplit_once('@') {
        Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
        Some(_) => return Err(bad("empty user")),
        None => (None, spec),
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, tail) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => Some(p),
            None if tail.is_empty() => None,
            None => return Err(bad("unexpected text after ]")),
        };
        (addr.to_string(), port)
    } else {
        match rest.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h.to_string(), Some(p)),
            Some(_) => return Err(bad("write IPv6 addresses as [addr]:port")),
            None => (rest.to_string(), None),
        }
    };
    if host.is_empty() || host.starts_with('-') {
        return Err(bad("no host name"));
    }
    let port = port
        .map(|p| p.parse::<u16>().map_err(|_| bad("bad port")))
        .transpose()?;
    Ok(HostEntry {
        name: host.clone(),
        address: Some(host),
        port,
        user,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_off_hosts() {
        let inv =
            Inventory::from_specs(&["root@10.0.0.5:2222".into(), "[::1]:22".into(), "web".into()])
                .unwrap();
        let h = &inv.hosts[0];
        assert_eq!(
            (h.name.as_str(), h.user.as_deref(), h.port),
            ("10.0.0.5", Some("root"), Some(2222))
        );
        assert_eq!(
            (inv.hosts[1].name.as_str(), inv.hosts[1].port),
            ("::1", Some(22))
        );
        assert_eq!(
            (inv.hosts[2].address.as_deref(), inv.hosts[2].port),
            (Some("web"), None)
        );
        assert!(Inventory::from_specs(&["a:b:c".into()]).is_err());
        assert!(Inventory::from_specs(&["h:99999".into()]).is_err());
        assert!(Inventory::from_specs(&["h".into(), "u@h".into()])
            .unwrap_err()
            .to_string()
            .contains("twice"));
        let two = Inventory::from_specs(&["[::1]:2201".into(), "[::1]:2202".into()]).unwrap();
        let names: Vec<&str> = two.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["[::1]:2201", "[::1]:2202"]);
        assert_eq!(two.hosts[1].address.as_deref(), Some("::1"));
    }

    #[test]
    fn unreadable_file_is_named() {
        let e = Inventory::load("/nonexistent/inv.toml").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/inv.toml: cannot read the inventory"),
            "{e}"
        );
    }

    #[test]
    fn command_line_ssh_options_come_first() {
        let mut inv = Inventory::from_specs(&["h".into()]).unwrap();
        inv.hosts[0]
            .vars
            .insert("ssh_options".into(), serde_json::json!(["A=1"]));
        inv.prepend_ssh_options(&["B=2".into()]);
        assert_eq!(
            inv.hosts[0].vars["ssh_options"],
            serde_json::json!(["B=2", "A=1"])
        );
    }
}
