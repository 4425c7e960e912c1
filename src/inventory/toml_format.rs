//! galley's own inventory format (TOML):
//!
//! ```toml
//! [hosts.cp1]
//! address = "10.0.0.11"   # default: the host's name
//! port = 22
//! user = "root"
//! vars = { node_ip = "10.0.0.11" }
//!
//! [groups.control_plane]
//! hosts = ["cp1"]
//! vars = { role = "cp" }
//!
//! [groups.k8s]
//! children = ["control_plane"]
//!
//! [groups.all.vars]
//! k8s_version = "1.31.4"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::model::{Builder, Vars};
use super::{Inventory, InventoryError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    hosts: BTreeMap<String, Spanned<Host>>,
    #[serde(default)]
    groups: BTreeMap<String, Spanned<Group>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Host {
    address: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    /// `"local"`: the machine galley runs on; `"ssh"` (default).
    connection: Option<Spanned<String>>,
    #[serde(default)]
    vars: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    #[serde(default)]
    children: Vec<Spanned<String>>,
    #[serde(default)]
    vars: BTreeMap<String, toml::Value>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn vars(v: BTreeMap<String, toml::Value>) -> Vars {
    v.into_iter()
        .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or_default()))
        .collect()
}

pub fn parse(file: &str, text: &str) -> Result<Inventory, InventoryError> {
    let mut b = Builder::new(file);
    let parsed: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        b.error(line, e.message().trim().to_string())
    })?;
    let mut hosts: Vec<(String, Spanned<Host>)> = parsed.hosts.into_iter().collect();
    hosts.sort_by_key(|(_, h)| h.span().start);
    for (name, h) in hosts {
        let line = line_of(text, h.span().start);
        let h = h.into_inner();
        let local = match h.connection {
            None => false,
            Some(c) => match c.get_ref().as_str() {
                "local" => true,
                "ssh" => false,
                other => {
                    return Err(b.error(
                        Some(line_of(text, c.span().start)),
                        format!(
                            "host `{name}`: connection `{other}` is not supported (ssh or local)"
                        ),
                    ))
                }
            },
        };
        let raw = b.host(&name, line);
        raw.address = h.address;
        raw.port = h.port;
        raw.user = h.user;
        raw.local = local;
        raw.vars = vars(h.vars);
    }
    for (name, g) in parsed.groups {
        let line = line_of(text, g.span().start);
        let g = g.into_inner();
        if name == "all" && !g.hosts.is_empty() {
            return Err(b.error(
                Some(line),
                "group `all` holds every host already; give it vars only",
            ));
        }
        for h in &g.hosts {
            let hl = line_of(text, h.span().start);
            if !b.hosts.contains_key(h.get_ref()) {
                return Err(b.error(
                    Some(hl),
                    format!(
                        "group `{name}` lists unknown host `{}` (define it as [hosts.{}])",
                        h.get_ref(),
                        h.get_ref()
                    ),
                ));
            }
            b.member(&name, h.get_ref(), hl)?;
        }
        let raw = b.group(&name, line);
        raw.defined = true;
        raw.line = line;
        raw.vars = vars(g.vars);
        raw.children = g
            .children
            .iter()
            .map(|c| (c.get_ref().clone(), line_of(text, c.span().start)))
            .collect();
    }
    // Hosts keep the order of the [hosts] tables.
    b.resolve()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_host_and_child_name_their_lines() {
        let text = "[hosts.a]\n\n[groups.web]\nhosts = [\n  \"a\",\n  \"b\",\n]\n";
        let e = parse("inv.toml", text).unwrap_err().to_string();
        assert_eq!(
            e,
            "inv.toml:6: group `web` lists unknown host `b` (define it as [hosts.b])"
        );
        let text = "[groups.web]\nchildren = [\"db\"]\n";
        let e = parse("inv.toml", text).unwrap_err().to_string();
        assert_eq!(
            e,
            "inv.toml:2: group `web` lists unknown group `db` as a child"
        );
    }

    #[test]
    fn syntax_errors_and_unknown_keys_have_lines() {
        let e = parse("inv.toml", "[hosts.a]\naddress = \n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = parse("inv.toml", "[hosts.a]\nadress = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("adress"), "{e}");
        let e = parse(
            "inv.toml",
            "[hosts.a]\n[groups.g]\nhosts = [\"a\", \"a\"]\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("duplicate host `a`"), "{e}");
    }

    #[test]
    fn hosts_keep_file_order_and_default_address_is_the_name() {
        let inv = parse("i", "[hosts.zeta]\n[hosts.alpha]\nconnection = \"local\"\n").unwrap();
        let names: Vec<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha"]);
        assert_eq!(inv.hosts[0].address.as_deref(), Some("zeta"));
        assert!(inv.hosts[1].is_local());
        assert_eq!(inv.groups["ungrouped"], ["zeta", "alpha"]);
    }
}
