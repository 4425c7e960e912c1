//! Ctrl-C in the REPL: while a statement runs, it stops that statement (the exec layer kills the
//! command's process group when `exec::INTERRUPTED` is set; scripts stop at their next operation)
//! and the prompt comes back. At the prompt the terminal is in raw mode and the editor sees
//! Ctrl-C as a key (clear the line). Reading from a pipe, Ctrl-C between statements ends galley.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::host::exec::INTERRUPTED;

static EVALUATING: AtomicBool = AtomicBool::new(false);
/// SIGTERM arrived while a statement ran: leave once it has stopped.
static QUIT: AtomicBool = AtomicBool::new(false);

/// Installs the SIGINT/SIGTERM handler. `piped`: stdin is not a terminal.
pub fn install(piped: bool) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let busy = EVALUATING.load(Ordering::SeqCst);
            if busy {
                INTERRUPTED.store(true, Ordering::SeqCst);
                QUIT.fetch_or(sig == SIGTERM, Ordering::SeqCst);
            } else if sig == SIGTERM {
                std::process::exit(143);
            } else if piped {
                std::process::exit(130);
            }
        }
    });
}

/// Runs `f` as one interruptible evaluation; returns its value and whether Ctrl-C stopped it.
pub fn evaluating<T>(f: impl FnOnce() -> T) -> (T, bool) {
    INTERRUPTED.store(false, Ordering::SeqCst);
    EVALUATING.store(true, Ordering::SeqCst);
    let value = f();
    EVALUATING.store(false, Ordering::SeqCst);
    (value, INTERRUPTED.swap(false, Ordering::SeqCst))
}

/// A SIGTERM asked the session to end.
pub fn quit_requested() -> bool {
    QUIT.load(Ordering::SeqCst)
}
