//! File operations for hosts reached only through commands (SSH): each is one POSIX shell
//! round trip, with the path passed as an argument (never spliced into the script).

use super::{CommandOutput, CommandSpec, FileMeta, FileStat, HostError, HostResult};

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

pub fn read_file(run: Runner, path: &str) -> HostResult<Option<Vec<u8>>> {
    let out = run(&script(
        // A FIFO or a device would block `cat` (and the run) until someone writes to it.
        r#"[ -e "$1" ] || exit 3; [ -f "$1" ] || { echo "it is a $(stat -L -c %F -- "$1"), not a regular file (reading it could block forever)" >&2; exit 4; }; exec cat -- "$1""#,
        &[path],
    ))?;
    match out.rc {
        0 => Ok(Some(out.stdout)),
        MISSING => Ok(None),
        _ => Err(failed(path, &out)),
    }
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

const WRITE: &str = r#"set -e
p=$1; d=$(dirname -- "$p"); b=$(basename -- "$p")
t=$(mktemp "$d/.$b.galley-XXXXXX")
trap 'rm -f -- "$t"' EXIT
cat > "$t"
if [ -e "$p" ]; then chmod --reference="$p" -- "$t"; chown --reference="$p" -- "$t"; else chmod 644 -- "$t"; fi
[ -z "$2" ] || chmod "$2" -- "$t"
[ -z "$3" ] || chown "$3" -- "$t"
[ -z "$4" ] || chgrp "$4" -- "$t"
sync -- "$t" 2>/dev/null || true
mv -f -- "$t" "$p"
trap - EXIT"#;

fn meta_args(meta: &FileMeta) -> [String; 3] {
    [
        meta.mode.map(|m| format!("{m:o}")).unwrap_or_default(),
        meta.owner.clone().unwrap_or_default(),
        meta.group.clone().unwrap_or_default(),
    ]
}

pub fn write_file(run: Runner, path: &str, content: &[u8], meta: &FileMeta) -> HostResult<()> {
    let [m, o, g] = meta_args(meta);
    let mut spec = script(WRITE, &[path, &m, &o, &g]);
    spec.stdin = Some(content.to_vec());
    let out = run(&spec)?;
    if out.rc != 0 {
        return Err(failed(path, &out));
    }
    Ok(())
}

const MKDIR: &str = r#"set -e
mkdir -p -- "$1"
[ -z "$2" ] || chmod "$2" -- "$1"
[ -z "$3" ] || chown "$3" -- "$1"
[ -z "$4" ] || chgrp "$4" -- "$1""#;

pub fn ensure_dir(run: Runner, path: &str, meta: &FileMeta) -> HostResult<()> {
    let [m, o, g] = meta_args(meta);
    let out = run(&script(MKDIR, &[path, &m, &o, &g]))?;
    if out.rc != 0 {
        return Err(failed(path, &out));
    }
    Ok(())
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
