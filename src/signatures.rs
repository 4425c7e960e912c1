//! The primitives' signatures as registered, so an error about a call with the wrong arguments
//! can show how the primitive is called instead of Rhai's bare "function not found".

use std::collections::BTreeMap;
use std::sync::Mutex;

static SIGNATURES: Mutex<BTreeMap<String, Vec<String>>> = Mutex::new(BTreeMap::new());

/// Remembers `name(params) -> ret` from the registration's parameter info.
pub fn record(name: &str, params: &[&str]) {
    let (ret, args) = params
        .split_last()
        .map_or(("()", &[][..]), |(r, a)| (*r, a));
    let sig = format!("{name}({}) -> {ret}", args.join(", "));
    let mut all = SIGNATURES.lock().unwrap();
    let list = all.entry(name.to_string()).or_default();
    if !list.contains(&sig) {
        list.push(sig);
    }
}

/// The ways a primitive can be called, or `None` for a name that is not a primitive.
pub fn of(name: &str) -> Option<Vec<String>> {
    SIGNATURES.lock().unwrap().get(name).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_each_form_once() {
        record("demo_prim", &["path: &str", "Result"]);
        record("demo_prim", &["path: &str", "opts: Map", "Result"]);
        record("demo_prim", &["path: &str", "Result"]);
        assert_eq!(
            of("demo_prim").unwrap(),
            vec![
                "demo_prim(path: &str) -> Result",
                "demo_prim(path: &str, opts: Map) -> Result"
            ]
        );
        assert!(of("nope_prim").is_none());
    }
}
