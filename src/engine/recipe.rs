//! Finding a recipe (bundled name or path) and reading what its header says about it.

use std::path::{Path, PathBuf};

use crate::embedded;

#[derive(Debug, Clone)]
pub struct Recipe {
    /// `docker` for a bundled recipe, the path for a file.
    pub name: String,
    /// How errors name it: `recipes/docker.rhai` or the path given.
    pub source: String,
    pub text: String,
    /// The folder local imports resolve under (files only).
    pub dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("unknown recipe `{name}`; bundled recipes: {known} (or give a path to a .rhai file)")]
    Unknown { name: String, known: String },
    #[error("cannot read recipe {path}: {message}")]
    Read { path: String, message: String },
}

fn looks_like_path(spec: &str) -> bool {
    spec.contains('/') || spec.ends_with(".rhai") || Path::new(spec).is_file()
}

pub fn load(spec: &str) -> Result<Recipe, RecipeError> {
    if looks_like_path(spec) {
        let path = Path::new(spec);
        let bytes = std::fs::read(path).map_err(|e| RecipeError::Read {
            path: spec.into(),
            message: e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| RecipeError::Read {
            path: spec.into(),
            message: "not UTF-8 text (is it a binary file?)".into(),
        })?;
        let dir = path.parent().map(|d| {
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d.to_path_buf()
            }
        });
        return Ok(Recipe {
            name: spec.to_string(),
            source: spec.to_string(),
            text,
            dir,
        });
    }
    match embedded::recipe(spec) {
        Some(text) => Ok(Recipe {
            name: spec.into(),
            source: format!("recipes/{spec}.rhai"),
            text: text.into(),
            dir: None,
        }),
        None => Err(RecipeError::Unknown {
            name: spec.into(),
            known: embedded::recipe_names().join(", "),
        }),
    }
}

/// The `//!` header lines, without the markers.
pub fn header(text: &str) -> Vec<String> {
    text.lines()
        .take_while(|l| l.trim_start().starts_with("//!") || l.trim().is_empty())
        .filter_map(|l| l.trim_start().strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l).to_string())
        .collect()
}

/// The first header line: the summary `galley list` shows.
pub fn summary(text: &str) -> String {
    header(text)
        .into_iter()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_summary() {
        let t = "//! Install Docker.\n//!\n//! More words.\nlet x = 1;\n//! not header";
        assert_eq!(summary(t), "Install Docker.");
        assert_eq!(header(t), vec!["Install Docker.", "", "More words."]);
    }

    #[test]
    fn unknown_recipe_lists_bundled_ones() {
        let e = load("nope").unwrap_err().to_string();
        assert!(e.contains("docker"), "{e}");
    }
}
