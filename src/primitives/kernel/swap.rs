//! `swapoff`: swap off now (`swapoff -a` while /proc/swaps lists an area) and at boot (the
//! swap lines of /etc/fstab commented out), in one action; the kubelet refuses to run with swap.

use crate::error::StepError;
use rhai::NativeCallContext;

use super::{persist, predicted_flag, set_live, text_of};
use crate::executor::overlay::Flag;
use crate::executor::{Call, Effect, Fact};
use crate::facts::Fixture;
use crate::primitives::{RResult, StepResult};

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

/// Whether swap is on: `/proc/swaps` lists a device on a live host (none without the file); a
/// facts file's `/proc/swaps`, else its `swap_mb`.
struct SwapOn;

impl Fact for SwapOn {
    type Value = bool;

    fn probe(&self, call: &Call) -> Result<bool, StepError> {
        Ok(text_of(call, "/proc/swaps")?.is_some_and(|t| swap_listed(&t)))
    }

    fn answer_from_file(&self, call: &Call, fixture: &Fixture) -> Result<bool, StepError> {
        Ok(match text_of(call, "/proc/swaps")? {
            Some(t) => swap_listed(&t),
            None => fixture.facts.swap_mb > 0,
        })
    }
}

pub fn swapoff(nc: NativeCallContext) -> RResult<StepResult> {
    let mut call = Call::begin(&nc, "swapoff", "swap off now and at boot")?;
    let changed = swapoff_steps(&mut call);
    call.conclude(changed)
}

fn swapoff_steps(call: &mut Call) -> Result<bool, StepError> {
    let active = match predicted_flag(call, &Flag::SwapActive) {
        Some(v) => v,
        None => call.fact(&SwapOn)?,
    };
    let mut changed = false;
    if active {
        set_live(
            call,
            &["swapoff", "-a"],
            Effect::Flag(Flag::SwapActive, false),
        )?;
        changed = true;
    }
    if let Some(fstab) = text_of(call, "/etc/fstab")? {
        if let Some(new) = comment_swap(&fstab) {
            changed |= persist(call, "/etc/fstab", new.as_bytes(), true)?;
        }
    }
    Ok(changed)
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
}
