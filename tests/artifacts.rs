//! `galley artifacts`: the URLs, repositories, packages and images of a run, from its plan, per
//! host; and `--download DIR` fetching the URLs, for real, from a loopback HTTP server into
//! DIR/<host:port>/<path>.

mod common;
mod prim;

use common::Test;

#[test]
fn kubeadm_artifacts_follow_the_plan_and_the_mirrors() {
    // The CNI manifest, served through a URL mirror as an air-gapped user would.
    let server = prim::HttpServer::start(|path, _| {
        if path.ends_with("/manifests/calico.yaml") {
            let m = "kind: DaemonSet\nspec:\n  template:\n    spec:\n      containers:\n        - name: calico-node\n          image: docker.io/calico/node:v9.9.9\n          imagePullPolicy: IfNotPresent\n      initContainers:\n        - image: \"docker.io/calico/cni:v9.9.9\"\n";
            (200, m.as_bytes().to_vec())
        } else {
            (404, Vec::new())
        }
    });
    let gh = format!(
        "https://raw.githubusercontent.com={}",
        server.url("/gh").trim_end_matches('/')
    );
    let r = Test::new()
        .args(&[
            "artifacts",
            "kubeadm",
            "--profile",
            "debian12",
            "--registry-mirror",
            "registry.k8s.io=mirror.local:5000",
            "--mirror",
            "https://pkgs.k8s.io=http://10.0.0.1:8080/pkgs.k8s.io",
            "--mirror",
            &gh,
            "--output",
            "json",
        ])
        .run();
    r.code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let h = &v["local"];
    let list = |k: &str| -> Vec<String> {
        h[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    // Every image kubeadm 1.37.2 pins (its own `config images list` under the mirror, which
    // tier 4 checks against the real kubeadm), and the manifest's images; nothing else.
    assert_eq!(
        list("images"),
        [
            "docker.io/calico/cni:v9.9.9",
            "docker.io/calico/node:v9.9.9",
            "mirror.local:5000/coredns:v1.14.6",
            "mirror.local:5000/etcd:3.7.0-0",
            "mirror.local:5000/kube-apiserver:v1.37.2",
            "mirror.local:5000/kube-controller-manager:v1.37.2",
            "mirror.local:5000/kube-proxy:v1.37.2",
            "mirror.local:5000/kube-scheduler:v1.37.2",
            "mirror.local:5000/pause:3.10.2",
        ]
    );
    assert!(h.get("unread_manifests").is_none(), "{h}");
    assert!(list("repositories")
        .contains(&"http://10.0.0.1:8080/pkgs.k8s.io/core:/stable:/v1.37/deb/".to_string()));
    assert!(list("urls")
        .iter()
        .any(|u| u.starts_with(&server.url("/gh")) && u.ends_with("calico.yaml")));
    let pkgs = h["packages"].as_array().unwrap();
    assert!(
        pkgs.iter()
            .any(|p| p["name"] == "kubelet" && p["version"] == "1.37.2" && p["manager"] == "apt"),
        "{pkgs:?}"
    );
    assert!(pkgs
        .iter()
        .all(|p| !p["name"].as_str().unwrap().starts_with("Dpkg")));
}

#[test]
fn download_fetches_every_url_into_a_mirror_tree() {
    let server = prim::HttpServer::start(|path, _| match path {
        "/dl/v1/tool" => (200, b"tool bytes".to_vec()),
        "/dl/v1/other" => (200, b"other bytes".to_vec()),
        _ => (404, Vec::new()),
    });
    let t = Test::new().file(
        "r.rhai",
        &format!(
            "download(\"{}\", \"/opt/tool\");\ndownload(\"{}\", \"/opt/other\");\ndownload(\"{}\", \"/opt/tool2\");\n",
            server.url("/dl/v1/tool"),
            server.url("/dl/v1/other"),
            server.url("/dl/v1/tool")
        ),
    );
    let t = t.args(&["artifacts", "./r.rhai", "--download", "{dir}/mirror"]);
    let r = t.run();
    r.code(0).stdout_has(&server.url("/dl/v1/other"));
    let base = r
        .dir
        .join(format!("mirror/127.0.0.1:{}/dl/v1", server.port));
    assert_eq!(std::fs::read(base.join("tool")).unwrap(), b"tool bytes");
    assert_eq!(std::fs::read(base.join("other")).unwrap(), b"other bytes");
    // Nothing on the "host": artifacts only plans.
    assert!(!std::path::Path::new("/opt/tool2").exists());
}

#[test]
fn a_manifest_that_cannot_be_read_is_listed_as_such() {
    // No mirror and no route out: the listing still comes, and says which manifest it could
    // not read and why, instead of leaving its images out silently.
    let server = prim::HttpServer::start(|_, _| (404, Vec::new()));
    let r = Test::new()
        .args(&[
            "artifacts",
            "kubeadm",
            "--profile",
            "debian12",
            "--mirror",
            &format!(
                "https://raw.githubusercontent.com={}",
                server.url("/gh").trim_end_matches('/')
            ),
        ])
        .run();
    r.code(0)
        .stdout_has("manifests not read (their images are not listed)")
        .stdout_has("calico.yaml: GET ")
        .stdout_has("HTTP 404");
}

#[test]
fn download_checks_the_pinned_and_the_published_sha256() {
    let sha = |b: &[u8]| {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(b))
    };
    let good = sha(b"tool bytes");
    let published = good.clone();
    let server = prim::HttpServer::start(move |path, _| match path {
        "/dl/tool" => (200, b"tool bytes".to_vec()),
        "/dl/tool.sha256" => (200, format!("{published}  tool\n").into_bytes()),
        "/dl/bad" => (200, b"tampered".to_vec()),
        "/dl/bad.sha256" => (200, format!("{}  bad\n", "0".repeat(64)).into_bytes()),
        _ => (404, Vec::new()),
    });
    // The published checksum is checked and served beside the file, where the recipe's own
    // `curl mirror_url(URL.sha256)` will look for it.
    let t = Test::new().file(
        "r.rhai",
        &format!("download(\"{}\", \"/opt/tool\");\n", server.url("/dl/tool")),
    );
    let t = t.args(&["artifacts", "./r.rhai", "--download", "{dir}/m"]);
    let r = t.run();
    r.code(0)
        .stderr_has("(sha256 checked against the published one)");
    let base = r.dir.join(format!("m/127.0.0.1:{}/dl", server.port));
    assert_eq!(std::fs::read(base.join("tool")).unwrap(), b"tool bytes");
    assert_eq!(
        std::fs::read_to_string(base.join("tool.sha256")).unwrap(),
        format!("{good}\n")
    );
    // A pinned checksum that does not match: an error, and no file.
    let t = Test::new().file(
        "r.rhai",
        &format!(
            "download(\"{}\", \"/opt/tool\", #{{ sha256: \"{}\" }});\n",
            server.url("/dl/tool"),
            "a".repeat(64)
        ),
    );
    let t = t.args(&["artifacts", "./r.rhai", "--download", "{dir}/m"]);
    let r = t.run();
    r.code(1)
        .stderr_has("checksum mismatch for")
        .stderr_has("the recipe pins sha256 aaaa");
    assert!(!r
        .dir
        .join(format!("m/127.0.0.1:{}/dl/tool", server.port))
        .exists());
    // A published checksum that does not match: the same.
    let t = Test::new().file(
        "r.rhai",
        &format!("download(\"{}\", \"/opt/bad\");\n", server.url("/dl/bad")),
    );
    let t = t.args(&["artifacts", "./r.rhai", "--download", "{dir}/m"]);
    let r = t.run();
    r.code(1).stderr_has("published sha256 0000");
    assert!(!r
        .dir
        .join(format!("m/127.0.0.1:{}/dl/bad", server.port))
        .exists());
}
