//! The executor: the one place that knows apply, check and plan. Primitives (the operations)
//! probe through it and hand it their changes; it runs them on the host in apply, records them
//! in check and plan, keeps the predicted state later probes see, records each action and words
//! each failure. Below it are the hosts, facts and the report; above it the primitives.

mod act;
mod call;
mod change;
pub mod context;
pub mod fact;
pub mod overlay;
pub mod result;

pub use crate::mode::Mode;
pub use act::{act, display, failure_text, probe, spec_of, tail};
pub use call::{site_of, Call};
pub use change::{Effect, Performed, Waiting};
pub use context::{Ctx, RunCtx, Sources, Target};
pub use fact::Fact;
pub use result::StepResult;
