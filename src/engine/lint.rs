//! Static checks on a compiled recipe (`galley check`, and `galley run`/`plan` before any host is
//! touched): imports resolve, called functions exist, literal options of primitives are known and
//! of the right type, so typos surface before line 1 runs.

use std::collections::BTreeSet;
use std::path::Path;

use rhai::{ASTNode, Engine, Expr, Map, Position, Stmt, AST};

use super::resolver;
use crate::error::diagnostics::{Diagnostic, Frame};
use crate::error::Kind;

/// Everything `galley check` finds wrong with a compiled recipe, in order, as located errors.
pub fn problems(engine: &Engine, ast: &AST, source: &str, dir: Option<&Path>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (path, pos) in imports_at(ast) {
        if let Some(why) = resolver::unresolvable(dir, &path) {
            out.push(located(why, source, pos));
        }
    }
    for (name, pos) in unknown_calls(engine, ast) {
        out.push(located(
            format!("unknown function `{name}` (see `galley defs` for the primitives)"),
            source,
            pos,
        ));
    }
    for (message, pos) in bad_options(ast) {
        out.push(located(message, source, pos));
    }
    out.sort_by_key(|d| d.at.as_ref().map(|f| (f.line, f.column)));
    out
}

fn located(message: String, source: &str, pos: Position) -> Diagnostic {
    let at = pos.line().map(|line| Frame {
        source: source.into(),
        line,
        column: pos.position().unwrap_or(1),
        note: String::new(),
    });
    Diagnostic {
        message,
        kind: Kind::Recipe,
        at,
        chain: vec![],
    }
}

/// Whether argument `index` of a call to `name` with `count` arguments is an options map.
fn is_options(name: &str, count: usize, index: usize) -> bool {
    crate::signatures::of(name)
        .unwrap_or_default()
        .iter()
        .any(|form| {
            let params = form
                .split_once('(')
                .and_then(|(_, rest)| rest.rsplit_once(')'))
                .map_or("", |(p, _)| p);
            let params: Vec<&str> = params.split(", ").filter(|p| !p.is_empty()).collect();
            params.len() == count
                && params[index].ends_with(": Map")
                && !params[index].starts_with("defaults")
        })
}

/// The function call a walk is at, if it is at one.
fn fn_call<'a>(nodes: &[ASTNode<'a>]) -> Option<(&'a rhai::FnCallExpr, Position)> {
    match nodes.last() {
        Some(ASTNode::Expr(Expr::FnCall(call, pos)))
        | Some(ASTNode::Stmt(Stmt::FnCall(call, pos))) => Some((call, *pos)),
        _ => None,
    }
}

/// Options maps written in the recipe whose literal entries a primitive would refuse (an unknown
/// option, a mistyped value, a file mode that is not one), and `run` given a string literal for
/// its argv: (message, position of the call).
pub fn bad_options(ast: &AST) -> Vec<(String, Position)> {
    let mut out = Vec::new();
    ast.walk(&mut |nodes: &[ASTNode]| {
        let Some((call, pos)) = fn_call(nodes).filter(|(c, _)| c.namespace.is_empty()) else {
            return true;
        };
        let name = call.name.as_str();
        if name == "run" && matches!(call.args.first(), Some(Expr::StringConstant(..))) {
            out.push((crate::primitives::command::RUN_TAKES_ARGV.to_string(), pos));
        }
        for (i, arg) in call.args.iter().enumerate() {
            // A map of constants is folded into one constant when the recipe compiles.
            let given = match arg {
                Expr::Map(m, _) => {
                    let mut given = Map::new();
                    for (key, value) in &m.0 {
                        if let Some(v) = value.get_literal_value(None) {
                            given.insert(key.name.clone().into(), v);
                        }
                    }
                    given
                }
                Expr::DynamicConstant(v, _) if v.is_map() => v.clone().cast::<Map>(),
                _ => continue,
            };
            if !is_options(name, call.args.len(), i) {
                continue;
            }
            if let Some(message) = crate::primitives::check_literal(name, given) {
                out.push((message, pos));
            }
        }
        true
    });
    out
}

/// Import paths, in order of appearance.
pub fn imports(ast: &AST) -> Vec<String> {
    imports_at(ast).into_iter().map(|(p, _)| p).collect()
}

/// Import paths with the position of each first import, in order of appearance.
fn imports_at(ast: &AST) -> Vec<(String, Position)> {
    let mut out: Vec<(String, Position)> = Vec::new();
    ast.walk(&mut |nodes: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::Import(x, _))) = nodes.last() {
            if let Expr::StringConstant(s, pos) = &x.0 {
                if !out.iter().any(|(p, _)| p == s.as_str()) {
                    out.push((s.to_string(), *pos));
                }
            }
        }
        true
    });
    out
}

/// The line of the first call to `name` (without a namespace), if the recipe makes one.
pub fn first_call_line(ast: &AST, name: &str) -> Option<usize> {
    let mut found = None;
    ast.walk(&mut |nodes: &[ASTNode]| {
        if let Some(ASTNode::Expr(Expr::FnCall(call, pos)))
        | Some(ASTNode::Stmt(Stmt::FnCall(call, pos))) = nodes.last()
        {
            if call.name == name && call.namespace.is_empty() && found.is_none() {
                found = pos.line();
            }
        }
        found.is_none()
    });
    found
}

/// Names the parser turns into calls but that are handled by the engine itself.
const KEYWORDS: &[&str] = &[
    "Fn",
    "call",
    "curry",
    "is_def_var",
    "is_def_fn",
    "is_shared",
    "type_of",
    "print",
    "debug",
    "eval",
    "this",
];

/// Every function name the engine knows (registered, standard packages) plus the recipe's own.
pub fn known_functions(engine: &Engine, ast: &AST) -> BTreeSet<String> {
    let mut known: BTreeSet<String> = engine
        .gen_fn_signatures(true)
        .into_iter()
        .filter_map(|sig| {
            let name = sig.split('(').next()?.trim();
            Some(name.rsplit(' ').next().unwrap_or(name).to_string())
        })
        .collect();
    known.extend(KEYWORDS.iter().map(|k| k.to_string()));
    known.extend(ast.iter_functions().map(|f| f.name.to_string()));
    known
}

/// Calls (without a module namespace) to functions that do not exist: (name, position).
pub fn unknown_calls(engine: &Engine, ast: &AST) -> Vec<(String, Position)> {
    let known = known_functions(engine, ast);
    let mut out = Vec::new();
    ast.walk(&mut |nodes: &[ASTNode]| {
        if let Some((call, pos)) = fn_call(nodes) {
            let name = call.name.as_str();
            if call.namespace.is_empty()
                && call.op_token.is_none()
                && !known.contains(name)
                && !name.starts_with("anon$")
            {
                out.push((name.to_string(), pos));
            }
        }
        true
    });
    out
}
