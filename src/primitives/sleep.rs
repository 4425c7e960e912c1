//! `sleep(seconds)`, replacing Rhai's own, which blocks its thread for the whole time: neither
//! `--timeout` nor Ctrl-C nor SIGTERM could stop a `sleep(30)`. This one sleeps in short slices and
//! ends the run as soon as it is interrupted or its time budget is spent.

use std::time::{Duration, Instant};

use rhai::{Engine, NativeCallContext, FLOAT, INT};

use super::{reg, usage, RResult};
use crate::error::Stop;
use crate::executor::Ctx;
use crate::host::exec;

const SLICE: Duration = Duration::from_millis(50);

fn sleep_secs(nc: NativeCallContext, seconds: FLOAT) -> RResult<()> {
    if seconds.is_nan() || seconds < 0.0 {
        return Err(usage(format!(
            "sleep: {seconds} is not a number of seconds (give 0 or more, e.g. sleep(2))"
        )));
    }
    if seconds > super::wait::MAX_WAIT_SECS {
        return Err(super::wait::too_long("sleep:", seconds));
    }
    let deadline = Ctx::of(&nc).ok().and_then(|c| c.run.deadline);
    // Longer than a Duration holds (1e300, infinity): until interrupted or out of budget.
    let end = Duration::try_from_secs_f64(seconds)
        .ok()
        .and_then(|d| Instant::now().checked_add(d));
    loop {
        if exec::interrupted() {
            return Err(Stop::Interrupt.raise());
        }
        let now = Instant::now();
        if end.is_some_and(|e| now >= e) {
            return Ok(());
        }
        if deadline.is_some_and(|d| now >= d) {
            return Err(Stop::Budget.raise());
        }
        let mut nap = SLICE;
        for limit in [end, deadline].into_iter().flatten() {
            nap = nap.min(limit.saturating_duration_since(now));
        }
        std::thread::sleep(nap);
    }
}

fn sleep_int(nc: NativeCallContext, seconds: INT) -> RResult<()> {
    sleep_secs(nc, seconds as FLOAT)
}

pub fn register(engine: &mut Engine) {
    let docs = &[
        "Pauses the recipe for `seconds` (a fraction is fine). Ctrl-C, SIGTERM and the run's",
        "--timeout end it at once, like any command.",
    ];
    reg(engine, "sleep", &["seconds: f64", "()"], docs, sleep_secs);
    reg(engine, "sleep", &["seconds: i64", "()"], docs, sleep_int);
}
