//! How to reach one host: its inventory entry and vars turned into `ssh` arguments. Pure, so the
//! precedence rules (what galley forces, what users may override) are unit-tested; the one
//! impure step, asking `ssh -G` what the user's own ssh_config sets, is in [`UserConfig::read`].

use std::collections::BTreeMap;

use serde_json::Value;

use crate::inventory::HostEntry;

/// Seconds `ssh` waits for the TCP connection and the server's banner, unless a var or the
/// user's ssh_config says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: u64 = 10;
/// Keepalives when the user's ssh_config sets none: a host that stops answering (after its banner,
/// during key exchange, or in the middle of a run) is noticed after 5 s × 3 = 15 s.
pub const DEFAULT_ALIVE_INTERVAL: u64 = 5;
pub const DEFAULT_ALIVE_COUNT: u64 = 3;

/// What the user's ssh_config (as `ssh -G` resolves it for this host) already sets, so galley
/// passes its defaults only for what it leaves unset: options on the command line would win over
/// the user's own settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserConfig {
    /// `ServerAliveInterval` and `ServerAliveCountMax`, when the interval is set (not 0).
    pub alive: Option<(u64, u64)>,
    pub connect_timeout: Option<u64>,
    /// Where ssh connects to, when it connects directly (no ProxyJump or ProxyCommand): galley
    /// looks there itself to tell what a host that failed without a message did.
    pub direct: Option<(String, u16)>,
}

impl UserConfig {
    /// Reads `ssh -G` output (`key value` lines, keys in lower case).
    pub fn parse(text: &str) -> UserConfig {
        let mut interval = 0;
        let mut count = DEFAULT_ALIVE_COUNT;
        let mut connect_timeout = None;
        let (mut hostname, mut port, mut proxied) = (None, None, false);
        for line in text.lines() {
            let Some((k, v)) = line.split_once(' ') else {
                continue;
            };
            match k {
                "serveraliveinterval" => interval = v.trim().parse().unwrap_or(0),
                "serveralivecountmax" => count = v.trim().parse().unwrap_or(DEFAULT_ALIVE_COUNT),
                "connecttimeout" => connect_timeout = v.trim().parse().ok().filter(|t| *t > 0),
                "hostname" => hostname = Some(v.trim().to_string()),
                "port" => port = v.trim().parse().ok(),
                "proxyjump" | "proxycommand" => proxied |= v.trim() != "none",
                _ => {}
            }
        }
        UserConfig {
            alive: (interval > 0).then_some((interval, count)),
            connect_timeout,
            direct: hostname.zip(port).filter(|_| !proxied),
        }
    }

    /// Asks `ssh -G` (which contacts nothing) what the user's config resolves to for `s`; when
    /// that fails, nothing is known to be set and galley's defaults apply. `BatchMode=no` comes
    /// first (the first value wins): in batch mode ssh reports a keepalive interval of 300 s
    /// that nobody set.
    pub fn read(s: &SshSettings) -> UserConfig {
        let out = std::process::Command::new("ssh")
            .args(["-G", "-o", "BatchMode=no"])
            .args(s.base_args("none"))
            .arg("--")
            .arg(&s.destination)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => UserConfig::parse(&String::from_utf8_lossy(&o.stdout)),
            _ => UserConfig::default(),
        }
    }
}

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
    /// `ssh_connect_timeout` (or Ansible's names for it), when the inventory sets it.
    pub connect_timeout_var: Option<u64>,
    /// What the user's ssh_config sets (filled by [`UserConfig::read`] before connecting).
    pub user_config: UserConfig,
    pub accept_new_host_keys: bool,
    /// `Some(user)`: commands run as that user through `sudo -n`.
    pub become_user: Option<String>,
}

/// An inventory var that cannot be turned into ssh settings; every one names the var.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("var `{key}` must be a string, got {value}")]
    NotText { key: String, value: Value },
    /// A string that is not one of the words for true or false.
    #[error("var `{key}` must be true or false, got `{text}`")]
    NotBoolWord { key: String, text: String },
    #[error("var `{key}` must be true or false, got {value}")]
    NotBool { key: String, value: Value },
    #[error("var `ssh_options`: `{0}` is not an ssh option like `ServerAliveInterval=30`")]
    NotOption(String),
    #[error("var `{key}`: unbalanced quotes in `{text}`")]
    Quotes { key: String, text: String },
    #[error("var `{key}`: only `sudo` is supported, got `{method}`")]
    BecomeMethod { key: String, method: String },
    #[error("var `{0}` must be a positive number of seconds")]
    Timeout(String),
    #[error("address `{0}` is not a host name or address")]
    Address(String),
}

fn first<'a>(vars: &'a BTreeMap<String, Value>, keys: &[&str]) -> Option<(&'a str, &'a Value)> {
    keys.iter()
        .find_map(|k| vars.get_key_value(*k))
        .map(|(k, v)| (k.as_str(), v))
}

fn text(key: &str, v: &Value) -> Result<String, SettingsError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(SettingsError::NotText {
            key: key.to_string(),
            value: v.clone(),
        }),
    }
}

/// Booleans as inventories write them: true/false, yes/no, 1/0.
pub fn truthy(key: &str, v: &Value) -> Result<bool, SettingsError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => Ok(n.as_i64() != Some(0)),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" | "" => Ok(false),
            _ => Err(SettingsError::NotBoolWord {
                key: key.to_string(),
                text: s.clone(),
            }),
        },
        _ => Err(SettingsError::NotBool {
            key: key.to_string(),
            value: v.clone(),
        }),
    }
}

fn string_var(
    vars: &BTreeMap<String, Value>,
    keys: &[&str],
) -> Result<Option<String>, SettingsError> {
    first(vars, keys).map(|(k, v)| text(k, v)).transpose()
}

fn options_var(vars: &BTreeMap<String, Value>) -> Result<Vec<String>, SettingsError> {
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
            return Err(SettingsError::NotOption(o.clone()));
        }
    }
    Ok(items)
}

fn extra_args(vars: &BTreeMap<String, Value>) -> Result<Vec<String>, SettingsError> {
    let mut out = Vec::new();
    for key in [
        "ssh_args",
        "ansible_ssh_common_args",
        "ansible_ssh_extra_args",
    ] {
        if let Some(v) = vars.get(key) {
            let s = text(key, v)?;
            let words = shlex::split(&s).ok_or_else(|| SettingsError::Quotes {
                key: key.to_string(),
                text: s.clone(),
            })?;
            out.extend(words);
        }
    }
    Ok(out)
}

fn become_user(vars: &BTreeMap<String, Value>) -> Result<Option<String>, SettingsError> {
    if let Some((k, v)) = first(vars, &["become_method", "ansible_become_method"]) {
        let m = text(k, v)?;
        if m != "sudo" {
            return Err(SettingsError::BecomeMethod {
                key: k.to_string(),
                method: m,
            });
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
    pub fn from_entry(entry: &HostEntry) -> Result<Self, SettingsError> {
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
                .map(Some)
                .ok_or_else(|| SettingsError::Timeout(k.to_string()))?,
            None => None,
        };
        let accept = match vars.get("ssh_accept_new_host_keys") {
            Some(v) => truthy("ssh_accept_new_host_keys", v)?,
            None => false,
        };
        let destination = entry.address.clone().unwrap_or_else(|| entry.name.clone());
        if destination.starts_with('-') || destination.is_empty() {
            return Err(SettingsError::Address(destination));
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
            connect_timeout_var: timeout,
            user_config: UserConfig::default(),
            accept_new_host_keys: accept,
            become_user: become_user(vars)?,
        })
    }

    /// Seconds ssh waits for the connection and the banner: the inventory's var, else the
    /// user's ssh_config, else [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn connect_timeout(&self) -> u64 {
        self.connect_timeout_var
            .or(self.user_config.connect_timeout)
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    }

    /// Keepalive interval and count in effect: the user's, else galley's defaults.
    pub fn alive(&self) -> (u64, u64) {
        self.user_config
            .alive
            .unwrap_or((DEFAULT_ALIVE_INTERVAL, DEFAULT_ALIVE_COUNT))
    }

    /// Seconds of silence after which ssh gives up on a host that stopped answering.
    pub fn silence_limit(&self) -> u64 {
        let (interval, count) = self.alive();
        interval.saturating_mul(count.max(1))
    }

    /// The host's own settings, without galley's defaults: what `ssh -G` is asked about.
    pub fn base_args(&self, control_path: &str) -> Vec<String> {
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
        a
    }

    /// `ssh` options shared by the master and every session, without the destination. Order
    /// matters to ssh (the first value of an option wins, and the command line wins over
    /// ssh_config): what galley needs to work comes first, then the host's own settings, then
    /// the user's options, then galley's defaults, and those only for what the user's ssh_config
    /// leaves unset.
    pub fn args(&self, control_path: &str) -> Vec<String> {
        let mut a = self.base_args(control_path);
        let o = |a: &mut Vec<String>, kv: String| {
            a.push("-o".into());
            a.push(kv);
        };
        let strict = if self.accept_new_host_keys {
            "accept-new"
        } else {
            "yes"
        };
        o(&mut a, format!("StrictHostKeyChecking={strict}"));
        if self.connect_timeout_var.is_some() || self.user_config.connect_timeout.is_none() {
            o(&mut a, format!("ConnectTimeout={}", self.connect_timeout()));
        }
        if self.user_config.alive.is_none() {
            o(
                &mut a,
                format!("ServerAliveInterval={DEFAULT_ALIVE_INTERVAL}"),
            );
            o(&mut a, format!("ServerAliveCountMax={DEFAULT_ALIVE_COUNT}"));
        }
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
        assert!(
            a.ends_with("-o ServerAliveInterval=5 -o ServerAliveCountMax=3"),
            "{a}"
        );
    }

    #[test]
    fn the_users_ssh_config_wins_over_galleys_defaults() {
        let g = "user root\nhostname 10.0.0.5\nport 2222\nserveraliveinterval 30\nserveralivecountmax 2\nconnecttimeout 7\nproxycommand none\n";
        let mut s = SshSettings::from_entry(&entry(json!({}))).unwrap();
        s.user_config = UserConfig::parse(g);
        assert_eq!(s.user_config.alive, Some((30, 2)));
        assert_eq!(s.user_config.direct, Some(("10.0.0.5".into(), 2222)));
        assert_eq!(
            UserConfig::parse("hostname h\nport 22\nproxyjump bastion\n").direct,
            None
        );
        let a = s.args("m").join(" ");
        assert!(
            !a.contains("ServerAlive") && !a.contains("ConnectTimeout"),
            "{a}"
        );
        assert_eq!((s.connect_timeout(), s.silence_limit()), (7, 60));
        // Unset in ssh_config (what `ssh -G` prints then): galley's defaults.
        s.user_config = UserConfig::parse(
            "serveraliveinterval 0\nserveralivecountmax 3\nconnecttimeout none\n",
        );
        let a = s.args("m").join(" ");
        assert!(
            a.contains("ConnectTimeout=10 -o ServerAliveInterval=5"),
            "{a}"
        );
        assert_eq!(s.silence_limit(), 15);
        // The inventory's var wins over ssh_config.
        let mut s = SshSettings::from_entry(&entry(json!({"ssh_connect_timeout": 4}))).unwrap();
        s.user_config = UserConfig::parse(g);
        assert!(s.args("m").join(" ").contains("ConnectTimeout=4"));
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
        assert_eq!(s.connect_timeout(), 3);
    }

    #[test]
    fn bad_vars_are_named() {
        let e = SshSettings::from_entry(&entry(json!({"become": "maybe"})))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`become`"), "{e}");
        let e = SshSettings::from_entry(&entry(json!({"become": true, "become_method": "su"})))
            .unwrap_err()
            .to_string();
        assert!(e.contains("only `sudo`"), "{e}");
        let e = SshSettings::from_entry(&entry(json!({"ssh_options": ["-oFoo"]})))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ssh_options"), "{e}");
        let e = SshSettings::from_entry(&entry(json!({"ssh_connect_timeout": "soon"})))
            .unwrap_err()
            .to_string();
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
