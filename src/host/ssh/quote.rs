//! Turns a command (argv, env, cwd) into one line of shell for the remote agent. Every word is
//! quoted for a POSIX shell; newlines inside words become `"$_gnl"` (a variable holding a newline
//! that the agent defines) so a command always fits on one framed line.

use crate::host::{CommandSpec, HostError, HostResult};

/// The variable the agent sets to a newline.
pub const NEWLINE_VAR: &str = "_gnl";

/// Quotes one word for a POSIX shell, keeping it on one line.
pub fn word(w: &str) -> HostResult<String> {
    let parts: Vec<String> = w
        .split('\n')
        .map(|p| {
            if p.is_empty() {
                Ok(String::new())
            } else {
                shlex::try_quote(p).map(|q| q.into_owned())
            }
        })
        .collect::<Result<_, _>>()
        .map_err(|_| HostError::Other(format!("argument {w:?} contains a NUL byte")))?;
    let joined = parts.join(&format!("\"${NEWLINE_VAR}\""));
    Ok(if joined.is_empty() {
        "''".into()
    } else {
        joined
    })
}

fn valid_name(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `cd -- DIR && export K=V && exec ARGV...`, on one line.
pub fn command_line(spec: &CommandSpec) -> HostResult<String> {
    if spec.argv.is_empty() {
        return Err(HostError::Other(
            "empty argv: give at least the program to run".into(),
        ));
    }
    let mut steps = Vec::new();
    if let Some(cwd) = &spec.cwd {
        steps.push(format!("cd -- {}", word(cwd)?));
    }
    for (k, v) in &spec.env {
        if !valid_name(k) {
            return Err(HostError::Other(format!(
                "environment variable name `{k}` is not valid (letters, digits and _, not starting with a digit)"
            )));
        }
        steps.push(format!("export {k}={}", word(v)?));
    }
    let argv: Vec<String> = spec
        .argv
        .iter()
        .map(|a| word(a))
        .collect::<Result<_, _>>()?;
    steps.push(format!("exec {}", argv.join(" ")));
    Ok(steps.join(" && "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Torture strings: spaces, quotes, `$`, `;`, globs, backslashes, newlines, non-ASCII, empty.
    pub const TORTURE: &[&str] = &[
        "plain",
        "two words",
        "it's",
        "\"double\"",
        "$HOME",
        "${x:-y}",
        "a;b && c | d",
        "`id`",
        "$(id)",
        "*",
        "back\\slash",
        "line1\nline2",
        "\n",
        "trailing\n\n",
        "tab\there",
        "ünïcödé ✓ 日本",
        "",
        "-n",
        "~",
        "!bang",
        "'\"'\"'",
    ];

    fn run_sh(line: &str) -> Vec<u8> {
        let script = format!("{NEWLINE_VAR}='\n'\n( {line} )");
        let out = Command::new("sh").args(["-c", &script]).output().unwrap();
        assert!(out.status.success(), "{:?}", out);
        out.stdout
    }

    #[test]
    fn words_round_trip_through_a_real_shell() {
        let mut argv = vec!["printf".to_string(), "%s\\0".to_string()];
        argv.extend(TORTURE.iter().map(|s| s.to_string()));
        let line = command_line(&CommandSpec::new(&argv)).unwrap();
        assert!(!line.contains('\n'), "{line}");
        let out = run_sh(&line);
        let got: Vec<String> = out
            .split(|b| *b == 0)
            .map(|p| String::from_utf8(p.to_vec()).unwrap())
            .collect();
        assert_eq!(&got[..TORTURE.len()], TORTURE);
    }

    #[test]
    fn env_and_cwd_are_quoted_too() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("a dir; $x 'q'\nnl");
        std::fs::create_dir(&odd).unwrap();
        let mut spec = CommandSpec::new(&["sh", "-c", "printf '%s|%s' \"$V\" \"$PWD\""]);
        spec.env = vec![("V".into(), "it's $HOME\n;x".into())];
        spec.cwd = Some(odd.to_string_lossy().into_owned());
        let out = String::from_utf8(run_sh(&command_line(&spec).unwrap())).unwrap();
        assert_eq!(out, format!("it's $HOME\n;x|{}", odd.display()));
    }

    #[test]
    fn rejects_what_cannot_be_expressed() {
        let mut spec = CommandSpec::new(&["true"]);
        spec.env = vec![("BAD-NAME".into(), "x".into())];
        assert!(command_line(&spec).is_err());
        assert!(command_line(&CommandSpec::new(&["a\0b"])).is_err());
        assert!(command_line(&CommandSpec::default()).is_err());
    }
}
