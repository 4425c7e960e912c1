//! Option maps (`#{ creates: "/x", timeout: 30 }`) read into typed structs, so an unknown or
//! mistyped option is an error that names it, not something silently ignored.

use rhai::{Dynamic, Map};
use serde::de::DeserializeOwned;

use super::{usage, RResult};

/// Reads an options map into `T`; errors name the primitive and the offending option.
pub fn from_map<T: DeserializeOwned + Default>(primitive: &str, opts: Option<Map>) -> RResult<T> {
    let Some(map) = opts else {
        return Ok(T::default());
    };
    rhai::serde::from_dynamic(&Dynamic::from_map(map)).map_err(|e| {
        let mut e = *e;
        e.clear_position();
        let text = e.to_string();
        usage(format!(
            "{primitive}: bad option: {}",
            text.trim_start_matches("Runtime error: ")
                .trim_start_matches("Syntax error: ")
        ))
    })
}

/// A file mode from a recipe: `"0644"`, `"644"` or `644` (digits read as octal).
pub fn mode_of(primitive: &str, value: &Dynamic) -> RResult<u32> {
    let text = if value.is_int() {
        value.as_int().unwrap_or(0).to_string()
    } else {
        value.to_string()
    };
    let digits = text.trim().trim_start_matches("0o");
    let valid =
        !digits.is_empty() && digits.len() <= 4 && digits.chars().all(|c| ('0'..='7').contains(&c));
    if !valid {
        return Err(usage(format!(
            "{primitive}: mode `{text}` is not an octal file mode like \"0644\""
        )));
    }
    Ok(u32::from_str_radix(digits, 8).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(mode_of("x", &Dynamic::from("0644")).unwrap(), 0o644);
        assert_eq!(mode_of("x", &Dynamic::from("755")).unwrap(), 0o755);
        assert_eq!(
            mode_of("x", &Dynamic::from(600 as rhai::INT)).unwrap(),
            0o600
        );
        assert!(mode_of("x", &Dynamic::from("rw-r--r--")).is_err());
        assert!(mode_of("x", &Dynamic::from("0999")).is_err());
        assert!(mode_of("x", &Dynamic::from("12345")).is_err());
    }
}
