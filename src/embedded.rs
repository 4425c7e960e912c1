//! The bundled recipes, stdlib modules and facts profiles, compiled into the binary so an
//! installed `galley` needs nothing beside it.

use include_dir::{include_dir, Dir};

static RECIPES: Dir = include_dir!("$CARGO_MANIFEST_DIR/recipes");
static STDLIB: Dir = include_dir!("$CARGO_MANIFEST_DIR/stdlib");
static PROFILES: Dir = include_dir!("$CARGO_MANIFEST_DIR/profiles");

fn names(dir: &Dir, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = dir
        .files()
        .filter_map(|f| f.path().to_str()?.strip_suffix(ext).map(str::to_string))
        .collect();
    v.sort();
    v
}

/// Bundled recipe names (`docker`, `kubeadm`, ...).
pub fn recipe_names() -> Vec<String> {
    names(&RECIPES, ".rhai")
}

pub fn recipe(name: &str) -> Option<&'static str> {
    RECIPES.get_file(format!("{name}.rhai"))?.contents_utf8()
}

/// A stdlib module by import path (`k8s/repo` → `stdlib/k8s/repo.rhai`).
pub fn stdlib(path: &str) -> Option<&'static str> {
    STDLIB.get_file(format!("{path}.rhai"))?.contents_utf8()
}

/// Every stdlib module's import path.
pub fn stdlib_names() -> Vec<String> {
    let mut out = Vec::new();
    collect(&STDLIB, &mut out);
    out.sort();
    out
}

fn collect(dir: &Dir, out: &mut Vec<String>) {
    for f in dir.files() {
        if let Some(p) = f.path().to_str().and_then(|p| p.strip_suffix(".rhai")) {
            out.push(p.to_string());
        }
    }
    for d in dir.dirs() {
        collect(d, out);
    }
}

pub fn profile(name: &str) -> Option<&'static str> {
    PROFILES.get_file(format!("{name}.json"))?.contents_utf8()
}

pub fn profile_names() -> Vec<String> {
    names(&PROFILES, ".json")
}
