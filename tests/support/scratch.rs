//! A scratch folder for one test that runs the built binary over real SSH: recipes and
//! inventories written into it, and the runtime folder galley keeps its control sockets in (so
//! a test can check they are gone afterwards). Include with `#[path = "support/scratch.rs"] mod
//! scratch;`.
#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub struct Scratch {
    dir: tempfile::TempDir,
    cwd: Option<PathBuf>,
}

impl Scratch {
    /// A folder named `prefix…` with `runtime/` and each of `dirs` in it.
    pub fn new(prefix: &str, dirs: &[&str]) -> Scratch {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        for d in ["runtime"].iter().chain(dirs) {
            fs::create_dir(dir.path().join(d)).unwrap();
        }
        Scratch { dir, cwd: None }
    }

    /// galley runs in the folder's `dir` (one of those `new` made).
    pub fn working_in(mut self, dir: &str) -> Scratch {
        self.cwd = Some(self.path(dir));
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to `name` in the folder; its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let p = self.path(name);
        fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    }

    /// The built galley with `args`: no colour, no `RUST_LOG`, nothing on stdin.
    pub fn galley(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_galley"));
        c.args(args)
            .env("XDG_RUNTIME_DIR", self.path("runtime"))
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        if let Some(d) = &self.cwd {
            c.current_dir(d);
        }
        c
    }

    /// Runs `galley(args)`: its exit code, and stdout then stderr.
    pub fn run(&self, args: &[&str]) -> (i32, String) {
        let out = self.galley(args).output().unwrap();
        let all = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), all)
    }

    /// No control socket folder survives a run: masters were closed.
    pub fn assert_cleaned_up(&self) {
        let left: Vec<_> = fs::read_dir(self.path("runtime"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "control folders left behind: {left:?}");
    }
}
