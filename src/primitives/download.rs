//! `download(url, dest, #{sha256})` and `extract(archive, dest)`. A download lands in a temp file
//! beside `dest`, is verified, then renamed: a checksum mismatch leaves no file behind. It is
//! skipped when `dest` already has the wanted checksum (or exists, when none is given).

use crate::error::StepError;
use std::path::Path;
use std::time::Instant;

use rhai::{Dynamic, Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::act::{act, is_local, probe, spec_of};
use super::extract_links;
use super::file::{meta_changes, predicted_stat};
use super::{from_map, http, mirrored, mode_of, reg_with_opts, usage, Call, RResult, StepResult};
use crate::executor::overlay::Key;
use crate::executor::Effect;
use crate::host::{local, FileMeta};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlOpts {
    /// Expected SHA-256 (hex, optionally prefixed `sha256:`).
    pub sha256: Option<String>,
    pub mode: Option<Dynamic>,
    pub owner: Option<String>,
    pub group: Option<String>,
    /// Fetch again even when `dest` exists (without sha256, an existing file is kept).
    #[serde(default)]
    pub force: bool,
    /// Seconds the whole transfer may take.
    pub timeout: Option<u64>,
}

/// Pure: whether to fetch, given the existing file's checksum (`None` when absent).
pub fn needs_fetch(existing: Option<&str>, want: Option<&str>, force: bool) -> bool {
    match (existing, want) {
        (None, _) => true,
        (Some(have), Some(want)) => have != want,
        (Some(_), None) => force,
    }
}

/// A value that is not a SHA-256 checksum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a SHA-256 (64 hex digits)")]
pub struct NotSha256(pub String);

/// `sha256:ABC…` or `abc…` → `abc…`, or an error naming the bad value.
pub fn normalize_sha(s: &str) -> Result<String, NotSha256> {
    let h = s.trim().trim_start_matches("sha256:").to_ascii_lowercase();
    if h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(h)
    } else {
        Err(NotSha256(s.to_string()))
    }
}

/// The checksum `dest` has now, as this run sees it: a prediction, the fixture's content (plan),
/// the file itself (local) or `sha256sum` (remote). `"present"` when it exists and no checksum
/// is needed.
fn current_sha(call: &Call, dest: &str, need_sum: bool) -> Result<Option<String>, StepError> {
    if let Some(v) = call.target.overlay().get(&Key::Download(dest.to_string())) {
        return Ok(v);
    }
    let Some(st) = call.target.stat(dest)? else {
        return Ok(None);
    };
    if st.is_dir {
        return Err(format!("{dest} is a directory").into());
    }
    if !need_sum {
        return Ok(Some("present".into()));
    }
    if is_local(call) {
        return http::sha256_file(Path::new(dest))
            .map(Some)
            .map_err(|e| StepError::from(format!("{dest}: {e}")));
    }
    let out = probe(call, &["sha256sum".into(), dest.into()], "sha256sum")?;
    if out.unknown {
        // A facts file runs no command; the content it gives is what is hashed.
        let bytes = call.target.read_file(dest)?;
        return Ok(bytes.map(|b| http::sha256(&b)));
    }
    Ok(out
        .stdout_text()
        .split_whitespace()
        .next()
        .map(str::to_string))
}

fn fetch_local(
    call: &Call,
    url: &str,
    dest: &str,
    want: Option<&str>,
    meta: &FileMeta,
    o: &DlOpts,
) -> Result<String, StepError> {
    let target = Path::new(dest);
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".galley-download-")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a temp file in {}: {e}", dir.display()))?;
    let sha = fetch_here(call, url, tmp.as_file_mut(), o)?;
    same_sum(url, dest, want, &sha)?;
    local::apply_meta(dest, tmp.path(), meta, 0o644)?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| format!("{dest}: {e}"))?;
    tmp.persist(target)
        .map_err(|e| format!("{dest}: {}", e.error))?;
    Ok(sha)
}

/// Fetches `url` in galley's own process into `out`, with the download's timeout and the
/// mirror's CA, reporting progress; the fetched content's sha256.
fn fetch_here(
    call: &Call,
    url: &str,
    out: &mut impl std::io::Write,
    o: &DlOpts,
) -> Result<String, StepError> {
    let start = Instant::now();
    let (host, reporter) = (call.host().to_string(), call.run.reporter.clone());
    let timeout = o.timeout.map(std::time::Duration::from_secs);
    let ca = mirrored::ca_for(call, url);
    let what = format!("download {url}");
    let fetched = http::fetch(url, out, timeout, ca, &|n| {
        reporter.progress(
            &host,
            &what,
            start.elapsed(),
            &format!("{:.1} MB", n as f64 / 1e6),
        )
    });
    reporter.done(&host, Some(&what));
    Ok(fetched.map_err(|e| e.to_string())?.0)
}

/// The script a remote host runs: curl (or wget) into a temp file beside dest, verify, rename.
const REMOTE_FETCH: &str = r#"set -e
dest=$1 url=$2 want=$3 mode=$4
dir=$(dirname "$dest"); mkdir -p "$dir"
tmp=$(mktemp "$dir/.galley-download-XXXXXX")
trap 'rm -f "$tmp"' EXIT
if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o "$tmp" "$url"; else wget -q -O "$tmp" "$url"; fi
sum=$(sha256sum "$tmp" | cut -d' ' -f1)
if [ -n "$want" ] && [ "$sum" != "$want" ]; then
  echo "checksum mismatch for $url: expected sha256 $want, got $sum; $dest was not written" >&2; exit 3
fi
chmod "$mode" "$tmp"; mv -f "$tmp" "$dest"; trap - EXIT; echo "$sum""#;

/// Fetches `url` (through the mirrors) to `dest` unless it is already there; shared with
/// `yum_repo_url` and `apt_repo`. Returns whether anything changed; `call.action` gets what was
/// (or would be) done.
pub fn fetch_into(call: &mut Call, url: &str, dest: &str, o: &DlOpts) -> Result<bool, StepError> {
    let url = &mirrored::mirrored(call, url)?;
    let want = o
        .sha256
        .as_deref()
        .map(normalize_sha)
        .transpose()
        .map_err(|e| e.to_string())?;
    if let Some(w) = &want {
        call.action.checksums.push((url.clone(), w.clone()));
    }
    let meta = FileMeta {
        mode: o
            .mode
            .as_ref()
            .map(|m| mode_of("download", m))
            .transpose()
            .map_err(|e| e.to_string())?,
        owner: o.owner.clone(),
        group: o.group.clone(),
    };
    let have = current_sha(call, dest, want.is_some())?;
    if !needs_fetch(have.as_deref(), want.as_deref(), o.force) {
        return fix_meta(call, dest, &meta);
    }
    let effects = |_: &Call| {
        vec![
            Effect::File {
                path: dest.to_string(),
                content: Vec::new(),
                stat: predicted_stat(None, &meta, 0, false),
            },
            Effect::State(
                Key::Download(dest.to_string()),
                Some(want.clone().unwrap_or_else(|| "present".into())),
            ),
        ]
    };
    let fetch = |call: &mut Call| fetch_now(call, url, dest, want.as_deref(), &meta, o);
    call.change(effects, fetch)?;
    Ok(true)
}

/// Fetches `url` to `dest` on the host (apply): in-process here, with the host's own tools
/// elsewhere. The summary gets the sha256 of what was fetched.
fn fetch_now(
    call: &mut Call,
    url: &str,
    dest: &str,
    want: Option<&str>,
    meta: &FileMeta,
    o: &DlOpts,
) -> Result<(), StepError> {
    let meta = meta.clone();
    let sha = if is_local(call) {
        fetch_local(call, url, dest, want, &meta, o)?
    } else if !has_fetcher(call)? {
        relay(call, url, dest, want, &meta, o)?
    } else {
        let mode = format!("{:o}", meta.mode.unwrap_or(0o644));
        let argv: Vec<String> = [
            "sh",
            "-c",
            REMOTE_FETCH,
            "sh",
            dest,
            url,
            want.unwrap_or(""),
            &mode,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = act(call, spec_of(&argv, &[], o.timeout), "download")?;
        let sha = out
            .map(|o| o.stdout_text().trim().to_string())
            .unwrap_or_default();
        fix_meta(call, dest, &FileMeta { mode: None, ..meta })?;
        sha
    };
    call.action.summary.push_str(&format!(" (sha256 {sha})"));
    Ok(())
}

/// Fails, naming both sums, when a fetched file's `sha` is not the one wanted.
fn same_sum(url: &str, dest: &str, want: Option<&str>, sha: &str) -> Result<(), StepError> {
    match want.filter(|w| *w != sha) {
        Some(w) => Err(format!(
            "checksum mismatch for {url}: expected sha256 {w}, got {sha}; {dest} was not written"
        )
        .into()),
        None => Ok(()),
    }
}

/// Whether the host has curl or wget to fetch with (a minimal image has neither).
fn has_fetcher(call: &Call) -> Result<bool, StepError> {
    let argv: Vec<String> = [
        "sh",
        "-c",
        "command -v curl >/dev/null 2>&1 || command -v wget >/dev/null 2>&1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    Ok(probe(call, &argv, "download")?.rc == 0)
}

/// For a host with neither curl nor wget: galley fetches `url` itself (through the same mirrors
/// and CA), checks it, and writes it to the host through its connection, whole or not at all.
/// The URL must then be reachable from the machine running galley.
fn relay(
    call: &mut Call,
    url: &str,
    dest: &str,
    want: Option<&str>,
    meta: &FileMeta,
    o: &DlOpts,
) -> Result<String, StepError> {
    let mut body = Vec::new();
    let sha = fetch_here(call, url, &mut body, o).map_err(|e| {
        format!(
            "{}: the host has no curl or wget, so galley fetched it itself: {e}",
            call.host()
        )
    })?;
    same_sum(url, dest, want, &sha)?;
    let host = call.target.host.clone();
    if let Some((dir, _)) = dest.rsplit_once('/').filter(|(d, _)| !d.is_empty()) {
        if call.target.stat(dir)?.is_none() {
            host.ensure_dir(dir, &FileMeta::default())?;
        }
    }
    let meta = FileMeta {
        mode: Some(meta.mode.unwrap_or(0o644)),
        ..meta.clone()
    };
    host.write_file(dest, &body, &meta)?;
    call.action
        .summary
        .push_str(" (relayed by galley: the host has no curl or wget)");
    Ok(sha)
}

/// chmod/chown an existing file whose content is right but whose metadata is not.
fn fix_meta(call: &mut Call, dest: &str, meta: &FileMeta) -> Result<bool, StepError> {
    let Some(st) = call.target.stat(dest)? else {
        return Ok(false);
    };
    if meta_changes(&st, meta).is_empty() {
        return Ok(false);
    }
    if let Some(m) = meta.mode.filter(|m| *m != st.mode) {
        act(
            call,
            spec_of(&["chmod".into(), format!("{m:o}"), dest.into()], &[], None),
            "chmod",
        )?;
    }
    let owner = meta.owner.clone().filter(|o| *o != st.owner);
    let group = meta.group.clone().filter(|g| *g != st.group);
    if owner.is_some() || group.is_some() {
        let who = format!(
            "{}{}",
            owner.unwrap_or_default(),
            group.map(|g| format!(":{g}")).unwrap_or_default()
        );
        act(
            call,
            spec_of(&["chown".into(), who, dest.into()], &[], None),
            "chown",
        )?;
    }
    call.predict(|call| {
        let content = call
            .target
            .read_file(dest)
            .ok()
            .flatten()
            .unwrap_or_default();
        Ok(vec![Effect::File {
            path: dest.to_string(),
            content,
            stat: predicted_stat(Some(&st), meta, st.size as usize, false),
        }])
    })?;
    Ok(true)
}

fn check_paths(primitive: &str, url: &str, dest: &str) -> RResult<()> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(usage(format!("{primitive}: `{url}` is not an http(s) URL")));
    }
    if !dest.starts_with('/') || dest.ends_with('/') {
        return Err(usage(format!(
            "{primitive}: dest `{dest}` must be an absolute file path"
        )));
    }
    Ok(())
}

fn download(
    nc: NativeCallContext,
    url: &str,
    dest: &str,
    opts: Option<Map>,
) -> RResult<StepResult> {
    let o: DlOpts = from_map("download", opts)?;
    check_paths("download", url, dest)?;
    if let Some(s) = &o.sha256 {
        normalize_sha(s).map_err(|e| usage(format!("download: sha256 {e}")))?;
    }
    if let Some(m) = &o.mode {
        mode_of("download", m)?; // a recipe error (exit 2), before anything is fetched
    }
    let mut call = Call::begin(&nc, "download", format!("{url} → {dest}"))?;
    let done = fetch_into(&mut call, url, dest, &o);
    call.conclude(done)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtractOpts {
    /// Skip when this path exists.
    creates: Option<String>,
    /// `tar --strip-components`.
    strip_components: Option<u32>,
}

/// Pure: the top-level names an archive listing puts under dest (after stripping components).
pub fn top_level(listing: &str, strip: u32) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in listing.lines() {
        let parts: Vec<&str> = line
            .trim_start_matches("./")
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        if let Some(first) = parts.get(strip as usize) {
            if !out.iter().any(|o| o == first) {
                out.push(first.to_string());
            }
        }
    }
    out
}

fn extract(
    nc: NativeCallContext,
    archive: &str,
    dest: &str,
    opts: Option<Map>,
) -> RResult<StepResult> {
    let o: ExtractOpts = from_map("extract", opts)?;
    if !dest.starts_with('/') {
        return Err(usage(format!(
            "extract: dest `{dest}` must be an absolute path"
        )));
    }
    let mut call = Call::begin(&nc, "extract", format!("{archive} → {dest}"))?;
    let done = extract_steps(&mut call, archive, dest, &o);
    call.conclude(done)
}

/// The archive's member list (`tar -tf`), or an error naming the archive.
fn listing(call: &Call, archive: &str) -> Result<String, StepError> {
    let out = probe(
        call,
        &["tar".into(), "-tf".into(), archive.into()],
        "tar -t",
    )?;
    if out.rc != 0 {
        return Err(format!("cannot list {archive}: {}", out.stderr_text().trim()).into());
    }
    Ok(out.stdout_text())
}

/// Whether the archive's content is already in place: `creates` exists, or every top-level entry
/// of the listing exists under dest. An archive a facts file cannot list counts as not done.
/// The listing, when this had to read it, comes back too, so the extraction need not read it again.
fn extracted(
    call: &Call,
    archive: &str,
    dest: &str,
    o: &ExtractOpts,
) -> Result<(bool, Option<String>), StepError> {
    let exists = |p: &str| {
        call.target
            .stat(p)
            .map(|s| s.is_some())
            .map_err(|e| e.to_string())
    };
    if let Some(c) = &o.creates {
        return Ok((exists(c)?, None));
    }
    if !exists(archive)? {
        return Ok((false, None));
    }
    let list = listing(call, archive)?;
    let tops = top_level(&list, o.strip_components.unwrap_or(0));
    for t in &tops {
        if !exists(&format!("{}/{t}", dest.trim_end_matches('/')))? {
            return Ok((false, Some(list)));
        }
    }
    Ok((!tops.is_empty(), Some(list)))
}

fn extract_steps(
    call: &mut Call,
    archive: &str,
    dest: &str,
    o: &ExtractOpts,
) -> Result<bool, StepError> {
    let (done, list) = extracted(call, archive, dest, o)?;
    if done {
        return Ok(false);
    }
    let effects = |_: &Call| {
        let stat = predicted_stat(None, &FileMeta::default(), 4096, true);
        let mut dirs = vec![dest.to_string()];
        dirs.extend(o.creates.clone());
        dirs.into_iter()
            .map(|path| Effect::Dir {
                path,
                stat: stat.clone(),
            })
            .collect()
    };
    call.change(effects, |call| {
        call.target.host.ensure_dir(dest, &FileMeta::default())?;
        let list = match list {
            Some(l) => l,
            None => listing(call, archive)?,
        };
        let strip = o.strip_components.unwrap_or(0);
        extract_links::refuse_symlinks(call, archive, dest, &list, strip)
    })?;
    let mut argv: Vec<String> = vec![
        "tar".into(),
        "-xf".into(),
        archive.into(),
        "-C".into(),
        dest.into(),
    ];
    if let Some(n) = o.strip_components {
        argv.push(format!("--strip-components={n}"));
    }
    act(call, spec_of(&argv, &[], None), "tar")?;
    Ok(true)
}

pub fn register(engine: &mut Engine) {
    reg_with_opts!(
        engine,
        /// Downloads a URL to a file: into a temp file beside dest, verified, then renamed (a checksum
        /// mismatch fails and leaves no file). `ok` when dest already has the sha256 (or, without one, exists).
        /// Options: sha256, mode (default "0644"), owner, group, force, timeout (seconds).
        /// The result's summary carries the sha256 of what was fetched.
        "download": DlOpts, ["url: &str", "dest: &str"], "Result", download, (u: &str, d: &str)
    );
    reg_with_opts!(
        engine,
        /// Unpacks a tar archive (.tar, .tar.gz, .tgz, .tar.xz) into dest with the host's tar. `ok` when
        /// `creates` exists, or else when every top-level entry of the archive is already under dest.
        /// Options: creates, strip_components.
        "extract": ExtractOpts, ["archive: &str", "dest: &str"], "Result", extract, (a: &str, d: &str)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_decisions() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        assert!(needs_fetch(None, None, false));
        assert!(needs_fetch(None, Some(&a), false));
        assert!(!needs_fetch(Some(&a), Some(&a), false));
        assert!(!needs_fetch(Some(&a), Some(&a), true));
        assert!(needs_fetch(Some(&b), Some(&a), false));
        assert!(!needs_fetch(Some("present"), None, false));
        assert!(needs_fetch(Some("present"), None, true));
    }

    #[test]
    fn sha_forms() {
        let h = "A".repeat(64);
        assert_eq!(
            normalize_sha(&format!("sha256:{h}")).unwrap(),
            "a".repeat(64)
        );
        assert!(normalize_sha("abc").is_err());
    }

    #[test]
    fn archive_top_level() {
        let l = "kubernetes/\nkubernetes/server/\nkubernetes/server/bin/kubectl\n./LICENSES\n";
        assert_eq!(top_level(l, 0), vec!["kubernetes", "LICENSES"]);
        assert_eq!(top_level(l, 1), vec!["server"]);
    }
}
