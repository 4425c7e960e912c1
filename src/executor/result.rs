//! The value primitives return: a registered type with getters, so a typo (`r.stdot`) is an
//! error instead of a silent `()`.

use rhai::{Engine, TypeBuilder};

use crate::report::{Action, Status};

#[derive(Debug, Clone, Default, rhai::CustomType)]
#[rhai_type(name = "Result", extra = Self::build_extra)]
pub struct StepResult {
    /// Exit code of the command (0 for non-command steps).
    #[rhai_type(readonly)]
    pub rc: rhai::INT,
    #[rhai_type(readonly)]
    pub stdout: String,
    #[rhai_type(readonly)]
    pub stderr: String,
    /// The step changed the host (or would, in check/plan).
    #[rhai_type(readonly)]
    pub changed: bool,
    /// The step succeeded (a command exited 0).
    #[rhai_type(readonly)]
    pub ok: bool,
    /// `ok`, `changed`, `failed` or `skipped`.
    #[rhai_type(readonly)]
    pub status: String,
    #[rhai_type(readonly)]
    pub host: String,
    /// Unified diff of a file change, or "".
    #[rhai_type(readonly)]
    pub diff: String,
}

impl StepResult {
    pub fn from_action(a: &Action) -> Self {
        StepResult {
            rc: 0,
            stdout: String::new(),
            stderr: String::new(),
            changed: a.status == Status::Changed,
            ok: a.status != Status::Failed,
            status: a.status.as_str().to_string(),
            host: a.host.clone(),
            diff: a.diff.clone().unwrap_or_default(),
        }
    }

    fn build_extra(builder: &mut TypeBuilder<Self>) {
        builder.with_fn("to_string", |r: &mut StepResult| r.display());
        builder.with_fn("to_debug", |r: &mut StepResult| r.display());
    }

    pub fn display(&self) -> String {
        let mut s = format!("{} on {} (rc {})", self.status, self.host, self.rc);
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            if !text.is_empty() {
                s.push_str(&format!("\n{name}:\n{}", text.trim_end()));
            }
        }
        s
    }
}

pub fn register(engine: &mut Engine) {
    engine.build_type::<StepResult>();
}
