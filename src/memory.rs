//! The recipe's memory budget. Rhai bounds each string, array and map, but not what they add up
//! to: a map of big strings, or closures each capturing one, grew until an allocation failed and
//! the process aborted. So galley counts the bytes its heap holds (a counting wrapper around the
//! system allocator, installed as the global allocator) and the engine's progress hook, which runs
//! between every two operations of a recipe, stops the recipe with a clear error (exit 2) once the
//! count passes the budget: half of what the process may use (its address-space limit, the
//! machine's memory), at most [`MAX_BUDGET`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The budget on a machine with memory to spare.
pub const MAX_BUDGET: usize = 2 << 30;

static IN_USE: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting the bytes it hands out.
pub struct Counting;

// SAFETY: every call is forwarded to `System` unchanged; only a counter is updated beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
            IN_USE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes the heap holds now.
pub fn in_use() -> usize {
    IN_USE.load(Ordering::Relaxed)
}

/// The machine's memory in bytes, from `/proc/meminfo`.
fn physical() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The address space the process may use (`ulimit -v`), if limited.
fn address_limit() -> Option<usize> {
    use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
    let (soft, _) = getrlimit(Resource::RLIMIT_AS).ok()?;
    (soft != RLIM_INFINITY).then(|| usize::try_from(soft).unwrap_or(usize::MAX))
}

/// The budget: half of the smallest of the limits above, at most [`MAX_BUDGET`].
pub fn budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        [physical(), address_limit()]
            .into_iter()
            .flatten()
            .map(|b| b / 2)
            .fold(MAX_BUDGET, usize::min)
    })
}

/// Whether the heap holds more than the budget.
pub fn over_budget() -> bool {
    in_use() > budget()
}

/// A budget in words: "1.5 GiB", "512 MiB".
pub fn describe(bytes: usize) -> String {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_counted() {
        // Other tests of this binary allocate and free at the same time, so only an absolute
        // bound holds: the 64 MiB alive here are counted whatever the others do.
        let v: Vec<u8> = Vec::with_capacity(64 << 20);
        assert!(in_use() >= 64 << 20, "in use: {}", in_use());
        drop(v);
        assert!(budget() <= MAX_BUDGET && budget() > 0);
        assert_eq!(describe(3 << 29), "1.5 GiB");
        assert_eq!(describe(512 << 20), "512 MiB");
    }
}
