//! `:save FILE`: the statements that ran without error, in order, as a recipe `galley run` can
//! execute. Each statement is terminated so the pieces parse as one file; `:host` switches and
//! `:run` calls are kept as comments for the reader.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rhai::Engine;

const HEADER: &str = "//! Saved from a `galley repl` session.
//!
//! Review it before use: it holds the statements that ran without error, as typed.
//! Run it with `galley run FILE` (add --check to see what it would change first).
";

/// One kept input: a statement, or a note about the session (a comment in the file).
#[derive(Debug, Clone, PartialEq)]
pub enum Kept {
    Statement(String),
    Note(String),
}

/// The recipe text for the kept inputs.
pub fn recipe_text(kept: &[Kept], checker: &Engine) -> String {
    let mut out = format!("{HEADER}\n");
    for k in kept {
        match k {
            Kept::Statement(s) => out.push_str(&terminated(s, checker)),
            Kept::Note(n) => out.push_str(&format!("// {n}")),
        }
        out.push('\n');
    }
    out
}

/// The statement ending in `;` so that the next one starts a new statement. A statement that
/// ends in a line comment gets its `;` on the next line.
fn terminated(stmt: &str, checker: &Engine) -> String {
    let t = stmt.trim_end();
    if t.ends_with(';') {
        return t.to_string();
    }
    let same_line = format!("{t};");
    if checker.compile(format!("{same_line}\n0")).is_ok() {
        same_line
    } else {
        format!("{t}\n;")
    }
}

/// Writes the file atomically; refuses to replace one unless `overwrite`.
pub fn write(path: &Path, text: &str, overwrite: bool) -> Result<(), String> {
    if path.exists() && !overwrite {
        return Err(format!(
            "{} exists; use :save! {} to replace it",
            path.display(),
            path.display()
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_terminated_so_the_file_parses() {
        let checker = super::super::input::checker();
        let kept = vec![
            Kept::Statement("let x = 1".into()),
            Kept::Statement("fn f(a) {\n  a + x\n}".into()),
            Kept::Note(":host web".into()),
            Kept::Statement("let y = 2 // two".into()),
            Kept::Statement("let z = 3;".into()),
            Kept::Statement("let g = |a| { a }".into()),
            Kept::Statement("y + 1".into()),
        ];
        let text = recipe_text(&kept, &checker);
        assert!(text.starts_with("//! Saved from a `galley repl` session."));
        assert!(text.contains("let x = 1;\nfn f(a) {\n  a + x\n};\n// :host web\nlet y = 2 // two\n;\nlet z = 3;\n"), "{text}");
        checker.compile(&text).expect("the saved recipe parses");
    }

    #[test]
    fn existing_files_are_kept_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.rhai");
        write(&p, "one", false).unwrap();
        assert!(write(&p, "two", false).unwrap_err().contains(":save!"));
        write(&p, "two", true).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }
}
