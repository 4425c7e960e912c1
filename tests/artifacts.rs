//! `galley artifacts`: the URLs, repositories, packages and images of a run, from its plan, per
//! host; and `--download DIR` fetching the URLs, for real, from a loopback HTTP server into
//! DIR/<host:port>/<path>.

mod common;
mod prim;

use common::Test;

#[test]
fn kubeadm_artifacts_follow_the_plan_and_the_mirrors() {
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
    let images = list("images");
    for i in [
        "mirror.local:5000/kube-apiserver:v1.37.2",
        "mirror.local:5000/kube-proxy:v1.37.2",
        "mirror.local:5000/pause:3.10.2",
    ] {
        assert!(images.contains(&i.to_string()), "{images:?}");
    }
    assert!(list("repositories")
        .contains(&"http://10.0.0.1:8080/pkgs.k8s.io/core:/stable:/v1.37/deb/".to_string()));
    assert!(list("urls").iter().any(|u| u.ends_with("calico.yaml")));
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
