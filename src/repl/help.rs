//! `:help`: the doc comments given at registration (the same ones `galley defs` writes), for
//! primitives, functions of imported modules (`os::is_rhel`) and functions defined in the session.

use std::collections::BTreeMap;

use rhai::{Engine, AST};

use super::meta::COMMANDS;

#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub signature: String,
    pub comments: Vec<String>,
}

/// Name (with `alias::` for module functions) → its overloads.
#[derive(Debug, Clone, Default)]
pub struct Docs(pub BTreeMap<String, Vec<Doc>>);

/// Functions that are plumbing rather than something to call by name.
pub fn is_plumbing(name: &str) -> bool {
    name.starts_with("get$")
        || name.starts_with("set$")
        || name.starts_with("index$")
        || name.starts_with("anon$")
        || name == "to_string"
        || name == "to_debug"
        || !name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
}

fn strip(comment: &str) -> String {
    let c = comment.trim();
    let c = c
        .strip_prefix("///")
        .or_else(|| c.strip_prefix("//!"))
        .unwrap_or(c);
    c.strip_prefix(' ').unwrap_or(c).to_string()
}

impl Docs {
    /// Everything registered (not the language's own packages), plus the session's functions.
    pub fn collect(engine: &Engine, session: &AST) -> Docs {
        let mut docs = Docs::default();
        let found = engine.collect_fn_metadata(
            None,
            |info| {
                let m = info.metadata;
                let name = if info.namespace.is_empty() {
                    m.name.to_string()
                } else {
                    format!("{}::{}", info.namespace, m.name)
                };
                let comments = match &info.script {
                    Some(s) => s.comments.iter().map(|c| strip(c)).collect(),
                    None => m.comments.iter().map(|c| strip(c)).collect(),
                };
                let signature = match &info.script {
                    Some(s) => format!("{}({})", name, s.params.join(", ")),
                    None => m.gen_signature(|t| t.into()),
                };
                Some((
                    name,
                    m.name.to_string(),
                    Doc {
                        signature,
                        comments,
                    },
                ))
            },
            false,
        );
        for (name, base, doc) in found {
            if !is_plumbing(&base) {
                docs.add(name, doc);
            }
        }
        for f in session.iter_functions() {
            if !is_plumbing(f.name) {
                docs.add(
                    f.name.to_string(),
                    Doc {
                        signature: format!("{}({})", f.name, f.params.join(", ")),
                        comments: f.comments.iter().map(|c| strip(c)).collect(),
                    },
                );
            }
        }
        docs
    }

    fn add(&mut self, name: String, doc: Doc) {
        let list = self.0.entry(name).or_default();
        if !list.contains(&doc) {
            list.push(doc);
        }
    }

    /// `:help` alone: meta-commands, then each function with its first doc line.
    pub fn overview(&self) -> String {
        let mut out = String::from("Meta-commands:\n");
        for (_, usage) in COMMANDS {
            out.push_str(&format!("  {usage}\n"));
        }
        out.push_str("\nFunctions (:help NAME for details):\n");
        let width = self.0.keys().map(String::len).max().unwrap_or(0).min(24);
        for (name, overloads) in &self.0 {
            let first = overloads
                .iter()
                .flat_map(|d| d.comments.first())
                .next()
                .map_or("", String::as_str);
            out.push_str(&format!("  {name:<width$}  {first}\n"));
        }
        out.push_str(
            "\nStatements run on the current host; multi-line input continues under `...>` while a block, call or string is open (Ctrl-C drops it).",
        );
        out
    }

    /// `:help NAME`: a function's overloads, a module's functions, or a meta-command.
    pub fn about(&self, name: &str) -> Option<String> {
        let meta = if name.starts_with(':') {
            name.to_string()
        } else {
            format!(":{name}")
        };
        if let Some((_, usage)) = COMMANDS.iter().find(|(c, _)| *c == meta) {
            if name.starts_with(':') || !self.0.contains_key(name) {
                return Some(usage.to_string());
            }
        }
        if let Some(overloads) = self.0.get(name) {
            let mut out = String::new();
            for d in overloads {
                out.push_str(&d.signature);
                out.push('\n');
                for c in &d.comments {
                    out.push_str(&format!("    {c}\n"));
                }
            }
            return Some(out.trim_end().to_string());
        }
        let prefix = format!("{name}::");
        let module: Vec<&String> = self.0.keys().filter(|k| k.starts_with(&prefix)).collect();
        (!module.is_empty()).then(|| {
            let mut out = format!("module {name}:\n");
            for k in module {
                let first = self.0[k]
                    .iter()
                    .flat_map(|d| d.comments.first())
                    .next()
                    .map_or("", String::as_str);
                out.push_str(&format!("  {k}  {first}\n"));
            }
            out.trim_end().to_string()
        })
    }
}
