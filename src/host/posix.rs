//! File probes for hosts reached only through commands (SSH): parsing the `stat` answers, and a
//! `stat` as one POSIX shell round trip with the path passed as an argument (never spliced into
//! the script). Reads and writes are done by the SSH agent itself (`ssh/agent.sh`), which checks
//! lengths and checksums; there is no shell fallback for them.

use super::{CommandOutput, CommandSpec, FileStat, HostError, HostResult};

/// Exit code the scripts below use for "no such file".
const MISSING: i32 = 3;

pub type Runner<'a> = &'a dyn Fn(&CommandSpec) -> HostResult<CommandOutput>;

fn script(body: &str, args: &[&str]) -> CommandSpec {
    let mut argv = vec![
        "sh".to_string(),
        "-c".to_string(),
        body.to_string(),
        "galley".to_string(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    CommandSpec {
        argv,
        ..Default::default()
    }
}

fn failed(path: &str, out: &CommandOutput) -> HostError {
    let err = out.stderr_text();
    HostError::file(path, format!("exit {}: {}", out.rc, err.trim()))
}

pub fn stat(run: Runner, path: &str) -> HostResult<Option<FileStat>> {
    let out = run(&script(
        r#"[ -e "$1" ] || exit 3; exec stat -L -c '%F|%a|%U|%G|%s' -- "$1""#,
        &[path],
    ))?;
    match out.rc {
        0 => parse_stat(&out.stdout_text())
            .ok_or_else(|| failed(path, &out))
            .map(Some),
        MISSING => Ok(None),
        _ => Err(failed(path, &out)),
    }
}

/// Files up to this size come back with their `stat`, saving the round trip of the `read_file`
/// that usually follows.
pub const PREFETCH_MAX: u64 = 256 * 1024;

/// What a stat with prefetch found: the metadata, and the content when it came along
/// (`Some(None)`: the file does not exist).
pub type StatRead = (Option<FileStat>, Option<Option<Vec<u8>>>);

/// Reads a stat-and-read answer (the SSH agent's `S` request): exit 3 when missing; else the
/// `stat -c '%F|%a|%U|%G|%s'` line, then `+` and the content, or `-` when not prefetched.
pub fn parse_stat_read(path: &str, out: &CommandOutput) -> HostResult<StatRead> {
    match out.rc {
        0 => {}
        MISSING => return Ok((None, Some(None))),
        _ => return Err(failed(path, out)),
    }
    let mut parts = out.stdout.splitn(3, |b| *b == b'\n');
    let line = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let stat = parse_stat(&line).ok_or_else(|| failed(path, out))?;
    let content = match parts.next() {
        Some(b"+") => Some(Some(parts.next().unwrap_or_default().to_vec())),
        _ => None,
    };
    Ok((Some(stat), content))
}

/// Parses `stat -c '%F|%a|%U|%G|%s'`.
pub fn parse_stat(line: &str) -> Option<FileStat> {
    let mut it = line.trim().split('|');
    let kind = it.next()?;
    Some(FileStat {
        is_dir: kind == "directory",
        mode: u32::from_str_radix(it.next()?, 8).ok()?,
        owner: it.next()?.to_string(),
        group: it.next()?.to_string(),
        size: it.next()?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_read_answers() {
        let out = |rc, stdout: &[u8]| CommandOutput {
            rc,
            stdout: stdout.to_vec(),
            ..Default::default()
        };
        assert_eq!(
            parse_stat_read("/x", &out(3, b"")).unwrap(),
            (None, Some(None))
        );
        let (st, content) =
            parse_stat_read("/x", &out(0, b"regular file|600|root|root|6\n+\na\nb\n\n")).unwrap();
        assert_eq!(st.unwrap().mode, 0o600);
        assert_eq!(content, Some(Some(b"a\nb\n\n".to_vec())));
        let (st, content) =
            parse_stat_read("/d", &out(0, b"directory|755|root|root|4096\n-\n")).unwrap();
        assert!(st.unwrap().is_dir && content.is_none());
        assert!(parse_stat_read("/x", &out(1, b"")).is_err());
    }

    #[test]
    fn parses_gnu_stat_output() {
        let s = parse_stat("regular file|644|root|adm|12\n").unwrap();
        assert_eq!(
            (s.is_dir, s.mode, s.owner.as_str(), s.group.as_str(), s.size),
            (false, 0o644, "root", "adm", 12)
        );
        assert!(parse_stat("directory|755|root|root|4096").unwrap().is_dir);
        assert!(parse_stat("garbage").is_none());
    }
}
