//! Which hosts a command acts on: `-i` inventory, `-H` one-off hosts, `--limit`, and the SSH
//! settings given on the command line (shared by `run`, `plan` and `facts`).

use clap::Args;

use crate::inventory::{limit_names, restrict, Inventory};

#[derive(Args, Debug, Default, Clone)]
pub struct TargetArgs {
    /// Inventory: galley TOML (.toml), Ansible YAML (.yml/.yaml) or Ansible INI (any other name).
    #[arg(short = 'i', long, value_name = "FILE")]
    pub inventory: Option<String>,
    /// A host without an inventory file, as [USER@]HOST[:PORT]; repeatable.
    #[arg(
        short = 'H',
        long = "host",
        value_name = "[USER@]HOST[:PORT]",
        conflicts_with = "inventory"
    )]
    pub hosts: Vec<String>,
    /// Only these hosts: host or group names or globs, comma-separated; `!x` excludes, `&x` intersects.
    #[arg(long, value_name = "PATTERN")]
    pub limit: Option<String>,
    /// Trust the SSH host key of a host seen for the first time (a changed key is still refused).
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// An ssh option for every host (`ssh -o KEY=VALUE`); repeatable; wins over inventory options.
    #[arg(long = "ssh-option", value_name = "KEY=VALUE")]
    pub ssh_options: Vec<String>,
    /// Run commands on remote hosts as root through `sudo -n` (same as the inventory var become=true).
    #[arg(long = "become")]
    pub become_root: bool,
}

impl TargetArgs {
    /// The inventory these arguments describe, restricted to `--limit`; `None` means just the
    /// local machine.
    pub fn inventory(&self) -> Result<Option<Inventory>, String> {
        let (inv, limit) = self.inventory_and_limit()?;
        Ok(match (inv, limit) {
            (Some(inv), Some(names)) => Some(restrict(&inv, &names)),
            (inv, _) => inv,
        })
    }

    /// The whole inventory and, with `--limit`, the names of the hosts to act on. Runs keep
    /// every host so recipes can read the roles of the others (`hosts_all()`).
    pub fn inventory_and_limit(&self) -> Result<(Option<Inventory>, Option<Vec<String>>), String> {
        let inv = if let Some(path) = &self.inventory {
            Some(Inventory::load(path).map_err(|e| e.to_string())?)
        } else if !self.hosts.is_empty() {
            Some(Inventory::from_specs(&self.hosts).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let Some(mut inv) = inv else {
            if self.limit.is_some() {
                return Err(
                    "--limit needs hosts: give an inventory with -i or hosts with -H".into(),
                );
            }
            return Ok((None, None));
        };
        let limit = match &self.limit {
            Some(pattern) => Some(limit_names(&inv, pattern).map_err(|e| e.to_string())?),
            None => None,
        };
        for o in &self.ssh_options {
            if !o.contains('=') || o.starts_with('-') {
                return Err(format!(
                    "--ssh-option {o}: expected KEY=VALUE, e.g. ServerAliveInterval=30"
                ));
            }
        }
        inv.prepend_ssh_options(&self.ssh_options);
        if self.accept_new_host_keys {
            inv.set_var("ssh_accept_new_host_keys", true.into());
        }
        if self.become_root {
            inv.set_var("become", true.into());
        }
        Ok((Some(inv), limit))
    }
}
