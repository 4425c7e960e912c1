//! How to reach one host: its inventory entry and vars turned into `ssh` arguments. Pure, so the
//! precedence rules (what galley forces, what users may override) are unit-tested.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::inventory::HostEntry;

/// Seconds `ssh` waits for the TCP connection and the server's banner, unless a var says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: u64 = 10;

/// Everything needed to build `ssh` command lines for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshSettings {
    /// Inventory name (for messages).
    pub name: String,
    /// Address or `~/.ssh/config` alias.
    pub destination: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub config_file: Option<String>,
    pub identity_file: Option<String>,
    pub proxy_jump: Option<String>,
    /// `Key=Value` pairs passed as `-o`, before galley's defaults (so they override them).
    pub options: Vec<String>,
    /// Raw extra arguments (Ansible's `ansible_ssh_common_args` / `ansible_ssh_extra_args`).
    pub extra_args: Vec<String>,
    pub connect_timeout: u64,
    pub accept_new_host_keys: bool,
    /// `Some(user)`: commands run as that user through `sudo -n`.
    pub become_user: Option<String>,
}

fn first<'a>(vars: &'a BTreeMap<String, Value>, keys: &[&str]) -> Option<(&'a str, &'a Value)> {
    keys.iter()
        .find_map(|k| vars.get_key_value(*k))
        .map(|(k, v)| (k.as_str(), v))
}

fn text(key: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(format!("var `{key}` must be a string, got {v}")),
    }
}

/// Booleans as inventories write them: true/false, yes/no, 1/0.
pub fn truthy(key: &str, v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => Ok(n.as_i64() != Some(0)),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" | "" => Ok(false),
            _ => Err(format!("var `{key}` must be true or false, got `{s}`")),
        },
        _ => Err(format!("var `{key}` must be true or false, got {v}")),
    }
}

fn string_var(vars: &BTreeMap<String, Value>, keys: &[&str]) -> Result<Option<String>, String> {
    first(vars, keys).map(|(k, v)| text(k, v)).transpose()
}

fn options_var(vars: &BTreeMap<String, Value>) -> Result<Vec<String>, String> {
    let Some(v) = vars.get("ssh_options") else {
        return Ok(Vec::new());
    };
    let items: Vec<String> = match v {
        Value::Array(a) => a
            .iter()
            .map(|x| text("ssh_options", x))
            .collect::<Result<_, _>>()?,
        other => vec![text("ssh_options", other)?],
    };
    for o in &items {
        if !o.contains('=') || o.starts_with('-') {
            return Err(format!(
                "var `ssh_options`: `{o}` is not an ssh option like `ServerAliveInterval=30`"
            ));
        }
    }
    Ok(items)
}

fn extra_args(vars: &BTreeMap<String, Value>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for key in [
        "ssh_args",
        "ansible_ssh_common_args",
        "ansible_ssh_extra_args",
    ] {
        if let Some(v) = vars.get(key) {
            let s = text(key, v)?;
            out.extend(
                shlex::split(&s)
                    .ok_or_else(|| format!("var `{key}`: unbalanced quotes in `{s}`"))?,
            );
        }
    }
    Ok(out)
}

fn become_user(vars: &BTreeMap<String, Value>) -> Result<Option<String>, String> {
    if let Some((k, v)) = first(vars, &["become_method", "ansible_become_method"]) {
        let m = text(k, v)?;
        if m != "sudo" {
            return Err(format!("var `{k}`: only `sudo` is supported, got `{m}`"));
        }
    }
    let on = match first(vars, &["become", "ansible_become"]) {
        Some((k, v)) => truthy(k, v)?,
        None => false,
    };
    if !on {
        return Ok(None);
    }
    Ok(Some(
        string_var(vars, &["become_user", "ansible_become_user"])?.unwrap_or_else(|| "root".into()),
    ))
}

impl SshSettings {
    /// Reads the connection settings of an inventory host. Errors name the offending var.
    pub fn from_entry(entry: &HostEntry) -> Result<Self, String> {
        let vars = &entry.vars;
        let timeout = match first(
            vars,
            &[
                "ssh_connect_timeout",
                "ansible_ssh_timeout",
                "ansible_timeout",
            ],
        ) {
            Some((k, v)) => text(k, v)?
                .parse::<u64>()
                .ok()
                .filter(|t| *t > 0)
                .ok_or_else(|| format!("var `{k}` must be a positive number of seconds"))?,
            None => DEFAULT_CONNECT_TIMEOUT,
        };
        let accept = match vars.get("ssh_accept_new_host_keys") {
            Some(v) => truthy("ssh_accept_new_host_keys", v)?,
            None => false,
        };
        let destination = entry.address.clone().unwrap_or_else(|| entry.name.clone());
        if destination.starts_with('-') || destination.is_empty() {
            return Err(format!(
                "address `{destination}` is not a host name or address"
            ));
        }
        Ok(SshSettings {
            name: entry.name.clone(),
            destination,
            port: entry.port,
            user: entry.user.clone(),
            config_file: string_var(vars, &["ssh_config_file"])?,
            identity_file: string_var(
                vars,
                &[
                    "ssh_identity_file",
                    "ansible_ssh_private_key_file",
                    "ansible_private_key_file",
                ],
            )?,
            proxy_jump: string_var(vars, &["ssh_proxy_jump"])?,
            options: options_var(vars)?,
            extra_args: extra_args(vars)?,
            connect_timeout: timeout,
            accept_new_host_keys: accept,
            become_user: become_user(vars)?,
        })
    }

    /// `ssh` options shared by the master and every session, without the destination. Order
    /// matters to ssh (the first value of an option wins): what galley needs to work comes
    /// first, then the host's own settings, then the user's options, then overridable defaults.
    pub fn args(&self, control_path: &str) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let o = |a: &mut Vec<String>, kv: String| {
            a.push("-o".into());
            a.push(kv);
        };
        o(&mut a, "BatchMode=yes".into());
        o(&mut a, format!("ControlPath={control_path}"));
        if let Some(f) = &self.config_file {
            a.extend(["-F".into(), f.clone()]);
        }
        if let Some(p) = self.port {
            a.extend(["-p".into(), p.to_string()]);
        }
        if let Some(u) = &self.user {
            a.extend(["-l".into(), u.clone()]);
        }
        if let Some(i) = &self.identity_file {
            a.extend(["-i".into(), i.clone()]);
        }
        if let Some(j) = &self.proxy_jump {
            a.extend(["-J".into(), j.clone()]);
        }
        for kv in &self.options {
            o(&mut a, kv.clone());
        }
        a.extend(self.extra_args.iter().cloned());
        let strict = if self.accept_new_host_keys {
            "accept-new"
        } else {
            "yes"
        };
        o(&mut a, format!("StrictHostKeyChecking={strict}"));
        o(&mut a, format!("ConnectTimeout={}", self.connect_timeout));
        o(&mut a, "ServerAliveInterval=15".into());
        o(&mut a, "ServerAliveCountMax=4".into());
        a
    }

    /// `user@destination:port` as far as known, for messages.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(u) = &self.user {
            s.push_str(u);
            s.push('@');
        }
        s.push_str(&self.destination);
        if let Some(p) = self.port {
            s.push_str(&format!(":{p}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(vars: Value) -> HostEntry {
        HostEntry {
            name: "web1".into(),
            address: Some("10.0.0.5".into()),
            port: Some(2222),
            user: Some("deploy".into()),
            vars: serde_json::from_value(vars).unwrap(),
            groups: vec![],
        }
    }

    #[test]
    fn defaults_check_host_keys_and_come_after_user_options() {
        let s = SshSettings::from_entry(&entry(json!({
            "ssh_options": ["StrictHostKeyChecking=no"],
            "ssh_identity_file": "/k/id",
            "ssh_proxy_jump": "bastion",
            "ssh_config_file": "/c/cfg",
        })))
        .unwrap();
        let a = s.args("/run/x/m").join(" ");
        assert!(a.starts_with("-o BatchMode=yes -o ControlPath=/run/x/m -F /c/cfg -p 2222 -l deploy -i /k/id -J bastion"), "{a}");
        let user = a.find("StrictHostKeyChecking=no").unwrap();
        let ours = a.find("StrictHostKeyChecking=yes").unwrap();
        assert!(user < ours, "{a}");
        assert!(a.contains("ConnectTimeout=10"));
    }

    #[test]
    fn ansible_vars_are_understood() {
        let s = SshSettings::from_entry(&entry(json!({
            "ansible_ssh_private_key_file": "/k/a",
            "ansible_become": "yes",
            "ansible_ssh_common_args": "-o ProxyCommand='ssh -W %h:%p jump'",
            "ansible_ssh_timeout": 3,
        })))
        .unwrap();
        assert_eq!(s.identity_file.as_deref(), Some("/k/a"));
        assert_eq!(s.become_user.as_deref(), Some("root"));
        assert_eq!(s.extra_args, vec!["-o", "ProxyCommand=ssh -W %h:%p jump"]);
        assert_eq!(s.connect_timeout, 3);
    }

    #[test]
    fn bad_vars_are_named() {
        let e = SshSettings::from_entry(&entry(json!({"become": "maybe"}))).unwrap_err();
        assert!(e.contains("`become`"), "{e}");
        let e = SshSettings::from_entry(&entry(json!({"become": true, "become_method": "su"})))
            .unwrap_err();
        assert!(e.contains("only `sudo`"), "{e}");
        let e = SshSettings::from_entry(&entry(json!({"ssh_options": ["-oFoo"]}))).unwrap_err();
        assert!(e.contains("ssh_options"), "{e}");
        let e =
            SshSettings::from_entry(&entry(json!({"ssh_connect_timeout": "soon"}))).unwrap_err();
        assert!(e.contains("positive number"), "{e}");
    }

    #[test]
    fn accept_new_and_become_user() {
        let s = SshSettings::from_entry(&entry(json!({
            "ssh_accept_new_host_keys": true, "become": true, "become_user": "postgres"
        })))
        .unwrap();
        assert!(s
            .args("m")
            .contains(&"StrictHostKeyChecking=accept-new".to_string()));
        assert_eq!(s.become_user.as_deref(), Some("postgres"));
        assert_eq!(s.describe(), "deploy@10.0.0.5:2222");
    }
}
