//! `galley fork`: copy a bundled recipe (and, on request, the stdlib modules it imports) into a
//! folder, where local files take precedence over the stdlib on import. Never overwrites silently.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::embedded;
use crate::engine::lint;

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  galley fork kubeadm ./my-kubeadm --with-stdlib && galley run ./my-kubeadm/kubeadm.rhai --plan"
)]
pub struct ForkArgs {
    /// The bundled recipe to copy.
    pub recipe: String,
    /// Destination folder [default: ./<recipe>].
    pub dir: Option<PathBuf>,
    /// Also copy the stdlib modules it imports (transitively), to edit them too.
    #[arg(long)]
    pub with_stdlib: bool,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
}

fn imports_of(text: &str) -> Vec<String> {
    rhai::Engine::new()
        .compile(text)
        .map(|ast| lint::imports(&ast))
        .unwrap_or_default()
}

/// The stdlib modules a text imports, transitively.
fn stdlib_closure(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut todo = imports_of(text);
    while let Some(m) = todo.pop() {
        if out.contains(&m) {
            continue;
        }
        if let Some(t) = embedded::stdlib(&m) {
            todo.extend(imports_of(t));
            out.push(m);
        }
    }
    out.sort();
    out
}

fn write_new(path: &Path, text: &str, force: bool) -> Result<(), String> {
    if path.exists() && !force {
        return Err(format!(
            "{} already exists; use --force to overwrite it",
            path.display()
        ));
    }
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    crate::report::stdout::line(&format!("wrote {}", path.display()));
    Ok(())
}

pub fn fork(a: ForkArgs) -> i32 {
    let Some(text) = embedded::recipe(&a.recipe) else {
        return super::usage_error(format!(
            "unknown bundled recipe `{}`; bundled: {}",
            a.recipe,
            embedded::recipe_names().join(", ")
        ));
    };
    let dir = a.dir.unwrap_or_else(|| PathBuf::from(&a.recipe));
    let mut files = vec![(dir.join(format!("{}.rhai", a.recipe)), text.to_string())];
    if a.with_stdlib {
        for m in stdlib_closure(text) {
            files.push((
                dir.join(format!("{m}.rhai")),
                embedded::stdlib(&m).unwrap_or_default().to_string(),
            ));
        }
    }
    if !a.force {
        if let Some((p, _)) = files.iter().find(|(p, _)| p.exists()) {
            return super::usage_error(format!(
                "{} already exists; use --force to overwrite it",
                p.display()
            ));
        }
    }
    for (path, text) in &files {
        if let Err(e) = write_new(path, text, a.force) {
            return super::usage_error(e);
        }
    }
    crate::report::stdout::line(&format!(
        "run it with: galley run {} --plan",
        files[0].0.display()
    ));
    0
}
