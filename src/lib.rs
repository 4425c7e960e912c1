//! galley: provisioning recipes written in Rhai, run locally, over SSH, or as an offline plan.
//!
//! The library holds everything; `main.rs` only calls [`cli::main`]. The modules form layers,
//! each using only the ones below it (`tests/architecture.rs` keeps it so; docs/architecture.md
//! says why): `cli`, `repl` and `runner` on top; `engine` builds the Rhai engine from the
//! registrars of `primitives` (the operations recipes call); they describe their probes and
//! changes to the `executor`, the one place that knows apply, check and plan; it acts on `host`s
//! (local, SSH, or a `facts` file's simulated host) and reports through `report`; `error` is
//! the one error type and its rendering.

pub mod cli;
pub mod embedded;
pub mod engine;
pub mod error;
pub mod executor;
pub mod facts;
pub mod glob;
pub mod host;
pub mod inventory;
pub mod memory;
pub mod mirror;
pub mod mode;
pub mod primitives;
pub mod recipe_folder;
pub mod repl;
pub mod report;
pub mod runner;
pub mod signatures;
