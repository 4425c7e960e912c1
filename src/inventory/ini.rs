//! Ansible's INI inventory, read as Ansible reads it: `[group]` sections of host lines
//! (`name [key=value ...]`, ranges like `www[01:50]`, `name:port`), `[group:vars]` and
//! `[group:children]`; hosts before any section are ungrouped. Values are typed the way Ansible's
//! `literal_eval` types them (numbers, quoted strings, True/False); anything else is a string.

use serde_json::Value;

use super::model::{expand_range, host_and_port, Builder};
use super::{Inventory, InventoryError};

enum Section {
    Hosts(String),
    Vars(String),
    Children(String),
}

/// Ansible's `_parse_value`: Python literals become typed values, the rest stays a string.
pub fn value(raw: &str) -> Value {
    let v = raw.trim();
    if let Ok(i) = v.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = v.parse::<f64>() {
        if v.contains('.') && f.is_finite() {
            return Value::from(f);
        }
    }
    match v {
        "True" => return Value::Bool(true),
        "False" => return Value::Bool(false),
        "None" => return Value::Null,
        _ => {}
    }
    for q in ['\'', '"'] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return Value::String(v[1..v.len() - 1].to_string());
        }
    }
    Value::String(v.to_string())
}

fn section(line: &str) -> Option<Section> {
    let name = line.strip_prefix('[')?.strip_suffix(']')?.trim();
    Some(match name.rsplit_once(':') {
        Some((g, "vars")) => Section::Vars(g.to_string()),
        Some((g, "children")) => Section::Children(g.to_string()),
        _ => Section::Hosts(name.to_string()),
    })
}

fn host_line(
    b: &mut Builder,
    group: Option<&str>,
    line: &str,
    n: usize,
) -> Result<(), InventoryError> {
    let tokens = shlex::split(line)
        .ok_or_else(|| b.error(Some(n), format!("unbalanced quotes in `{line}`")))?;
    let Some((pattern, pairs)) = tokens.split_first() else {
        return Ok(());
    };
    let mut vars = Vec::new();
    for p in pairs {
        if p.starts_with('#') {
            break;
        }
        let Some((k, v)) = p.split_once('=') else {
            return Err(b.error(
                Some(n),
                format!("expected key=value after the host name, got `{p}`"),
            ));
        };
        vars.push((k.to_string(), value(v)));
    }
    let names = expand_range(pattern).map_err(|e| b.error(Some(n), e))?;
    for name in names {
        let (name, port) = host_and_port(&name).map_err(|e| b.error(Some(n), e))?;
        let raw = b.host(&name, n);
        if port.is_some() {
            raw.port = port;
        }
        raw.vars.extend(vars.iter().cloned());
        match group {
            Some(g) => b.member(g, &name, n)?,
            None => b.member("ungrouped", &name, n)?,
        }
    }
    Ok(())
}

pub fn parse(file: &str, text: &str) -> Result<Inventory, InventoryError> {
    let mut b = Builder::new(file);
    let mut current: Option<Section> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            let s = section(line)
                .ok_or_else(|| b.error(Some(n), format!("bad section header `{line}`")))?;
            match &s {
                Section::Hosts(g) | Section::Children(g) => {
                    let grp = b.group(g, n);
                    grp.defined = true;
                    if grp.line == 0 {
                        grp.line = n;
                    }
                }
                Section::Vars(g) => {
                    b.group(g, n);
                }
            }
            current = Some(s);
            continue;
        }
        match &current {
            None => host_line(&mut b, None, line, n)?,
            Some(Section::Hosts(g)) => {
                let g = g.clone();
                host_line(&mut b, Some(&g), line, n)?
            }
            Some(Section::Vars(g)) => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(b.error(
                        Some(n),
                        format!("expected key=value in [{g}:vars], got `{line}`"),
                    ));
                };
                let g = g.clone();
                b.group(&g, n).vars.insert(k.trim().to_string(), value(v));
            }
            Some(Section::Children(g)) => {
                let g = g.clone();
                let child = line
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                b.group(&g, n).children.push((child, n));
            }
        }
    }
    if b.groups
        .get("ungrouped")
        .is_some_and(|g| !g.hosts.is_empty())
    {
        b.group("ungrouped", 0).defined = true;
    }
    b.resolve()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_typed_like_ansible() {
        assert_eq!(value("22"), json!(22));
        assert_eq!(value("1.5"), json!(1.5));
        assert_eq!(value("True"), json!(true));
        assert_eq!(value("true"), json!("true"));
        assert_eq!(value("'quoted text'"), json!("quoted text"));
        assert_eq!(value("foo.example.com"), json!("foo.example.com"));
    }

    #[test]
    fn hosts_ports_vars_and_children() {
        let text = "mail.example.com\n\n[web]\nweb[1:2].example.com http_port=80\nbadwolf.example.com:5309\n\n[web:vars]\nntp = ntp.example.com\n\n[site:children]\nweb\n";
        let inv = parse("hosts", text).unwrap();
        let names: Vec<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "mail.example.com",
                "web1.example.com",
                "web2.example.com",
                "badwolf.example.com"
            ]
        );
        assert_eq!(inv.hosts[1].vars["http_port"], json!(80));
        assert_eq!(inv.hosts[3].port, Some(5309));
        assert_eq!(inv.hosts[3].vars["ntp"], json!("ntp.example.com"));
        assert_eq!(inv.groups["site"].len(), 3);
        assert_eq!(inv.groups["ungrouped"], ["mail.example.com"]);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("hosts", "[web]\nh1\n\n[site:children]\nweb\ndb\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "hosts:6: group `site` lists unknown group `db` as a child"
        );
        let e = parse("hosts", "[web]\nh1\nh1\n").unwrap_err();
        assert_eq!(e.to_string(), "hosts:3: duplicate host `h1` in group `web`");
        let e = parse("hosts", "[web]\nh1 port\n").unwrap_err();
        assert!(
            e.to_string().starts_with("hosts:2: expected key=value"),
            "{e}"
        );
        let e = parse("hosts", "[db:vars]\nx=1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "hosts:1: group `db` is referenced but never defined"
        );
    }
}
