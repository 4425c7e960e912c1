//! The options `galley run`, `galley plan` and `galley repl` share: the mode, plan facts,
//! `--set`, `--diff`, `--forks` and the hosts, turned into `RunOptions` in one place.

use clap::Args;

use super::targets::TargetArgs;
use crate::engine::{params::parse_set, Mode};
use crate::mirror::MirrorFlags;
use crate::runner::RunOptions;

#[derive(Args, Debug)]
pub struct ModeArgs {
    /// Set a parameter declared by the recipe's params(); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Probe the real hosts read-only and report what would change; change nothing.
    #[arg(long, conflicts_with = "plan")]
    pub check: bool,
    /// Contact no host: facts come from --facts or --profile.
    #[arg(long)]
    pub plan: bool,
    /// Facts for plan mode: a JSON file, or a folder of <host>.json files.
    #[arg(long, value_name = "FILE|DIR")]
    pub facts: Option<String>,
    /// Built-in facts profile for plan mode: centos7, rocky9, ubuntu22.04, debian12 [default: rocky9].
    #[arg(long)]
    pub profile: Option<String>,
    /// Show file diffs of changes.
    #[arg(long)]
    pub diff: bool,
    /// Fetch URLs starting with PREFIX from REPLACEMENT instead (longest prefix wins); repeatable;
    /// wins over the inventory var `mirrors`. E.g. https://dl.k8s.io=http://10.0.0.1:8080/dl.k8s.io
    #[arg(long = "mirror", value_name = "PREFIX=REPLACEMENT")]
    pub mirrors: Vec<String>,
    /// Pull images of REGISTRY from a mirror (http://HOST… for plain HTTP); repeatable; wins over
    /// the inventory var `registry_mirrors`. E.g. registry.k8s.io=mirror.local:5000
    #[arg(long = "registry-mirror", value_name = "REGISTRY=HOST[:PORT][/PATH]")]
    pub registry_mirrors: Vec<String>,
    /// A PEM CA the mirrors' certificates are signed with, installed into each host's trust store
    /// before the first fetch; wins over the inventory var `mirror_ca`.
    #[arg(long = "mirror-ca", value_name = "FILE")]
    pub mirror_ca: Option<String>,
    /// Hosts worked on at once by on(...).
    #[arg(long, default_value_t = 10)]
    pub forks: usize,
    #[command(flatten)]
    pub targets: TargetArgs,
}

impl ModeArgs {
    /// The run options these flags describe; `force_plan` for `galley plan`.
    pub fn options(&self, force_plan: bool) -> Result<RunOptions, String> {
        let sets = self
            .sets
            .iter()
            .map(|s| parse_set(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let mode = if force_plan || self.plan {
            Mode::Plan
        } else if self.check {
            Mode::Check
        } else {
            Mode::Apply
        };
        if mode != Mode::Plan && (self.facts.is_some() || self.profile.is_some()) {
            return Err("--facts and --profile only apply to plans; add --plan".into());
        }
        let (inventory, limit) = self.targets.inventory_and_limit()?;
        Ok(RunOptions {
            mode,
            sets,
            facts: self.facts.clone(),
            profile: self.profile.clone(),
            diff: self.diff,
            forks: self.forks,
            inventory,
            limit,
            mirrors: MirrorFlags {
                urls: self.mirrors.clone(),
                registries: self.registry_mirrors.clone(),
                ca: self.mirror_ca.clone(),
            },
            ..Default::default()
        })
    }
}
