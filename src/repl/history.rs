//! The prompt's history file, in the user's state folder with mode 0600. An entry that mentions
//! a secret — it calls `secret(`, or holds a value registered as secret — is never written (not
//! even masked: a masked line is no use to run again); entries written before a value became
//! secret are purged once it is. A secret typed as a string literal is looked for both as typed
//! and as the literal's value (`"my\"pass"` holds `my"pass`), read by Rhai's own tokenizer.
//! The file is in rustyline's `#V2` format so the editor loads it.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::report::redact::is_secret;

/// Entries kept in the file.
pub const MAX_ENTRIES: usize = 1000;
const HEADER: &str = "#V2";

/// `$XDG_STATE_HOME/galley/history`, else `~/.local/state/galley/history`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(base.join("galley").join("history"))
}

/// Whether an entry may be written to the file.
pub fn keep(entry: &str) -> bool {
    !entry.trim().is_empty()
        && !entry.contains("secret(")
        && !is_secret(entry)
        && !literals(entry).iter().any(|l| is_secret(l))
}

/// The values of the string (and character) literals in an entry, escapes resolved.
fn literals(entry: &str) -> Vec<String> {
    use rhai::Token;
    let engine = rhai::Engine::new_raw();
    let inputs = [entry];
    let (tokens, _) = engine.lex(&inputs);
    tokens
        .map(|(t, _)| t)
        .take_while(|t| *t != Token::EOF)
        .filter_map(|t| match t {
            Token::StringConstant(s) | Token::InterpolatedString(s) => Some(s.to_string()),
            _ => None,
        })
        .collect()
}

pub struct History {
    path: PathBuf,
}

impl History {
    /// Opens (creating) the file with mode 0600 and its folder with 0700, tightening a file
    /// that exists with wider permissions.
    pub fn open(path: &Path) -> io::Result<History> {
        if let Some(dir) = path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        if file.metadata()?.len() == 0 {
            writeln!(file, "{HEADER}")?;
        }
        let h = History {
            path: path.to_path_buf(),
        };
        if h.entries()?.len() > 2 * MAX_ENTRIES {
            h.rewrite()?;
        }
        Ok(h)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn entries(&self) -> io::Result<Vec<String>> {
        Ok(decode(&fs::read_to_string(&self.path)?))
    }

    /// Appends an entry unless it mentions a secret.
    pub fn append(&self, entry: &str) -> io::Result<()> {
        if !keep(entry) {
            return Ok(());
        }
        let mut file = OpenOptions::new().append(true).open(&self.path)?;
        writeln!(file, "{}", encode(entry))
    }

    /// Drops entries that now hold a secret (and old ones past the limit), atomically.
    pub fn rewrite(&self) -> io::Result<()> {
        let all = self.entries()?;
        let kept: Vec<&String> = all.iter().filter(|e| keep(e)).collect();
        let kept = &kept[kept.len().saturating_sub(MAX_ENTRIES)..];
        if kept.len() == all.len() {
            return Ok(());
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o600))?;
        writeln!(tmp, "{HEADER}")?;
        for e in kept {
            writeln!(tmp, "{}", encode(e))?;
        }
        tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// One entry on one line: newlines and backslashes escaped (rustyline's V2 format).
fn encode(entry: &str) -> String {
    entry.replace('\\', "\\\\").replace('\n', "\\n")
}

fn decode(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| *l != HEADER)
        .map(|l| {
            let mut out = String::new();
            let mut chars = l.chars();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some(o) => out.push(o),
                    None => out.push('\\'),
                }
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_with_newlines_and_backslashes() {
        for e in ["fn f() {\n  1\n}", "let s = \"a\\nb\";", "plain"] {
            assert_eq!(decode(&format!("{HEADER}\n{}\n", encode(e))), vec![e]);
        }
    }

    #[test]
    fn file_is_private_and_secrets_stay_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/galley/history");
        let h = History::open(&path).unwrap();
        h.append("let x = 1;").unwrap();
        h.append("let t = secret(\"hunter2-xyz\");").unwrap();
        h.append("let late = \"later-secret-123\";").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            h.entries().unwrap(),
            vec!["let x = 1;", "let late = \"later-secret-123\";"]
        );
        crate::report::redact::add("later-secret-123").unwrap();
        h.rewrite().unwrap();
        assert_eq!(h.entries().unwrap(), vec!["let x = 1;"]);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_secret_typed_with_escapes_stays_out() {
        crate::report::redact::add("my\"pass-word9-unit").unwrap();
        assert!(!keep(r#"login("my\"pass-word9-unit")"#));
        assert!(!keep(r#"login("my\x22pass-word9-unit")"#));
        assert!(keep(r#"login("other")"#));
    }

    #[test]
    fn wider_permissions_are_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history");
        fs::write(&path, "#V2\nold\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let h = History::open(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(h.entries().unwrap(), vec!["old"]);
    }
}
