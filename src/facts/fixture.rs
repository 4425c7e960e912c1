//! Facts fixtures: a host described as data (facts, files, packages, services, command outputs).
//! `plan` runs recipes against them; tests use them as facts-in/changes-out inputs.

use std::collections::BTreeMap;

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
