//! `--limit PATTERN`: keep only some hosts, the way Ansible's patterns do. Comma-separated items,
//! each a host, a group, `all`, or a glob (`web*`); `!item` excludes, `&item` intersects.

use std::collections::BTreeSet;

use super::Inventory;
use crate::glob::{is_wild, TooLarge, Wildcard};

/// A `--limit` pattern that selects no host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// A glob too large to compile.
    #[error("--limit: {0}")]
    Pattern(#[from] TooLarge),
    /// An item no host or group matches; `groups` lists the inventory's groups (or `none`).
    #[error("--limit: no host or group matches `{item}` (groups: {groups})")]
    NoMatch { item: String, groups: String },
    /// Every host matched was excluded again.
    #[error("--limit {0}: no host left to run on")]
    NoneLeft(String),
}

/// Host names an item selects; `Ok(None)` when it matches nothing at all.
fn select(inv: &Inventory, item: &str) -> Result<Option<BTreeSet<String>>, LimitError> {
    if item == "all" || item == "*" {
        return Ok(Some(inv.hosts.iter().map(|h| h.name.clone()).collect()));
    }
    let wild = is_wild(item).then(|| Wildcard::new(item)).transpose()?;
    let matches = |name: &str| match &wild {
        Some(w) => w.is_match(name),
        None => item == name,
    };
    let mut out = BTreeSet::new();
    let mut found = false;
    for (g, members) in &inv.groups {
        if matches(g) {
            found = true;
            out.extend(members.iter().cloned());
        }
    }
    for h in &inv.hosts {
        if matches(&h.name) {
            found = true;
            out.insert(h.name.clone());
        }
    }
    Ok(found.then_some(out))
}

/// The names of the hosts the pattern selects, in inventory order. A run keeps the whole
/// inventory and acts only on these (`hosts()` in a recipe); `hosts_all()` still sees the rest.
pub fn limit_names(inv: &Inventory, pattern: &str) -> Result<Vec<String>, LimitError> {
    let mut include: Option<BTreeSet<String>> = None;
    let mut intersect: Vec<BTreeSet<String>> = Vec::new();
    let mut exclude = BTreeSet::new();
    for raw in pattern.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (kind, item) = match raw.as_bytes()[0] {
            b'!' => ('!', &raw[1..]),
            b'&' => ('&', &raw[1..]),
            _ => ('+', raw),
        };
        let set = select(inv, item)?.ok_or_else(|| {
            let groups: Vec<&str> = inv.groups.keys().map(String::as_str).collect();
            LimitError::NoMatch {
                item: item.to_string(),
                groups: if groups.is_empty() {
                    "none".into()
                } else {
                    groups.join(", ")
                },
            }
        })?;
        match kind {
            '!' => exclude.extend(set),
            '&' => intersect.push(set),
            _ => include.get_or_insert_with(BTreeSet::new).extend(set),
        }
    }
    let mut keep = include.unwrap_or_else(|| inv.hosts.iter().map(|h| h.name.clone()).collect());
    for s in &intersect {
        keep.retain(|h| s.contains(h));
    }
    keep.retain(|h| !exclude.contains(h));
    if keep.is_empty() {
        return Err(LimitError::NoneLeft(pattern.to_string()));
    }
    Ok(inv
        .hosts
        .iter()
        .filter(|h| keep.contains(&h.name))
        .map(|h| h.name.clone())
        .collect())
}

/// The inventory restricted to the hosts the pattern selects (groups keep their names, with
/// only the remaining members), for commands that only ever see those hosts (`galley facts`).
pub fn apply_limit(inv: &Inventory, pattern: &str) -> Result<Inventory, LimitError> {
    Ok(restrict(inv, &limit_names(inv, pattern)?))
}

/// The inventory with only the hosts named in `names` (groups keep their names).
pub fn restrict(inv: &Inventory, names: &[String]) -> Inventory {
    let keep: BTreeSet<&String> = names.iter().collect();
    Inventory {
        hosts: inv
            .hosts
            .iter()
            .filter(|h| keep.contains(&h.name))
            .cloned()
            .collect(),
        groups: inv
            .groups
            .iter()
            .map(|(g, m)| {
                (
                    g.clone(),
                    m.iter().filter(|h| keep.contains(*h)).cloned().collect(),
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Format, Inventory};

    fn inv() -> Inventory {
        Inventory::parse(
            "hosts",
            "[web]\nweb1\nweb2\n[db]\ndb1\n[eu]\nweb1\ndb1\n",
            Format::Ini,
        )
        .unwrap()
    }

    fn names(i: &Inventory) -> Vec<&str> {
        i.hosts.iter().map(|h| h.name.as_str()).collect()
    }

    #[test]
    fn groups_hosts_globs_exclusion_and_intersection() {
        let i = inv();
        assert_eq!(names(&apply_limit(&i, "web").unwrap()), ["web1", "web2"]);
        assert_eq!(
            names(&apply_limit(&i, "db1,web2").unwrap()),
            ["web2", "db1"]
        );
        assert_eq!(names(&apply_limit(&i, "web*").unwrap()), ["web1", "web2"]);
        assert_eq!(names(&apply_limit(&i, "all,!eu").unwrap()), ["web2"]);
        assert_eq!(names(&apply_limit(&i, "web,&eu").unwrap()), ["web1"]);
        assert_eq!(names(&apply_limit(&i, "!db").unwrap()), ["web1", "web2"]);
        let limited = apply_limit(&i, "web2").unwrap();
        assert_eq!(limited.groups["eu"], Vec::<String>::new());
    }

    #[test]
    fn unknown_names_and_empty_results_are_errors() {
        let e = apply_limit(&inv(), "wbe").unwrap_err().to_string();
        assert!(
            e.contains("`wbe`") && e.contains("groups: db, eu, web"),
            "{e}"
        );
        assert!(apply_limit(&inv(), "web,!web")
            .unwrap_err()
            .to_string()
            .contains("no host left"));
    }
}
