//! Shared by the primitive tests: run a recipe through the built binary, look for the tools a
//! real-tool test needs (failing with what to install, never skipping), and fetch Debian's
//! kubectl into the target folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
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

    pub fn has(&self, s: &str) -> &Self {
        assert!(
            self.stdout.contains(s) || self.stderr.contains(s),
            "output lacks {s:?}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn lacks(&self, s: &str) -> &Self {
        assert!(
            !self.stdout.contains(s) && !self.stderr.contains(s),
            "output has {s:?}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// JSON action events (`--output json`).
    pub fn actions(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["type"] == "action")
            .collect()
    }

    /// (primitive, status) of each action.
    pub fn statuses(&self) -> Vec<(String, String)> {
        self.actions()
            .iter()
            .map(|a| {
                (
                    a["primitive"].as_str().unwrap_or("").to_string(),
                    a["status"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// Commands recorded by every action, each joined with spaces.
    pub fn commands(&self) -> Vec<String> {
        self.actions()
            .iter()
            .flat_map(|a| {
                a["commands"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| {
                        c.as_array()
                            .unwrap()
                            .iter()
                            .map(|s| s.as_str().unwrap().to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
            })
            .collect()
    }
}

/// Runs `galley <args>` on a recipe text written into `dir`, with JSON output.
pub fn galley(dir: &Path, recipe: &str, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let path = dir.join("recipe.rhai");
    std::fs::write(&path, recipe).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_galley"));
    c.args(args)
        .arg(&path)
        .args(["--output", "json"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("KUBECONFIG")
        .env_remove("GALLEY_KUBECTL")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run galley");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn apply(dir: &Path, recipe: &str) -> Ran {
    galley(dir, recipe, &["run"], &[])
}

/// A plan against a built-in profile (`centos7`, `rocky9`, `ubuntu22.04`, `debian12`) or a
/// facts file (a path ending in `.json`).
pub fn plan(dir: &Path, recipe: &str, facts: &str) -> Ran {
    let flag = if facts.ends_with(".json") {
        "--facts"
    } else {
        "--profile"
    };
    galley(dir, recipe, &["plan", flag, facts], &[])
}

/// Finds a program on PATH or fails the test saying which Debian package provides it.
pub fn require(program: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("this test needs `{program}`: install it with `apt-get install {package}`")
    })
}

/// Debian's kubectl, unpacked (never installed) under the target folder once: the kubectl on
/// this machine's PATH is not ours and is never run.
pub fn test_kubectl() -> PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kubectl");
    let bin = base.join("root/usr/bin/kubectl");
    if bin.is_file() {
        return bin;
    }
    let lock = base.with_extension("lock");
    std::fs::create_dir_all(&base).unwrap();
    let _guard = FileLock::take(&lock);
    if bin.is_file() {
        return bin;
    }
    require("apt-get", "apt");
    require("dpkg-deb", "dpkg");
    let dl = base.join("deb");
    std::fs::create_dir_all(&dl).unwrap();
    let out = Command::new("apt-get")
        .args(["download", "-q", "kubernetes-client"])
        .current_dir(&dl)
        .output()
        .expect("run apt-get download");
    assert!(
        out.status.success(),
        "`apt-get download kubernetes-client` failed (run `apt-get update` first?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = std::fs::read_dir(&dl)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .expect("downloaded .deb");
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(base.join("root"))
        .status()
        .unwrap();
    assert!(status.success(), "dpkg-deb -x failed");
    assert!(bin.is_file(), "{} missing after unpacking", bin.display());
    bin
}

/// An exclusive lock file (tests of several binaries may fetch kubectl at once).
struct FileLock(#[allow(dead_code)] nix::fcntl::Flock<std::fs::File>);

impl FileLock {
    fn take(path: &Path) -> FileLock {
        let f = std::fs::File::create(path).unwrap();
        let lock = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
            .unwrap_or_else(|(_, e)| panic!("flock {}: {e}", path.display()));
        FileLock(lock)
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 for tests: `answer(path, n)` gives the status and body of
/// the n-th request (from 0) for that path. Stops when dropped.
pub struct HttpServer {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Answer = dyn Fn(&str, usize) -> (u16, Vec<u8>) + Send + Sync;

impl HttpServer {
    pub fn start(answer: impl Fn(&str, usize) -> (u16, Vec<u8>) + Send + Sync + 'static) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let answer: Arc<Answer> = Arc::new(answer);
        let thread = std::thread::spawn(move || {
            let mut hits: std::collections::HashMap<String, usize> = Default::default();
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, &*answer, &mut hits),
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        });
        HttpServer {
            port,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

fn serve(
    mut stream: std::net::TcpStream,
    answer: &Answer,
    hits: &mut std::collections::HashMap<String, usize>,
) {
    use std::io::{BufRead, BufReader, Write};
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    loop {
        let mut l = String::new();
        if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
            break;
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let n = hits.entry(path.clone()).or_default();
    let (status, body) = answer(&path, *n);
    *n += 1;
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The SHA-256 of bytes, computed with the system's sha256sum (an independent implementation).
pub fn sha256sum(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils)");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}
