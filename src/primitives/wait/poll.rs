//! The waiting loop, the one place `wait_ready` waits: probe, and until the target is ready or
//! the deadline (the timeout, within the run's budget) passes, report progress and pause with a
//! growing interval. How long it may wait is the executor's to say (`call.waiting()`): until
//! ready, once (check), or not at all (plan).

use std::time::{Duration, Instant};

use rhai::{Map, NativeCallContext};

use super::probe::Waiter;
use super::target::{target_of, Target};
use super::{secs, WaitOpts};
use crate::executor::{Call, Waiting};
use crate::host::exec;
use crate::primitives::kube::KubeOpts;
use crate::primitives::{from_map, RResult, StepResult};
use crate::report::Status;

/// Sleeps up to `d` in short ticks; false when the run was interrupted meanwhile.
fn pause(d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if exec::interrupted() {
            return false;
        }
        std::thread::sleep(
            Duration::from_millis(50).min(end.saturating_duration_since(Instant::now())),
        );
    }
    !exec::interrupted()
}

pub fn wait_ready(nc: NativeCallContext, opts: Map) -> RResult<StepResult> {
    let o: WaitOpts = from_map("wait_ready", Some(opts))?;
    let target = target_of(&o)?;
    let timeout = secs("timeout", &o.timeout, 300.0)?;
    let mut interval = secs("interval", &o.interval, 1.0)?;
    let max_interval = secs("max_interval", &o.max_interval, 10.0)?.max(interval);
    let what = target.describe();
    let mut call = Call::begin(&nc, "wait_ready", what.clone())?;
    let waiting = call.waiting();
    if waiting == Waiting::Never {
        // Whether the target gets ready is for the host to tell: the plan would check.
        call.action.summary = format!("would wait for {what} (up to {timeout}s)");
        return Ok(call.finish(Status::Unknown));
    }
    let kube = KubeOpts {
        kubeconfig: o.kubeconfig.clone(),
        kubectl: o.kubectl.clone(),
        ..Default::default()
    };
    let namespace = o
        .namespace
        .clone()
        .or_else(|| matches!(target, Target::Pods { .. }).then(|| "default".into()));
    let waiter = Waiter {
        call: &call,
        kube,
        namespace,
    };
    let start = Instant::now();
    let mut budget = Duration::from_secs_f64(timeout);
    if let Some(left) = call.run.remaining() {
        budget = budget.min(left);
    }
    let deadline = start + budget;
    loop {
        let (ready, state) = waiter.once(&target);
        let elapsed = start.elapsed();
        if ready {
            call.action.summary = format!("{what} ready after {:.1}s", elapsed.as_secs_f64());
            let mut r = call.finish(Status::Ok);
            r.stdout = state;
            return Ok(r);
        }
        // A check run looks once. A host outside --limit in an apply run is in check mode, yet
        // waiting there only reads (the nodes a limited run adds become Ready over there).
        if waiting == Waiting::Once {
            call.action.summary =
                format!("{what}: not ready now ({state}); apply would wait up to {timeout}s");
            return Ok(call.finish(Status::Skipped));
        }
        let now = Instant::now();
        if now >= deadline {
            let msg = format!(
                "timed out after {:.0}s waiting for {what}; last state: {state}",
                elapsed.as_secs_f64()
            );
            return Err(call.fail(msg));
        }
        call.run
            .reporter
            .progress(call.host(), &format!("waiting for {what}"), elapsed, &state);
        let nap = Duration::from_secs_f64(interval).min(deadline - now);
        if !pause(nap) {
            // Interrupted (Ctrl-C): `fail` records it and stops the run as interrupted.
            return Err(call.fail(format!(
                "interrupted while waiting for {what}; last state: {state}"
            )));
        }
        interval = (interval * 1.5).min(max_interval);
    }
}
