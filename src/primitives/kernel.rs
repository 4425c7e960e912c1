//! Host preparation the kubeadm chapter needs: `swapoff`, `selinux`, `sysctl` and `modprobe`.
//! Each changes the running kernel and persists the setting for the next boot (fstab,
//! /etc/selinux/config, /etc/sysctl.d, /etc/modules-load.d) in one action.

use rhai::{Dynamic, Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::act::{act, probe, spec_of};
use super::file::{decide_line, ensure_content};
use super::{from_map, reg, reg_with_opts, usage, Call, RResult, StepResult};
use crate::executor::overlay::Key;
use crate::executor::Fact;
use crate::facts::Fixture;
use crate::host::FileMeta;
use crate::report::Status;

/// Pure: whether `/proc/swaps` lists an active swap area (past its header line).
pub fn swap_listed(proc_swaps: &str) -> bool {
    proc_swaps.lines().skip(1).any(|l| !l.trim().is_empty())
}

/// Pure: fstab with every active swap line commented out; `None` when there is none.
pub fn comment_swap(fstab: &str) -> Option<String> {
    let mut changed = false;
    let lines: Vec<String> = fstab
        .lines()
        .map(|l| {
            let t = l.trim_start();
            let is_swap = !t.starts_with('#') && t.split_whitespace().nth(2) == Some("swap");
            if is_swap {
                changed = true;
                format!("# {l}")
            } else {
                l.to_string()
            }
        })
        .collect();
    changed.then(|| lines.join("\n") + "\n")
}

/// A file's text as this run sees it (predictions first), or `None`.
fn text_of(call: &Call, path: &str) -> Result<Option<String>, String> {
    Ok(call
        .target
        .read_file(path)
        .map_err(|e| e.to_string())?
        .map(|b| String::from_utf8_lossy(&b).into_owned()))
}

fn predicted(call: &Call, key: &Key) -> Option<Option<String>> {
    call.target.overlay().get(key)
}

fn done(call: Call, changed: bool) -> StepResult {
    call.finish(if changed { Status::Changed } else { Status::Ok })
}

/// Whether swap is on: `/proc/swaps` lists a device on a live host (none without the file); a
/// facts file's `/proc/swaps`, else its `swap_mb`.
struct SwapOn;

impl Fact for SwapOn {
    type Value = bool;

    fn probe(&self, call: &Call) -> Result<bool, String> {
        Ok(text_of(call, "/proc/swaps")?.is_some_and(|t| swap_listed(&t)))
    }

    fn answer_from_file(&self, call: &Call, fixture: &Fixture) -> Result<bool, String> {
        Ok(match text_of(call, "/proc/swaps")? {
            Some(t) => swap_listed(&t),
            None => fixture.facts.swap_mb > 0,
        })
    }
}

fn swapoff(nc: NativeCallContext) -> RResult<StepResult> {
    let mut call = Call::begin(&nc, "swapoff", "swap off now and at boot")?;
    match swapoff_steps(&mut call) {
        Ok(changed) => Ok(done(call, changed)),
        Err(e) => Err(call.fail(e)),
    }
}

fn swapoff_steps(call: &mut Call) -> Result<bool, String> {
    let active = match predicted(call, &Key::SwapActive) {
        Some(v) => v.as_deref() == Some("true"),
        None => call.fact(&SwapOn)?,
    };
    let mut changed = false;
    if active {
        act(
            call,
            spec_of(&["swapoff".into(), "-a".into()], &[], None),
            "swapoff",
        )?;
        call.target
            .overlay()
            .set(Key::SwapActive, Some("false".into()));
        changed = true;
    }
    if let Some(fstab) = text_of(call, "/etc/fstab")? {
        if let Some(new) = comment_swap(&fstab) {
            changed |= ensure_content(
                call,
                "/etc/fstab",
                new.as_bytes(),
                &FileMeta::default(),
                true,
            )?;
        }
    }
    Ok(changed)
}

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

/// The running SELinux mode (`None`: SELinux is not installed): `getenforce` on a live host; a
/// facts file's recorded `getenforce`, else the mode its config file sets (the one the host
/// booted with).
struct RunningSelinux;

impl Fact for RunningSelinux {
    type Value = Option<SeMode>;

    fn probe(&self, call: &Call) -> Result<Option<SeMode>, String> {
        let argv: Vec<String> = [
            "sh",
            "-c",
            "command -v getenforce >/dev/null 2>&1 || exit 127; getenforce",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = probe(call, &argv, "getenforce")?;
        Ok(match out.rc {
            127 => None,
            _ => SeMode::parse(&out.stdout_text()),
        })
    }

    fn answer_from_file(&self, call: &Call, fixture: &Fixture) -> Result<Option<SeMode>, String> {
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

fn live_selinux(call: &Call) -> Result<Option<SeMode>, String> {
    if let Some(Some(v)) = predicted(call, &Key::SelinuxMode) {
        return Ok(SeMode::parse(&v));
    }
    call.fact(&RunningSelinux)
}

fn selinux(nc: NativeCallContext, state: &str) -> RResult<StepResult> {
    let want = SeMode::parse(state).ok_or_else(|| {
        usage(format!(
            "selinux: unknown state `{state}`; use \"enforcing\", \"permissive\" or \"disabled\""
        ))
    })?;
    let mut call = Call::begin(&nc, "selinux", want.word())?;
    let run = |call: &mut Call| -> Result<bool, String> {
        let live = live_selinux(call)?;
        let config = text_of(call, SE_CONFIG)?;
        if live.is_none() && config.is_none() {
            call.action.summary.push_str(" (SELinux is not installed)");
            return Ok(false);
        }
        let c = decide_selinux(want, live, config.as_deref());
        let mut changed = false;
        if let Some(v) = c.setenforce {
            act(
                call,
                spec_of(&["setenforce".into(), v.into()], &[], None),
                "setenforce",
            )?;
            let now = if v == "1" { "enforcing" } else { "permissive" };
            call.target
                .overlay()
                .set(Key::SelinuxMode, Some(now.into()));
            changed = true;
        }
        if let Some(new) = c.config {
            changed |=
                ensure_content(call, SE_CONFIG, new.as_bytes(), &FileMeta::default(), false)?;
        }
        Ok(changed)
    };
    match run(&mut call) {
        Ok(changed) => Ok(done(call, changed)),
        Err(e) => Err(call.fail(e)),
    }
}

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
struct SysctlOpts {
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

fn sysctl(
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
    let run = |call: &mut Call| -> Result<bool, String> {
        let okey = Key::Sysctl(key.to_string());
        let live = match predicted(call, &okey) {
            Some(v) => v,
            None => text_of(call, &sysctl_path(key))?,
        };
        let mut changed = false;
        if !live.as_deref().is_some_and(|l| same_value(l, &value)) {
            let argv = vec!["sysctl".into(), "-w".into(), format!("{key}={value}")];
            act(call, spec_of(&argv, &[], None), "sysctl")?;
            call.target.overlay().set(okey.clone(), Some(value.clone()));
            changed = true;
        }
        if o.persist != Some(false) {
            let old = text_of(call, &file)?.unwrap_or_default();
            let re = regex::bytes::Regex::new(&format!(r"^\s*{}\s*=", regex::escape(key)))
                .map_err(|e| e.to_string())?;
            if let Some(new) = decide_line(old.as_bytes(), &format!("{key} = {value}"), Some(&re)) {
                changed |= ensure_content(call, &file, &new, &FileMeta::default(), false)?;
            }
        }
        Ok(changed)
    };
    match run(&mut call) {
        Ok(changed) => Ok(done(call, changed)),
        Err(e) => Err(call.fail(e)),
    }
}

/// Pure: whether `/proc/modules` lists the module (`-` and `_` are the same to the kernel).
pub fn module_listed(proc_modules: &str, module: &str) -> bool {
    let want = module.replace('-', "_");
    proc_modules
        .lines()
        .any(|l| l.split_whitespace().next() == Some(want.as_str()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModOpts {
    /// `false`: load now only, without /etc/modules-load.d/<module>.conf.
    persist: Option<bool>,
}

fn modprobe(nc: NativeCallContext, module: &str, opts: Option<Map>) -> RResult<StepResult> {
    let o: ModOpts = from_map("modprobe", opts)?;
    let valid = !module.is_empty()
        && module
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if !valid {
        return Err(usage(format!(
            "modprobe: `{module}` is not a kernel module name"
        )));
    }
    let mut call = Call::begin(&nc, "modprobe", module)?;
    let run = |call: &mut Call| -> Result<bool, String> {
        let key = Key::Module(module.replace('-', "_"));
        let loaded = match predicted(call, &key) {
            Some(v) => v.is_some(),
            None => {
                let listed =
                    text_of(call, "/proc/modules")?.is_some_and(|t| module_listed(&t, module));
                // Built-in modules are not in /proc/modules but have /sys/module/<name>.
                let sys = format!("/sys/module/{}", module.replace('-', "_"));
                listed || call.target.stat(&sys).map_err(|e| e.to_string())?.is_some()
            }
        };
        let mut changed = false;
        if !loaded {
            act(
                call,
                spec_of(&["modprobe".into(), module.into()], &[], None),
                "modprobe",
            )?;
            call.target
                .overlay()
                .set(key.clone(), Some("loaded".into()));
            changed = true;
        }
        if o.persist != Some(false) {
            let path = format!("/etc/modules-load.d/{module}.conf");
            let content = format!("{module}\n");
            changed |=
                ensure_content(call, &path, content.as_bytes(), &FileMeta::default(), false)?;
        }
        Ok(changed)
    };
    match run(&mut call) {
        Ok(changed) => Ok(done(call, changed)),
        Err(e) => Err(call.fail(e)),
    }
}

pub fn register(engine: &mut Engine) {
    super::options::schema::<SysctlOpts>("sysctl");
    super::options::schema::<ModOpts>("modprobe");
    reg(engine, "swapoff", &["Result"], &[
        "Turns swap off now (`swapoff -a`, when /proc/swaps lists any) and at boot (swap lines in",
        "/etc/fstab commented out, the old file kept as a backup). `ok` when both are already so.",
    ], swapoff);
    reg(engine, "selinux", &["state: &str", "Result"], &[
        "Sets SELinux to \"enforcing\", \"permissive\" or \"disabled\": `setenforce` when the live mode differs",
        "(and SELinux is on), and the SELINUX= line of /etc/selinux/config. `ok` on hosts without SELinux.",
    ], selinux);
    const SYSCTL: &[&str] = &[
        "Sets a kernel parameter: `sysctl -w` when the live value differs, persisted as `key = value` in",
        "/etc/sysctl.d/99-galley.conf. Options: file (another persistence file), persist (false: live only).",
    ];
    reg_with_opts!(engine, "sysctl", ["key: &str", "value: Dynamic"], "Result", SYSCTL, sysctl, (k: &str, v: Dynamic));
    const MODPROBE: &[&str] = &[
        "Loads a kernel module when /proc/modules (or /sys/module) does not show it, and lists it in",
        "/etc/modules-load.d/<module>.conf for the next boot. Options: persist (false: load only).",
    ];
    reg_with_opts!(engine, "modprobe", ["module: &str"], "Result", MODPROBE, modprobe, (m: &str));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps() {
        assert!(!swap_listed(
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        ));
        assert!(swap_listed(
            "Filename\tType\tSize\tUsed\tPriority\n/dev/dm-1 partition 2097148 0 -2\n"
        ));
    }

    #[test]
    fn fstab_swap_lines_commented() {
        let centos7 =
            "UUID=2b1c / xfs defaults 0 0\n/dev/mapper/centos-swap swap swap defaults 0 0\n";
        assert_eq!(
            comment_swap(centos7).unwrap(),
            "UUID=2b1c / xfs defaults 0 0\n# /dev/mapper/centos-swap swap swap defaults 0 0\n"
        );
        assert_eq!(
            comment_swap("# /swapfile none swap sw 0 0\n/ / ext4 defaults 0 1\n"),
            None
        );
        assert_eq!(
            comment_swap("/swapfile none swap sw 0 0").unwrap(),
            "# /swapfile none swap sw 0 0\n"
        );
    }

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

    #[test]
    fn sysctl_paths_and_values() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward"),
            "/proc/sys/net/ipv4/ip_forward"
        );
        assert!(same_value("32768\t60999\n", "32768 60999"));
        assert!(!same_value("0\n", "1"));
    }

    #[test]
    fn modules() {
        let m = "br_netfilter 32768 0 - Live 0x0\noverlay 151552 0 - Live 0x0\n";
        assert!(module_listed(m, "br_netfilter"));
        assert!(module_listed(m, "br-netfilter"));
        assert!(!module_listed(m, "ip_vs"));
    }
}
