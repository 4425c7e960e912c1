//! One primitive call in progress: the host it acts on and the action it records. Every
//! primitive begins one, and ends it with `finish` (ok or changed) or `fail` (the error that
//! stops the recipe), so actions are recorded and failures worded in one place.

use std::sync::Arc;
use std::time::Instant;

use rhai::{EvalAltResult, NativeCallContext};

use super::{Ctx, Mode, RunCtx, StepResult, Target};
use crate::error::{step, StepError, Stop};
use crate::report::{redact::redact, Action, Status};

type RResult<T> = Result<T, Box<EvalAltResult>>;

/// Where in the recipe (or module) a primitive was called, as `source:line:column`.
pub fn site_of(nc: &NativeCallContext) -> Option<String> {
    let pos = nc.call_position();
    Some(format!(
        "{}:{}:{}",
        nc.call_source().unwrap_or(""),
        pos.line()?,
        pos.position().unwrap_or(0)
    ))
}

/// One primitive call in progress: the host it acts on and the action it will record.
pub struct Call {
    pub run: Arc<RunCtx>,
    pub target: Arc<Target>,
    pub action: Action,
    start: Instant,
}

impl Call {
    pub fn begin(
        nc: &NativeCallContext,
        primitive: &str,
        summary: impl Into<String>,
    ) -> RResult<Call> {
        let ctx = Ctx::of(nc)?;
        let target = ctx.target()?;
        let mut action = Action::new(target.name(), primitive, summary);
        action.site = site_of(nc);
        Ok(Call {
            run: ctx.run,
            target,
            action,
            start: Instant::now(),
        })
    }

    /// A call galley makes itself (not at a recipe's line), such as installing the mirror CA.
    pub fn on(
        run: Arc<RunCtx>,
        target: Arc<Target>,
        primitive: &str,
        summary: impl Into<String>,
    ) -> Call {
        let action = Action::new(target.name(), primitive, summary);
        Call {
            run,
            target,
            action,
            start: Instant::now(),
        }
    }

    /// The mode this call runs in: its host's (check for a host outside `--limit`).
    pub fn mode(&self) -> Mode {
        self.target.mode
    }

    pub fn host(&self) -> &str {
        self.target.name()
    }

    /// Records the action with its final status and returns the result recipes see.
    pub fn finish(mut self, status: Status) -> StepResult {
        self.action.status = status;
        self.action.duration = self.start.elapsed();
        self.run.reporter.action(&self.action);
        if status == Status::Changed && self.target.outside_limit {
            self.run.reporter.log(
                self.host(),
                crate::report::Level::Warn,
                &format!(
                    "{} is outside --limit: `{}` was not done (galley only reads hosts outside the limit)",
                    self.host(),
                    self.action.summary
                ),
            );
        }
        StepResult::from_action(&self.action)
    }

    /// Ends the call with what its steps returned: changed or ok, or the error that stops the
    /// recipe.
    pub fn conclude(self, changed: Result<bool, StepError>) -> RResult<StepResult> {
        match changed {
            Ok(true) => Ok(self.finish(Status::Changed)),
            Ok(false) => Ok(self.finish(Status::Ok)),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Records a failed action and returns the error that stops the recipe.
    pub fn fail(mut self, message: impl std::fmt::Display) -> Box<EvalAltResult> {
        let message = format!("{} on {}: {message}", self.action.primitive, self.host());
        self.action.error = Some(redact(&message));
        self.action.status = Status::Failed;
        self.action.unreachable = self.target.host.connect_failure().is_some();
        self.action.duration = self.start.elapsed();
        self.run.reporter.action(&self.action);
        if crate::host::exec::interrupted() {
            // The command died because of Ctrl-C: stop the run as interrupted (exit 130).
            return Stop::Interrupt.raise();
        }
        step(message)
    }
}
