//! Where `import "x/y" as z;` may look: files under the recipe's own folder, then the embedded
//! stdlib. Nothing else: absolute paths, `..` and symlinks leading out are refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rhai::module_resolvers::ModuleResolver;
use rhai::{Engine, EvalAltResult, GlobalRuntimeState, Module, Position, Scope, AST};

type SharedModule = Arc<Module>;

use crate::embedded;
use crate::executor::RunCtx;
use crate::recipe_folder;

pub struct Resolver {
    run: Arc<RunCtx>,
    cache: Mutex<HashMap<String, SharedModule>>,
}

impl Resolver {
    pub fn new(run: Arc<RunCtx>) -> Self {
        Resolver {
            run,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

const ALLOWED: &str = "imports resolve only to the bundled stdlib (e.g. \"k8s/repo\") and to .rhai files under the recipe's own folder";

fn refused(path: &str, why: &str) -> String {
    format!("import \"{path}\" refused: {why}; {ALLOWED}")
}

fn refuse(path: &str, why: &str, pos: Position) -> Box<EvalAltResult> {
    crate::error::usage_at(refused(path, why), pos)
}

fn not_found(path: &str) -> String {
    format!(
        "{path} (stdlib modules: {})",
        embedded::stdlib_names().join(", ")
    )
}

/// Why a recipe in `dir` cannot import `path`, in the words the run would stop with; `None`
/// when it can (`galley check`, and runs before they start).
pub fn unresolvable(dir: Option<&Path>, path: &str) -> Option<String> {
    if let Err(why) = check_shape(path) {
        return Some(refused(path, why));
    }
    match dir.map(|d| local_file(d, path)) {
        Some(Err(why)) => return Some(refused(path, why)),
        Some(Ok(Some(_))) => return None,
        _ => {}
    }
    if embedded::stdlib(path).is_some() {
        return None;
    }
    // Rhai's own words for ErrorModuleNotFound, which the run shows.
    Some(format!("Module not found: {}", not_found(path)))
}

/// The import path's shape ([`recipe_folder::check_shape`]).
pub fn check_shape(path: &str) -> Result<(), &'static str> {
    recipe_folder::check_shape(path)
}

/// The module `path` in the recipe's folder `dir`, if there is one there.
pub fn local_file(dir: &Path, path: &str) -> Result<Option<PathBuf>, &'static str> {
    recipe_folder::file_under(dir, &format!("{path}.rhai"))
}

thread_local! {
    /// Modules being loaded on this thread, outermost first: an import of one of them is a cycle.
    static LOADING: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Modules that import each other: the chain from the first back to itself.
#[derive(Debug)]
struct ImportCycle(Vec<String>);

impl std::fmt::Display for ImportCycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "import cycle: {}", self.0.join(" → "))
    }
}

/// Marks a module as loading for as long as it lives.
struct Loading;

impl Loading {
    fn enter(path: &str) -> Result<Loading, ImportCycle> {
        LOADING.with(|l| {
            let mut l = l.borrow_mut();
            if let Some(i) = l.iter().position(|p| p == path) {
                let chain = l[i..].iter().cloned().chain([path.to_string()]).collect();
                return Err(ImportCycle(chain));
            }
            l.push(path.to_string());
            Ok(Loading)
        })
    }
}

impl Drop for Loading {
    fn drop(&mut self) {
        LOADING.with(|l| {
            l.borrow_mut().pop();
        });
    }
}

impl Resolver {
    fn load(&self, path: &str, pos: Position) -> Result<(String, String), Box<EvalAltResult>> {
        check_shape(path).map_err(|why| refuse(path, why, pos))?;
        if let Some(dir) = &self.run.recipe_dir {
            if let Some(file) = local_file(dir, path).map_err(|why| refuse(path, why, pos))? {
                let text = crate::host::regular_file::read(&file)
                    .and_then(|b| {
                        String::from_utf8(b).map_err(|_| {
                            std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                "not UTF-8 text (is it a binary file?)",
                            )
                        })
                    })
                    .map_err(|e| {
                        refuse(path, &format!("cannot read {}: {e}", file.display()), pos)
                    })?;
                return Ok((file.display().to_string(), text));
            }
        }
        match embedded::stdlib(path) {
            Some(text) => Ok((format!("stdlib/{path}.rhai"), text.to_string())),
            None => Err(EvalAltResult::ErrorModuleNotFound(not_found(path), pos).into()),
        }
    }
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        self.cached(path, pos, engine, |ast| {
            Module::eval_ast_as_new(Scope::new(), ast, engine)
        })
    }

    fn resolve_raw(
        &self,
        engine: &Engine,
        global: &mut GlobalRuntimeState,
        scope: &mut Scope,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        self.cached(path, pos, engine, |ast| {
            Module::eval_ast_as_new_raw(engine, scope, global, ast)
        })
    }
}

impl Resolver {
    /// Loads, compiles and evaluates a module once per run; errors are framed as "in module".
    fn cached(
        &self,
        path: &str,
        pos: Position,
        engine: &Engine,
        eval: impl FnOnce(&AST) -> Result<Module, Box<EvalAltResult>>,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        if let Some(m) = self.cache.lock().unwrap().get(path) {
            return Ok(m.clone());
        }
        let _loading =
            Loading::enter(path).map_err(|cycle| refuse(path, &cycle.to_string(), pos))?;
        let (source, text) = self.load(path, pos)?;
        self.run.sources.add(&source, &text);
        self.run.sources.add(&format!("import:{path}"), &source);
        let in_module = |e: Box<EvalAltResult>| {
            Box::new(EvalAltResult::ErrorInModule(path.to_string(), e, pos))
        };
        let mut ast = engine.compile(&text).map_err(|e| in_module(e.into()))?;
        ast.set_source(source.as_str());
        let module: SharedModule = eval(&ast).map_err(in_module)?.into();
        self.cache
            .lock()
            .unwrap()
            .insert(path.to_string(), module.clone());
        Ok(module)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(check_shape("k8s/repo").is_ok());
        assert!(check_shape("/etc/passwd").is_err());
        assert!(check_shape("../x").is_err());
        assert!(check_shape("a/../b").is_err());
        assert!(check_shape("./a").is_err());
        assert!(check_shape("").is_err());
    }

    #[test]
    fn symlink_out_of_the_folder_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("evil.rhai"), "fn x() {}").unwrap();
        std::fs::write(dir.path().join("ok.rhai"), "fn y() {}").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("evil.rhai"),
            dir.path().join("evil.rhai"),
        )
        .unwrap();
        assert!(local_file(dir.path(), "evil").is_err());
        assert!(local_file(dir.path(), "ok").unwrap().is_some());
        assert!(local_file(dir.path(), "none").unwrap().is_none());
    }
}
