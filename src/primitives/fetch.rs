//! `fetch(src, dest, #{mode})`: a file of the host copied to the machine galley runs on (an etcd
//! snapshot, a kubeconfig, a log), the reverse of `write_file`. Whole or not at all: the copy
//! streams into a temp file beside `dest` (mode 0600 from the start, as what is fetched is often
//! secret), its sha256 is compared with the one the host computed before the copy, and only
//! then is it renamed over `dest`. A file that changed while it was copied, a dropped
//! connection or a full disk leaves `dest` as it was. `ok` when `dest` already has the host
//! file's sha256 (and mode). `{host}` in `dest` becomes the host's inventory name, so one
//! `fetch` over several hosts keeps each host's file.

use crate::error::StepError;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rhai::{Dynamic, Engine, Map, NativeCallContext};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::act::{is_local, probe};
use super::{from_map, http, mode_of, reg_with_opts, usage, Call, RResult, StepResult};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchOpts {
    /// The local copy's mode (default 0600).
    mode: Option<Dynamic>,
}

/// Pure: `dest` for host `host` (`{host}` replaced), or the usage error for a bad one.
fn local_path(dest: &str, host: &str) -> RResult<PathBuf> {
    if dest.is_empty() || dest.ends_with('/') {
        return Err(usage(format!(
            "fetch: dest `{dest}` must name a file on this machine (e.g. \"backups/{{host}}-snapshot.db\")"
        )));
    }
    Ok(PathBuf::from(dest.replace("{host}", host)))
}

/// A writer that hashes what passes through it.
struct Hashing<W: Write> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The host file's sha256 as this run sees it: computed by the host (`sha256sum`, a read-only
/// probe), the file itself (local), or the facts file's content; `None` when it cannot be
/// known here (a plan without the file's content).
fn source_sha(call: &Call, src: &str) -> Result<Option<String>, StepError> {
    if is_local(call) {
        return http::sha256_file(Path::new(src))
            .map(Some)
            .map_err(|e| StepError::from(format!("{src}: {e}")));
    }
    let out = probe(
        call,
        &["sha256sum".into(), "--".into(), src.into()],
        "sha256sum",
    )?;
    if out.unknown {
        let bytes = call.target.read_file(src)?;
        return Ok(bytes.map(|b| http::sha256(&b)));
    }
    if out.rc != 0 {
        return Err(format!(
            "{src}: sha256sum failed on {}: {}",
            call.host(),
            out.stderr_text().trim()
        )
        .into());
    }
    Ok(out
        .stdout_text()
        .split_whitespace()
        .next()
        .map(str::to_string))
}

/// The local copy's sha256 and mode, `None` when there is none. A symlink at `dest` is not
/// followed: it counts as no copy, and the rename replaces the link itself.
fn local_state(dest: &Path) -> Result<Option<(String, u32)>, StepError> {
    match std::fs::symlink_metadata(dest) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Ok(m) if m.file_type().is_symlink() => Ok(None),
        Err(e) => Err(format!("{}: {e}", dest.display()).into()),
        Ok(m) if !m.is_file() => Err(format!(
            "{} is not a regular file: fetch replaces only files",
            dest.display()
        )
        .into()),
        Ok(m) => {
            let sha = http::sha256_file(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
            Ok(Some((sha, m.permissions().mode() & 0o7777)))
        }
    }
}

fn fetch_steps(call: &mut Call, src: &str, dest: &Path, mode: u32) -> Result<bool, StepError> {
    let Some(st) = call.target.stat(src)? else {
        // A check or plan shows the copy (an earlier step of the run may make the file); a
        // run stops here.
        let host = call.host().to_string();
        call.action.summary.push_str(" (not on the host now)");
        call.change(
            |_| vec![],
            |_| {
                Err::<(), StepError>(
                    format!("{src} does not exist on {host}: nothing to fetch").into(),
                )
            },
        )?;
        return Ok(true);
    };
    if st.is_dir {
        return Err(format!("{src} is a directory: fetch copies one file").into());
    }
    let want = source_sha(call, src)?;
    let have = local_state(dest)?;
    if let (Some(w), Some((h, m))) = (&want, &have) {
        if w == h {
            if *m == mode {
                return Ok(false);
            }
            call.action
                .summary
                .push_str(&format!(" (mode {m:o} → {mode:o})"));
            call.change(
                |_| vec![],
                |_| {
                    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(mode))
                        .map_err(|e| StepError::from(format!("{}: {e}", dest.display())))
                },
            )?;
            return Ok(true);
        }
    }
    call.change(
        |_| vec![],
        |call| copy_now(call, src, dest, want.as_deref(), mode),
    )?;
    Ok(true)
}

/// Streams `src` into a temp file beside `dest`, checks its sha256 against `want` (the host's
/// own, taken just before), fsyncs and renames it into place.
fn copy_now(
    call: &mut Call,
    src: &str,
    dest: &Path,
    want: Option<&str>,
    mode: u32,
) -> Result<(), StepError> {
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".galley-fetch-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a temp file in {}: {e}", dir.display()))?;
    let host = call.target.host.clone();
    let (copied, got) = {
        let mut out = Hashing {
            inner: std::io::BufWriter::new(tmp.as_file()),
            hasher: Sha256::new(),
        };
        let copied = host
            .copy_out(src, &mut out)?
            .ok_or_else(|| format!("{src} vanished from {} before it was copied", call.host()))?;
        out.flush()
            .map_err(|e| format!("{}: {e}", dest.display()))?;
        (copied, http::hex(&out.hasher.finalize()))
    };
    if let Some(w) = want.filter(|w| *w != got) {
        return Err(format!(
            "{src} changed on {} while it was copied (sha256 {w} before, {got} received): {} was not written; rerun when the file is still",
            call.host(),
            dest.display()
        ).into());
    }
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    tmp.persist(dest)
        .map_err(|e| format!("{}: {}", dest.display(), e.error))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    call.action
        .summary
        .push_str(&format!(" ({copied} bytes, sha256 {got})"));
    Ok(())
}

fn fetch(nc: NativeCallContext, src: &str, dest: &str, opts: Option<Map>) -> RResult<StepResult> {
    let o: FetchOpts = from_map("fetch", opts)?;
    if !src.starts_with('/') || src.ends_with('/') {
        return Err(usage(format!(
            "fetch: src `{src}` must be the host file's absolute path"
        )));
    }
    let mode = match &o.mode {
        Some(m) => mode_of("fetch", m)?,
        None => 0o600,
    };
    let mut call = Call::begin(&nc, "fetch", String::new())?;
    let dest = local_path(dest, call.host())?;
    call.action.summary = format!("{src} → {} (here)", dest.display());
    let done = fetch_steps(&mut call, src, &dest, mode);
    call.conclude(done)
}

pub fn register(engine: &mut Engine) {
    reg_with_opts!(
        engine,
        /// Copies a file of the host to the machine galley runs on (`fetch("/var/backups/etcd/snapshot.db", "backups/{host}.db")`):
        /// streamed into a temp file beside dest, checked against the host's sha256, then renamed (whole or not at all).
        /// `{host}` in dest is the host's name. `ok` when dest already has that sha256. Options: mode (default "0600").
        "fetch": FetchOpts, ["src: &str", "dest: &str"], "Result", fetch, (s: &str, d: &str)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_name_goes_into_dest() {
        assert_eq!(
            local_path("backups/{host}-etcd.db", "cp1").unwrap(),
            PathBuf::from("backups/cp1-etcd.db")
        );
        assert!(local_path("backups/", "cp1").is_err());
        assert!(local_path("", "cp1").is_err());
    }
}
