//! Files and folders: `write_file`, `line_in_file`, `ensure_dir` (which change) and `read_file`,
//! `file_exists` (which only look). Writes are atomic; `ok` when content and metadata match.

use crate::error::StepError;
use rhai::{Dynamic, Engine, Map, NativeCallContext};
use serde::Deserialize;
use similar::TextDiff;

use super::{from_map, mode_of, reg, reg_with_opts, step, usage, Call, RResult, StepResult};
use crate::executor::overlay::Key;
use crate::executor::{Ctx, Effect, Target};
use crate::host::{FileMeta, FileStat, READ_MAX};
use crate::report::redact::redact;
use crate::report::Status;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOpts {
    mode: Option<Dynamic>,
    owner: Option<String>,
    group: Option<String>,
    /// Keep the old content as `<path>.<unix time>[.<n>].bak`, with its mode and owner, before
    /// changing it.
    #[serde(default)]
    backup: bool,
    /// line_in_file: replace the last line matching this regex instead of appending.
    regex: Option<String>,
}

fn meta_of(primitive: &str, o: &FileOpts) -> RResult<FileMeta> {
    Ok(FileMeta {
        mode: o.mode.as_ref().map(|m| mode_of(primitive, m)).transpose()?,
        owner: o.owner.clone(),
        group: o.group.clone(),
    })
}

/// What must change to bring a file (or folder) to what is wanted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FileChange {
    pub create: bool,
    pub content: bool,
    /// Metadata differences, e.g. `mode 0600 → 0644`.
    pub meta: Vec<String>,
}

impl FileChange {
    pub fn any(&self) -> bool {
        self.create || self.content || !self.meta.is_empty()
    }
}

/// Pure: compares the current metadata with the wanted one (unset fields are not compared).
pub fn meta_changes(current: &FileStat, want: &FileMeta) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(m) = want.mode.filter(|m| *m != current.mode) {
        out.push(format!("mode {:04o} → {m:04o}", current.mode));
    }
    if let Some(o) = want.owner.as_ref().filter(|o| **o != current.owner) {
        out.push(format!("owner {} → {o}", current.owner));
    }
    if let Some(g) = want.group.as_ref().filter(|g| **g != current.group) {
        out.push(format!("group {} → {g}", current.group));
    }
    out
}

/// Pure: decides what a `write_file` must do given the probed file.
pub fn decide_write(
    current: Option<(&[u8], &FileStat)>,
    content: &[u8],
    want: &FileMeta,
) -> FileChange {
    match current {
        None => FileChange {
            create: true,
            ..Default::default()
        },
        Some((old, stat)) => FileChange {
            create: false,
            content: old != content,
            meta: meta_changes(stat, want),
        },
    }
}

/// One line of a file as bytes: its text and its ending (`\n`, `\r\n`, or none at the end).
fn split_lines(content: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut lines = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (line, after) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => rest.split_at(i + 1),
            None => (rest, &b""[..]),
        };
        let body_len = if line.ends_with(b"\r\n") {
            line.len() - 2
        } else if line.ends_with(b"\n") {
            line.len() - 1
        } else {
            line.len()
        };
        lines.push(line.split_at(body_len));
        rest = after;
    }
    lines
}

/// Pure: the new content after making sure `line` is present; `None` when already so. Works on
/// bytes: every other line (in any encoding) and every line ending (LF or CRLF) is kept as it
/// is; an appended line ends like the file's first line does.
pub fn decide_line(
    content: &[u8],
    line: &str,
    regex: Option<&regex::bytes::Regex>,
) -> Option<Vec<u8>> {
    let lines = split_lines(content);
    let want = line.as_bytes();
    let target = match regex {
        Some(re) => lines.iter().rposition(|(l, _)| re.is_match(l)),
        None => lines.iter().position(|(l, _)| *l == want),
    };
    let eol: &[u8] = match lines.first() {
        Some((_, e)) if *e == b"\r\n" => b"\r\n",
        _ => b"\n",
    };
    let mut out = Vec::with_capacity(content.len() + want.len() + 2);
    match target {
        Some(i) if lines[i].0 == want => return None,
        Some(i) => {
            for (j, (l, e)) in lines.iter().enumerate() {
                out.extend_from_slice(if j == i { want } else { l });
                out.extend_from_slice(e);
            }
        }
        None => {
            out.extend_from_slice(content);
            if !out.is_empty() && !out.ends_with(b"\n") {
                out.extend_from_slice(eol);
            }
            out.extend_from_slice(want);
            out.extend_from_slice(eol);
        }
    }
    Some(out)
}

/// The diff of redacted contents: a secret is masked before the diff splits it into `+`/`-`
/// lines, where a multi-line secret's short lines would no longer be recognised.
pub fn unified_diff(path: &str, old: &[u8], new: &[u8]) -> String {
    match (std::str::from_utf8(old), std::str::from_utf8(new)) {
        (Ok(a), Ok(b)) => {
            let (a, b) = (redact(a), redact(b));
            TextDiff::from_lines(&a, &b)
                .unified_diff()
                .header(&format!("{path} (before)"), &format!("{path} (after)"))
                .to_string()
        }
        _ => format!(
            "binary content of {path} differs ({} → {} bytes)",
            old.len(),
            new.len()
        ),
    }
}

pub fn predicted_stat(
    old: Option<&FileStat>,
    want: &FileMeta,
    size: usize,
    is_dir: bool,
) -> FileStat {
    FileStat {
        is_dir,
        mode: want
            .mode
            .or(old.map(|s| s.mode))
            .unwrap_or(if is_dir { 0o755 } else { 0o644 }),
        owner: want
            .owner
            .clone()
            .or(old.map(|s| s.owner.clone()))
            .unwrap_or_else(|| "root".into()),
        group: want
            .group
            .clone()
            .or(old.map(|s| s.group.clone()))
            .unwrap_or_else(|| "root".into()),
        size: size as u64,
    }
}

/// Probe → decide → act for a whole-file write; shared by `write_file` and `line_in_file`.
fn converge_file(
    mut call: Call,
    path: &str,
    content: &[u8],
    meta: &FileMeta,
    backup: bool,
) -> RResult<StepResult> {
    let done = ensure_content(&mut call, path, content, meta, backup);
    match (done, output_unknown(&call.target, path)) {
        // The content holds a command's output this check or plan cannot know: a diff would
        // show what apply does not write.
        (Ok(true), Some(why)) => {
            call.action.diff = None;
            call.action.summary = format!("{path} (would check: {why})");
            Ok(call.finish(Status::Unknown))
        }
        (done, _) => call.conclude(done),
    }
}

/// Why the content a recipe writes to `path` is not known in this check or plan, if it is not
/// (`run(..., #{ output_for: path })`).
fn output_unknown(t: &Target, path: &str) -> Option<String> {
    t.overlay()
        .get(&Key::OutputUnknown(path.to_string()))
        .flatten()
}

/// Brings one file to `content` and `meta` as part of `call`'s action, without finishing it:
/// adds the diff (appended to any earlier one) and summary notes, writes (apply) or predicts
/// (check/plan). Other primitives that keep a config file (repositories, fstab, sysctl.d) use
/// this. Returns whether the file changed; an error is the message to fail the call with.
pub fn ensure_content(
    call: &mut Call,
    path: &str,
    content: &[u8],
    meta: &FileMeta,
    backup: bool,
) -> Result<bool, StepError> {
    let stat = call.target.stat(path)?;
    if stat.as_ref().is_some_and(|s| s.is_dir) {
        return Err(format!("{path} is a directory").into());
    }
    // An old file over the read limit is not read: it cannot equal content a recipe holds
    // (strings stop at the same size), so it is known to change.
    let big = stat
        .as_ref()
        .filter(|s| s.size > READ_MAX && s.size != content.len() as u64);
    let old = match &stat {
        Some(_) if big.is_none() => call.target.read_file(path)?,
        _ => None,
    };
    let change = match (big, &stat) {
        (Some(st), _) => FileChange {
            create: false,
            content: true,
            meta: meta_changes(st, meta),
        },
        _ => decide_write(old.as_deref().zip(stat.as_ref()), content, meta),
    };
    if !change.any() {
        return Ok(false);
    }
    if let Some(st) = big {
        let diff = format!(
            "content of {path} replaced ({} → {} bytes)\n",
            st.size,
            content.len()
        );
        call.action.diff = Some(call.action.diff.take().unwrap_or_default() + diff.as_str());
    } else if change.create || change.content {
        let diff = unified_diff(path, old.as_deref().unwrap_or_default(), content);
        call.action.diff = Some(match call.action.diff.take() {
            Some(before) => before + diff.as_str(),
            None => diff,
        });
    }
    if !change.meta.is_empty() {
        call.action
            .summary
            .push_str(&format!(" ({})", change.meta.join(", ")));
    }
    let effect = |_: &Call| {
        vec![Effect::File {
            path: path.to_string(),
            content: content.to_vec(),
            stat: predicted_stat(stat.as_ref(), meta, content.len(), false),
        }]
    };
    call.change(effect, |call| {
        if let (true, Some(st)) = (backup && change.content, &stat) {
            let Some(old) = &old else {
                return Err(format!(
                    "backup failed: {}",
                    crate::host::too_big(path, Some(st.size))
                )
                .into());
            };
            backup_file(call, path, old, st)?;
        }
        call.target
            .host
            .write_file(path, content, meta)
            .map_err(StepError::from)
    })?;
    Ok(true)
}

/// Keeps `old` as `<path>.<unix time>.bak` (`.<time>.<n>.bak` when that name is taken, so two
/// backups in one second both survive), with the old file's mode, owner and group: a backup of
/// a 0600 secret is 0600 too.
fn backup_file(call: &Call, path: &str, old: &[u8], st: &FileStat) -> Result<(), StepError> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let host = &call.target.host;
    let mut name = format!("{path}.{secs}.bak");
    let mut n = 0;
    while host
        .stat(&name)
        .map_err(|e| format!("backup failed: {e}"))?
        .is_some()
    {
        n += 1;
        if n > 1000 {
            return Err(format!(
                "backup failed: {path}.{secs}.*.bak: 1000 backups in one second already exist"
            )
            .into());
        }
        name = format!("{path}.{secs}.{n}.bak");
    }
    let meta = FileMeta {
        mode: Some(st.mode),
        owner: Some(st.owner.clone()),
        group: Some(st.group.clone()),
    };
    host.write_file(&name, old, &meta)
        .map_err(|e| StepError::from(format!("backup failed: {e}")))
}

/// A path argument must name something: empty, or with a NUL byte, it is a recipe error.
fn check_path(primitive: &str, path: &str) -> RResult<()> {
    if path.trim().is_empty() {
        return Err(usage(format!("{primitive}: the path is empty")));
    }
    if path.contains('\0') {
        return Err(usage(format!(
            "{primitive}: the path {path:?} contains a NUL byte"
        )));
    }
    Ok(())
}

fn write_file(
    nc: NativeCallContext,
    path: &str,
    content: Dynamic,
    opts: Option<Map>,
) -> RResult<StepResult> {
    check_path("write_file", path)?;
    let o: FileOpts = from_map("write_file", opts)?;
    if o.regex.is_some() {
        return Err(usage("write_file: `regex` is an option of line_in_file"));
    }
    let meta = meta_of("write_file", &o)?;
    let bytes = if content.is_blob() {
        content.cast::<rhai::Blob>()
    } else {
        content.to_string().into_bytes()
    };
    let call = Call::begin(&nc, "write_file", path)?;
    converge_file(call, path, &bytes, &meta, o.backup)
}

fn line_in_file(
    nc: NativeCallContext,
    path: &str,
    line: &str,
    opts: Option<Map>,
) -> RResult<StepResult> {
    check_path("line_in_file", path)?;
    let o: FileOpts = from_map("line_in_file", opts)?;
    let meta = meta_of("line_in_file", &o)?;
    if line.contains(['\n', '\r']) {
        return Err(usage(format!(
            "line_in_file: the line {line:?} contains a line break; line_in_file manages one \
             line, so call it once per line, or write the whole file with write_file"
        )));
    }
    let re = o
        .regex
        .as_deref()
        .map(cached_regex)
        .transpose()
        .map_err(|e| usage(format!("line_in_file: bad regex: {e}")))?;
    let call = Call::begin(&nc, "line_in_file", format!("{path}: {line}"))?;
    let old = call
        .target
        .read_file(path)
        .map_err(|e| step(e.to_string()))?
        .unwrap_or_default();
    let new = decide_line(&old, line, re.as_ref()).unwrap_or(old);
    converge_file(call, path, &new, &meta, o.backup)
}

fn ensure_dir(nc: NativeCallContext, path: &str, opts: Option<Map>) -> RResult<StepResult> {
    check_path("ensure_dir", path)?;
    let o: FileOpts = from_map("ensure_dir", opts)?;
    let meta = meta_of("ensure_dir", &o)?;
    let mut call = Call::begin(&nc, "ensure_dir", path)?;
    let stat = call.target.stat(path).map_err(|e| step(e.to_string()))?;
    match &stat {
        Some(s) if !s.is_dir => {
            return Err(call.fail(format!("{path} exists and is not a directory")))
        }
        Some(s) => {
            let meta_diff = meta_changes(s, &meta);
            if meta_diff.is_empty() {
                return Ok(call.finish(Status::Ok));
            }
            call.action
                .summary
                .push_str(&format!(" ({})", meta_diff.join(", ")));
        }
        None => call.action.summary.push_str(" (create)"),
    }
    let effect = |_: &Call| {
        vec![Effect::Dir {
            path: path.to_string(),
            stat: predicted_stat(stat.as_ref(), &meta, 4096, true),
        }]
    };
    let made = call.change(effect, |call| {
        call.target
            .host
            .ensure_dir(path, &meta)
            .map_err(StepError::from)
    });
    match made {
        Ok(_) => Ok(call.finish(Status::Changed)),
        Err(e) => Err(call.fail(e)),
    }
}

fn read_file(nc: NativeCallContext, path: &str) -> RResult<String> {
    let t = Ctx::of(&nc)?.target()?;
    match t.read_file(path) {
        Ok(Some(b)) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Ok(None) if made_later(&t, path).is_some() => {
            // A command recorded earlier in this check or plan creates it when applied: what it
            // holds is known only then.
            let by = made_later(&t, path).unwrap_or_default();
            let mut call = Call::begin(&nc, "read_file", path)?;
            call.action.summary = format!("{path} (would check: `{by}` creates it when applied)");
            call.finish(Status::Unknown);
            Ok(format!("({path}, created by an earlier step)\n"))
        }
        Ok(None) => Err(step(format!(
            "read_file on {}: {path} does not exist (check with file_exists first)",
            t.name()
        ))),
        Err(e) => Err(step(format!("read_file on {}: {e}", t.name()))),
    }
}

/// The command recorded earlier in this run that creates `path` when applied, if any.
fn made_later(t: &Target, path: &str) -> Option<String> {
    t.overlay().get(&Key::Created(path.to_string())).flatten()
}

fn file_exists(nc: NativeCallContext, path: &str) -> RResult<bool> {
    let t = Ctx::of(&nc)?.target()?;
    t.stat(path)
        .map(|s| s.is_some())
        .map_err(|e| step(format!("file_exists on {}: {e}", t.name())))
}

pub fn register(engine: &mut Engine) {
    reg_with_opts!(
        engine,
        /// Writes a file atomically (temp file, fsync, rename). `ok` when content and metadata already match;
        /// otherwise `changed`, with a diff. Options: mode ("0644"), owner, group, backup (keep the old file as
        /// PATH.<secs>[.<n>].bak with its mode and owner).
        /// Restart a service only when its config changed: `if write_file(p, c).changed { ... }`.
        "write_file": FileOpts, ["path: &str", "content: Dynamic"], "Result", write_file, (p: &str, c: Dynamic)
    );
    reg_with_opts!(
        engine,
        /// Makes sure a line is in a file: appended when missing, or replacing the last line matching
        /// `regex` when given. Works on bytes: other lines and their endings (LF or CRLF) stay as they are.
        /// One line: a line containing a line break is refused. Same file options as write_file.
        "line_in_file": FileOpts, ["path: &str", "line: &str"], "Result", line_in_file, (p: &str, l: &str)
    );
    reg_with_opts!(
        engine,
        /// Creates a folder and its parents (mkdir -p). Options: mode, owner, group.
        "ensure_dir": FileOpts, ["path: &str"], "Result", ensure_dir, (p: &str)
    );
    reg(engine, "read_file", &["path: &str", "String"], &[
        "The file's content as text (as this run predicts it in check/plan). Fails when missing or over 32 MiB.",
        "In check/plan, a file a recorded `run(..., #{creates: path})` makes is unknown (\"would check\"): a stand-in text.",
    ], read_file);
    reg(
        engine,
        "file_exists",
        &["path: &str", "bool"],
        &["Whether the path exists on the current host (files written earlier in a plan count)."],
        file_exists,
    );
}

/// `regex::bytes::Regex::new(pattern)`, compiled once per run: a plan calls `sysctl` and
/// `line_in_file` with the same patterns on every host, and compiling them was a tenth of a
/// 105-host plan's work.
pub fn cached_regex(pattern: &str) -> Result<regex::bytes::Regex, regex::Error> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, regex::bytes::Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(re) = cache.lock().unwrap().get(pattern) {
        return Ok(re.clone());
    }
    let re = regex::bytes::Regex::new(pattern)?;
    let mut map = cache.lock().unwrap();
    if map.len() >= 1024 {
        map.clear();
    }
    map.insert(pattern.to_string(), re.clone());
    Ok(re)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(mode: u32, owner: &str) -> FileStat {
        FileStat {
            is_dir: false,
            mode,
            owner: owner.into(),
            group: "root".into(),
            size: 0,
        }
    }

    #[test]
    fn same_content_and_meta_is_no_change() {
        let want = FileMeta {
            mode: Some(0o644),
            ..Default::default()
        };
        assert!(!decide_write(Some((b"a", &stat(0o644, "root"))), b"a", &want).any());
    }

    #[test]
    fn missing_file_is_created() {
        let c = decide_write(None, b"a", &FileMeta::default());
        assert!(c.create && c.any());
    }

    #[test]
    fn content_and_meta_changes_are_listed() {
        let want = FileMeta {
            mode: Some(0o600),
            owner: Some("app".into()),
            group: None,
        };
        let c = decide_write(Some((b"a", &stat(0o644, "root"))), b"b", &want);
        assert!(c.content && !c.create);
        assert_eq!(c.meta, vec!["mode 0644 → 0600", "owner root → app"]);
    }

    #[test]
    fn unset_meta_is_not_compared() {
        assert!(meta_changes(&stat(0o600, "x"), &FileMeta::default()).is_empty());
    }

    #[test]
    fn line_appended_when_missing() {
        assert_eq!(decide_line(b"a\nb", "c", None).unwrap(), b"a\nb\nc\n");
        assert_eq!(decide_line(b"", "c", None).unwrap(), b"c\n");
        assert_eq!(decide_line(b"a\nc\n", "c", None), None);
    }

    #[test]
    fn line_replaces_the_last_regex_match() {
        let re = regex::bytes::Regex::new("^SELINUX=").unwrap();
        let old = b"# SELINUX=x\nSELINUX=enforcing\nSELINUXTYPE=targeted\n";
        assert_eq!(
            decide_line(old, "SELINUX=permissive", Some(&re)).unwrap(),
            b"# SELINUX=x\nSELINUX=permissive\nSELINUXTYPE=targeted\n"
        );
        assert_eq!(
            decide_line(b"SELINUX=permissive\n", "SELINUX=permissive", Some(&re)),
            None
        );
    }

    #[test]
    fn lines_keep_their_bytes_and_endings() {
        // Latin-1 bytes and CRLF survive; the appended line ends like the file's lines.
        let old = b"caf\xe9=1\r\nkey=old\r\n";
        assert_eq!(
            decide_line(old, "new=1", None).unwrap(),
            b"caf\xe9=1\r\nkey=old\r\nnew=1\r\n"
        );
        let re = regex::bytes::Regex::new("^key=").unwrap();
        assert_eq!(
            decide_line(old, "key=new", Some(&re)).unwrap(),
            b"caf\xe9=1\r\nkey=new\r\n"
        );
        // A CRLF line is found as it is (its `\r` is not part of it).
        assert_eq!(decide_line(old, "key=old", None), None);
        assert_eq!(
            decide_line(b"a\r\nb", "c", None).unwrap(),
            b"a\r\nb\r\nc\r\n"
        );
    }

    #[test]
    fn diff_is_unified() {
        let d = unified_diff("/f", b"a\n", b"b\n");
        assert!(d.contains("-a\n+b\n"), "{d}");
    }
}
