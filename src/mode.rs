//! The three ways a run treats its hosts. Only the executor, the CLI and the report look at it:
//! operations describe changes and read facts, and never ask which mode they run in.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Change hosts.
    #[default]
    Apply,
    /// Probe real hosts read-only; record what would change.
    Check,
    /// Contact no host; probes answer from facts fixtures.
    Plan,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Apply => "apply",
            Mode::Check => "check",
            Mode::Plan => "plan",
        }
    }
    /// Check and plan record changes instead of making them.
    pub fn predicts(self) -> bool {
        self != Mode::Apply
    }
}
