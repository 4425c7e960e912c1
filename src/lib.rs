//! galley: provisioning recipes written in Rhai, run locally, over SSH, or as an offline plan.
//!
//! The library holds everything; `main.rs` only calls [`cli::main`]. Recipes call primitives
//! (`primitives`), which act on the current host (`host`) through the engine built in `engine`,
//! and every action is reported through `report`.

pub mod cli;
pub mod embedded;
pub mod engine;
pub mod facts;
pub mod glob;
pub mod host;
pub mod inventory;
pub mod mirror;
pub mod primitives;
pub mod repl;
pub mod report;
pub mod runner;
