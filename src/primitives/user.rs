//! `user(name, #{ groups, shell, home, system })`: a local account, as recipes need one for
//! `kubectl` (`kube_user`). Probed from `/etc/passwd` and `/etc/group` (read through the host, so
//! a live host, a facts file and earlier predicted writes all answer the same way); created with
//! `useradd`, or brought to the wanted shell, home and supplementary groups with `usermod`.
//! Added as one file and one line in the registrar list, with its fixtures under
//! tests/operations/user/.

use crate::error::StepError;
use rhai::{Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::act::{act, spec_of};
use super::{from_map, reg_with_opts, usage, Call, RResult, StepResult};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserOpts {
    /// Supplementary groups the user must be in (others it is in are kept).
    groups: Option<Vec<String>>,
    shell: Option<String>,
    home: Option<String>,
    /// A system account (`useradd --system`), when it is created.
    #[serde(default)]
    system: bool,
}

/// An account as `/etc/passwd` and `/etc/group` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub home: String,
    pub shell: String,
    pub groups: Vec<String>,
}

/// Pure: the account `name` from the texts of `/etc/passwd` and `/etc/group`.
pub fn account_of(name: &str, passwd: &str, group: &str) -> Option<Account> {
    let fields: Vec<&str> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 7 && f[0] == name)?;
    let groups = group
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4 && f[3].split(',').any(|m| m.trim() == name)).then(|| f[0].to_string())
        })
        .collect();
    Some(Account {
        home: fields[5].to_string(),
        shell: fields[6].to_string(),
        groups,
    })
}

/// Pure: the command that brings the account to what is wanted, if any.
fn decide(name: &str, have: Option<&Account>, o: &UserOpts) -> Option<Vec<String>> {
    let mut argv = Vec::new();
    let Some(have) = have else {
        argv.push("useradd".to_string());
        argv.push("--create-home".into());
        if o.system {
            argv.push("--system".into());
        }
        if let Some(h) = &o.home {
            argv.extend(["--home-dir".into(), h.clone()]);
        }
        if let Some(s) = &o.shell {
            argv.extend(["--shell".into(), s.clone()]);
        }
        if let Some(g) = o.groups.as_ref().filter(|g| !g.is_empty()) {
            argv.extend(["--groups".into(), g.join(",")]);
        }
        argv.push(name.to_string());
        return Some(argv);
    };
    if let Some(s) = o.shell.as_ref().filter(|s| **s != have.shell) {
        argv.extend(["--shell".into(), s.clone()]);
    }
    if let Some(h) = o.home.as_ref().filter(|h| **h != have.home) {
        argv.extend(["--home".into(), h.clone(), "--move-home".into()]);
    }
    let missing: Vec<String> = o
        .groups
        .iter()
        .flatten()
        .filter(|g| !have.groups.contains(g))
        .cloned()
        .collect();
    if !missing.is_empty() {
        argv.extend(["--append".into(), "--groups".into(), missing.join(",")]);
    }
    if argv.is_empty() {
        return None;
    }
    argv.insert(0, "usermod".into());
    argv.push(name.to_string());
    Some(argv)
}

fn text(call: &Call, path: &str) -> Result<String, StepError> {
    let bytes = call.target.read_file(path)?;
    Ok(String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned())
}

fn user(nc: NativeCallContext, name: &str, opts: Option<Map>) -> RResult<StepResult> {
    let o: UserOpts = from_map("user", opts)?;
    let valid = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        && !name.starts_with('-');
    if !valid {
        return Err(usage(format!(
            "user: `{name}` is not a user name (letters, digits, `_`, `-`, `.`; at most 32)"
        )));
    }
    let mut call = Call::begin(&nc, "user", name)?;
    let steps = |call: &mut Call| -> Result<bool, StepError> {
        let have = account_of(
            name,
            &text(call, "/etc/passwd")?,
            &text(call, "/etc/group")?,
        );
        let Some(argv) = decide(name, have.as_ref(), &o) else {
            return Ok(false);
        };
        call.action.summary = format!(
            "{name} ({})",
            if have.is_some() { "update" } else { "create" }
        );
        act(call, spec_of(&argv, &[], None), &argv[0].clone())?;
        Ok(true)
    };
    let done = steps(&mut call);
    call.conclude(done)
}

pub fn register(engine: &mut Engine) {
    reg_with_opts!(
        engine,
        /// Ensures a local user account (`user("kube", #{ groups: ["docker"], shell: "/bin/bash" })`):
        /// probed from /etc/passwd and /etc/group; `useradd --create-home` when missing, else `usermod`
        /// for a different shell or home and missing supplementary groups (others are kept).
        /// Options: groups, shell, home, system (a system account, when created).
        "user": UserOpts, ["name: &str"], "Result", user, (n: &str)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_account_and_its_groups() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nkube:x:1000:1000::/home/kube:/bin/sh\n";
        let group = "docker:x:999:kube,ops\nwheel:x:10:ops\n";
        assert_eq!(
            account_of("kube", passwd, group),
            Some(Account {
                home: "/home/kube".into(),
                shell: "/bin/sh".into(),
                groups: vec!["docker".into()],
            })
        );
        assert_eq!(account_of("nobody", passwd, group), None);
    }
}
