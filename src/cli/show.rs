//! `galley show`: what a recipe is for, its parameters and defaults, and what it imports —
//! found by running it only up to its `params()` call, on a simulated host.

use clap::Args;

use crate::engine::{lint, params, recipe, Mode};
use crate::report::Format;
use crate::runner::{execute, RunOptions};

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// A bundled recipe name or a path to a .rhai file.
    pub recipe: String,
}

fn show_value(v: &rhai::Dynamic) -> String {
    if v.is_string() {
        format!("{:?}", v.to_string())
    } else {
        v.to_string()
    }
}

pub fn show(a: ShowArgs) -> i32 {
    let r = match recipe::load(&a.recipe) {
        Ok(r) => r,
        Err(e) => return super::usage_error(e),
    };
    for line in recipe::header(&r.text) {
        crate::report::stdout::line(&line);
    }
    let opts = RunOptions {
        recipe: a.recipe.clone(),
        mode: Mode::Plan,
        format: Format::Human,
        show_only: true,
        forks: 1,
        ..Default::default()
    };
    let outcome = execute(&opts);
    if outcome.exit_code != 0 {
        return outcome.exit_code;
    }
    let engine = rhai::Engine::new();
    let ast = engine.compile(&r.text).ok();
    let described = ast
        .as_ref()
        .and_then(|ast| lint::first_call_line(ast, "params"))
        .map(|line| params::descriptions(&r.text, line))
        .unwrap_or_default();
    crate::report::stdout::line(
        "\nparameters (--set key=value; arrays and maps as JSON, e.g. --set key='[\"a\"]'):",
    );
    match outcome.params {
        Some(p) if !p.is_empty() => {
            let width = p.keys().map(|k| k.len()).max().unwrap_or(0);
            let shown: Vec<String> = p.values().map(show_value).collect();
            let vwidth = shown.iter().map(|v| v.chars().count()).max().unwrap_or(0);
            for ((k, _), v) in p.iter().zip(shown) {
                let line = match described.get(k.as_str()) {
                    Some(d) => format!("  {:<width$}  {v:<vwidth$}  {d}", k.as_str()),
                    None => format!("  {:<width$}  {v}", k.as_str()),
                };
                crate::report::stdout::line(&line);
            }
        }
        _ => crate::report::stdout::line("  (none)"),
    }
    let imports = ast.as_ref().map(lint::imports).unwrap_or_default();
    crate::report::stdout::line(&format!(
        "\nimports: {}",
        if imports.is_empty() {
            "(none)".to_string()
        } else {
            imports.join(", ")
        }
    ));
    0
}
