//! The run's secrets and the one function every output channel passes text through, so a value
//! marked `secret()` never reaches the terminal, JSON, logs, errors or REPL history.

use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shortest value accepted as a secret: shorter ones would redact ordinary words.
pub const MIN_SECRET_LEN: usize = 4;
pub const MASK: &str = "********";

/// Registers a value (and each of its lines) to be masked from now on.
pub fn add(value: &str) -> Result<(), String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(());
    }
    if trimmed.chars().count() < MIN_SECRET_LEN {
        return Err(format!(
            "a secret must be at least {MIN_SECRET_LEN} characters long to be redacted safely"
        ));
    }
    let mut all = SECRETS.write().unwrap();
    for part in std::iter::once(trimmed).chain(trimmed.lines().map(str::trim)) {
        if part.chars().count() >= MIN_SECRET_LEN && !all.iter().any(|s| s == part) {
            all.push(part.to_string());
        }
    }
    // Longest first, so a secret containing another is masked whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    Ok(())
}

/// The text with every registered secret replaced by a mask.
pub fn redact(text: &str) -> String {
    let all = SECRETS.read().unwrap();
    if all.is_empty() || !all.iter().any(|s| text.contains(s.as_str())) {
        return text.to_string();
    }
    let mut out = text.to_string();
    for s in all.iter() {
        out = out.replace(s.as_str(), MASK);
    }
    out
}

pub fn is_secret(text: &str) -> bool {
    SECRETS
        .read()
        .unwrap()
        .iter()
        .any(|s| text.contains(s.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_registered_values_and_their_lines() {
        add("tok-abc123\nsecond-line-xyz").unwrap();
        assert_eq!(
            redact("join --token tok-abc123 now"),
            format!("join --token {MASK} now")
        );
        assert_eq!(redact("second-line-xyz"), MASK);
        assert!(is_secret("x tok-abc123"));
        assert!(add("abc").is_err());
    }
}
