//! How a primitive hands the executor a change. It says what the change is (a closure that makes
//! it, a command, its dry-run form) and what it leaves behind (`Effect`s); the executor makes it
//! in apply, and in check and plan records it and keeps the effects as the predicted state that
//! later probes in the same run see. A primitive never asks which mode it runs in.

use super::overlay::{Flag, Key};
use super::Call;
use crate::error::StepError;
use crate::host::{CommandOutput, CommandSpec, FileStat, HostError};

/// What a change leaves on the host, as later probes of the same run should see it.
pub enum Effect {
    File {
        path: String,
        content: Vec<u8>,
        stat: FileStat,
    },
    Dir {
        path: String,
        stat: FileStat,
    },
    State(Key, Option<String>),
    Flag(Flag, bool),
}

/// What became of a changing command.
pub enum Performed {
    /// It ran (apply).
    Ran(CommandOutput),
    /// Its dry-run form ran instead (check).
    DryRun(CommandOutput),
    /// It was recorded, not run; a facts file's recorded output for it, if it has one (plan).
    Recorded(Option<String>),
    /// It was recorded, not run, and the facts file answered its dry-run form (plan).
    Answered(CommandOutput),
}

/// How `wait_ready` may wait in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// Until ready or the timeout (apply).
    UntilReady,
    /// Look once and report (check).
    Once,
    /// Not at all: only the host can tell (plan).
    Never,
}

impl Call {
    /// Makes a change with `make` (apply), or records it and predicts its `effects` (check and
    /// plan). `None` when it was recorded.
    pub fn change<T>(
        &mut self,
        effects: impl FnOnce(&Call) -> Vec<Effect>,
        make: impl FnOnce(&mut Call) -> Result<T, StepError>,
    ) -> Result<Option<T>, StepError> {
        if self.mode().predicts() {
            self.predict(|call| Ok(effects(call)))?;
            return Ok(None);
        }
        make(self).map(Some)
    }

    /// Keeps what a recorded change leaves behind, for later probes of this run (check and
    /// plan; in apply the host itself answers).
    /// Working out the effects may need a probe; its error fails the step.
    pub fn predict(
        &self,
        effects: impl FnOnce(&Call) -> Result<Vec<Effect>, StepError>,
    ) -> Result<(), StepError> {
        if !self.mode().predicts() {
            return Ok(());
        }
        let effects = effects(self)?;
        self.remember(effects);
        Ok(())
    }

    /// Keeps what this step did or found, in every mode (apply too): a later step of the run
    /// takes it over a probe of the host (an alternatives link just set, apt's lists made stale
    /// by a repository just added).
    pub fn remember(&self, effects: Vec<Effect>) {
        let mut ov = self.target.overlay();
        for e in effects {
            match e {
                Effect::File {
                    path,
                    content,
                    stat,
                } => ov.set_file(&path, content, stat),
                Effect::Dir { path, stat } => ov.set_dir(&path, stat),
                Effect::State(key, value) => ov.set(key, value),
                Effect::Flag(flag, value) => ov.set_flag(flag, value),
            }
        }
    }

    /// Runs a changing command (apply), its dry-run form when it has one (check), or records it
    /// (plan: the facts file's answer to the dry-run form, else its recorded output of the
    /// command, when there is one). Its argv goes in the action either way.
    pub fn perform(
        &mut self,
        spec: CommandSpec,
        dry: Option<CommandSpec>,
        what: &str,
    ) -> Result<Performed, HostError> {
        if let Some(fixture) = self.target.fixture() {
            // A facts file that holds the dry-run form's answer (`facts --save` runs it: it
            // changes nothing) answers as the check would; else its recorded output of the
            // changing form, if any.
            if let Some(d) = dry {
                let out = self.target.run(&self.run, d, what)?;
                if !out.unknown {
                    return Ok(Performed::Answered(out));
                }
            }
            return Ok(Performed::Recorded(
                fixture.command(&spec.argv).map(|c| c.stdout.clone()),
            ));
        }
        if self.mode().predicts() {
            return match dry {
                Some(d) => Ok(Performed::DryRun(self.target.run(&self.run, d, what)?)),
                None => Ok(Performed::Recorded(None)),
            };
        }
        Ok(Performed::Ran(self.target.run(&self.run, spec, what)?))
    }

    /// How `wait_ready` may wait here. The run's mode decides: a host outside `--limit` in an
    /// apply run is only read, yet waiting there only reads too.
    pub fn waiting(&self) -> Waiting {
        match self.run.mode {
            super::Mode::Apply => Waiting::UntilReady,
            super::Mode::Check => Waiting::Once,
            super::Mode::Plan => Waiting::Never,
        }
    }
}
