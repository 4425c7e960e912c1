//! `alternatives(name, path)`: the book's `update-alternatives --set iptables
//! /usr/sbin/iptables-legacy`, probed first (`--query` on Debian, `--display` on the RHEL family)
//! and run only when the link points elsewhere.

use crate::error::StepError;
use rhai::{Engine, NativeCallContext};

use super::act::{act, probe, spec_of};
use super::{reg, usage, Call, RResult, StepResult};
use crate::executor::overlay::Key;
use crate::executor::Effect;

/// Pure: the path an alternative points at, from `update-alternatives --query` (`Value: /x`) or
/// `alternatives --display` (`link currently points to /x`).
pub fn current_of(output: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let l = l.trim();
        l.strip_prefix("Value:")
            .or_else(|| l.split_once("link currently points to").map(|(_, p)| p))
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
    })
}

/// The tool: `update-alternatives` on Debian, `alternatives` on the RHEL family.
pub fn tool_for(family: &str) -> (&'static str, &'static str) {
    if family == "redhat" {
        ("alternatives", "--display")
    } else {
        ("update-alternatives", "--query")
    }
}

fn alternatives(nc: NativeCallContext, name: &str, path: &str) -> RResult<StepResult> {
    if name.is_empty() || name.contains('/') || !path.starts_with('/') {
        return Err(usage(format!(
            "alternatives: give a name and an absolute path, e.g. alternatives(\"iptables\", \"/usr/sbin/iptables-legacy\"); got `{name}`, `{path}`"
        )));
    }
    let mut call = Call::begin(&nc, "alternatives", format!("{name} → {path}"))?;
    let run = |call: &mut Call| -> Result<bool, StepError> {
        let key = Key::Alternative(name.to_string());
        let family = call.target.facts()?.os.family;
        let (tool, query) = tool_for(&family);
        // The overlay's lock is let go before the probe (a probe may read the overlay).
        let predicted = call.target.overlay().get(&key);
        let current = match predicted {
            Some(v) => v,
            None => {
                let argv = vec![tool.to_string(), query.to_string(), name.to_string()];
                current_of(&probe(call, &argv, tool)?.stdout_text())
            }
        };
        if current.as_deref() == Some(path) {
            return Ok(false);
        }
        let argv = vec![
            tool.to_string(),
            "--set".into(),
            name.to_string(),
            path.to_string(),
        ];
        act(call, spec_of(&argv, &[], None), tool)?;
        call.remember(vec![Effect::State(key, Some(path.to_string()))]);
        Ok(true)
    };
    let done = run(&mut call);
    call.conclude(done)
}

pub fn register(engine: &mut Engine) {
    reg(engine, "alternatives", &["name: &str", "path: &str", "Result"], &[
        "Points an alternatives link at a path (`alternatives(\"iptables\", \"/usr/sbin/iptables-legacy\")`):",
        "probed with `update-alternatives --query` (Debian) or `alternatives --display` (RHEL); `--set`",
        "runs only when it points elsewhere.",
    ], alternatives);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_query() {
        let out = "Name: iptables\nLink: /usr/sbin/iptables\nStatus: auto\nBest: /usr/sbin/iptables-nft\nValue: /usr/sbin/iptables-nft\n\nAlternative: /usr/sbin/iptables-legacy\nPriority: 10\n";
        assert_eq!(current_of(out).as_deref(), Some("/usr/sbin/iptables-nft"));
    }

    #[test]
    fn rhel_display() {
        let out = "iptables - status is auto.\n link currently points to /usr/sbin/iptables-legacy\n/usr/sbin/iptables-legacy - priority 10\n";
        assert_eq!(
            current_of(out).as_deref(),
            Some("/usr/sbin/iptables-legacy")
        );
        assert_eq!(current_of(""), None);
        assert_eq!(tool_for("redhat").0, "alternatives");
        assert_eq!(tool_for("debian").0, "update-alternatives");
    }
}
