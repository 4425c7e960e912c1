//! The live area on stderr while steps run long: one row per busy host — the host, its step or
//! command (redacted), how long it has run and its last line of output — in inventory order,
//! drawn by indicatif's `MultiProgress`. A host's row goes when its step ends; every row is
//! erased before the reporter prints a line, and drawn again at a busy host's next tick. The
//! reporter keeps one only when stderr is a terminal and the output is for people.
//!
//! indicatif's `suspend` unwraps its write errors; the area is cleared here with `clear`, whose
//! error is ignored, so a stderr that went away never panics a run.
//!
//! `-v`'s trace lines go to the same stderr from any thread, outside the reporter. So the area on
//! screen is also known process-wide (as tracing's subscriber is), behind one lock that is held
//! while rows are drawn and while a trace line is written (`write_above`): the rows are erased,
//! the line written, and the rows drawn again at the next tick, never mixed into it.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The live area on the terminal now, if any.
struct Shown {
    id: u64,
    area: MultiProgress,
    erased: Arc<AtomicBool>,
}

static SHOWN: Mutex<Option<Shown>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn shown() -> MutexGuard<'static, Option<Shown>> {
    SHOWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes `bytes` (whole lines) to stderr with the live rows erased first; they come back at
/// their host's next tick.
pub fn write_above(bytes: &[u8]) -> std::io::Result<()> {
    let guard = shown();
    if let Some(s) = guard.as_ref() {
        let _ = s.area.clear();
        s.erased.store(true, Ordering::SeqCst);
    }
    std::io::stderr().write_all(bytes)
}

/// A busy host's row.
struct Row {
    host: String,
    /// The host's place in the inventory (rows are kept in that order).
    rank: usize,
    /// What the row shows the host doing, to tell its own step's end from another's.
    what: String,
    bar: ProgressBar,
}

pub(super) struct Live {
    area: MultiProgress,
    /// In the order drawn.
    rows: Vec<Row>,
    /// Erased for a printed line: the next row shown draws them all again.
    erased: Arc<AtomicBool>,
    /// Its entry in `SHOWN` (0: not registered, as in unit tests).
    id: u64,
}

impl Live {
    pub fn new() -> Self {
        let area = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let erased = Arc::new(AtomicBool::new(false));
        let id = NEXT_ID.fetch_add(1, Ordering::SeqCst);
        *shown() = Some(Shown {
            id,
            area: area.clone(),
            erased: erased.clone(),
        });
        Live {
            area,
            rows: Vec::new(),
            erased,
            id,
        }
    }

    /// Shows `text` as `host`'s row, doing `what`; a new row goes in at its inventory place.
    pub fn show(&mut self, host: &str, rank: usize, what: &str, text: String) {
        let _drawing = shown();
        let row = match self.rows.iter().position(|r| r.host == host) {
            Some(i) => &mut self.rows[i],
            None => {
                let at = place(self.rows.iter().map(|r| r.rank), rank);
                let style = ProgressStyle::with_template("{wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                let bar = self
                    .area
                    .insert(at, ProgressBar::hidden().with_style(style));
                self.rows.insert(
                    at,
                    Row {
                        host: host.to_string(),
                        rank,
                        what: String::new(),
                        bar,
                    },
                );
                &mut self.rows[at]
            }
        };
        if row.what != what {
            row.what = what.to_string();
        }
        // Each message is a redraw (of every row): only a new text (a second more, a new output
        // line) is one, or the first after the rows were erased.
        if self.erased.swap(false, Ordering::SeqCst) || row.bar.message() != text {
            row.bar.set_message(text);
        }
    }

    /// Removes `host`'s row: any, or only one showing `what`.
    pub fn done(&mut self, host: &str, what: Option<&str>) {
        let _drawing = shown();
        let mine = |r: &Row| r.host == host && what.is_none_or(|w| r.what == w);
        if let Some(i) = self.rows.iter().position(mine) {
            let row = self.rows.remove(i);
            row.bar.finish_and_clear();
            self.area.remove(&row.bar);
        }
    }

    /// Erases the rows from the terminal (a line is about to be printed); they stay busy.
    pub fn clear(&mut self) {
        let _drawing = shown();
        if !self.rows.is_empty() {
            let _ = self.area.clear();
            self.erased.store(true, Ordering::SeqCst);
        }
    }

    /// Removes every row (the run is over).
    pub fn close(&mut self) {
        let mut drawing = shown();
        if drawing.as_ref().is_some_and(|s| s.id == self.id) {
            *drawing = None;
        }
        while let Some(row) = self.rows.pop() {
            row.bar.finish_and_clear();
            self.area.remove(&row.bar);
        }
        let _ = self.area.clear();
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.close();
    }
}

/// Where a row of inventory place `rank` goes among rows of the ranks given (in order): after
/// every row of a lower or equal place.
fn place(ranks: impl Iterator<Item = usize>, rank: usize) -> usize {
    ranks.take_while(|&r| r <= rank).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_row_goes_in_at_its_inventory_place() {
        assert_eq!(place([].into_iter(), 3), 0);
        assert_eq!(place([0, 2].into_iter(), 1), 1);
        assert_eq!(place([0, 2].into_iter(), 5), 2);
        assert_eq!(place([1, 2].into_iter(), 0), 0);
        // a host outside the inventory order (usize::MAX) goes last
        assert_eq!(place([0, 4].into_iter(), usize::MAX), 2);
    }

    #[test]
    fn rows_come_and_go_per_host_and_their_order_follows_the_inventory() {
        let mut live = Live {
            area: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            rows: Vec::new(),
            erased: Arc::new(AtomicBool::new(false)),
            id: 0,
        };
        live.show("c", 2, "run x", "c x".into());
        live.show("a", 0, "run y", "a y".into());
        live.show("b", 1, "run z", "b z".into());
        live.show("a", 0, "run y", "a y 2s".into());
        let hosts = |l: &Live| l.rows.iter().map(|r| r.host.clone()).collect::<Vec<_>>();
        assert_eq!(hosts(&live), ["a", "b", "c"]);
        assert_eq!(live.rows[0].bar.message(), "a y 2s");
        // another step's end leaves the row; its own, or the host's action, removes it
        live.done("b", Some("run other"));
        assert_eq!(hosts(&live), ["a", "b", "c"]);
        live.done("b", Some("run z"));
        live.done("c", None);
        assert_eq!(hosts(&live), ["a"]);
        live.close();
        assert!(live.rows.is_empty());
    }
}
