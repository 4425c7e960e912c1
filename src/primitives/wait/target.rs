//! The one target a `wait_ready` call names ([`Target`]), read out of its options: exactly one of
//! tcp, http, cmd, file, service, kube or pods, with the settings that go with it.

use rhai::Dynamic;

use super::WaitOpts;
use crate::primitives::{usage, RResult};

/// What to wait for.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Tcp(String),
    Http {
        url: String,
        status: Option<u16>,
        insecure: bool,
    },
    Cmd(Vec<String>),
    File(String),
    Service(String),
    /// `nodes` or `kind/name`, the condition and (for nodes) how many.
    Kube {
        what: String,
        condition: String,
        count: usize,
    },
    Pods {
        selector: String,
        count: usize,
    },
}

impl Target {
    pub fn describe(&self) -> String {
        match self {
            Target::Tcp(a) => format!("tcp {a}"),
            Target::Http { url, status, .. } => match status {
                Some(s) => format!("http {url} (status {s})"),
                None => format!("http {url}"),
            },
            Target::Cmd(argv) => format!("cmd {}", crate::primitives::command::display(argv)),
            Target::File(p) => format!("file {p}"),
            Target::Service(u) => format!("service {u}"),
            Target::Kube {
                what,
                condition,
                count,
            } if what == "nodes" => {
                format!("{count} node(s) {condition}")
            }
            Target::Kube {
                what, condition, ..
            } => format!("{what} {condition}"),
            Target::Pods { selector, .. } => format!("pods {selector}"),
        }
    }
}

fn int_of(what: &str, v: &Option<Dynamic>, default: i64) -> RResult<i64> {
    match v {
        None => Ok(default),
        Some(v) => v
            .as_int()
            .map_err(|_| usage(format!("wait_ready: {what} must be an integer"))),
    }
}

/// Pure (but for option values): exactly one target out of the options.
pub fn target_of(o: &WaitOpts) -> RResult<Target> {
    let count = int_of("count", &o.count, 1)?.max(0) as usize;
    let condition = o.condition.clone().unwrap_or_else(|| "Ready".into());
    let mut found: Vec<Target> = Vec::new();
    if let Some(a) = &o.tcp {
        if !a.contains(':') {
            return Err(usage(format!("wait_ready: tcp `{a}` must be host:port")));
        }
        found.push(Target::Tcp(a.clone()));
    }
    if let Some(u) = &o.http {
        let status = int_of("status", &o.status, 0)?;
        let status = (status > 0).then_some(status as u16);
        found.push(Target::Http {
            url: u.clone(),
            status,
            insecure: o.insecure,
        });
    }
    if let Some(c) = &o.cmd {
        if c.is_empty() {
            return Err(usage("wait_ready: cmd is an empty argv"));
        }
        found.push(Target::Cmd(c.clone()));
    }
    if let Some(f) = &o.file {
        found.push(Target::File(f.clone()));
    }
    if let Some(s) = &o.service {
        found.push(Target::Service(s.clone()));
    }
    if let Some(k) = &o.kube {
        if k != "nodes" && !k.contains('/') {
            return Err(usage(format!(
                "wait_ready: kube `{k}` must be \"nodes\" or kind/name"
            )));
        }
        found.push(Target::Kube {
            what: k.clone(),
            condition,
            count,
        });
    }
    if let Some(p) = &o.pods {
        found.push(Target::Pods {
            selector: p.clone(),
            count,
        });
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(usage(
            "wait_ready: give one target: tcp, http, cmd, file, service, kube or pods",
        )),
        _ => Err(usage(format!(
            "wait_ready: give exactly one target, got {}",
            found
                .iter()
                .map(Target::describe)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::from_map;
    use rhai::Map;

    fn opts(pairs: &[(&str, Dynamic)]) -> WaitOpts {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.insert((*k).into(), v.clone());
        }
        from_map("wait_ready", Some(m)).unwrap()
    }

    #[test]
    fn exactly_one_target() {
        assert!(target_of(&WaitOpts::default()).is_err());
        let two = opts(&[("tcp", "a:1".into()), ("file", "/x".into())]);
        assert!(target_of(&two).is_err());
        let t = target_of(&opts(&[("tcp", "127.0.0.1:6443".into())])).unwrap();
        assert_eq!(t.describe(), "tcp 127.0.0.1:6443");
        assert!(target_of(&opts(&[("tcp", "nocolon".into())])).is_err());
        let k = target_of(&opts(&[
            ("kube", "nodes".into()),
            ("count", Dynamic::from(3 as rhai::INT)),
        ]))
        .unwrap();
        assert_eq!(k.describe(), "3 node(s) Ready");
    }
}
