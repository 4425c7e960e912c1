//! What a recipe may read from its own folder on the machine galley runs on: imports and
//! `template()` files. One rule for both: a relative path with plain components only (no
//! absolute path, no `.` or `..`), naming a file that really lies under the folder once symlinks
//! are resolved.

use std::path::{Component, Path, PathBuf};

/// Checks a path's shape: relative, no `..`, no empty or odd components.
pub fn check_shape(path: &str) -> Result<(), &'static str> {
    let p = Path::new(path);
    if path.is_empty() {
        return Err("empty path");
    }
    if p.is_absolute() {
        return Err("absolute paths are not allowed");
    }
    if p.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err("`..` and `.` are not allowed");
    }
    Ok(())
}

/// The file `rel` under `dir`, if it exists and really lies under `dir` (symlinks resolved).
pub fn file_under(dir: &Path, rel: &str) -> Result<Option<PathBuf>, &'static str> {
    let file = dir.join(rel);
    if !file.exists() {
        return Ok(None);
    }
    let (Ok(real), Ok(root)) = (file.canonicalize(), dir.canonicalize()) else {
        return Err("cannot resolve the file's real path");
    };
    if !real.starts_with(&root) {
        return Err("it is a symlink that leads outside the recipe's folder");
    }
    Ok(Some(file))
}
