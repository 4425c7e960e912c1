//! Tab completion, as a pure function of what the session knows (`Names`): meta-commands,
//! primitives and functions, variables, module aliases and their functions (`os::`), stdlib
//! module paths inside `import "`, host and group names (`:host`, `hosts("`, `on("`), recipe
//! names after `:run`, and properties of values in scope (`r.std` → stdout, stderr).

use std::any::TypeId;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use rhai::{Dynamic, Map};

use super::meta::COMMANDS;

/// What a value offers after a dot: its properties, each with what it offers in turn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape(pub BTreeMap<String, Shape>);

/// Deepest property path followed in a value (`facts().os.family` is 2).
const MAX_DEPTH: usize = 4;
/// Map keys looked at per level.
const MAX_KEYS: usize = 200;

/// Getter names per registered type, e.g. `Result` → rc, stdout, stderr, ...
pub type Getters = HashMap<TypeId, Vec<String>>;

impl Shape {
    pub fn of(v: &Dynamic, getters: &Getters) -> Shape {
        Self::walk(v, getters, 0)
    }

    fn walk(v: &Dynamic, getters: &Getters, depth: usize) -> Shape {
        let mut props = BTreeMap::new();
        if depth >= MAX_DEPTH {
            return Shape(props);
        }
        if let Some(m) = v.read_lock::<Map>() {
            for (k, v) in m.iter().take(MAX_KEYS) {
                props.insert(k.to_string(), Self::walk(v, getters, depth + 1));
            }
        } else if let Some(names) = getters.get(&v.type_id()) {
            for n in names {
                props.insert(n.clone(), Shape::default());
            }
        }
        Shape(props)
    }
}

/// Everything completion draws from; the session refreshes it after each input.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Primitives, stdlib functions of the language and session-defined functions.
    pub functions: BTreeSet<String>,
    /// Module alias → its function names.
    pub modules: BTreeMap<String, BTreeSet<String>>,
    /// Import paths of the bundled stdlib.
    pub stdlib: Vec<String>,
    pub vars: BTreeMap<String, Shape>,
    pub hosts: Vec<String>,
    pub groups: Vec<String>,
    pub recipes: Vec<String>,
}

const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "do", "until", "break",
    "continue", "return", "throw", "try", "catch", "switch", "import", "as", "true", "false",
];

/// Functions whose first argument names hosts.
const HOST_FUNCTIONS: &[&str] = &["hosts(", "on(", "on_one(", "try_on("];

/// Start of the replaced text and the candidates, sorted.
pub fn complete(names: &Names, line: &str, pos: usize) -> (usize, Vec<String>) {
    let pos = pos.min(line.len());
    let before = &line[..pos];
    if before.trim_start().starts_with(':') && !before.contains('\n') {
        return meta(names, before);
    }
    if let Some(start) = open_string(before) {
        return in_string(names, &before[..start - 1], start, &before[start..]);
    }
    let start = word_start(before);
    let word = &before[start..];
    if let Some((path, partial)) = word.rsplit_once('.') {
        let found = property(names, path)
            .map(|s| filter(s.0.keys(), partial))
            .unwrap_or_default();
        return (pos - partial.len(), found);
    }
    if let Some((alias, partial)) = word.rsplit_once("::") {
        let found = names
            .modules
            .get(alias)
            .map(|f| filter(f.iter(), partial))
            .unwrap_or_default();
        return (pos - partial.len(), found);
    }
    let aliases: Vec<String> = names.modules.keys().map(|m| format!("{m}::")).collect();
    let all = names
        .functions
        .iter()
        .chain(names.vars.keys())
        .chain(aliases.iter())
        .map(String::as_str)
        .chain(KEYWORDS.iter().copied());
    (start, filter(all, word))
}

fn filter<'a, S: AsRef<str> + 'a>(items: impl IntoIterator<Item = S>, prefix: &str) -> Vec<String> {
    let set: BTreeSet<String> = items
        .into_iter()
        .map(|s| s.as_ref().to_string())
        .filter(|s| s.starts_with(prefix))
        .collect();
    set.into_iter().collect()
}

/// Where the word under the cursor starts: identifiers with `.` and `::` paths.
fn word_start(before: &str) -> usize {
    before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '.' || *c == ':'))
        .map_or(0, |(i, c)| i + c.len_utf8())
}

/// The byte index just after an unclosed `"` or backquote, if the cursor is inside a string.
fn open_string(before: &str) -> Option<usize> {
    let mut open: Option<(char, usize)> = None;
    let mut escaped = false;
    let mut in_comment = false;
    let mut prev = '\0';
    for (i, c) in before.char_indices() {
        if in_comment {
            in_comment = c != '\n';
        } else if let Some((q, _)) = open {
            if escaped {
                escaped = false;
            } else if c == '\\' && q == '"' {
                escaped = true;
            } else if c == q {
                open = None;
            }
        } else if c == '"' || c == '`' {
            open = Some((c, i + 1));
        } else if c == '/' && prev == '/' {
            in_comment = true;
        }
        prev = c;
    }
    open.map(|(_, i)| i)
}

fn in_string(names: &Names, code: &str, start: usize, partial: &str) -> (usize, Vec<String>) {
    let code = code.trim_end();
    let code = code.strip_suffix('[').map_or(code, str::trim_end);
    let found = if code.ends_with("import") {
        filter(names.stdlib.iter(), partial)
    } else if HOST_FUNCTIONS.iter().any(|f| code.ends_with(f)) {
        host_names(names, partial)
    } else {
        Vec::new()
    };
    (start, found)
}

fn host_names(names: &Names, partial: &str) -> Vec<String> {
    filter(
        names
            .hosts
            .iter()
            .chain(names.groups.iter())
            .map(String::as_str)
            .chain(["all"]),
        partial,
    )
}

/// The shape reached by `a.b.c` from a variable in scope.
fn property<'a>(names: &'a Names, path: &str) -> Option<&'a Shape> {
    let mut parts = path.split('.');
    let mut shape = names.vars.get(parts.next()?)?;
    for p in parts {
        shape = shape.0.get(p)?;
    }
    Some(shape)
}

fn meta(names: &Names, before: &str) -> (usize, Vec<String>) {
    let text = before.trim_start();
    let offset = before.len() - text.len();
    let Some((cmd, rest)) = text.split_once(char::is_whitespace) else {
        return (offset, filter(COMMANDS.iter().map(|(c, _)| *c), text));
    };
    let start = before.len() - rest.trim_start().len();
    let arg_start = before[start..]
        .rfind(char::is_whitespace)
        .map_or(start, |i| start + i + 1);
    let partial = &before[arg_start..];
    let first_arg = arg_start == start;
    let found = match cmd {
        ":run" if first_arg => filter(names.recipes.iter(), partial),
        ":host" if first_arg => host_names(names, partial),
        ":mode" if first_arg => filter(["apply", "check", "plan"], partial),
        ":help" if first_arg => {
            let metas = COMMANDS.iter().map(|(c, _)| c.to_string());
            filter(names.functions.iter().cloned().chain(metas), partial)
        }
        _ => Vec::new(),
    };
    (arg_start, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        let mut n = Names {
            functions: ["run", "read_file", "write_file", "on", "hosts"]
                .map(String::from)
                .into(),
            ..Default::default()
        };
        n.modules
            .insert("os".into(), ["is_rhel".to_string()].into());
        n.stdlib = vec!["k8s/repo".into(), "os".into()];
        let mut result = Shape::default();
        for p in ["stdout", "stderr", "rc", "status"] {
            result.0.insert(p.into(), Shape::default());
        }
        n.vars.insert("r".into(), result);
        let mut os = Shape::default();
        os.0.insert("family".into(), Shape::default());
        let mut facts = Shape::default();
        facts.0.insert("os".into(), os);
        n.vars.insert("f".into(), facts);
        n.vars.insert("rows".into(), Shape::default());
        n.hosts = vec!["cp1".into(), "w1".into()];
        n.groups = vec!["workers".into()];
        n.recipes = vec!["docker".into(), "kind".into()];
        n
    }

    fn c(line: &str) -> (usize, Vec<String>) {
        complete(&names(), line, line.len())
    }

    #[test]
    fn properties_of_values_in_scope() {
        assert_eq!(c("r.std"), (2, vec!["stderr".into(), "stdout".into()]));
        assert_eq!(c("print(f.os.fa"), (11, vec!["family".into()]));
        assert_eq!(c("nope.x").1, Vec::<String>::new());
    }

    #[test]
    fn names_at_a_word_start() {
        assert_eq!(
            c("let x = r"),
            (
                8,
                ["r", "read_file", "return", "rows", "run"]
                    .map(String::from)
                    .to_vec()
            )
        );
        assert_eq!(c("wri"), (0, vec!["write_file".into()]));
        assert_eq!(c("o").1, vec!["on".to_string(), "os::".into()]);
        assert_eq!(c("os::is"), (4, vec!["is_rhel".into()]));
    }

    #[test]
    fn inside_strings() {
        assert_eq!(c("import \"k8"), (8, vec!["k8s/repo".into()]));
        assert_eq!(c("on(\"w").1, vec!["w1".to_string(), "workers".into()]);
        assert_eq!(c("on([\"c").1, vec!["cp1".to_string()]);
        assert_eq!(c("run([\"ec").1, Vec::<String>::new());
        assert_eq!(
            c("let s = \"a\\\"b\"; r.st").1,
            vec!["status".to_string(), "stderr".into(), "stdout".into()]
        );
    }

    #[test]
    fn meta_commands_and_their_arguments() {
        assert_eq!(c(":ho"), (0, vec![":host".into(), ":hosts".into()]));
        assert_eq!(c(":run d"), (5, vec!["docker".into()]));
        assert_eq!(c(":host w"), (6, vec!["w1".into(), "workers".into()]));
        assert_eq!(c(":mode c"), (6, vec!["check".into()]));
        assert_eq!(c(":run docker k=").1, Vec::<String>::new());
    }
}
