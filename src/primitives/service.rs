//! `systemctl(action, unit)`: start, stop, enable, disable, mask and unmask are probed with
//! `is-active`/`is-enabled` and are `ok` when the unit is already so; restart, reload and
//! daemon-reload always act (guard them with `if write_file(...).changed { ... }`).

use crate::error::StepError;
use rhai::{Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::act::{act, probe, spec_of};
use super::{from_map, reg, reg_with_opts, usage, Call, RResult, StepResult};
use crate::executor::overlay::Flag;
use crate::executor::{Effect, Fact};
use crate::facts::Fixture;
use crate::report::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Start,
    Stop,
    Restart,
    Reload,
    Enable,
    Disable,
    EnableNow,
    DisableNow,
    Mask,
    Unmask,
    DaemonReload,
}

const VERBS: &str = "start, stop, restart, reload, enable, disable, \"enable --now\", \"disable --now\", mask, unmask, daemon-reload";

impl Verb {
    pub fn parse(s: &str) -> Option<Verb> {
        let words: Vec<&str> = s.split_whitespace().collect();
        Some(match words.as_slice() {
            ["start"] => Verb::Start,
            ["stop"] => Verb::Stop,
            ["restart"] => Verb::Restart,
            ["reload"] => Verb::Reload,
            ["enable"] => Verb::Enable,
            ["disable"] => Verb::Disable,
            ["enable", "--now"] | ["enable-now"] => Verb::EnableNow,
            ["disable", "--now"] | ["disable-now"] => Verb::DisableNow,
            ["mask"] => Verb::Mask,
            ["unmask"] => Verb::Unmask,
            ["daemon-reload"] => Verb::DaemonReload,
            _ => return None,
        })
    }

    fn probes(self) -> bool {
        !matches!(self, Verb::Restart | Verb::Reload | Verb::DaemonReload)
    }
}

/// A unit as probed: `is-active` and `is-enabled` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitState {
    /// `active`, `inactive`, `failed`, `activating`, ...
    pub active: String,
    /// `enabled`, `disabled`, `static`, `masked`, ... (empty when the unit does not exist).
    pub enabled: String,
}

impl UnitState {
    pub fn is_active(&self) -> bool {
        matches!(self.active.as_str(), "active" | "activating" | "reloading")
    }
    pub fn is_enabled(&self) -> bool {
        matches!(
            self.enabled.as_str(),
            "enabled" | "enabled-runtime" | "static" | "alias" | "indirect" | "generated"
        )
    }
    fn is_masked(&self) -> bool {
        self.enabled.starts_with("masked")
    }
}

/// Pure: the `systemctl` argument lists that bring the unit where `verb` wants it (empty: `ok`).
pub fn decide(verb: Verb, unit: &str, s: &UnitState) -> Vec<Vec<String>> {
    let cmd = |args: &[&str]| {
        let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        v.push(unit.to_string());
        v
    };
    match verb {
        Verb::DaemonReload => vec![vec!["daemon-reload".to_string()]],
        Verb::Restart => vec![cmd(&["restart"])],
        Verb::Reload => vec![cmd(&["reload"])],
        Verb::Start if !s.is_active() => vec![cmd(&["start"])],
        Verb::Stop if s.is_active() => vec![cmd(&["stop"])],
        Verb::Enable if !s.is_enabled() => vec![cmd(&["enable"])],
        Verb::Disable if s.enabled == "enabled" => vec![cmd(&["disable"])],
        Verb::EnableNow => match (s.is_enabled(), s.is_active()) {
            (false, false) => vec![cmd(&["enable", "--now"])],
            (false, true) => vec![cmd(&["enable"])],
            (true, false) => vec![cmd(&["start"])],
            (true, true) => vec![],
        },
        Verb::DisableNow => match (s.enabled == "enabled", s.is_active()) {
            (true, true) => vec![cmd(&["disable", "--now"])],
            (true, false) => vec![cmd(&["disable"])],
            (false, true) => vec![cmd(&["stop"])],
            (false, false) => vec![],
        },
        Verb::Mask if !s.is_masked() => vec![cmd(&["mask"])],
        Verb::Unmask if s.is_masked() => vec![cmd(&["unmask"])],
        _ => vec![],
    }
}

/// The state after `args` ran, as check/plan predict it.
fn after(s: &UnitState, args: &[String]) -> UnitState {
    let mut s = s.clone();
    let now = args.iter().any(|a| a == "--now");
    match args[0].as_str() {
        "start" | "restart" | "reload" => s.active = "active".into(),
        "stop" => s.active = "inactive".into(),
        "enable" => {
            s.enabled = "enabled".into();
            if now {
                s.active = "active".into();
            }
        }
        "disable" => {
            s.enabled = "disabled".into();
            if now {
                s.active = "inactive".into();
            }
        }
        "mask" => s.enabled = "masked".into(),
        "unmask" => s.enabled = "disabled".into(),
        _ => {}
    }
    s
}

fn short(unit: &str) -> &str {
    unit.strip_suffix(".service").unwrap_or(unit)
}

/// A unit's state: `systemctl is-active` and `is-enabled` on a live host, the `services` of a
/// facts file.
struct Unit<'a>(&'a str);

impl Fact for Unit<'_> {
    type Value = UnitState;

    fn probe(&self, call: &Call) -> Result<UnitState, StepError> {
        let ask = |q: &str| -> Result<String, StepError> {
            let argv = vec!["systemctl".to_string(), q.to_string(), self.0.to_string()];
            Ok(probe(call, &argv, "systemctl")?
                .stdout_text()
                .trim()
                .to_string())
        };
        Ok(UnitState {
            active: ask("is-active")?,
            enabled: ask("is-enabled")?,
        })
    }

    fn answer_from_file(&self, _: &Call, fixture: &Fixture) -> Result<UnitState, StepError> {
        let (unit, name) = (self.0, short(self.0));
        fixture.ask(|a| {
            a.services.insert(name.to_string());
        });
        let svc = fixture
            .services
            .get(name)
            .or_else(|| fixture.services.get(unit))
            .cloned()
            .unwrap_or_default();
        Ok(UnitState {
            active: if svc.active { "active" } else { "inactive" }.into(),
            enabled: if svc.enabled { "enabled" } else { "disabled" }.into(),
        })
    }
}

/// The unit as this run sees it: the host's (or facts file's) answer, with the predictions of
/// earlier steps (check/plan) on top.
fn probe_unit(call: &Call, unit: &str) -> Result<UnitState, StepError> {
    let name = short(unit);
    let mut s = call.fact(&Unit(unit))?;
    let ov = call.target.overlay();
    if let Some(v) = ov.flag(&Flag::ServiceActive(name.to_string())) {
        s.active = if v { "active" } else { "inactive" }.into();
    }
    if let Some(v) = ov.flag(&Flag::ServiceMasked(name.to_string())) {
        if v {
            s.enabled = "masked".into();
        } else if s.is_masked() {
            s.enabled = "disabled".into();
        }
    }
    if let Some(v) = ov.flag(&Flag::ServiceEnabled(name.to_string())) {
        if !s.is_masked() {
            s.enabled = if v { "enabled" } else { "disabled" }.into();
        }
    }
    Ok(s)
}

fn effects(unit: &str, s: &UnitState) -> Vec<Effect> {
    let name = short(unit).to_string();
    vec![
        Effect::Flag(Flag::ServiceActive(name.clone()), s.is_active()),
        Effect::Flag(Flag::ServiceEnabled(name.clone()), s.is_enabled()),
        Effect::Flag(Flag::ServiceMasked(name), s.is_masked()),
    ]
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SvcOpts {
    /// Seconds before the systemctl command is killed.
    timeout: Option<u64>,
}

fn systemctl(
    nc: NativeCallContext,
    action: &str,
    unit: &str,
    opts: Option<Map>,
) -> RResult<StepResult> {
    let o: SvcOpts = from_map("systemctl", opts)?;
    let verb = Verb::parse(action).ok_or_else(|| {
        usage(format!(
            "systemctl: unknown action `{action}`; use one of {VERBS}"
        ))
    })?;
    if unit.trim().is_empty() && verb != Verb::DaemonReload {
        return Err(usage(format!("systemctl: `{action}` needs a unit name")));
    }
    let summary = if verb == Verb::DaemonReload {
        "daemon-reload".to_string()
    } else {
        format!(
            "{} {unit}",
            action.split_whitespace().collect::<Vec<_>>().join(" ")
        )
    };
    let mut call = Call::begin(&nc, "systemctl", summary)?;
    // A host whose PID 1 is not systemd (a container, a sandbox VM) has no units to manage: say
    // so here, in a plan too, instead of predicting changes systemctl cannot make there. Facts
    // that do not say (empty `init`) are taken as systemd.
    let init = call.target.facts().map(|f| f.init).unwrap_or_default();
    if !init.is_empty() && init != "systemd" {
        return Err(call.fail(format!(
            "this host does not run systemd (PID 1 is `{init}`), so systemd units cannot be managed here; use a host (VM or machine) booted with systemd"
        )));
    }
    // restart/reload need no probe to decide (a recorded one predicts from the probed state).
    let state = if verb.probes() {
        match probe_unit(&call, unit) {
            Ok(s) => s,
            Err(e) => return Err(call.fail(e)),
        }
    } else {
        UnitState::default()
    };
    let todo = decide(verb, unit, &state);
    if todo.is_empty() {
        return Ok(call.finish(Status::Ok));
    }
    let mut predicted = state.clone();
    for args in &todo {
        let mut argv = vec!["systemctl".to_string()];
        argv.extend(args.iter().cloned());
        if let Err(e) = act(&mut call, spec_of(&argv, &[], o.timeout), "systemctl") {
            return Err(call.fail(e));
        }
        predicted = after(&predicted, args);
    }
    if verb != Verb::DaemonReload {
        let predicted = call.predict(|call| {
            if verb.probes() {
                return Ok(effects(unit, &predicted));
            }
            let mut s = probe_unit(call, unit)?;
            for args in &todo {
                s = after(&s, args);
            }
            Ok(effects(unit, &s))
        });
        if let Err(e) = predicted {
            return Err(call.fail(e));
        }
    }
    Ok(call.finish(Status::Changed))
}

pub fn register(engine: &mut Engine) {
    reg(
        engine,
        "systemctl",
        &["action: &str", "Result"],
        &["`systemctl(\"daemon-reload\")`: reloads unit files (always acts)."],
        |nc: NativeCallContext, a: &str| systemctl(nc, a, "", None),
    );
    reg_with_opts!(
        engine,
        /// Manages a systemd unit: action is start, stop, restart, reload, enable, disable, "enable --now",
        /// "disable --now", mask, unmask or daemon-reload. start/stop/enable/disable/mask/unmask are probed
        /// (is-active, is-enabled) and `ok` when already so; restart, reload and daemon-reload always act:
        /// `if write_file("/etc/docker/daemon.json", cfg).changed { systemctl("restart", "docker") }`.
        /// Options: timeout (seconds).
        "systemctl": SvcOpts, ["action: &str", "unit: &str"], "Result", systemctl, (a: &str, u: &str)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(active: &str, enabled: &str) -> UnitState {
        UnitState {
            active: active.into(),
            enabled: enabled.into(),
        }
    }

    fn cmds(verb: &str, s: &UnitState) -> Vec<String> {
        decide(Verb::parse(verb).unwrap(), "kubelet", s)
            .iter()
            .map(|a| a.join(" "))
            .collect()
    }

    /// (action, is-active, is-enabled, the commands it runs): probed actions act only on what
    /// differs; restart, reload and daemon-reload always act.
    const CASES: &[(&str, &str, &str, &[&str])] = &[
        ("start", "active", "enabled", &[]),
        ("start", "failed", "enabled", &["start kubelet"]),
        ("stop", "inactive", "disabled", &[]),
        ("stop", "active", "disabled", &["stop kubelet"]),
        (
            "enable --now",
            "inactive",
            "disabled",
            &["enable --now kubelet"],
        ),
        ("enable --now", "inactive", "enabled", &["start kubelet"]),
        ("enable --now", "active", "disabled", &["enable kubelet"]),
        ("enable --now", "active", "enabled", &[]),
        ("enable", "inactive", "static", &[]),
        ("restart", "active", "enabled", &["restart kubelet"]),
        ("reload", "active", "enabled", &["reload kubelet"]),
        ("daemon-reload", "", "", &["daemon-reload"]),
        ("mask", "inactive", "masked", &[]),
        ("mask", "inactive", "disabled", &["mask kubelet"]),
        ("unmask", "inactive", "disabled", &[]),
        ("unmask", "inactive", "masked", &["unmask kubelet"]),
        ("disable", "inactive", "disabled", &[]),
        ("disable", "inactive", "", &[]),
        ("disable", "active", "enabled", &["disable kubelet"]),
    ];

    #[test]
    fn each_action_runs_what_the_state_needs() {
        for (verb, active, enabled, want) in CASES {
            assert_eq!(
                cmds(verb, &st(active, enabled)),
                *want,
                "{verb} on {active}/{enabled}"
            );
        }
    }

    #[test]
    fn predictions_follow_commands() {
        let s = after(
            &st("inactive", "disabled"),
            &["enable".into(), "--now".into()],
        );
        assert!(s.is_active() && s.is_enabled());
        assert!(Verb::parse("enable  --now").is_some());
        assert!(Verb::parse("bounce").is_none());
    }
}
