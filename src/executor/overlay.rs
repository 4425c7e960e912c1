//! Predicted state: what check and plan believe a host looks like after the changes they
//! recorded, so a later probe in the same run sees the earlier step's effect.

use std::collections::HashMap;

use crate::host::FileStat;

#[derive(Debug, Clone)]
pub struct PredictedFile {
    /// `None` for a folder or a removed file.
    pub content: Option<Vec<u8>>,
    /// `None` when the file is predicted absent.
    pub stat: Option<FileStat>,
}

/// What else a run predicts about a host, beside its files: one variant per kind of state, so a
/// primitive cannot read what another wrote under a misspelt name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// An installed package's version (`None`: removed).
    Package(String),
    /// A systemd unit (short name) is active / enabled / masked: `"true"` or `"false"`.
    ServiceActive(String),
    ServiceEnabled(String),
    ServiceMasked(String),
    /// apt's lists are older than a repository added in this run.
    AptStale,
    /// A download's checksum (or `present`) at its destination.
    Download(String),
    /// The path an alternatives link points at.
    Alternative(String),
    /// Swap is on (`"true"`/`"false"`).
    SwapActive,
    /// The running SELinux mode.
    SelinuxMode,
    /// A kernel parameter's running value.
    Sysctl(String),
    /// A kernel module is loaded (`"loaded"`).
    Module(String),
    /// A path a recorded command creates when applied (its `creates:` guard), content unknown
    /// until then: the command as shown.
    Created(String),
    /// A file whose content comes from a command's output that this check or plan cannot know
    /// (`run(..., #{ output_for: path })`): why.
    OutputUnknown(String),
}

#[derive(Debug, Default)]
pub struct Overlay {
    files: HashMap<String, PredictedFile>,
    /// Other predicted state (`Key::Package("docker-ce")` → its version).
    state: HashMap<Key, Option<String>>,
}

impl Overlay {
    pub fn file(&self, path: &str) -> Option<&PredictedFile> {
        self.files.get(path)
    }

    pub fn set_file(&mut self, path: &str, content: Vec<u8>, stat: FileStat) {
        self.files.insert(
            path.to_string(),
            PredictedFile {
                content: Some(content),
                stat: Some(stat),
            },
        );
    }

    pub fn set_dir(&mut self, path: &str, stat: FileStat) {
        self.files.insert(
            path.to_string(),
            PredictedFile {
                content: None,
                stat: Some(stat),
            },
        );
    }

    pub fn remove_file(&mut self, path: &str) {
        self.files.insert(
            path.to_string(),
            PredictedFile {
                content: None,
                stat: None,
            },
        );
    }

    /// A predicted value: `Some(Some(v))` set, `Some(None)` predicted absent, `None` unknown.
    pub fn get(&self, key: &Key) -> Option<Option<String>> {
        self.state.get(key).cloned()
    }

    pub fn set(&mut self, key: Key, value: Option<String>) {
        self.state.insert(key, value);
    }

    /// Whether any predicted key is one `which` picks (`|k| matches!(k, Key::Module(_))`).
    pub fn predicts_any(&self, which: impl Fn(&Key) -> bool) -> bool {
        self.state.keys().any(which)
    }
}
