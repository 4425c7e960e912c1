//! `galley list`: bundled recipes and local ones, each with its summary line.

use clap::Args;

use crate::embedded;
use crate::engine::recipe::summary;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Also list .rhai recipes in this folder.
    #[arg(long, default_value = ".")]
    pub dir: String,
}

pub fn list(a: ListArgs) -> i32 {
    crate::report::stdout::line("bundled recipes:");
    let names = embedded::recipe_names();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    for name in &names {
        crate::report::stdout::line(&format!(
            "  {name:<width$}  {}",
            summary(embedded::recipe(name).unwrap_or_default())
        ));
    }
    let mut local: Vec<_> = std::fs::read_dir(&a.dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .collect();
    local.sort();
    if !local.is_empty() {
        crate::report::stdout::line(&format!("recipes in {}:", a.dir));
        for p in local {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            crate::report::stdout::line(&format!("  {}  {}", p.display(), summary(&text)));
        }
    }
    0
}
