//! Hosts and groups a run targets. Without an inventory file there is one host, `local`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostEntry {
    pub name: String,
    /// Address to connect to; `None` for the local machine.
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub user: Option<String>,
    /// Variables: the host's own over its groups' over `all`'s.
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub groups: Vec<String>,
}

impl HostEntry {
    pub fn local() -> Self {
        HostEntry {
            name: "local".into(),
            ..Default::default()
        }
    }

    pub fn is_local(&self) -> bool {
        self.address.is_none()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub hosts: Vec<HostEntry>,
    /// Group name → member host names, in inventory order.
    pub groups: BTreeMap<String, Vec<String>>,
}

impl Inventory {
    pub fn local() -> Self {
        Inventory {
            hosts: vec![HostEntry::local()],
            groups: BTreeMap::new(),
        }
    }
}
