//! Meta-commands: lines starting with `:` talk to the session itself (mode, current host, saving)
//! instead of running Rhai. This module parses them; the session carries them out.

use crate::engine::{params::parse_set, Mode};

/// Each meta-command with its one-line help.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        ":help",
        ":help [NAME]          what a primitive, function, module or meta-command does",
    ),
    (
        ":mode",
        ":mode apply|check|plan [PROFILE|FACTS]  switch mode (plan: facts from a profile or file)",
    ),
    (
        ":host",
        ":host NAME|GROUP      the host (or every host of a group) that statements act on",
    ),
    (
        ":hosts",
        ":hosts                the hosts and groups of this session",
    ),
    (":facts", ":facts                the current host's facts"),
    (
        ":run",
        ":run RECIPE [k=v ...]  run a recipe here, on this session's hosts and mode",
    ),
    (
        ":plan",
        ":plan                 the actions recorded so far (what would change, in check/plan)",
    ),
    (
        ":save",
        ":save FILE            write the statements that succeeded as a recipe (:save! overwrites)",
    ),
    (":quit", ":quit                 leave (Ctrl-D too)"),
];

#[derive(Debug, Clone, PartialEq)]
pub enum Meta {
    Help(Option<String>),
    /// The mode and, for plan, a profile name or facts file.
    Mode(Mode, Option<String>),
    Host(String),
    Hosts,
    Facts,
    Run(String, Vec<(String, String)>),
    Plan,
    Save {
        path: String,
        overwrite: bool,
    },
    Quit,
}

fn usage_of(cmd: &str) -> String {
    COMMANDS
        .iter()
        .find(|(c, _)| *c == cmd)
        .map_or(String::new(), |(_, u)| {
            format!("usage: {}", u.split("  ").next().unwrap_or(u).trim())
        })
}

/// Parses a line starting with `:`.
pub fn parse(line: &str) -> Result<Meta, String> {
    let words = shlex::split(line.trim())
        .ok_or_else(|| format!("unbalanced quotes in `{}`", line.trim()))?;
    let Some((cmd, args)) = words.split_first() else {
        return Err("empty meta-command".into());
    };
    let one = |args: &[String]| -> Result<String, String> {
        match args {
            [a] => Ok(a.clone()),
            _ => Err(usage_of(cmd.trim_end_matches('!'))),
        }
    };
    let none = |m: Meta| -> Result<Meta, String> {
        if args.is_empty() {
            Ok(m)
        } else {
            Err(usage_of(cmd))
        }
    };
    match cmd.as_str() {
        ":help" | ":h" | ":?" => match args {
            [] => Ok(Meta::Help(None)),
            [a] => Ok(Meta::Help(Some(a.clone()))),
            _ => Err(usage_of(":help")),
        },
        ":mode" => mode(args),
        ":host" => Ok(Meta::Host(one(args)?)),
        ":hosts" => none(Meta::Hosts),
        ":facts" => none(Meta::Facts),
        ":plan" => none(Meta::Plan),
        ":quit" | ":q" | ":exit" => none(Meta::Quit),
        ":save" | ":save!" => Ok(Meta::Save {
            path: one(args)?,
            overwrite: cmd.ends_with('!'),
        }),
        ":run" => {
            let (recipe, sets) = args.split_first().ok_or_else(|| usage_of(":run"))?;
            let sets = sets
                .iter()
                .map(|s| parse_set(s).map_err(|e| e.to_string().replace("--set", ":run")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Meta::Run(recipe.clone(), sets))
        }
        other => {
            let known: Vec<&str> = COMMANDS.iter().map(|(c, _)| *c).collect();
            Err(format!(
                "unknown meta-command `{other}`; known: {}",
                known.join(", ")
            ))
        }
    }
}

fn mode(args: &[String]) -> Result<Meta, String> {
    let (m, rest) = args.split_first().ok_or_else(|| usage_of(":mode"))?;
    let mode = match m.as_str() {
        "apply" => Mode::Apply,
        "check" => Mode::Check,
        "plan" => Mode::Plan,
        other => return Err(format!("unknown mode `{other}`; modes: apply, check, plan")),
    };
    match rest {
        [] => Ok(Meta::Mode(mode, None)),
        [src] if mode == Mode::Plan => Ok(Meta::Mode(mode, Some(src.clone()))),
        _ => Err(usage_of(":mode")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_command() {
        assert_eq!(parse(":help").unwrap(), Meta::Help(None));
        assert_eq!(parse(":help run").unwrap(), Meta::Help(Some("run".into())));
        assert_eq!(parse(":mode check").unwrap(), Meta::Mode(Mode::Check, None));
        assert_eq!(
            parse(":mode plan centos7").unwrap(),
            Meta::Mode(Mode::Plan, Some("centos7".into()))
        );
        assert_eq!(
            parse(":host workers").unwrap(),
            Meta::Host("workers".into())
        );
        assert_eq!(
            parse(":run docker profile=book 'x=a b'").unwrap(),
            Meta::Run(
                "docker".into(),
                vec![
                    ("profile".into(), "book".into()),
                    ("x".into(), "a b".into())
                ]
            )
        );
        assert_eq!(
            parse(":save! out.rhai").unwrap(),
            Meta::Save {
                path: "out.rhai".into(),
                overwrite: true
            }
        );
        assert_eq!(parse(":quit").unwrap(), Meta::Quit);
    }

    #[test]
    fn mistakes_say_what_is_expected() {
        assert_eq!(parse(":host").unwrap_err(), "usage: :host NAME|GROUP");
        assert_eq!(
            parse(":mode fast").unwrap_err(),
            "unknown mode `fast`; modes: apply, check, plan"
        );
        assert!(parse(":mode check centos7").is_err());
        assert!(parse(":run docker novalue")
            .unwrap_err()
            .contains(":run expects key=value"));
        assert!(parse(":frobnicate")
            .unwrap_err()
            .contains("known: :help, :mode"));
        assert_eq!(parse(":save").unwrap_err(), "usage: :save FILE");
    }
}
