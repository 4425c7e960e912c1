//! `extract`'s guard against hostile archives: GNU tar follows a symlink that already exists
//! under `dest` (planted by an earlier archive, or by anyone who can write there) when an entry
//! is written *through* it (`link/file`), so the file lands wherever the link points. Before
//! extracting, every folder an entry passes through is checked on the host; a symlink among
//! them refuses the extraction. (An entry that *is* a symlink's name is safe: tar replaces the
//! link.) Leading `/` and `..` entries are tar's own business: GNU tar strips and refuses them.

use crate::error::StepError;
use std::collections::BTreeSet;

use super::act::probe;
use super::Call;

/// Pure: the folders (relative to dest, after `strip` components) that entries of a `tar -t`
/// listing are written through, each with one entry that does so.
pub fn passed_through(listing: &str, strip: u32) -> Vec<(String, String)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for line in listing.lines() {
        let parts: Vec<&str> = line
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .skip(strip as usize)
            .collect();
        for k in 1..parts.len() {
            let dir = parts[..k].join("/");
            if seen.insert(dir.clone()) {
                out.push((dir, parts.join("/")));
            }
        }
    }
    out
}

/// Arguments per check: far below the kernel's argv limit for any path length tar lists.
const BATCH: usize = 2000;

/// Refuses (with what to do) when an entry of `listing` would be written through a symlink
/// under `dest` on the current host.
pub fn refuse_symlinks(
    call: &Call,
    archive: &str,
    dest: &str,
    listing: &str,
    strip: u32,
) -> Result<(), StepError> {
    let dirs = passed_through(listing, strip);
    let dest = dest.trim_end_matches('/');
    for batch in dirs.chunks(BATCH) {
        let mut argv: Vec<String> = vec![
            "sh".into(),
            "-c".into(),
            r#"d=$1; shift; for p do [ -L "$d/$p" ] && printf '%s\n' "$p"; done; exit 0"#.into(),
            "galley".into(),
            dest.to_string(),
        ];
        argv.extend(batch.iter().map(|(d, _)| d.clone()));
        let out = probe(call, &argv, "check for symlinks")?;
        if out.rc != 0 {
            return Err(format!(
                "cannot check {dest} for symbolic links: {}",
                out.stderr_text().trim()
            )
            .into());
        }
        if let Some(link) = out.stdout_text().lines().next() {
            let entry = batch
                .iter()
                .find(|(d, _)| d == link)
                .map_or("", |(_, e)| e.as_str());
            return Err(format!(
                "{dest}/{link} is a symbolic link, and {archive} writes {entry} through it: tar \
                 would follow it out of {dest}, so nothing was extracted. Remove the link (or \
                 extract into an empty folder) if the archive is trusted"
            )
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_entries_pass_through() {
        let listing = "evil\nevil/pwned\n./a/\n./a/b/c.txt\ntop.txt\n";
        let dirs: Vec<String> = passed_through(listing, 0)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        assert_eq!(dirs, vec!["evil", "a", "a/b"]);
        assert_eq!(passed_through(listing, 0)[0].1, "evil/pwned");
        let dirs: Vec<String> = passed_through("k/bin/x/y\n", 1)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        assert_eq!(dirs, vec!["bin", "bin/x"]);
    }
}
