//! Recipe and module texts by source name, so an error anywhere can quote the offending line.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The texts of one run's recipe and modules.
#[derive(Default)]
pub struct Sources(Mutex<HashMap<String, Arc<str>>>);

impl Sources {
    pub fn add(&self, name: &str, text: &str) {
        self.0
            .lock()
            .unwrap()
            .insert(name.to_string(), Arc::from(text));
    }
    pub fn get(&self, name: &str) -> Option<Arc<str>> {
        self.0.lock().unwrap().get(name).cloned()
    }
}
