//! The simulated host of `plan`: answers probes from a facts fixture and never contacts anything.
//! Changes a plan predicts live in the run's overlay, not here, so this stays a pure description.

use std::sync::Arc;
use std::time::Duration;

use super::Fixture;
use crate::host::{
    CommandOutput, CommandSpec, FileMeta, FileStat, Host, HostError, HostResult, ProgressFn,
};

pub struct SimHost {
    name: String,
    fixture: Arc<Fixture>,
}

impl SimHost {
    pub fn new(name: &str, fixture: Arc<Fixture>) -> Self {
        SimHost {
            name: name.to_string(),
            fixture,
        }
    }
}

fn refuse(path: &str) -> HostError {
    HostError::file(
        path,
        "a simulated host cannot be changed (plan mode records changes instead)",
    )
}

impl Host for SimHost {
    fn name(&self) -> &str {
        &self.name
    }

    /// Only read-only commands reach a simulated host; their output, exit code included (a
    /// facts file can say a command fails), comes from the fixture. A command the fixture does
    /// not know is marked `unknown`: rc 0 and no output stand in, and the step shows as unknown
    /// ("would check"), never as a success the plan made up.
    fn run(&self, cmd: &CommandSpec, _progress: ProgressFn) -> HostResult<CommandOutput> {
        self.fixture.ask(|a| {
            a.commands.insert(cmd.argv.clone());
        });
        let found = self.fixture.command(&cmd.argv);
        Ok(CommandOutput {
            unknown: found.is_none(),
            rc: found.map_or(0, |c| c.rc),
            stdout: found
                .map(|c| c.stdout.clone().into_bytes())
                .unwrap_or_default(),
            stderr: found
                .map(|c| c.stderr.clone().into_bytes())
                .unwrap_or_default(),
            duration: Duration::ZERO,
            ..Default::default()
        })
    }

    fn read_file(&self, path: &str) -> HostResult<Option<Vec<u8>>> {
        self.fixture.ask(|a| {
            a.reads.insert(path.to_string());
        });
        Ok(self
            .fixture
            .files
            .get(path)
            .map(|f| f.file().content.into_bytes()))
    }

    fn stat(&self, path: &str) -> HostResult<Option<FileStat>> {
        self.fixture.ask(|a| {
            a.stats.insert(path.to_string());
        });
        if let Some(f) = self.fixture.files.get(path).map(|f| f.file()) {
            return Ok(Some(FileStat {
                is_dir: false,
                mode: u32::from_str_radix(f.mode.trim_start_matches("0o"), 8).unwrap_or(0o644),
                owner: f.owner,
                group: f.group,
                size: f.content.len() as u64,
            }));
        }
        let is_dir = self
            .fixture
            .dirs
            .iter()
            .any(|d| d.trim_end_matches('/') == path.trim_end_matches('/'));
        Ok(is_dir.then(|| FileStat {
            is_dir: true,
            mode: 0o755,
            owner: "root".into(),
            group: "root".into(),
            size: 4096,
        }))
    }

    fn write_file(&self, path: &str, _content: &[u8], _meta: &FileMeta) -> HostResult<()> {
        Err(refuse(path))
    }

    fn ensure_dir(&self, path: &str, _meta: &FileMeta) -> HostResult<()> {
        Err(refuse(path))
    }
}
