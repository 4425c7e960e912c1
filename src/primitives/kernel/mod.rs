//! Host preparation the kubeadm chapter needs: `swapoff`, `selinux`, `sysctl` and `modprobe`,
//! one file each. Each changes the running kernel and persists the setting for the next boot
//! (fstab, /etc/selinux/config, /etc/sysctl.d, /etc/modules-load.d) in one action. This file
//! holds the registration and what they share: a file's text and a setting as this run sees
//! them (predictions first).

mod modprobe;
mod selinux;
mod swap;
mod sysctl;

use crate::error::StepError;
use rhai::{Dynamic, Engine};

use super::file::ensure_content;
use super::{reg, reg_with_opts, Call};
use crate::executor::overlay::{Flag, Key};
use crate::executor::{act, spec_of, Effect};
use crate::host::FileMeta;
pub use modprobe::module_listed;
use modprobe::{modprobe, ModOpts};
use selinux::selinux;
pub use selinux::{decide_selinux, SeChanges, SeMode, GETENFORCE_SH};
use swap::swapoff;
pub use swap::{comment_swap, swap_listed};
pub use sysctl::{same_value, sysctl_path};
use sysctl::{sysctl, SysctlOpts};

/// A file's text as this run sees it (predictions first), or `None`.
fn text_of(call: &Call, path: &str) -> Result<Option<String>, StepError> {
    Ok(call
        .target
        .read_file(path)?
        .map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// Changes the running kernel with `argv` (recorded in the action, run in apply) and predicts
/// the setting it leaves (`now`), so later steps of the run see it.
fn set_live(call: &mut Call, argv: &[&str], now: Effect) -> Result<(), StepError> {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    act(call, spec_of(&argv, &[], None), argv[0].as_str())?;
    call.predict(|_| Ok(vec![now]))
}

/// Persists a setting for the next boot: `path` holds `content` (written when it differs; with
/// `backup`, the old file is kept). Whether it changed.
fn persist(call: &mut Call, path: &str, content: &[u8], backup: bool) -> Result<bool, StepError> {
    ensure_content(call, path, content, &FileMeta::default(), backup)
}

/// What an earlier step of this run predicted for a setting.
fn predicted(call: &Call, key: &Key) -> Option<Option<String>> {
    call.target.overlay().get(key)
}

/// What an earlier step of this run predicted for a yes-or-no setting.
fn predicted_flag(call: &Call, flag: &Flag) -> Option<bool> {
    call.target.overlay().flag(flag)
}

pub fn register(engine: &mut Engine) {
    reg(engine, "swapoff", &["Result"], &[
        "Turns swap off now (`swapoff -a`, when /proc/swaps lists any) and at boot (swap lines in",
        "/etc/fstab commented out, the old file kept as a backup). `ok` when both are already so.",
    ], swapoff);
    reg(engine, "selinux", &["state: &str", "Result"], &[
        "Sets SELinux to \"enforcing\", \"permissive\" or \"disabled\": `setenforce` when the live mode differs",
        "(and SELinux is on), and the SELINUX= line of /etc/selinux/config. `ok` on hosts without SELinux.",
    ], selinux);
    reg_with_opts!(
        engine,
        /// Sets a kernel parameter: `sysctl -w` when the live value differs, persisted as `key = value` in
        /// /etc/sysctl.d/99-galley.conf. Options: file (another persistence file), persist (false: live only).
        "sysctl": SysctlOpts, ["key: &str", "value: Dynamic"], "Result", sysctl, (k: &str, v: Dynamic)
    );
    reg_with_opts!(
        engine,
        /// Loads a kernel module when /proc/modules (or /sys/module) does not show it, and lists it in
        /// /etc/modules-load.d/<module>.conf for the next boot. Options: persist (false: load only).
        "modprobe": ModOpts, ["module: &str"], "Result", modprobe, (m: &str)
    );
}
