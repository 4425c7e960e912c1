//! The real containerd pulls through the hosts.toml galley writes: a small OCI registry on
//! loopback (started here, serving one image), a containerd started in a temp root (stopped by
//! PID), and `ctr content fetch --hosts-dir` of `registry.k8s.io/pause:3.10`, an image the
//! machine cannot reach upstream. The registry must see the requests, at the mirror's path.
//! Needs root and the Debian package `containerd` (containerd and ctr).

mod recipes_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use recipes_support::{plan, Job};
use sha2::{Digest, Sha256};

plan_worker!();

fn digest(b: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(b))
}

/// One image: manifest, config and a layer, served under `prefix` (`/v2` or `/v2/k8s`).
struct Registry {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

fn start_registry(prefix: &'static str) -> Registry {
    let layer = b"not really a tarball, but content fetch only checks the digest".to_vec();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        digest(&layer)
    )
    .into_bytes();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}]}}"#,
        digest(&config),
        config.len(),
        digest(&layer),
        layer.len()
    )
    .into_bytes();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                    break;
                }
            }
            let mut parts = first.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            // containerd adds `?ns=<registry>` for mirrors.
            let path = parts
                .next()
                .unwrap_or("")
                .split('?')
                .next()
                .unwrap_or("")
                .to_string();
            log.lock().unwrap().push(format!("{method} {path}"));
            let (status, ctype, body) = if path == "/v2/" {
                (200, "application/json", b"{}".to_vec())
            } else if path == format!("{prefix}/pause/manifests/3.10")
                || path == format!("{prefix}/pause/manifests/{}", digest(&manifest))
            {
                (
                    200,
                    "application/vnd.oci.image.manifest.v1+json",
                    manifest.clone(),
                )
            } else if path == format!("{prefix}/pause/blobs/{}", digest(&config)) {
                (200, "application/octet-stream", config.clone())
            } else if path == format!("{prefix}/pause/blobs/{}", digest(&layer)) {
                (200, "application/octet-stream", layer.clone())
            } else {
                (404, "text/plain", b"not found".to_vec())
            };
            let mut s = stream;
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nDocker-Content-Digest: {}\r\nConnection: close\r\n\r\n",
                body.len(),
                digest(&body)
            );
            let _ = s.write_all(head.as_bytes());
            if method != "HEAD" {
                let _ = s.write_all(&body);
            }
            let _ = s.flush();
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
        }
    });
    Registry { port, requests }
}

/// containerd in a temp root, CRI off (ctr needs only the content store); killed by PID on drop.
struct Containerd {
    child: std::process::Child,
    socket: std::path::PathBuf,
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_containerd(dir: &std::path::Path) -> Containerd {
    assert!(
        std::path::Path::new("/usr/bin/containerd").exists()
            && std::path::Path::new("/usr/bin/ctr").exists(),
        "containerd is missing: install the Debian package containerd (apt-get install containerd)"
    );
    let socket = dir.join("containerd.sock");
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{1}\"\n[ttrpc]\n  address = \"{1}.ttrpc\"\n",
            dir.display(),
            socket.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
    let child = Command::new("/usr/bin/containerd")
        .arg("--config")
        .arg(&cfg)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !socket.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "containerd did not start: {}",
            std::fs::read_to_string(dir.join("containerd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Containerd { child, socket }
}

/// The hosts.toml files a containerd plan writes with this registry mirror, into `dir`.
fn write_hosts(mirror: &str, dir: &std::path::Path) {
    let job = Job {
        registry_mirrors: vec![format!("registry.k8s.io={mirror}")],
        ..Job::new("containerd").profile("debian12")
    };
    let p = plan(&job);
    assert_eq!(p.code, 0, "{}", p.stderr);
    let mut n = 0;
    for a in p.actions() {
        let Some(d) = a["diff"].as_str() else {
            continue;
        };
        let Some(path) = d
            .lines()
            .find_map(|l| l.strip_prefix("+++ "))
            .map(|p| p.trim_end_matches(" (after)"))
        else {
            continue;
        };
        let Some(rel) = path.strip_prefix("/etc/containerd/certs.d/") else {
            continue;
        };
        let text: String = d
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .map(|l| format!("{}\n", &l[1..]))
            .collect();
        let f = dir.join(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
        n += 1;
    }
    assert!(n >= 1, "no hosts.toml in the plan");
}

fn fetch(c: &Containerd, hosts: &std::path::Path) -> std::process::Output {
    Command::new("/usr/bin/ctr")
        .arg("--address")
        .arg(&c.socket)
        .args(["content", "fetch", "--hosts-dir"])
        .arg(hosts)
        .arg("registry.k8s.io/pause:3.10")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn containerd_pulls_registry_k8s_io_images_from_a_plain_http_mirror() {
    for (prefix, mirror_path) in [("/v2", ""), ("/v2/k8s", "/k8s")] {
        let reg = start_registry(prefix);
        let t = tempfile::tempdir().unwrap();
        let c = start_containerd(t.path());
        let hosts = t.path().join("certs.d");
        std::fs::create_dir_all(&hosts).unwrap();

        // Without the hosts.toml the upstream is tried, and the registry sees nothing.
        let out = fetch(&c, &hosts);
        assert!(!out.status.success());
        assert!(reg.requests.lock().unwrap().is_empty());

        write_hosts(
            &format!("http://127.0.0.1:{}{mirror_path}", reg.port),
            &hosts,
        );
        let out = fetch(&c, &hosts);
        assert!(
            out.status.success(),
            "ctr content fetch failed: {}\n{}\nrequests: {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            reg.requests.lock().unwrap()
        );
        let seen = reg.requests.lock().unwrap().clone();
        assert!(
            seen.iter()
                .any(|r| r.ends_with(&format!("{prefix}/pause/manifests/3.10")))
                && seen.iter().filter(|r| r.contains("/blobs/sha256:")).count() >= 2,
            "{seen:?}"
        );
    }
}
