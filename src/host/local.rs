//! The machine galley runs on: commands as local processes, files through the filesystem with
//! atomic replacement (temp file in the same folder, fsync, rename).

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use nix::unistd::{Gid, Group, Uid, User};

use super::{
    exec, too_big, CommandOutput, CommandSpec, FileMeta, FileStat, Host, HostError, HostResult,
    ProgressFn, READ_MAX,
};

pub struct LocalHost {
    name: String,
}

impl LocalHost {
    pub fn new(name: &str) -> Self {
        LocalHost {
            name: name.to_string(),
        }
    }
}

fn user_name(uid: u32) -> String {
    match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => uid.to_string(),
    }
}

fn group_name(gid: u32) -> String {
    match Group::from_gid(Gid::from_raw(gid)) {
        Ok(Some(g)) => g.name,
        _ => gid.to_string(),
    }
}

/// A numeric id as it is, else the named account's id, with an error that names the user or
/// group when it does not exist.
fn resolve_id(
    path: &str,
    what: &str,
    name: &str,
    lookup: impl Fn(&str) -> Option<u32>,
) -> HostResult<u32> {
    name.parse::<u32>()
        .ok()
        .or_else(|| lookup(name))
        .ok_or_else(|| {
            HostError::file(path, format!("{what} `{name}` does not exist on this host"))
        })
}

/// Resolves a user name (or numeric id) to a uid, with an error that names the user.
pub fn resolve_uid(path: &str, owner: &str) -> HostResult<Uid> {
    let uid = |n: &str| User::from_name(n).ok().flatten().map(|u| u.uid.as_raw());
    resolve_id(path, "owner", owner, uid).map(Uid::from_raw)
}

pub fn resolve_gid(path: &str, group: &str) -> HostResult<Gid> {
    let gid = |n: &str| Group::from_name(n).ok().flatten().map(|g| g.gid.as_raw());
    resolve_id(path, "group", group, gid).map(Gid::from_raw)
}

/// Applies mode and ownership to an open path (used on the temp file before the rename).
pub fn apply_meta(path: &str, target: &Path, meta: &FileMeta, default_mode: u32) -> HostResult<()> {
    let mode = meta.mode.unwrap_or(default_mode);
    fs::set_permissions(target, fs::Permissions::from_mode(mode))
        .map_err(|e| HostError::file(path, e))?;
    let uid = meta
        .owner
        .as_deref()
        .map(|o| resolve_uid(path, o))
        .transpose()?;
    let gid = meta
        .group
        .as_deref()
        .map(|g| resolve_gid(path, g))
        .transpose()?;
    if uid.is_some() || gid.is_some() {
        nix::unistd::chown(target, uid, gid).map_err(|e| HostError::file(path, e))?;
    }
    Ok(())
}

/// The metadata to give a replacement: what was asked, else what the old file had.
fn inherit(meta: &FileMeta, old: Option<&fs::Metadata>) -> FileMeta {
    FileMeta {
        mode: meta.mode.or(old.map(|m| m.mode() & 0o7777)),
        owner: meta.owner.clone().or(old.map(|m| m.uid().to_string())),
        group: meta.group.clone().or(old.map(|m| m.gid().to_string())),
    }
}

/// Removes `.NAME.galley-PID-*` temp files in `dir` left by a writer that is gone (killed
/// mid-write): only galley's own naming, only when no process `PID` exists. Best effort.
pub fn remove_stale_temp_files(dir: &Path, name: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = format!(".{name}.galley-");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        let Some((pid, _)) = rest.split_once('-') else {
            continue;
        };
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_file(e.path());
        }
    }
}

impl Host for LocalHost {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(&self, cmd: &CommandSpec, progress: ProgressFn) -> HostResult<CommandOutput> {
        exec::run_local(cmd, progress)
    }

    fn read_file(&self, path: &str) -> HostResult<Option<Vec<u8>>> {
        let f = match super::regular_file::open(Path::new(path)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(HostError::file(path, e)),
        };
        let size = f.metadata().map_err(|e| HostError::file(path, e))?.len();
        if size > READ_MAX {
            return Err(too_big(path, Some(size)));
        }
        // Bounded even when the size lied (a file growing, a special file).
        let mut buf = Vec::with_capacity(size as usize);
        f.take(READ_MAX + 1)
            .read_to_end(&mut buf)
            .map_err(|e| HostError::file(path, e))?;
        if buf.len() as u64 > READ_MAX {
            return Err(too_big(path, None));
        }
        Ok(Some(buf))
    }

    fn copy_out(&self, path: &str, into: &mut dyn std::io::Write) -> HostResult<Option<u64>> {
        let mut f = match super::regular_file::open(Path::new(path)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(HostError::file(path, e)),
        };
        std::io::copy(&mut f, into)
            .map(Some)
            .map_err(|e| HostError::file(path, e))
    }

    fn stat(&self, path: &str) -> HostResult<Option<FileStat>> {
        match fs::metadata(path) {
            Ok(m) => Ok(Some(FileStat {
                is_dir: m.is_dir(),
                mode: m.mode() & 0o7777,
                owner: user_name(m.uid()),
                group: group_name(m.gid()),
                size: m.len(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HostError::file(path, e)),
        }
    }

    fn write_file(&self, path: &str, content: &[u8], meta: &FileMeta) -> HostResult<()> {
        let target = Path::new(path);
        let dir = target
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let old = fs::metadata(target).ok();
        if old.as_ref().is_some_and(|m| m.is_dir()) {
            return Err(HostError::file(path, "is a directory"));
        }
        remove_stale_temp_files(dir, &name);
        // Named with our pid, so a later write can tell a temp file whose writer died (SIGKILL)
        // from one being written now; created 0600 by tempfile, the final mode set below.
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.galley-{}-", std::process::id()))
            .tempfile_in(dir)
            .map_err(|e| {
                HostError::file(
                    path,
                    format!("cannot create a temp file in {}: {e}", dir.display()),
                )
            })?;
        tmp.write_all(content)
            .map_err(|e| HostError::file(path, e))?;
        apply_meta(path, tmp.path(), &inherit(meta, old.as_ref()), 0o644)?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| HostError::file(path, e))?;
        tmp.persist(target)
            .map_err(|e| HostError::file(path, e.error))?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn ensure_dir(&self, path: &str, meta: &FileMeta) -> HostResult<()> {
        fs::create_dir_all(path).map_err(|e| HostError::file(path, e))?;
        let old = fs::metadata(path).ok();
        apply_meta(path, Path::new(path), &inherit(meta, old.as_ref()), 0o755)
    }
}
