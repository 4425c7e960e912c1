//! `galley defs`: Rhai definition files for editors, generated from the same registrations (and
//! doc comments) the engine uses, so completion never drifts from the primitives.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::engine::{self, Mode};
use crate::report::{Format, Reporter};
use crate::runner::{prepare, RunOptions};

#[derive(Args, Debug)]
pub struct DefsArgs {
    /// Folder to write the .d.rhai files into.
    #[arg(default_value = ".galley-defs")]
    pub dir: PathBuf,
}

pub fn defs(a: DefsArgs) -> i32 {
    let opts = RunOptions {
        mode: Mode::Plan,
        forks: 1,
        ..Default::default()
    };
    let reporter = Arc::new(Reporter::new(Format::Human, Mode::Plan, false));
    let ctx = match prepare(&opts, reporter, None) {
        Ok(c) => c,
        Err(e) => return super::usage_error(e.0),
    };
    let engine = engine::build(ctx);
    if let Err(e) = std::fs::create_dir_all(&a.dir) {
        return super::usage_error(format!("{}: {e}", a.dir.display()));
    }
    match engine
        .definitions()
        .with_headers(true)
        .include_standard_packages(false)
        .write_to_dir(&a.dir)
    {
        Ok(()) => {
            crate::report::stdout::line(&format!("wrote definitions to {}", a.dir.display()));
            0
        }
        Err(e) => super::usage_error(format!("{}: {e}", a.dir.display())),
    }
}
