//! `sysctl(key, value)`: a kernel parameter set live (`sysctl -w`, when /proc/sys differs) and
//! persisted as `key = value` in /etc/sysctl.d, in one action.

use rhai::{Dynamic, Map, NativeCallContext};
use serde::Deserialize;

use super::{persist, predicted, set_live, text_of};
use crate::executor::overlay::Key;
use crate::executor::Call;
use crate::primitives::file::decide_line;
use crate::primitives::{from_map, usage, RResult, StepResult};

/// `net.ipv4.ip_forward` → `/proc/sys/net/ipv4/ip_forward`.
pub fn sysctl_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// Values compare with whitespace collapsed (`ip_local_port_range` is tab-separated).
pub fn same_value(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SysctlOpts {
    /// Where the setting is persisted (default /etc/sysctl.d/99-galley.conf).
    file: Option<String>,
    /// `false`: set the live value only.
    persist: Option<bool>,
}

fn value_text(v: &Dynamic) -> RResult<String> {
    if v.is_string() || v.is_int() || v.is_bool() || v.is_float() {
        let t = if v.is_bool() {
            (if v.as_bool().unwrap_or(false) {
                "1"
            } else {
                "0"
            })
            .to_string()
        } else {
            v.to_string()
        };
        Ok(t)
    } else {
        Err(usage(format!(
            "sysctl: the value must be a string or a number, got a {}",
            v.type_name()
        )))
    }
}

/// Sets `key` live and (unless `persist: false`) in `file`; whether anything changed.
fn sysctl_steps(
    call: &mut Call,
    key: &str,
    value: &str,
    file: &str,
    o: &SysctlOpts,
) -> Result<bool, String> {
    let okey = Key::Sysctl(key.to_string());
    let live = match predicted(call, &okey) {
        Some(v) => v,
        None => text_of(call, &sysctl_path(key))?,
    };
    let mut changed = false;
    if !live.as_deref().is_some_and(|l| same_value(l, value)) {
        let setting = format!("{key}={value}");
        set_live(call, &["sysctl", "-w", &setting], okey, value)?;
        changed = true;
    }
    if o.persist != Some(false) {
        let old = text_of(call, file)?.unwrap_or_default();
        let re = regex::bytes::Regex::new(&format!(r"^\s*{}\s*=", regex::escape(key)))
            .map_err(|e| e.to_string())?;
        if let Some(new) = decide_line(old.as_bytes(), &format!("{key} = {value}"), Some(&re)) {
            changed |= persist(call, file, &new, false)?;
        }
    }
    Ok(changed)
}

pub fn sysctl(
    nc: NativeCallContext,
    key: &str,
    value: Dynamic,
    opts: Option<Map>,
) -> RResult<StepResult> {
    let o: SysctlOpts = from_map("sysctl", opts)?;
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
    if !valid {
        return Err(usage(format!(
            "sysctl: `{key}` is not a sysctl key like net.ipv4.ip_forward"
        )));
    }
    let value = value_text(&value)?;
    let file = o
        .file
        .clone()
        .unwrap_or_else(|| "/etc/sysctl.d/99-galley.conf".into());
    let mut call = Call::begin(&nc, "sysctl", format!("{key} = {value}"))?;
    let changed = sysctl_steps(&mut call, key, &value, &file, &o);
    call.conclude(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_paths_and_values() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward"),
            "/proc/sys/net/ipv4/ip_forward"
        );
        assert!(same_value("32768\t60999\n", "32768 60999"));
        assert!(!same_value("0\n", "1"));
    }
}
