//! When is typed text a whole statement? The prompt keeps reading lines while the parser says the
//! input ended too early (an open block, call, array, map, closure or string), so a function can
//! be typed over several lines, at the terminal and from a pipe alike.

use rhai::{Engine, LexError, ParseErrorType, Position};

/// A parser-only engine: syntax decides completeness; the session's engine (strict variables,
/// imports, functions) judges the rest when the statement runs.
pub fn checker() -> Engine {
    let mut e = Engine::new_raw();
    e.disable_symbol("eval");
    e
}

/// True when `text` is the start of a statement that goes on: Enter should open a new line
/// instead of running it. Two blank lines in a row end the input regardless, so a mistake that
/// only looks unfinished still gets its error shown.
pub fn is_incomplete(checker: &Engine, text: &str) -> bool {
    let body = text.trim();
    if body.is_empty() || body.starts_with(':') || ends_with_blank_lines(text) {
        return false;
    }
    if ends_with_doc_comment(text) {
        return true; // the function it documents comes next
    }
    let Err(e) = checker.compile(text) else {
        return false;
    };
    match e.err_type() {
        ParseErrorType::UnexpectedEOF => true,
        ParseErrorType::BadInput(LexError::UnterminatedString) => {
            string_goes_on(text, e.position())
        }
        _ => after_end(text, e.position()),
    }
}

fn ends_with_doc_comment(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .is_some_and(|l| l.starts_with("///") && !l.starts_with("////"))
}

fn ends_with_blank_lines(text: &str) -> bool {
    let lines: Vec<&str> = text.split('\n').collect();
    lines.len() >= 3 && lines.iter().rev().take(2).all(|l| l.trim().is_empty())
}

/// A back-quoted string may span lines; a quoted one only with a `\` at the line's end.
fn string_goes_on(text: &str, pos: Position) -> bool {
    let opening = char_at(text, pos);
    opening == Some('`') || text.trim_end_matches([' ', '\t']).ends_with('\\')
}

fn char_at(text: &str, pos: Position) -> Option<char> {
    let line = text.split('\n').nth(pos.line()?.checked_sub(1)?)?;
    line.chars().nth(pos.position()?.checked_sub(1)?)
}

/// The error is reported past the last non-blank character: the parser wanted more input.
fn after_end(text: &str, pos: Position) -> bool {
    let (Some(line), Some(col)) = (pos.line(), pos.position()) else {
        return false;
    };
    let Some((last_line, last_col)) = last_char(text) else {
        return false;
    };
    (line, col) > (last_line, last_col)
}

/// 1-based line and column of the last non-blank character.
fn last_char(text: &str) -> Option<(usize, usize)> {
    text.split('\n')
        .enumerate()
        .filter_map(|(i, l)| {
            let trimmed = l.trim_end();
            (!trimmed.is_empty()).then(|| (i + 1, trimmed.chars().count()))
        })
        .last()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incomplete(t: &str) -> bool {
        is_incomplete(&checker(), t)
    }

    #[test]
    fn open_constructs_go_on() {
        for t in [
            "fn h() {",
            "fn h() {\n  let x = 1;\n",
            "if x > 1 {",
            "let a = [1, 2",
            "let q =",
            "x +",
            "foo(",
            "let c = |a| a +",
            "#{a: 1,",
            "`abc",
            "let s = `one\ntwo",
            "let s = \"abc\\",
            "if x { 1 } else",
            "switch x {",
            "os::",
            "/// Doubles a number.",
        ] {
            assert!(incomplete(t), "{t:?} should be incomplete");
        }
    }

    #[test]
    fn whole_or_wrong_input_runs() {
        for t in [
            "let x = 1;",
            "let x = 1",
            "x + y",
            "fn h() { 1 }",
            "f(1) )",
            "x ++ 1",
            "let s = \"abc",
            "let y = (1 + ;",
            "let a = [1, ;",
            "let y = (1 + ; // a comment",
            "",
            "   ",
            ":help",
            ":run docker",
            "// a comment",
            "fn h() {\n\n\n",
        ] {
            assert!(!incomplete(t), "{t:?} should run as it is");
        }
    }
}
