//! Typed facts: what a primitive asks about a host, each with how a live host answers it (its
//! read-only commands or files, and their parser) and how a facts file answers it. The executor
//! asks whichever source the host has, so a primitive reads one typed value in every mode.

use super::Call;
use crate::error::StepError;
use crate::facts::Fixture;

pub trait Fact {
    type Value;
    /// Asks a live host (read-only). An error is the message to fail the step with.
    fn probe(&self, call: &Call) -> Result<Self::Value, StepError>;
    /// The answer of the host's facts file (a plan's simulated host).
    fn answer_from_file(&self, call: &Call, fixture: &Fixture) -> Result<Self::Value, StepError>;
}

impl Call {
    /// A fact of the current host, from whichever source it has.
    pub fn fact<F: Fact>(&self, fact: &F) -> Result<F::Value, StepError> {
        match self.target.fixture() {
            Some(fixture) => fact.answer_from_file(self, fixture),
            None => fact.probe(self),
        }
    }
}
