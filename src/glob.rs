//! Shell-style wildcards for `--limit` patterns and Debian version pins: `*` matches any run of
//! characters, `?` exactly one, every other character (`[`, `{`, `\` included) is itself, so a host
//! name or a version is never read as a character class or an alternation.
//!
//! A pattern is compiled to a regex (`regex`, whose matching is linear in the text): the
//! backtracking matchers this replaces took minutes on a pattern of 14 stars, and a Ctrl-C could
//! not stop them. `globset` was tried first, but its `?` matches one byte, not one character
//! (`web?` did not match `webé`); the fuzz target `glob` found it.

use regex::Regex;

/// A pattern too large to compile: the pattern (shortened) and the regex engine's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pattern `{pattern}`: {why}")]
pub struct TooLarge {
    pub pattern: String,
    pub why: String,
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone)]
pub struct Wildcard(Regex);

impl Wildcard {
    /// Compiles `pattern`; fails only when it is too large to compile (the message says so).
    pub fn new(pattern: &str) -> Result<Wildcard, TooLarge> {
        let mut re = String::with_capacity(pattern.len() * 2 + 8);
        re.push_str("^(?s:");
        let mut last_star = false;
        let mut literal = [0u8; 4];
        for c in pattern.chars() {
            match c {
                // A run of stars means what one star means.
                '*' if last_star => continue,
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                _ => re.push_str(&regex::escape(c.encode_utf8(&mut literal))),
            }
            last_star = c == '*';
        }
        re.push_str(")$");
        Regex::new(&re).map(Wildcard).map_err(|e| TooLarge {
            pattern: shorten(pattern),
            why: e.to_string(),
        })
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

/// Whether `text` contains a wildcard character at all.
pub fn is_wild(text: &str) -> bool {
    text.contains(['*', '?'])
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Wildcard::new(p).unwrap().is_match(t)
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(m("a*c", "abc"));
        assert!(m("*", ""));
        assert!(!m("a*c", "ab"));
        assert!(m("1.*-*", "1.2-3"));
        assert!(m("web?", "web1"));
        assert!(!m("web?", "web12"));
        assert!(m("a**b", "a/x/b"));
        assert!(m("*", "a/b"));
    }

    #[test]
    fn everything_else_is_literal() {
        assert!(m("[ab]*", "[ab]x"));
        assert!(!m("[ab]*", "ax"));
        assert!(m("{a,b}", "{a,b}"));
        assert!(!m("{a,b}", "a"));
        assert!(m("a\\*", "a\\xyz"));
        assert!(m("é*", "éa"));
        // One character, not one byte (globset's `?` failed here; found by the fuzz target).
        assert!(m("web?", "webé"));
        assert!(m("*\u{fffd}?", "x\u{fffd}é"));
        assert!(m("a?b", "a\nb"));
    }

    #[test]
    fn many_stars_are_fast() {
        let pattern = format!("{}b", "a*".repeat(40));
        let text = "a".repeat(5000);
        let start = std::time::Instant::now();
        assert!(!m(&pattern, &text));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }
}
