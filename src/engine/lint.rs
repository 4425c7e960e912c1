//! Static checks on a compiled recipe (`galley check`, `galley show`): what it imports and which
//! called functions exist nowhere, so typos surface before any host is touched.

use std::collections::BTreeSet;

use rhai::{ASTNode, Engine, Expr, Position, Stmt, AST};

/// Import paths, in order of appearance.
pub fn imports(ast: &AST) -> Vec<String> {
    let mut out = Vec::new();
    ast.walk(&mut |nodes: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::Import(x, _))) = nodes.last() {
            if let Expr::StringConstant(s, _) = &x.0 {
                if !out.contains(&s.to_string()) {
                    out.push(s.to_string());
                }
            }
        }
        true
    });
    out
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
        let call = match nodes.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, pos)))
            | Some(ASTNode::Stmt(Stmt::FnCall(call, pos))) => Some((call, *pos)),
            _ => None,
        };
        if let Some((call, pos)) = call {
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
