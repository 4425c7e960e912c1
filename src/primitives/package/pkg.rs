//! `pkg`, which hands a call to `apt` or `yum` by the host's facts, and `pkg_version`, which
//! reads one installed version the way they read it (recording no action).

use rhai::{Dynamic, Map, NativeCallContext};

use super::apt::apt;
use super::decide::Family;
use super::installed::installed_of;
use super::yum::yum;
use super::PkgOpts;
use crate::executor::{Call, Ctx};
use crate::primitives::{step, usage, RResult, StepResult};

/// `pkg` picks by the host's family: apt on Debian/Ubuntu, yum/dnf on the RHEL family; other
/// hosts by the package manager the facts found.
pub fn manager_for(family: &str, pkg_manager: &str) -> Option<&'static str> {
    match (family, pkg_manager) {
        ("debian", _) | (_, "apt") => Some("apt"),
        ("redhat", _) | (_, "yum") | (_, "dnf") => Some("yum"),
        _ => None,
    }
}

pub fn pkg(nc: NativeCallContext, packages: Dynamic, opts: Option<Map>) -> RResult<StepResult> {
    let ctx = Ctx::of(&nc)?;
    let t = ctx.target()?;
    let f = t
        .facts()
        .map_err(|e| step(format!("pkg on {}: {e}", t.name())))?;
    match manager_for(&f.os.family, &f.pkg_manager) {
        Some("apt") => apt(nc, packages, opts),
        Some(_) => yum(nc, packages, opts),
        None => Err(step(format!(
            "pkg on {}: no supported package manager (os family `{}`, facts found `{}`); use yum() or apt()",
            t.name(),
            f.os.family,
            f.pkg_manager
        ))),
    }
}

/// `pkg_version(name)`: the installed version of one package (`1.37.2-150500.1.1`, `1.37.2-1.1`),
/// "" when it is not installed. Read the way `pkg` reads it: `rpm -q` or `dpkg-query` on a host,
/// the facts in a plan, and in check/plan an install earlier in the run counts (its pin, or `*`).
/// Records no action.
pub fn pkg_version(nc: NativeCallContext, name: &str) -> RResult<String> {
    if name.is_empty() || name.starts_with('-') || name.contains(char::is_whitespace) {
        return Err(usage(format!(
            "pkg_version: {name:?} is not a package name"
        )));
    }
    let ctx = Ctx::of(&nc)?;
    let t = ctx.target()?;
    let f = t
        .facts()
        .map_err(|e| step(format!("pkg_version on {}: {e}", t.name())))?;
    let family = match manager_for(&f.os.family, &f.pkg_manager) {
        Some("apt") => Family::Deb,
        Some(_) => Family::Rpm,
        None => {
            let why = format!(
                "os family `{}`, facts found `{}`",
                f.os.family, f.pkg_manager
            );
            let msg = format!(
                "pkg_version on {}: no supported package manager ({why})",
                t.name()
            );
            return Err(step(msg));
        }
    };
    let call = Call::begin(&nc, "pkg_version", name)?;
    let have = installed_of(&call, &[name.to_string()], family, &PkgOpts::default())
        .map_err(|e| step(format!("pkg_version on {}: {e}", call.host())))?;
    Ok(have.get(name).cloned().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkg_picks_by_family() {
        assert_eq!(manager_for("debian", "dnf"), Some("apt"));
        assert_eq!(manager_for("redhat", "yum"), Some("yum"));
        assert_eq!(manager_for("suse", "zypper"), None);
    }
}
