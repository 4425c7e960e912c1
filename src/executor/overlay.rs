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

/// What else a run predicts about a host that is text (or absent), beside its files: one
/// variant per kind of state, so a primitive cannot read what another wrote under a misspelt
/// name. What is yes or no is a [`Flag`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// An installed package's version (`None`: removed).
    Package(String),
    /// A download's checksum (or `present`) at its destination.
    Download(String),
    /// The path an alternatives link points at.
    Alternative(String),
    /// The running SELinux mode.
    SelinuxMode,
    /// A kernel parameter's running value.
    Sysctl(String),
    /// A path a recorded command creates when applied (its `creates:` guard), content unknown
    /// until then: the command as shown.
    Created(String),
    /// A file whose content comes from a command's output that this check or plan cannot know
    /// (`run(..., #{ output_for: path })`): why.
    OutputUnknown(String),
}

/// What a run predicts about a host that is yes or no: its value is a `bool`, so a primitive
/// cannot store text where a flag belongs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    /// A systemd unit (short name) is active / enabled / masked.
    ServiceActive(String),
    ServiceEnabled(String),
    ServiceMasked(String),
    /// apt's lists are older than a repository added in this run.
    AptStale,
    /// Swap is on.
    SwapActive,
    /// A kernel module is loaded.
    Module(String),
}

#[derive(Debug, Default)]
pub struct Overlay {
    files: HashMap<String, PredictedFile>,
    /// Other predicted state (`Key::Package("docker-ce")` → its version).
    state: HashMap<Key, Option<String>>,
    /// What is predicted yes or no (`Flag::SwapActive` → whether swap is on).
    flags: HashMap<Flag, bool>,
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

    /// A predicted flag, or `None` when unknown.
    pub fn flag(&self, flag: &Flag) -> Option<bool> {
        self.flags.get(flag).copied()
    }

    pub fn set_flag(&mut self, flag: Flag, value: bool) {
        self.flags.insert(flag, value);
    }

    /// Whether any predicted flag is one `which` picks (`|f| matches!(f, Flag::Module(_))`).
    pub fn predicts_any(&self, which: impl Fn(&Flag) -> bool) -> bool {
        self.flags.keys().any(which)
    }
}
