//! The mirrors a cluster with no route out is built from, served on the testbed's bridge while a
//! test runs: the real registry (distribution/distribution) holding the images, and a plain HTTP
//! file server holding the package repositories and manifests (testbed/k8s-repos.sh's tree).
//! Each is stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::bin;

fn wait_listening(address: &str) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(address).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("nothing listens on {address}");
}

/// The registry binary built from distribution/distribution, killed (by PID) when dropped.
pub struct Registry {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start(address: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\nlog:\n  level: warn\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(bin("registry"))
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the registry");
        wait_listening(address);
        Registry { child, _dir: dir }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A static file server over `root` (GET and HEAD; `/a%3Ab` is `a:b`), what a site's own HTTP
/// mirror is. Every request's path is kept, so a test can say what the nodes fetched.
pub struct FileServer {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    pub requests: Arc<std::sync::Mutex<Vec<String>>>,
}

impl FileServer {
    pub fn start(address: &str, root: &Path) -> FileServer {
        let server = Arc::new(tiny_http::Server::http(address).expect("bind the file server"));
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, log, root) = (server.clone(), requests.clone(), root.to_path_buf());
        let thread = std::thread::spawn(move || {
            for req in s.incoming_requests() {
                let path = decode(req.url().split('?').next().unwrap_or(""));
                log.lock().unwrap().push(path.clone());
                let file = safe_join(&root, &path).and_then(|p| std::fs::File::open(p).ok());
                let _ = match file {
                    Some(f) if req.method() == &tiny_http::Method::Head => {
                        let len = f.metadata().map(|m| m.len() as usize).ok();
                        req.respond(
                            tiny_http::Response::empty(200).with_data(std::io::empty(), len),
                        )
                    }
                    Some(f) => req.respond(tiny_http::Response::from_file(f)),
                    None => req.respond(tiny_http::Response::empty(404)),
                };
            }
        });
        FileServer {
            server,
            thread: Some(thread),
            requests,
        }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn decode(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(c)) => {
                out.push(c);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `root` joined with the request path, refusing `..` and anything that is not a file.
fn safe_join(root: &Path, path: &str) -> Option<PathBuf> {
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|c| c == "..") {
        return None;
    }
    let p = root.join(rel);
    p.is_file().then_some(p)
}
