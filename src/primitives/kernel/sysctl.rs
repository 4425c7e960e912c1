//! `sysctl(key, value)`: a kernel parameter set live (`sysctl -w`, when /proc/sys differs) and
//! persisted as `key = value` in /etc/sysctl.d, in one action.

use crate::error::StepError;
use rhai::{Dynamic, Map, NativeCallContext};
use serde::Deserialize;

use super::{persist, predicted, set_live, text_of};
use crate::executor::overlay::{Flag, Key};
use crate::executor::{Call, Effect, Fact};
use crate::facts::Fixture;
use crate::primitives::file::decide_line;
use crate::primitives::{from_map, usage, RResult, StepResult};
use crate::report::Status;

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

/// A kernel parameter's running value as the host has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    Value(String),
    /// The host has no such parameter: no file under /proc/sys.
    Missing,
    /// A facts file that does not record it.
    Unknown,
}

/// The running value of a kernel parameter: /proc/sys on a live host; in a plan, the facts
/// file's `sysctl` (`null`: the host has none such) or its `/proc/sys/...` file, else unknown.
struct Running<'a>(&'a str);

impl Fact for Running<'_> {
    type Value = Live;

    fn probe(&self, call: &Call) -> Result<Live, StepError> {
        Ok(match text_of(call, &sysctl_path(self.0))? {
            Some(v) => Live::Value(v),
            None => Live::Missing,
        })
    }

    fn answer_from_file(&self, _: &Call, fixture: &Fixture) -> Result<Live, StepError> {
        fixture.ask(|a| {
            a.sysctl.insert(self.0.to_string());
        });
        if let Some(v) = fixture.sysctl.get(self.0) {
            return Ok(v.clone().map_or(Live::Missing, Live::Value));
        }
        Ok(fixture
            .files
            .get(&sysctl_path(self.0))
            .map_or(Live::Unknown, |f| Live::Value(f.file().content)))
    }
}

/// What a sysctl call comes to.
enum Outcome {
    Done(bool),
    /// Known only on the host: why.
    WouldCheck(String),
}

/// Sets `key` live and (unless `persist: false`) in `file`. A parameter the host does not have
/// fails as `sysctl -w` would, in every mode; in check or plan, one that a module loaded earlier
/// in the run may bring, or that the facts file does not record, is known only on the host.
fn sysctl_steps(
    call: &mut Call,
    key: &str,
    value: &str,
    file: &str,
    o: &SysctlOpts,
) -> Result<Outcome, StepError> {
    let okey = Key::Sysctl(key.to_string());
    let live = match predicted(call, &okey) {
        Some(v) => v.map_or(Live::Missing, Live::Value),
        None => call.fact(&Running(key))?,
    };
    let path = sysctl_path(key);
    let unsure = match &live {
        Live::Missing
            if call
                .target
                .overlay()
                .predicts_any(|f| matches!(f, Flag::Module(_))) =>
        {
            Some(format!(
                "would check: {path} does not exist yet; a module loaded earlier in this run may add it"
            ))
        }
        Live::Missing => {
            return Err(format!(
                "no kernel parameter {key} on this host ({path} does not exist); check the key's spelling, or load the module that provides it first"
            ).into())
        }
        Live::Unknown => Some(format!("would check: the facts do not record {key}")),
        Live::Value(_) => None,
    };
    let mut changed = false;
    if !matches!(&live, Live::Value(l) if same_value(l, value)) {
        let setting = format!("{key}={value}");
        set_live(
            call,
            &["sysctl", "-w", &setting],
            Effect::State(okey, Some(value.into())),
        )?;
        changed = true;
    }
    if o.persist != Some(false) {
        let old = text_of(call, file)?.unwrap_or_default();
        let re = crate::primitives::file::cached_regex(&format!(r"^\s*{}\s*=", regex::escape(key)))
            .map_err(|e| e.to_string())?;
        if let Some(new) = decide_line(old.as_bytes(), &format!("{key} = {value}"), Some(&re)) {
            changed |= persist(call, file, &new, false)?;
        }
    }
    Ok(match unsure {
        Some(why) => Outcome::WouldCheck(why),
        None => Outcome::Done(changed),
    })
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
    match sysctl_steps(&mut call, key, &value, &file, &o) {
        Ok(Outcome::WouldCheck(why)) => {
            call.action.summary.push_str(&format!(" ({why})"));
            Ok(call.finish(Status::Unknown))
        }
        Ok(Outcome::Done(changed)) => call.conclude(Ok(changed)),
        Err(e) => call.conclude(Err(e)),
    }
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
