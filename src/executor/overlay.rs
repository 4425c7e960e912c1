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

#[derive(Debug, Default)]
pub struct Overlay {
    files: HashMap<String, PredictedFile>,
    /// Other predicted state, by key (`pkg:docker-ce` → version, `svc:docker:active` → `true`).
    state: HashMap<String, Option<String>>,
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
    pub fn get(&self, key: &str) -> Option<Option<String>> {
        self.state.get(key).cloned()
    }

    pub fn set(&mut self, key: &str, value: Option<String>) {
        self.state.insert(key.to_string(), value);
    }
}
