//! The format-independent middle of inventory loading: the parsers (TOML, INI, YAML) declare
//! hosts and groups with the line they came from; `resolve` checks references, expands group
//! children and merges vars (host over child group over parent group over `all`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::{HostEntry, Inventory, InventoryError};

pub type Vars = BTreeMap<String, Value>;

#[derive(Debug, Default)]
pub struct RawHost {
    pub address: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub local: bool,
    pub vars: Vars,
    pub line: usize,
}

#[derive(Debug, Default)]
pub struct RawGroup {
    /// Declared by a section or table of its own (not only referenced).
    pub defined: bool,
    pub hosts: Vec<String>,
    pub children: Vec<(String, usize)>,
    pub vars: Vars,
    pub line: usize,
}

/// What a parser builds: hosts in order of first appearance, groups by name.
#[derive(Debug, Default)]
pub struct Builder {
    pub file: String,
    pub order: Vec<String>,
    pub hosts: BTreeMap<String, RawHost>,
    pub groups: BTreeMap<String, RawGroup>,
}

/// Connection settings written as Ansible vars become the host's fields.
const ADDRESS_VARS: &[&str] = &["ansible_host", "ansible_ssh_host"];
const PORT_VARS: &[&str] = &["ansible_port", "ansible_ssh_port"];
const USER_VARS: &[&str] = &["ansible_user", "ansible_ssh_user"];

impl Builder {
    pub fn new(file: &str) -> Self {
        Builder {
            file: file.to_string(),
            ..Default::default()
        }
    }

    pub fn error(&self, line: Option<usize>, message: impl Into<String>) -> InventoryError {
        InventoryError {
            file: self.file.clone(),
            line,
            message: message.into(),
        }
    }

    /// The host, created on first mention.
    pub fn host(&mut self, name: &str, line: usize) -> &mut RawHost {
        if !self.hosts.contains_key(name) {
            self.order.push(name.to_string());
        }
        self.hosts
            .entry(name.to_string())
            .or_insert_with(|| RawHost {
                line,
                ..Default::default()
            })
    }

    pub fn group(&mut self, name: &str, line: usize) -> &mut RawGroup {
        self.groups
            .entry(name.to_string())
            .or_insert_with(|| RawGroup {
                line,
                ..Default::default()
            })
    }

    /// Adds a host to a group; listing it twice in the same group is an error.
    pub fn member(&mut self, group: &str, host: &str, line: usize) -> Result<(), InventoryError> {
        let g = self.group(group, line);
        if g.hosts.iter().any(|h| h == host) {
            return Err(self.error(
                Some(line),
                format!("duplicate host `{host}` in group `{group}`"),
            ));
        }
        g.hosts.push(host.to_string());
        Ok(())
    }

    /// Checks references and computes the final inventory.
    pub fn resolve(mut self) -> Result<Inventory, InventoryError> {
        self.group("all", 0).defined = true;
        self.check_children()?;
        let depth = self.depths()?;
        let members = self.members();
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (g, hosts) in &members {
            if g != "all" {
                groups.insert(g.clone(), hosts.clone());
            }
        }
        let grouped: BTreeSet<&String> = groups
            .iter()
            .filter(|(g, _)| *g != "ungrouped")
            .flat_map(|(_, m)| m)
            .collect();
        let ungrouped: Vec<String> = self
            .order
            .iter()
            .filter(|h| !grouped.contains(h))
            .cloned()
            .collect();
        if !ungrouped.is_empty() {
            let u = groups.entry("ungrouped".into()).or_default();
            let mut known: BTreeSet<String> = u.iter().cloned().collect();
            for h in ungrouped {
                if known.insert(h.clone()) {
                    u.push(h);
                }
            }
        }
        // Each host's groups, computed once: looking them up per host made resolving quadratic
        // in the number of groups and hosts (5,000 of each: minutes).
        let mut of_host: HashMap<&str, Vec<&String>> = HashMap::new();
        for (g, m) in &groups {
            for h in m {
                of_host.entry(h.as_str()).or_default().push(g);
            }
        }
        let mut hosts = Vec::new();
        for name in &self.order {
            let mine = of_host.get(name.as_str()).cloned().unwrap_or_default();
            hosts.push(self.entry(name, mine, &depth)?);
        }
        Ok(Inventory { hosts, groups })
    }

    fn check_children(&self) -> Result<(), InventoryError> {
        for (name, g) in &self.groups {
            if !g.defined {
                return Err(self.error(
                    Some(g.line),
                    format!("group `{name}` is referenced but never defined"),
                ));
            }
            for (child, line) in &g.children {
                if !self.groups.get(child).is_some_and(|c| c.defined) {
                    return Err(self.error(
                        Some(*line),
                        format!("group `{name}` lists unknown group `{child}` as a child"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Depth of each group below `all` (a child is deeper than each of its parents); a cycle
    /// is an error.
    fn depths(&self) -> Result<BTreeMap<String, usize>, InventoryError> {
        let mut depth: BTreeMap<String, usize> =
            self.groups.keys().map(|g| (g.clone(), 1)).collect();
        depth.insert("all".into(), 0);
        for _ in 0..=self.groups.len() {
            let mut changed = false;
            for (name, g) in &self.groups {
                for (child, _) in &g.children {
                    let want = depth[name] + 1;
                    if depth[child] < want {
                        depth.insert(child.clone(), want);
                        changed = true;
                    }
                }
            }
            if !changed {
                return Ok(depth);
            }
        }
        let (name, g) = self
            .groups
            .iter()
            .find(|(_, g)| !g.children.is_empty())
            .expect("a cycle needs children");
        Err(self.error(
            Some(g.line),
            format!("groups form a cycle through `{name}` (a group cannot contain itself)"),
        ))
    }

    /// Hosts of each group, children included, in inventory order.
    fn members(&self) -> BTreeMap<String, Vec<String>> {
        let rank: HashMap<&str, usize> = self
            .order
            .iter()
            .enumerate()
            .map(|(i, h)| (h.as_str(), i))
            .collect();
        let mut out = BTreeMap::new();
        for name in self.groups.keys() {
            let mut set = BTreeSet::new();
            let mut stack = vec![name.clone()];
            let mut seen = BTreeSet::new();
            while let Some(g) = stack.pop() {
                if !seen.insert(g.clone()) {
                    continue;
                }
                let raw = &self.groups[&g];
                set.extend(raw.hosts.iter().cloned());
                stack.extend(raw.children.iter().map(|(c, _)| c.clone()));
            }
            let ordered: Vec<String> = if name == "all" {
                self.order.clone()
            } else {
                let mut v: Vec<&String> = set
                    .iter()
                    .filter(|h| rank.contains_key(h.as_str()))
                    .collect();
                v.sort_by_key(|h| rank[h.as_str()]);
                v.into_iter().cloned().collect()
            };
            out.insert(name.clone(), ordered);
        }
        out
    }

    fn entry(
        &self,
        name: &str,
        groups: Vec<&String>,
        depth: &BTreeMap<String, usize>,
    ) -> Result<HostEntry, InventoryError> {
        let raw = &self.hosts[name];
        let mut mine = groups.clone();
        // Vars: `all`, then groups from shallow to deep (alphabetical within a depth), then the host.
        mine.sort_by_key(|g| (depth.get(*g).copied().unwrap_or(1), (*g).clone()));
        let mut vars = self.groups["all"].vars.clone();
        for g in &mine {
            if let Some(raw_g) = self.groups.get(*g) {
                vars.extend(raw_g.vars.clone());
            }
        }
        vars.extend(raw.vars.clone());
        let mut entry = HostEntry {
            name: name.to_string(),
            address: raw.address.clone(),
            port: raw.port,
            user: raw.user.clone(),
            vars: Vars::new(),
            groups: groups.into_iter().cloned().collect(),
        };
        self.connection_vars(&mut entry, &mut vars, raw)?;
        entry.vars = vars;
        Ok(entry)
    }

    /// Moves Ansible's connection vars into the entry's fields; fields set on the host win.
    fn connection_vars(
        &self,
        entry: &mut HostEntry,
        vars: &mut Vars,
        raw: &RawHost,
    ) -> Result<(), InventoryError> {
        let take = |vars: &mut Vars, keys: &[&str]| -> Option<(String, Value)> {
            let found = keys
                .iter()
                .find_map(|k| vars.get(*k).map(|v| (k.to_string(), v.clone())));
            for k in keys {
                vars.remove(*k);
            }
            found
        };
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if let Some((_, v)) = take(vars, ADDRESS_VARS) {
            entry.address = entry.address.clone().or(Some(text(&v)));
        }
        if let Some((k, v)) = take(vars, PORT_VARS) {
            let port = text(&v).parse::<u16>().map_err(|_| {
                self.error(
                    Some(raw.line),
                    format!("host `{}`: {k} must be a port number, got {v}", entry.name),
                )
            })?;
            entry.port = entry.port.or(Some(port));
        }
        if let Some((_, v)) = take(vars, USER_VARS) {
            entry.user = entry.user.clone().or(Some(text(&v)));
        }
        let local = match take(vars, &["ansible_connection"]) {
            Some((_, v)) if text(&v) == "local" => true,
            Some((_, v)) if matches!(text(&v).as_str(), "ssh" | "smart" | "paramiko") => false,
            Some((_, v)) => {
                return Err(self.error(
                    Some(raw.line),
                    format!(
                        "host `{}`: ansible_connection `{}` is not supported (ssh or local)",
                        entry.name,
                        text(&v)
                    ),
                ))
            }
            None => false,
        };
        if raw.local || local {
            entry.address = None;
        } else if entry.address.is_none() {
            entry.address = Some(entry.name.clone());
        }
        Ok(())
    }
}

/// `host`, `host:port`, `[v6addr]:port` → (name, port).
pub fn host_and_port(pattern: &str) -> Result<(String, Option<u16>), String> {
    if let Some(rest) = pattern.strip_prefix('[') {
        if let Some((addr, tail)) = rest.split_once(']') {
            if !addr.contains(':') {
                return Ok((pattern.to_string(), None));
            }
            let port = match tail.strip_prefix(':') {
                Some(p) => Some(p.parse().map_err(|_| format!("bad port in `{pattern}`"))?),
                None if tail.is_empty() => None,
                None => return Err(format!("cannot read host `{pattern}`")),
            };
            return Ok((addr.to_string(), port));
        }
    }
    match pattern.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => {
            let port = p.parse().map_err(|_| format!("bad port in `{pattern}`"))?;
            Ok((h.to_string(), Some(port)))
        }
        _ => Ok((pattern.to_string(), None)),
    }
}

/// Expands Ansible host ranges: `www[01:03].example.com`, `db-[a:c]`, `n[0:10:5]`.
/// Most hosts one range pattern may expand to: far more than any inventory, far less than what
/// `h[0:999999999999]` would allocate before failing.
pub const MAX_RANGE_HOSTS: u64 = 100_000;

pub fn expand_range(pattern: &str) -> Result<Vec<String>, String> {
    let (Some(open), Some(close)) = (pattern.find('['), pattern.find(']')) else {
        return Ok(vec![pattern.to_string()]);
    };
    if close < open || !pattern[open..close].contains(':') || pattern.starts_with('[') {
        return Ok(vec![pattern.to_string()]);
    }
    let (head, spec, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let parts: Vec<&str> = spec.split(':').collect();
    let bad = || format!("bad host range `[{spec}]` in `{pattern}`");
    let (start, end) = (parts[0], *parts.get(1).ok_or_else(bad)?);
    let step: usize = match parts.get(2) {
        Some(s) => s.parse().map_err(|_| bad())?,
        None => 1,
    };
    if parts.len() > 3 || step == 0 {
        return Err(bad());
    }
    let items: Vec<String> = if let (Ok(a), Ok(b)) = (start.parse::<u64>(), end.parse::<u64>()) {
        let count = if b >= a { (b - a) / step as u64 + 1 } else { 0 };
        if count > MAX_RANGE_HOSTS {
            return Err(format!(
                "host range `[{spec}]` in `{pattern}` gives {count} hosts; at most {MAX_RANGE_HOSTS} are allowed"
            ));
        }
        let width = if start.starts_with('0') {
            start.len()
        } else {
            0
        };
        (a..=b)
            .step_by(step)
            .map(|n| format!("{n:0width$}"))
            .collect()
    } else if start.len() == 1 && end.len() == 1 {
        let (a, b) = (start.as_bytes()[0], end.as_bytes()[0]);
        if !a.is_ascii_alphabetic() || !b.is_ascii_alphabetic() {
            return Err(bad());
        }
        (a..=b)
            .step_by(step)
            .map(|c| (c as char).to_string())
            .collect()
    } else {
        return Err(bad());
    };
    if items.is_empty() {
        return Err(bad());
    }
    let mut out = Vec::new();
    for i in items {
        out.extend(expand_range(&format!("{head}{i}{tail}"))?);
        if out.len() as u64 > MAX_RANGE_HOSTS {
            return Err(format!(
                "the host ranges in `{pattern}` give more than {MAX_RANGE_HOSTS} hosts"
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ranges_expand_like_ansible() {
        assert_eq!(
            expand_range("www[01:03].x").unwrap(),
            ["www01.x", "www02.x", "www03.x"]
        );
        assert_eq!(expand_range("db-[a:c]").unwrap(), ["db-a", "db-b", "db-c"]);
        assert_eq!(expand_range("n[0:10:5]").unwrap(), ["n0", "n5", "n10"]);
        assert_eq!(expand_range("plain").unwrap(), ["plain"]);
        assert_eq!(expand_range("[::1]").unwrap(), ["[::1]"]);
        assert!(expand_range("x[1:b]").is_err());
        let huge = expand_range("h[0:999999999999]").unwrap_err();
        assert!(huge.contains("gives 1000000000000 hosts"), "{huge}");
        assert!(expand_range("h[0:999]-[0:999]").is_err());
    }

    #[test]
    fn child_group_vars_beat_parent_vars_and_host_vars_beat_both() {
        let mut b = Builder::new("inv");
        b.host("h1", 1).vars.insert("who".into(), json!("host"));
        b.host("h2", 2);
        b.member("web", "h1", 1).unwrap();
        b.member("web", "h2", 2).unwrap();
        let web = b.group("web", 1);
        web.defined = true;
        web.vars.insert("who".into(), json!("web"));
        web.vars.insert("tier".into(), json!("web"));
        let site = b.group("site", 3);
        site.defined = true;
        site.children.push(("web".into(), 4));
        site.vars.insert("tier".into(), json!("site"));
        site.vars.insert("region".into(), json!("eu"));
        b.group("all", 0).vars.insert("region".into(), json!("all"));
        let inv = b.resolve().unwrap();
        assert_eq!(inv.hosts[0].vars["who"], json!("host"));
        assert_eq!(inv.hosts[1].vars["who"], json!("web"));
        assert_eq!(inv.hosts[1].vars["tier"], json!("web"));
        assert_eq!(inv.hosts[1].vars["region"], json!("eu"));
        assert_eq!(inv.groups["site"], ["h1", "h2"]);
        assert_eq!(inv.hosts[0].groups, ["site", "web"]);
    }

    #[test]
    fn reference_errors_carry_lines() {
        let mut b = Builder::new("inv.ini");
        b.group("a", 1).defined = true;
        b.group("a", 1).children.push(("nope".into(), 7));
        let e = b.resolve().unwrap_err();
        assert_eq!(
            e.to_string(),
            "inv.ini:7: group `a` lists unknown group `nope` as a child"
        );
        let mut b = Builder::new("inv.ini");
        b.member("a", "h", 2).unwrap();
        assert!(b
            .member("a", "h", 5)
            .unwrap_err()
            .to_string()
            .starts_with("inv.ini:5: duplicate host"));
    }

    #[test]
    fn cycles_are_errors() {
        let mut b = Builder::new("x");
        b.group("a", 1).defined = true;
        b.group("b", 2).defined = true;
        b.group("a", 1).children.push(("b".into(), 1));
        b.group("b", 2).children.push(("a".into(), 2));
        assert!(b.resolve().unwrap_err().to_string().contains("cycle"));
    }
}
