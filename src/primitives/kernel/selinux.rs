//! `selinux(state)`: the running mode (`setenforce`, when SELinux is on and the mode differs)
//! and the SELINUX= line of /etc/selinux/config, in one action; the decision is pure
//! ([`decide_selinux`]), the running mode a typed fact ([`RunningSelinux`]).

use crate::error::StepError;
use rhai::NativeCallContext;

use super::{persist, predicted, set_live, text_of};
use crate::executor::overlay::Key;
use crate::executor::{probe, Call, Effect, Fact};
use crate::facts::Fixture;
use crate::primitives::file::decide_line;
use crate::primitives::{usage, RResult, StepResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeMode {
    Enforcing,
    Permissive,
    Disabled,
}

impl SeMode {
    pub fn parse(s: &str) -> Option<SeMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "enforcing" | "1" => Some(SeMode::Enforcing),
            "permissive" | "0" => Some(SeMode::Permissive),
            "disabled" => Some(SeMode::Disabled),
            _ => None,
        }
    }
    fn word(self) -> &'static str {
        match self {
            SeMode::Enforcing => "enforcing",
            SeMode::Permissive => "permissive",
            SeMode::Disabled => "disabled",
        }
    }
}

/// What `selinux(state)` must do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeChanges {
    /// `setenforce 1` or `setenforce 0`.
    pub setenforce: Option<&'static str>,
    /// New /etc/selinux/config content.
    pub config: Option<String>,
}

/// Pure: from the live mode (`getenforce`; `None` when SELinux is not installed) and the config
/// file. A disabled SELinux cannot be switched on live; `disabled` is reached live as permissive.
pub fn decide_selinux(want: SeMode, live: Option<SeMode>, config: Option<&str>) -> SeChanges {
    let setenforce = match (want, live) {
        (SeMode::Enforcing, Some(SeMode::Permissive)) => Some("1"),
        (SeMode::Permissive | SeMode::Disabled, Some(SeMode::Enforcing)) => Some("0"),
        _ => None,
    };
    let re = regex::bytes::Regex::new(r"^\s*SELINUX=").expect("static regex");
    let config = config
        .and_then(|c| decide_line(c.as_bytes(), &format!("SELINUX={}", want.word()), Some(&re)))
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    SeChanges { setenforce, config }
}

const SE_CONFIG: &str = "/etc/selinux/config";

/// How a live host is asked its SELinux mode: exit 127 when it has no `getenforce` (no SELinux).
pub const GETENFORCE_SH: &str = "command -v getenforce >/dev/null 2>&1 || exit 127; getenforce";

/// The running SELinux mode (`None`: SELinux is not installed): `getenforce` on a live host; a
/// facts file's recorded `getenforce`, else the mode its config file sets (the one the host
/// booted with).
struct RunningSelinux;

impl Fact for RunningSelinux {
    type Value = Option<SeMode>;

    fn probe(&self, call: &Call) -> Result<Option<SeMode>, StepError> {
        let argv: Vec<String> = ["sh", "-c", GETENFORCE_SH]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let out = probe(call, &argv, "getenforce")?;
        Ok(match out.rc {
            127 => None,
            _ => SeMode::parse(&out.stdout_text()),
        })
    }

    fn answer_from_file(
        &self,
        call: &Call,
        fixture: &Fixture,
    ) -> Result<Option<SeMode>, StepError> {
        fixture.ask(|a| {
            a.commands.insert(vec!["getenforce".to_string()]);
        });
        if let Some(c) = fixture.command(&["getenforce".to_string()]) {
            return Ok(SeMode::parse(&c.stdout));
        }
        let cfg = text_of(call, SE_CONFIG)?;
        Ok(cfg.and_then(|c| {
            c.lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("SELINUX=").and_then(SeMode::parse))
        }))
    }
}

fn live_selinux(call: &Call) -> Result<Option<SeMode>, StepError> {
    if let Some(Some(v)) = predicted(call, &Key::SelinuxMode) {
        return Ok(SeMode::parse(&v));
    }
    call.fact(&RunningSelinux)
}

/// Brings the running mode and the config file to `want`; whether anything changed.
fn selinux_steps(call: &mut Call, want: SeMode) -> Result<bool, StepError> {
    let live = live_selinux(call)?;
    let config = text_of(call, SE_CONFIG)?;
    if live.is_none() && config.is_none() {
        call.action.summary.push_str(" (SELinux is not installed)");
        return Ok(false);
    }
    let c = decide_selinux(want, live, config.as_deref());
    let mut changed = false;
    if let Some(v) = c.setenforce {
        let now = if v == "1" { "enforcing" } else { "permissive" };
        set_live(
            call,
            &["setenforce", v],
            Effect::State(Key::SelinuxMode, Some(now.into())),
        )?;
        changed = true;
    }
    if let Some(new) = c.config {
        changed |= persist(call, SE_CONFIG, new.as_bytes(), false)?;
    }
    Ok(changed)
}

pub fn selinux(nc: NativeCallContext, state: &str) -> RResult<StepResult> {
    let want = SeMode::parse(state).ok_or_else(|| {
        usage(format!(
            "selinux: unknown state `{state}`; use \"enforcing\", \"permissive\" or \"disabled\""
        ))
    })?;
    let mut call = Call::begin(&nc, "selinux", want.word())?;
    let changed = selinux_steps(&mut call, want);
    call.conclude(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selinux_book_step_i2() {
        let cfg = "SELINUX=enforcing\nSELINUXTYPE=targeted\n";
        let c = decide_selinux(SeMode::Permissive, Some(SeMode::Enforcing), Some(cfg));
        assert_eq!(c.setenforce, Some("0"));
        assert_eq!(
            c.config.unwrap(),
            "SELINUX=permissive\nSELINUXTYPE=targeted\n"
        );
        let c = decide_selinux(
            SeMode::Permissive,
            Some(SeMode::Permissive),
            Some("SELINUX=permissive\n"),
        );
        assert_eq!(c, SeChanges::default());
        let c = decide_selinux(
            SeMode::Enforcing,
            Some(SeMode::Disabled),
            Some("SELINUX=disabled\n"),
        );
        assert_eq!(c.setenforce, None);
        assert_eq!(c.config.unwrap(), "SELINUX=enforcing\n");
    }
}
