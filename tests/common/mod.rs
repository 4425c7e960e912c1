//! A builder for tests that drive the built `galley` binary in a temporary folder, in the manner
//! of casey/just's `Test`: set up files, say what the run must end with (`status`, `stdout`,
//! `stderr`), then `check`, which compares the exit code and both whole outputs; what is not
//! said is expected empty (and exit 0), so a new line of output fails a test until it is
//! expected. `run` gives the raw result for the tests that read it in parts (JSON events,
//! action lines).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The pages a reader is given: README.md, then docs/*.md in name order.
pub fn doc_pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    [vec![root.join("README.md")], docs].concat()
}

pub fn galley_bin() -> &'static str {
    env!("CARGO_BIN_EXE_galley")
}

pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    status: i32,
    stdout: String,
    stderr: String,
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: PathBuf,
}

impl Test {
    pub fn new() -> Self {
        Test {
            dir: tempfile::tempdir().expect("tempdir"),
            args: Vec::new(),
            env: Vec::new(),
            status: 0,
            stdout: String::new(),
            stderr: String::new(),
        }
    }

    /// The exit code `check` expects (0 unless said).
    pub fn status(mut self, code: i32) -> Self {
        self.status = code;
        self
    }

    /// The whole stdout `check` expects (nothing unless said); `{dir}` is the test's folder.
    pub fn stdout(mut self, text: &str) -> Self {
        self.stdout = text.to_string();
        self
    }

    /// The whole stderr `check` expects (nothing unless said); `{dir}` is the test's folder.
    pub fn stderr(mut self, text: &str) -> Self {
        self.stderr = text.to_string();
        self
    }

    /// Runs, then fails unless the exit code, the whole stdout and the whole stderr are what
    /// was said. Durations, which differ from run to run, are compared as `TIME`: `(12ms)`,
    /// `(2.1s)` and `recap (apply, 14ms)` read `(TIME)` and `recap (apply, TIME)`.
    pub fn check(self) -> Ran {
        let mut ran = self.run();
        let time = regex::Regex::new(r"([( ])\d+(\.\d+)?(ms|s)\)").unwrap();
        ran.stdout = time.replace_all(&ran.stdout, "${1}TIME)").into_owned();
        ran.stderr = time.replace_all(&ran.stderr, "${1}TIME)").into_owned();
        let dir = self.dir.path().display().to_string();
        let want = |s: &str| s.replace("{dir}", &dir);
        let (stdout, stderr) = (want(&self.stdout), want(&self.stderr));
        if ran.code != self.status || ran.stdout != stdout || ran.stderr != stderr {
            panic!(
                "galley {:?}\n{}{}{}",
                self.args,
                differs("exit code", &self.status.to_string(), &ran.code.to_string()),
                differs("stdout", &stdout, &ran.stdout),
                differs("stderr", &stderr, &ran.stderr),
            );
        }
        ran
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file relative to the test folder (parents created).
    pub fn file(self, rel: &str, content: &str) -> Self {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        self
    }

    pub fn args<S: AsRef<str>>(mut self, args: &[S]) -> Self {
        self.args.extend(args.iter().map(|a| {
            a.as_ref()
                .replace("{dir}", &self.dir.path().display().to_string())
        }));
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(galley_bin());
        c.args(&self.args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self) -> Ran {
        let out: Output = self.command().output().expect("run galley");
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            dir: self.dir.path().to_path_buf(),
        }
    }

    /// Keeps the temp folder alive beyond the builder.
    pub fn keep(self) -> (tempfile::TempDir, Vec<String>) {
        (self.dir, self.args)
    }
}

/// `what` expected and got, when they differ.
fn differs(what: &str, want: &str, got: &str) -> String {
    if want == got {
        return String::new();
    }
    format!("{what} differs\n--- expected\n{want}\n--- got\n{got}\n---\n")
}

impl Ran {
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(
            self.code, want,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn stdout_has(&self, s: &str) -> &Self {
        assert!(
            self.stdout.contains(s),
            "stdout lacks {s:?}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn stderr_has(&self, s: &str) -> &Self {
        assert!(
            self.stderr.contains(s),
            "stderr lacks {s:?}\nstderr:\n{}",
            self.stderr
        );
        self
    }

    pub fn stderr_is(&self, s: &str) -> &Self {
        assert_eq!(self.stderr.trim_end(), s.trim_end(), "stderr");
        self
    }

    /// Action lines of human output: (status, rest).
    pub fn actions(&self) -> Vec<(String, String)> {
        self.stdout
            .lines()
            .filter_map(|l| {
                let t = l.trim_start();
                let (status, rest) = t.split_once(' ')?;
                matches!(status, "ok" | "changed" | "failed" | "skipped" | "unknown")
                    .then(|| (status.to_string(), rest.to_string()))
            })
            .collect()
    }

    pub fn count(&self, status: &str) -> usize {
        self.actions().iter().filter(|(s, _)| s == status).count()
    }

    /// JSON events (for --output json).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
            .collect()
    }

    /// The messages of the log events (`info`, `warn`, `print`), in order (for --output json).
    pub fn logs(&self) -> Vec<String> {
        self.events()
            .iter()
            .filter(|e| e["type"] == "log")
            .map(|e| e["message"].as_str().unwrap_or("").to_string())
            .collect()
    }
}
