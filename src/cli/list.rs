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
    let bundled: Vec<(String, String)> = embedded::recipe_names()
        .into_iter()
        .map(|name| {
            let text = summary(embedded::recipe(&name).unwrap_or_default());
            (name, text)
        })
        .collect();
    let mut paths: Vec<_> = std::fs::read_dir(&a.dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .collect();
    paths.sort();
    let local: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            (p.display().to_string(), summary(&text))
        })
        .collect();
    // One column of summaries for both lists.
    let width = bundled
        .iter()
        .chain(&local)
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0);
    let row = |(name, text): &(String, String)| {
        let line = format!("  {name:<width$}  {text}");
        crate::report::stdout::line(line.trim_end());
    };
    crate::report::stdout::line("bundled recipes:");
    bundled.iter().for_each(row);
    if !local.is_empty() {
        crate::report::stdout::line(&format!("recipes in {}:", a.dir));
        local.iter().for_each(row);
    }
    0
}
