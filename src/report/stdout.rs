//! Everything galley prints on stdout goes through here, so a reader that goes away (`galley
//! plan … | head -1`, quitting `less`) ends the run quietly instead of panicking in `println!`.
//! The first failed write marks stdout closed and calls the hook the binary installs (which stops
//! the run as an interrupt does); later writes are dropped, and the process exits 141 — the code
//! a shell reports for a program ended by SIGPIPE. SIGPIPE itself stays ignored so that a child
//! or an SSH connection that goes away is an error galley reports, not a silent death. Messages
//! for stderr go through `err_line`, which never panics either (`2>&1 | head`).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static CLOSED: AtomicBool = AtomicBool::new(false);
static ON_CLOSE: OnceLock<fn()> = OnceLock::new();

/// The exit code of a run whose stdout was closed under it (128 + SIGPIPE).
pub const CLOSED_EXIT: i32 = 141;

/// Called once, on the first write that finds stdout closed.
pub fn on_close(hook: fn()) {
    let _ = ON_CLOSE.set(hook);
}

/// Whether a write has found stdout closed.
pub fn closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

/// Writes text as it is (add the newline yourself) and flushes.
pub fn text(text: &str) {
    bytes(text.as_bytes());
}

/// Writes a line and flushes.
pub fn line(text: &str) {
    let mut buf = String::with_capacity(text.len() + 1);
    buf.push_str(text);
    buf.push('\n');
    bytes(buf.as_bytes());
}

pub fn bytes(data: &[u8]) {
    if closed() {
        return;
    }
    let mut out = std::io::stdout().lock();
    if out.write_all(data).and_then(|()| out.flush()).is_err()
        && !CLOSED.swap(true, Ordering::SeqCst)
    {
        if let Some(hook) = ON_CLOSE.get() {
            hook();
        }
    }
}

/// Writes a line to stderr; a closed stderr is ignored (there is nowhere left to say so).
pub fn err_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}
