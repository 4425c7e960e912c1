//! Facts fixtures: a host described as data (facts, files, packages, services, command outputs).
//! `plan` runs recipes against them; tests use them as facts-in/changes-out inputs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::Facts;
use crate::embedded;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileFixture {
    pub content: String,
    #[serde(default = "default_mode")]
    pub mode: String,
    #[serde(default = "root")]
    pub owner: String,
    #[serde(default = "root")]
    pub group: String,
}

fn default_mode() -> String {
    "0644".into()
}
fn root() -> String {
    "root".into()
}

/// Either a bare string (content) or a full file description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FileEntry {
    Content(String),
    Full(FileFixture),
}

impl FileEntry {
    pub fn file(&self) -> FileFixture {
        match self {
            FileEntry::Content(c) => FileFixture {
                content: c.clone(),
                mode: default_mode(),
                owner: root(),
                group: root(),
            },
            FileEntry::Full(f) => f.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFixture {
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandFixture {
    pub argv: Vec<String>,
    #[serde(default)]
    pub rc: i32,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    pub facts: Facts,
    #[serde(default)]
    pub files: BTreeMap<String, FileEntry>,
    #[serde(default)]
    pub dirs: Vec<String>,
    /// Installed packages: name → version (`19.03.4-3.el7`).
    #[serde(default)]
    pub packages: BTreeMap<String, String>,
    #[serde(default)]
    pub services: BTreeMap<String, ServiceFixture>,
    /// Outputs of read-only commands (`run(..., #{readonly: true})`), matched by exact argv.
    #[serde(default)]
    pub commands: Vec<CommandFixture>,
    /// Kernel parameters (`net.ipv4.ip_forward`) → running value, `null` when the host has no
    /// such parameter. One not listed here (nor as a `/proc/sys/...` file) is unknown to a plan.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctl: BTreeMap<String, Option<String>>,
    /// Where a plan's questions to this facts file are noted (`galley facts --save` plans the
    /// recipes with it to learn what to save); not part of the file.
    #[serde(skip)]
    pub asked: Recorder,
}

/// What plans asked a facts file: the packages, services, files, read-only commands and kernel
/// parameters their probes wanted answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    pub packages: BTreeSet<String>,
    pub services: BTreeSet<String>,
    /// Files read (content and metadata).
    pub reads: BTreeSet<String>,
    /// Paths only stat'ed (exists? a folder?).
    pub stats: BTreeSet<String>,
    pub commands: BTreeSet<Vec<String>>,
    pub sysctl: BTreeSet<String>,
}

impl Asked {
    /// Adds what `other` asked; whether anything was new.
    pub fn merge(&mut self, other: Asked) -> bool {
        let before = self.len();
        self.packages.extend(other.packages);
        self.services.extend(other.services);
        self.reads.extend(other.reads);
        self.stats.extend(other.stats);
        self.commands.extend(other.commands);
        self.sysctl.extend(other.sysctl);
        self.len() > before
    }

    fn len(&self) -> usize {
        self.packages.len()
            + self.services.len()
            + self.reads.len()
            + self.stats.len()
            + self.commands.len()
            + self.sysctl.len()
    }
}

/// Notes what is asked of a fixture when it is set up to (`Recorder::on`); clones share it.
/// Two fixtures compare equal whatever their recorders.
#[derive(Clone, Default)]
pub struct Recorder(Option<Arc<Mutex<Asked>>>);

impl Recorder {
    pub fn on() -> Self {
        Recorder(Some(Arc::default()))
    }

    /// What was asked so far.
    pub fn taken(&self) -> Asked {
        self.0
            .as_ref()
            .map(|a| a.lock().unwrap().clone())
            .unwrap_or_default()
    }
}

impl PartialEq for Recorder {
    fn eq(&self, _: &Recorder) -> bool {
        true
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read facts file {path}: {message}")]
    Read { path: String, message: String },
    #[error("bad facts file {path}:{line}:{column}: {message}")]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("unknown facts profile `{name}`; built-in profiles: {known}")]
    UnknownProfile { name: String, known: String },
}

impl Fixture {
    pub fn parse(path: &str, text: &str) -> Result<Fixture, FixtureError> {
        serde_json::from_str(text).map_err(|e| FixtureError::Parse {
            path: path.to_string(),
            line: e.line(),
            column: e.column(),
            message: e
                .to_string()
                .split(" at line")
                .next()
                .unwrap_or_default()
                .to_string(),
        })
    }

    pub fn load(path: &str) -> Result<Fixture, FixtureError> {
        let text = std::fs::read_to_string(path).map_err(|e| FixtureError::Read {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        Self::parse(path, &text)
    }

    /// A built-in profile (`centos7`, `rocky9`, `ubuntu22.04`, `debian12`).
    pub fn profile(name: &str) -> Result<Fixture, FixtureError> {
        match embedded::profile(name) {
            Some(text) => Self::parse(&format!("<profile {name}>"), text),
            None => Err(FixtureError::UnknownProfile {
                name: name.to_string(),
                known: embedded::profile_names().join(", "),
            }),
        }
    }

    /// Notes a question asked of this facts file, when it is recording.
    pub fn ask(&self, note: impl FnOnce(&mut Asked)) {
        if let Some(a) = &self.asked.0 {
            note(&mut a.lock().unwrap());
        }
    }

    pub fn command(&self, argv: &[String]) -> Option<&CommandFixture> {
        self.commands.iter().find(|c| c.argv == argv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_parses() {
        for name in embedded::profile_names() {
            let f = Fixture::profile(&name).unwrap_or_else(|e| panic!("{e}"));
            assert!(!f.facts.os.id.is_empty(), "{name}");
        }
    }

    #[test]
    fn bad_json_names_line_and_column() {
        let err = Fixture::parse("x.json", "{\n  \"facts\": 3\n}")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("bad facts file x.json:2:"), "{err}");
    }

    #[test]
    fn unknown_profile_lists_known_ones() {
        let err = Fixture::profile("nope").unwrap_err().to_string();
        assert!(err.contains("centos7") && err.contains("debian12"), "{err}");
    }
}
