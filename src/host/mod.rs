//! Connectors: where primitives act. A primitive never touches the machine directly; it asks the
//! current host, so the same recipe runs locally, over SSH or against a simulated plan host.

pub mod capture;
pub mod exec;
pub mod local;
pub mod posix;
pub mod regular_file;
pub mod ssh;
pub mod tree;

use std::time::Duration;

/// One command to run: always an argv, never a joined string (only `sh` uses a shell).
#[derive(Debug, Clone, Default)]
pub struct CommandSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<String>,
    pub stdin: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
}

impl CommandSpec {
    pub fn new<S: AsRef<str>>(argv: &[S]) -> Self {
        CommandSpec {
            argv: argv.iter().map(|s| s.as_ref().to_string()).collect(),
            ..Default::default()
        }
    }
}

/// What a finished command left behind. Output is kept lossless up to a cap; past it the middle
/// is dropped and `truncated` says how many bytes were lost.
#[derive(Debug, Clone, Default)]
pub struct CommandOutput {
    /// Exit code; a command killed by a signal gets 128 + signal number, as shells report it.
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub truncated: u64,
    pub timed_out: bool,
    pub interrupted: bool,
    pub duration: Duration,
    /// A simulated host had no answer for this command (plan): rc 0 and no output stand in.
    pub unknown: bool,
}

impl CommandOutput {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// File metadata as probes see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileStat {
    pub is_dir: bool,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub size: u64,
}

/// Ownership and permissions wanted for a written file or created folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileMeta {
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

/// The biggest file `read_file` returns (32 MiB, the size a recipe's string may reach): a
/// bigger one is refused before it is read, never cut short.
pub const READ_MAX: u64 = 32 * 1024 * 1024;

/// The error for a file over `READ_MAX`, naming the limit and what to do instead.
pub fn too_big(path: &str, size: Option<u64>) -> HostError {
    let size = size.map_or("more than 32 MiB".to_string(), |s| {
        format!("{:.1} MiB", s as f64 / (1024.0 * 1024.0))
    });
    HostError::file(
        path,
        format!(
            "the file is {size}; galley reads files of up to 32 MiB (read_file, line_in_file, \
             comparing or backing up an old file). Handle bigger files with commands, e.g. \
             run([\"sha256sum\", path]) or sh(\"grep ... path\")"
        ),
    )
}

/// Live progress of a running command: elapsed time and its last output line.
pub type ProgressFn<'a> = &'a (dyn Fn(Duration, &str) + Sync);

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("host {host} is unreachable: {message}")]
    Unreachable { host: String, message: String },
    #[error("{0}")]
    Other(String),
}

impl HostError {
    pub fn file(path: &str, err: impl std::fmt::Display) -> Self {
        HostError::File {
            path: path.to_string(),
            message: err.to_string(),
        }
    }
}

pub type HostResult<T> = Result<T, HostError>;

/// A connector: runs, reads, stats and writes, nothing more. Local, SSH and simulated hosts
/// (`facts::sim`, a facts file answering) implement it; facts are gathered through it.
pub trait Host: Send + Sync {
    /// The name the inventory gives this host (`local` for the machine galley runs on).
    fn name(&self) -> &str;
    /// Runs an argv to completion (or timeout), with bounded capture of its output.
    fn run(&self, cmd: &CommandSpec, progress: ProgressFn) -> HostResult<CommandOutput>;
    /// The file's bytes, or `None` when it does not exist. Whole or an error: a file over
    /// `READ_MAX` is refused (`too_big`) before it is read.
    fn read_file(&self, path: &str) -> HostResult<Option<Vec<u8>>>;
    /// The file's metadata, or `None` when it does not exist.
    fn stat(&self, path: &str) -> HostResult<Option<FileStat>>;
    /// Replaces a file atomically: the old content or the new one, never a mix.
    fn write_file(&self, path: &str, content: &[u8], meta: &FileMeta) -> HostResult<()>;
    /// Creates a folder and its parents, then applies `meta` to the folder itself.
    fn ensure_dir(&self, path: &str, meta: &FileMeta) -> HostResult<()>;
    /// Streams the regular file at `path` into `into`, of any size (`fetch` copies a host's
    /// file to the machine galley runs on with it); the bytes copied, or `None` when it does
    /// not exist. The default serves hosts whose files are only read whole (a facts file).
    fn copy_out(&self, path: &str, into: &mut dyn std::io::Write) -> HostResult<Option<u64>> {
        let Some(bytes) = self.read_file(path)? else {
            return Ok(None);
        };
        into.write_all(&bytes)
            .map_err(|e| HostError::file(path, e))?;
        Ok(Some(bytes.len() as u64))
    }
    /// Why connecting to this host failed, once it has (every later command fails the same
    /// way); `None` while it is reachable or untried.
    fn connect_failure(&self) -> Option<String> {
        None
    }
}

/// Connects to a host reached over the network (SSH).
pub fn connect_remote(entry: &crate::inventory::HostEntry) -> HostResult<std::sync::Arc<dyn Host>> {
    Ok(std::sync::Arc::new(ssh::connect(entry)?))
}
