//! `yum` (RHEL family, through yum on EL7 or dnf on EL8+): the program to run, its argv and
//! options, and what yum does its own way in a call: `clean expire-cache` and `check-update` to
//! find updates, `downgrade` for older pins. The rest of the call is the shared converge path.

use crate::error::StepError;
use rhai::{Dynamic, Map, NativeCallContext};

use super::decide::{Family, PkgChanges};
use super::parse::{parse_check_update, Installed};
use super::version::{parse_rpm, Wanted};
use super::{package_call, run_each, Manager, Names, PkgOpts, Printed, State};
use crate::executor::{probe, spec_of, Call};
use crate::primitives::{from_map, RResult, StepResult};

/// The yum/dnf program: the option, else what the facts found (`yum` on EL7, `dnf` on EL8+).
fn yum_program(call: &Call, o: &PkgOpts) -> Result<String, StepError> {
    if let Some(m) = &o.manager {
        return Ok(m.clone());
    }
    let facts = call.target.facts()?;
    Ok(match facts.pkg_manager.as_str() {
        "dnf" => "dnf".into(),
        _ => "yum".into(),
    })
}

/// `yum|dnf <verb> -y <options> <packages>`.
pub fn yum_argv(program: &str, verb: &str, o_args: &[String], pkgs: &[String]) -> Vec<String> {
    let mut argv = vec![program.to_string(), verb.to_string(), "-y".to_string()];
    argv.extend(o_args.iter().cloned());
    argv.extend(pkgs.iter().cloned());
    argv
}

fn yum_options(program: &str, o: &PkgOpts) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(r) = &o.installroot {
        args.push(format!("--installroot={r}"));
    }
    if let Some(x) = &o.disable_excludes {
        args.push(format!("--disableexcludes={x}"));
    }
    for r in o.enable_repo.as_ref().map(|r| r.list()).unwrap_or_default() {
        args.push(format!("--enablerepo={r}"));
    }
    if o.update_cache && program != "yum" {
        args.push("--refresh".into());
    }
    args.extend(o.extra_args.clone().unwrap_or_default());
    args
}

/// yum or dnf, with the call's options and the arguments every command of the call takes.
struct Yum<'a> {
    program: String,
    args: Vec<String>,
    o: &'a PkgOpts,
}

impl Manager for Yum<'_> {
    const FAMILY: Family = Family::Rpm;

    fn updatable(
        &self,
        call: &Call,
        wanted: &[Wanted],
        have: &Installed,
    ) -> Result<Names, StepError> {
        let (program, o) = (&self.program, self.o);
        if o.update_cache && program == "yum" {
            probe(
                call,
                &yum_argv(program, "clean", &[], &["expire-cache".into()]),
                "yum",
            )?;
        }
        let installed_plain: Vec<String> = wanted
            .iter()
            .filter(|w| w.version.is_none() && have.contains_key(&w.name))
            .map(|w| w.name.clone())
            .collect();
        if o.state != State::Latest || installed_plain.is_empty() {
            return Ok(Names::new());
        }
        let mut argv = vec![program.clone(), "check-update".into()];
        argv.extend(self.args.iter().cloned());
        argv.extend(installed_plain.iter().cloned());
        let out = probe(call, &argv, "check-update")?;
        match out.rc {
            0 => Ok(Names::new()),
            100 => {
                let set: Names = installed_plain.iter().cloned().collect();
                Ok(parse_check_update(&out.stdout_text(), &set))
            }
            rc => Err(format!(
                "`{}` failed (exit code {rc}): {}",
                argv.join(" "),
                out.stderr_text().trim()
            )
            .into()),
        }
    }

    fn apply(&self, call: &mut Call, _: &[Wanted], c: &PkgChanges) -> Result<Printed, StepError> {
        let (program, o) = (&self.program, self.o);
        let upgrade_verb = if program == "yum" {
            "update"
        } else {
            "upgrade"
        };
        let kinds = [
            ("remove", &c.remove),
            ("install", &c.install),
            ("downgrade", &c.downgrade),
            (upgrade_verb, &c.upgrade),
        ];
        run_each(call, program, &kinds, |verb, list| {
            spec_of(&yum_argv(program, verb, &self.args, list), &[], o.timeout)
        })
    }
}

pub fn yum(nc: NativeCallContext, packages: Dynamic, opts: Option<Map>) -> RResult<StepResult> {
    let o: PkgOpts = from_map("yum", opts)?;
    package_call(nc, "yum", packages, &o, parse_rpm, |call| {
        let program = yum_program(call, &o)?;
        let args = yum_options(&program, &o);
        Ok(Yum {
            program,
            args,
            o: &o,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_shape() {
        assert_eq!(
            yum_argv(
                "yum",
                "install",
                &["--disableexcludes=kubernetes".into()],
                &["kubelet".into()]
            ),
            vec![
                "yum",
                "install",
                "-y",
                "--disableexcludes=kubernetes",
                "kubelet"
            ]
        );
    }
}
