//! The sandbox every recipe runs in: no `eval`, strict variables, limits on work and size, a
//! memory budget for what the values add up to (see [`crate::memory`]), and a wall-clock budget
//! checked as the script runs (commands enforce it themselves while blocking).

use std::time::Instant;

use rhai::{Array, Dynamic, Engine, ImmutableString, NativeCallContext};

use crate::error::Stop;
use crate::host::exec::interrupted;
use crate::memory;

/// Operations a recipe may perform (per thread): far beyond any real recipe, reached in seconds
/// by an endless loop.
pub const MAX_OPERATIONS: u64 = 50_000_000;
pub const MAX_CALL_LEVELS: usize = 64;
pub const MAX_EXPR_DEPTH: usize = 64;
pub const MAX_FN_EXPR_DEPTH: usize = 32;
/// Large enough for a command's captured output.
pub const MAX_STRING: usize = 32 * 1024 * 1024;
pub const MAX_ARRAY: usize = 100_000;
pub const MAX_MAP: usize = 100_000;
pub const MAX_MODULES: usize = 100;

pub fn apply(engine: &mut Engine, deadline: Option<Instant>) {
    engine
        .disable_symbol("eval")
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(true)
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(MAX_EXPR_DEPTH, MAX_FN_EXPR_DEPTH)
        .set_max_string_size(MAX_STRING)
        .set_max_array_size(MAX_ARRAY)
        .set_max_map_size(MAX_MAP)
        .set_max_modules(MAX_MODULES)
        // Rhai's string interner is one lock for the whole engine, and its `sync` build waits
        // 10 ms when another thread holds it: `on()`'s per-host threads met there, and a
        // 105-host plan spent a quarter of its wall time asleep (44 naps, `strace -k`:
        // `Engine::get_interned_string`). Strings stay shared by reference without it.
        .set_max_strings_interned(0);
    engine.register_fn("contains", contains);
    engine.on_progress(move |ops| {
        // Every operation: one operation allocates at most a few of Rhai's largest values.
        if memory::over_budget() {
            return Some(Dynamic::from(Stop::Memory));
        }
        if ops % 256 != 0 {
            return None;
        }
        if interrupted() {
            return Some(Dynamic::from(Stop::Interrupt));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Dynamic::from(Stop::Budget));
        }
        None
    });
}

/// `array.contains("text")` and `"text" in array`: strings compared directly. Rhai's own
/// `contains` resolves `==` for every element, and the recipes look hosts up in lists of all
/// the hosts, which made a 105-host plan spend a third of its time there. Registered for a
/// string value only, so every other value still goes to Rhai's own; an element that is not a
/// string is compared with Rhai's `==` for the pair, and is unequal where there is none.
fn contains(ctx: NativeCallContext, array: &mut Array, value: ImmutableString) -> bool {
    array
        .iter()
        .any(|item| match item.read_lock::<ImmutableString>() {
            Some(s) => *s == value,
            None => ctx
                .call_native_fn::<bool>("==", (item.clone(), value.clone()))
                .unwrap_or(false),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-host threads of `on()` must not meet at the interner's lock (see `apply`).
    #[test]
    fn no_string_is_interned() {
        let mut engine = Engine::new();
        assert!(
            engine.max_strings_interned() > 0,
            "Rhai's default interns strings"
        );
        apply(&mut engine, None);
        assert_eq!(engine.max_strings_interned(), 0);
    }
}
