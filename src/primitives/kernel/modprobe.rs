//! `modprobe(module)`: a kernel module loaded when /proc/modules (or /sys/module, for built-in
//! ones) does not show it, and listed in /etc/modules-load.d for the next boot, in one action.
//! A system container (an nspawn or LXC node) has neither file, and cannot load modules, yet its
//! kernel may well have what the module brings: for the modules Kubernetes nodes need, what the
//! module provides is looked for too (`provided`), so such a host is not refused for a module
//! that is there.

use crate::error::StepError;
use rhai::{Map, NativeCallContext};
use serde::Deserialize;

use super::{persist, predicted_flag, set_live, text_of};
use crate::executor::overlay::Flag;
use crate::executor::{Call, Effect};
use crate::primitives::{from_map, usage, RResult, StepResult};

/// Pure: whether `/proc/modules` lists the module (`-` and `_` are the same to the kernel).
pub fn module_listed(proc_modules: &str, module: &str) -> bool {
    let want = module.replace('-', "_");
    proc_modules
        .lines()
        .any(|l| l.split_whitespace().next() == Some(want.as_str()))
}

/// Pure: whether /proc/filesystems lists `fs` (`nodev\toverlay`).
pub fn filesystem_listed(proc_filesystems: &str, fs: &str) -> bool {
    proc_filesystems
        .lines()
        .any(|l| l.split_whitespace().last() == Some(fs))
}

/// Whether the kernel already provides what `module` brings, seen where a container can see it:
/// the overlay filesystem in /proc/filesystems, br_netfilter's /proc/sys/net/bridge.
fn provided(call: &Call, module: &str) -> Result<bool, StepError> {
    match module.replace('-', "_").as_str() {
        "overlay" => {
            Ok(text_of(call, "/proc/filesystems")?
                .is_some_and(|t| filesystem_listed(&t, "overlay")))
        }
        "br_netfilter" => Ok(call.target.stat("/proc/sys/net/bridge")?.is_some()),
        _ => Ok(false),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModOpts {
    /// `false`: load now only, without /etc/modules-load.d/<module>.conf.
    persist: Option<bool>,
}

/// Loads `module` and (unless `persist: false`) lists it for the next boot; whether anything
/// changed.
fn modprobe_steps(call: &mut Call, module: &str, o: &ModOpts) -> Result<bool, StepError> {
    let key = Flag::Module(module.replace('-', "_"));
    let loaded = match predicted_flag(call, &key) {
        Some(v) => v,
        None => {
            let listed = text_of(call, "/proc/modules")?.is_some_and(|t| module_listed(&t, module));
            // Built-in modules are not in /proc/modules but have /sys/module/<name>.
            let sys = format!("/sys/module/{}", module.replace('-', "_"));
            listed || call.target.stat(&sys)?.is_some() || provided(call, module)?
        }
    };
    let mut changed = false;
    if !loaded {
        set_live(call, &["modprobe", module], Effect::Flag(key, true))?;
        changed = true;
    }
    if o.persist != Some(false) {
        let path = format!("/etc/modules-load.d/{module}.conf");
        let content = format!("{module}\n");
        changed |= persist(call, &path, content.as_bytes(), false)?;
    }
    Ok(changed)
}

pub fn modprobe(nc: NativeCallContext, module: &str, opts: Option<Map>) -> RResult<StepResult> {
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
    let changed = modprobe_steps(&mut call, module, &o);
    call.conclude(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules() {
        let m = "br_netfilter 32768 0 - Live 0x0\noverlay 151552 0 - Live 0x0\n";
        assert!(module_listed(m, "br_netfilter"));
        assert!(module_listed(m, "br-netfilter"));
        assert!(!module_listed(m, "ip_vs"));
    }

    #[test]
    fn filesystems() {
        let f = "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n";
        assert!(filesystem_listed(f, "overlay"));
        assert!(filesystem_listed(f, "ext4"));
        assert!(!filesystem_listed(f, "btrfs"));
        assert!(!filesystem_listed("nodev\toverlayfs\n", "overlay"));
    }
}
