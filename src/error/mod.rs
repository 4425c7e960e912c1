//! galley's one error type. Every error a primitive, an import or `on()` raises is a [`Failure`]
//! with its [`Kind`], carried through Rhai as an opaque value a script can read but not make, so
//! a recipe's `throw` can never change the exit code. Stops that are not errors of the recipe
//! (Ctrl-C, the time budget) are a [`Stop`]. [`diagnostics`] is the one place that turns any of
//! them into a located message and an exit code.

pub mod diagnostics;
mod sources;
mod step;

use rhai::{Dynamic, Engine, EvalAltResult, Position};

pub use sources::Sources;
pub use step::{CommandFailure, StepError, Why};

/// Why a run stopped, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A step failed on a host (command, host error, `fail()`, `throw`): exit 1.
    Step,
    /// The recipe or its input is wrong (syntax, unknown function, bad argument, limit): exit 2.
    Recipe,
    /// Ctrl-C: exit 130.
    Interrupted,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Step => 1,
            Kind::Recipe => 2,
            Kind::Interrupted => 130,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Step => "step",
            Kind::Recipe => "usage",
            Kind::Interrupted => "interrupted",
        }
    }
}

/// An error galley raised, as a recipe's `catch (e)` sees it: `e.message`, `e.kind`.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
    /// Raised by `refuse()`: the settings or the inventory are wrong, not the code, so the
    /// message names no stdlib line (only where the recipe run was refused).
    pub refused: bool,
}

/// Why evaluation was stopped from outside the recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Ctrl-C (or a closed stdout).
    Interrupt,
    /// The run's `--timeout` passed.
    Budget,
    /// The recipe's values passed the memory limit.
    Memory,
    /// `galley show` has what it needs once `params()` ran.
    Show,
}

impl Stop {
    /// The error that stops evaluation.
    pub fn raise(self) -> Box<EvalAltResult> {
        EvalAltResult::ErrorTerminated(Dynamic::from(self), Position::NONE).into()
    }

    /// Whether `err` is this stop.
    pub fn is(self, err: &EvalAltResult) -> bool {
        matches!(err, EvalAltResult::ErrorTerminated(t, _) if t.read_lock::<Stop>().as_deref() == Some(&self))
    }
}

fn raise(kind: Kind, msg: &str) -> Box<EvalAltResult> {
    raise_at(kind, msg, Position::NONE)
}

fn raise_at(kind: Kind, msg: &str, pos: Position) -> Box<EvalAltResult> {
    Failure {
        kind,
        message: msg.to_string(),
        refused: false,
    }
    .raise(pos)
}

impl Failure {
    fn raise(self, pos: Position) -> Box<EvalAltResult> {
        EvalAltResult::ErrorRuntime(Dynamic::from(self), pos).into()
    }
}

/// [`usage`] at a known place in the recipe (an import's position).
pub fn usage_at(msg: impl AsRef<str>, pos: Position) -> Box<EvalAltResult> {
    raise_at(Kind::Recipe, msg.as_ref(), pos)
}

/// An error in how something was called (bad argument or option, a refused import): exit 2.
pub fn usage(msg: impl AsRef<str>) -> Box<EvalAltResult> {
    raise(Kind::Recipe, msg.as_ref())
}

/// `refuse()`: the recipe's settings or inventory are wrong (exit 2), said without a caret.
pub fn refusal(msg: impl AsRef<str>) -> Box<EvalAltResult> {
    Failure {
        kind: Kind::Recipe,
        message: msg.as_ref().to_string(),
        refused: true,
    }
    .raise(Position::NONE)
}

/// A step that failed on its host: exit 1.
pub fn step(msg: impl std::fmt::Display) -> Box<EvalAltResult> {
    raise(Kind::Step, &msg.to_string())
}

/// An error of the given kind (for `on()`, which passes its hosts' worst kind on).
pub fn of_kind(kind: Kind, msg: impl AsRef<str>) -> Box<EvalAltResult> {
    match kind {
        Kind::Interrupted => Stop::Interrupt.raise(),
        k => raise(k, msg.as_ref()),
    }
}

/// Lets recipes read a caught error (`e.message`, `e.kind`, `"" + e`) without making one.
pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Failure>("Error")
        .register_get("message", |f: &mut Failure| f.message.clone())
        .register_get("kind", |f: &mut Failure| f.kind.name().to_string())
        .register_fn("to_string", |f: &mut Failure| f.message.clone())
        .register_fn("to_debug", |f: &mut Failure| f.message.clone());
}
