//! Turns any Rhai error into one located message: `file:line:col`, the source line and a caret at
//! the innermost place, plus the chain of calls and imports that led there, and an exit code.

use rhai::{EvalAltResult, Position};

use super::{Failure, Kind, Sources, Stop};
use crate::report::redact::redact;

#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub source: String,
    pub line: usize,
    pub column: usize,
    pub note: String,
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub message: String,
    pub kind: Kind,
    /// Where the innermost error happened.
    pub at: Option<Frame>,
    /// Outer frames, innermost first (calls, imports).
    pub chain: Vec<Frame>,
}

fn frame(source: &str, pos: Position, note: String) -> Option<Frame> {
    Some(Frame {
        source: source.to_string(),
        line: pos.line()?,
        column: pos.position().unwrap_or(1),
        note,
    })
}

fn callee(name: &str) -> String {
    if name.starts_with("anon$") {
        "in a closure".to_string()
    } else {
        format!("in call to {name}()")
    }
}

fn runtime_message(value: &rhai::Dynamic) -> (String, Kind) {
    match value.read_lock::<Failure>() {
        Some(f) => (f.message.clone(), f.kind),
        // Whatever a script throws (a string, a map) is a failed step: only galley's own
        // errors carry another kind, and a script cannot make one.
        None => (value.to_string(), Kind::Step),
    }
}

fn classify(err: &EvalAltResult, budget: Option<std::time::Duration>) -> (String, Kind) {
    match err {
        EvalAltResult::ErrorRuntime(v, _) => runtime_message(v),
        EvalAltResult::ErrorTerminated(t, _) => match t.read_lock::<Stop>().as_deref() {
            Some(Stop::Interrupt) => ("interrupted (Ctrl-C)".into(), Kind::Interrupted),
            Some(Stop::Budget) => (
                format!(
                    "the run exceeded its time budget{}; raise it with --timeout",
                    budget
                        .map(|b| format!(" of {}s", b.as_secs()))
                        .unwrap_or_default()
                ),
                Kind::Step,
            ),
            Some(Stop::Memory) => (
                format!(
                    "the recipe's values passed galley's memory limit of {} (half of what this \
                     process may use, at most {}); build smaller values, or keep fewer of them alive",
                    crate::memory::describe(crate::memory::budget()),
                    crate::memory::describe(crate::memory::MAX_BUDGET)
                ),
                Kind::Recipe,
            ),
            Some(Stop::Show) => ("stopped after params() (galley show)".into(), Kind::Recipe),
            None => (strip_position(&err.to_string()), Kind::Recipe),
        },
        EvalAltResult::ErrorTooManyOperations(_) => (
            "the recipe exceeded its operation limit (an endless loop?); recipes must finish"
                .into(),
            Kind::Recipe,
        ),
        EvalAltResult::ErrorStackOverflow(_) => (
            "call stack too deep (endless recursion?)".into(),
            Kind::Recipe,
        ),
        EvalAltResult::ErrorFunctionNotFound(sig, _) => (not_found(sig), Kind::Recipe),
        other => (strip_position(&other.to_string()), Kind::Recipe),
    }
}

/// An error's message and kind, without its location.
pub fn message_of(err: &EvalAltResult) -> (String, Kind) {
    classify(err, None)
}

/// A call Rhai could not match; for a primitive called with the wrong arguments, how to call it.
fn not_found(sig: &str) -> String {
    let name = sig.split([' ', '(']).next().unwrap_or(sig);
    match crate::signatures::of(name) {
        Some(forms) => format!(
            "wrong arguments in call to {sig}; {name} is called as: {}",
            forms.join(" or ")
        ),
        None => format!("Function not found: {sig}"),
    }
}

/// Rhai's messages end with ` (line L, position C)`; the location is shown separately.
fn strip_position(text: &str) -> String {
    match text.rfind(" (line ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text.to_string(),
    }
}

/// Unwraps call and import frames down to the innermost error.
pub fn diagnose(
    err: &EvalAltResult,
    top_source: &str,
    sources: &Sources,
    budget: Option<std::time::Duration>,
) -> Diagnostic {
    let mut chain = Vec::new();
    let mut current = top_source.to_string();
    let mut e = err;
    loop {
        match e {
            EvalAltResult::ErrorInFunctionCall(name, src, inner, pos) => {
                chain.extend(frame(&current, *pos, callee(name)));
                if !src.is_empty() {
                    current = src.clone();
                }
                e = inner;
            }
            EvalAltResult::ErrorInModule(path, inner, pos) => {
                chain.extend(frame(&current, *pos, format!("in module \"{path}\"")));
                current = sources.module_source(path).unwrap_or_else(|| path.clone());
                e = inner;
            }
            _ => break,
        }
    }
    let (message, kind) = classify(e, budget);
    chain.reverse();
    let at = frame(&current, e.position(), String::new());
    let refused = matches!(e, EvalAltResult::ErrorRuntime(v, _)
        if v.read_lock::<Failure>().is_some_and(|f| f.refused));
    if refused {
        // A settings mistake: no excerpt of the stdlib line that noticed it, only the line of
        // the recipe being run that led there.
        let outer = chain.pop().or(at).map(|f| Frame {
            note: "refused".into(),
            ..f
        });
        return Diagnostic {
            message,
            kind,
            at: None,
            chain: outer.into_iter().collect(),
        };
    }
    Diagnostic {
        message,
        kind,
        at,
        chain,
    }
}

impl Sources {
    /// The source name of a module imported by path (recorded by the resolver).
    pub fn module_source(&self, import_path: &str) -> Option<String> {
        self.get(&format!("import:{import_path}"))
            .map(|s| s.to_string())
    }
}

/// Widest source excerpt shown under an error, in characters; a longer line is cut around the
/// caret (a syntax error on a 5 MB line must not print 5 MB).
const SNIPPET_WIDTH: usize = 120;

fn snippet(out: &mut String, f: &Frame, sources: &Sources) {
    let Some(text) = sources.get(&f.source) else {
        return;
    };
    let Some(line) = text.lines().nth(f.line - 1) else {
        return;
    };
    let (line, caret) = excerpt(line, f.column.saturating_sub(1));
    let num = f.line.to_string();
    let pad = " ".repeat(num.len());
    let caret_pad: String = line
        .chars()
        .take(caret)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    out.push_str(&format!("{pad} |\n{num} | {line}\n{pad} | {caret_pad}^\n"));
}

/// The line to show (redacted whole first, so a cut cannot split a secret) and the caret's
/// position in it, in characters: all of it when short, else a window around the caret.
fn excerpt(line: &str, column: usize) -> (String, usize) {
    let before: String = line.chars().take(column).collect();
    let caret = redact(&before).chars().count();
    let line = redact(line);
    let n = line.chars().count();
    let caret = caret.min(n);
    if n <= SNIPPET_WIDTH {
        return (line, caret);
    }
    let start = caret
        .saturating_sub(SNIPPET_WIDTH / 2)
        .min(n - SNIPPET_WIDTH);
    let end = start + SNIPPET_WIDTH;
    let mut shown = String::new();
    if start > 0 {
        shown.push('…');
    }
    shown.extend(line.chars().skip(start).take(SNIPPET_WIDTH));
    if end < n {
        shown.push('…');
    }
    (shown, caret - start + usize::from(start > 0))
}

/// Where a diagnostic happened, in one line: `file:line:col`, then the calls that led there.
pub fn place(d: &Diagnostic) -> String {
    let mut out = d.at.as_ref().map_or("an unknown place".to_string(), |at| {
        format!("{}:{}:{}", at.source, at.line, at.column)
    });
    for f in &d.chain {
        out.push_str(&format!(
            ", {} at {}:{}:{}",
            f.note, f.source, f.line, f.column
        ));
    }
    out
}

/// Renders a diagnostic the way a compiler would, with secrets redacted.
pub fn render(d: &Diagnostic, sources: &Sources) -> String {
    let mut out = format!("error: {}\n", d.message);
    if let Some(at) = &d.at {
        out.push_str(&format!(" --> {}:{}:{}\n", at.source, at.line, at.column));
        snippet(&mut out, at, sources);
    }
    for f in &d.chain {
        out.push_str(&format!(
            "  = {} at {}:{}:{}\n",
            f.note, f.source, f.line, f.column
        ));
    }
    redact(out.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_around_the_caret() {
        assert_eq!(excerpt("let x = 1 +;", 11), ("let x = 1 +;".into(), 11));
        let line = format!("{}^{}", "a".repeat(5000), "b".repeat(5000));
        let (shown, caret) = excerpt(&line, 5000);
        assert_eq!(shown.chars().count(), SNIPPET_WIDTH + 2);
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        assert_eq!(shown.chars().nth(caret), Some('^'));
        let (end, caret) = excerpt(&line, 10_000);
        assert!(end.starts_with('…') && !end.ends_with('…'));
        assert_eq!(end.chars().nth(caret), Some('b'));
        assert_eq!(caret, SNIPPET_WIDTH);
    }
}
