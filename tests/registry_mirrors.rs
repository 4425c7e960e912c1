//! Image registry mirrors: containerd's `certs.d/<registry>/hosts.toml` (plain HTTP and private
//! CA), `config_path` and the sandbox image in config.toml (formats 2 and 3), kubeadm's image
//! repository following the registry.k8s.io mirror, and Docker's daemon.json. The written TOML
//! and JSON are parsed back with real parsers, and the real containerd (Debian package `containerd`)
//! reads the config.toml with `containerd config dump`.

mod common;
mod recipes_support;

use common::Test;
use recipes_support::{plan, profile_with_containerd, Job, CONTAINERD_DEFAULTS};

plan_worker!();

/// The content of every file an action creates, from its diff: path → text.
fn written(events: &[&serde_json::Value]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for a in events {
        let Some(d) = a["diff"].as_str() else {
            continue;
        };
        let mut path = String::new();
        let mut text = String::new();
        for l in d.lines() {
            if let Some(p) = l.strip_prefix("+++ ") {
                if !path.is_empty() {
                    out.push((path.clone(), std::mem::take(&mut text)));
                }
                path = p.trim_end_matches(" (after)").to_string();
            } else if let Some(t) = l.strip_prefix('+') {
                text.push_str(t);
                text.push('\n');
            }
        }
        if !path.is_empty() {
            out.push((path, text));
        }
    }
    out
}

fn file<'a>(files: &'a [(String, String)], path: &str) -> &'a str {
    files
        .iter()
        .rev()
        .find(|(p, _)| p == path)
        .map(|(_, t)| t.as_str())
        .unwrap_or_else(|| {
            panic!(
                "{path} is not written; written: {:?}",
                files.iter().map(|f| &f.0).collect::<Vec<_>>()
            )
        })
}

fn toml(text: &str) -> toml::Value {
    toml::from_str(text).unwrap_or_else(|e| panic!("not TOML: {e}\n{text}"))
}

#[test]
fn kubeadm_on_containerd_pulls_through_the_registry_mirrors() {
    // The hosts' containerd prints its defaults: the plan then shows the config.toml apply
    // writes (without them it is "would check").
    let (_keep, facts) = profile_with_containerd("rocky9", CONTAINERD_DEFAULTS);
    let job = Job {
        registry_mirrors: vec![
            "registry.k8s.io=http://mirror.local:5000".into(),
            "docker.io=mirror.local:5001/docker".into(),
            "quay.io=https://mirror.local:5002".into(),
        ],
        ..Job::new("kubeadm").facts(&facts).topology("multi")
    };
    let p = plan(&job);
    assert_eq!(p.code, 0, "{}\n{}", p.render(), p.stderr);
    let actions = p.actions();
    let files = written(&actions);

    let config = toml(file(&files, "/etc/containerd/config.toml"));
    let cri = &config["plugins"]["io.containerd.grpc.v1.cri"];
    assert_eq!(
        cri["registry"]["config_path"].as_str(),
        Some("/etc/containerd/certs.d")
    );
    assert_eq!(
        cri["sandbox_image"].as_str(),
        Some("mirror.local:5000/pause:3.10.2")
    );
    assert_eq!(
        cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"].as_bool(),
        Some(true)
    );

    // Plain HTTP: an http:// host, TLS not verified.
    let k8s = toml(file(
        &files,
        "/etc/containerd/certs.d/registry.k8s.io/hosts.toml",
    ));
    assert_eq!(k8s["server"].as_str(), Some("https://registry.k8s.io"));
    let h = &k8s["host"]["http://mirror.local:5000"];
    assert_eq!(h["skip_verify"].as_bool(), Some(true));
    assert_eq!(h["capabilities"].as_array().unwrap().len(), 2);
    // A mirror with a path: the path under /v2, which containerd must not add again.
    let docker = toml(file(&files, "/etc/containerd/certs.d/docker.io/hosts.toml"));
    assert_eq!(
        docker["server"].as_str(),
        Some("https://registry-1.docker.io")
    );
    let h = &docker["host"]["https://mirror.local:5001/v2/docker"];
    assert_eq!(h["override_path"].as_bool(), Some(true));
    assert!(h.get("skip_verify").is_none());
    let quay = toml(file(&files, "/etc/containerd/certs.d/quay.io/hosts.toml"));
    assert!(quay["host"].get("https://mirror.local:5002").is_some());
    // Images named after the mirror itself (kubeadm's imageRepository) reach it over HTTP too.
    let own = toml(file(
        &files,
        "/etc/containerd/certs.d/mirror.local:5000/hosts.toml",
    ));
    assert_eq!(own["server"].as_str(), Some("http://mirror.local:5000"));

    let commands: Vec<String> = actions
        .iter()
        .flat_map(|a| a["commands"].as_array().cloned().unwrap_or_default())
        .map(|c| c.to_string())
        .collect();
    // `images pull` takes the repository as a flag; `init` reads it from its configuration
    // (kubeadm allows no such flag beside --config).
    let pulls: Vec<&String> = commands
        .iter()
        .filter(|c| c.contains("\"images\",\"pull\""))
        .collect();
    assert!(!pulls.is_empty(), "{commands:#?}");
    for c in pulls {
        assert!(
            c.contains("\"--image-repository\",\"mirror.local:5000\""),
            "{c}"
        );
    }
    assert!(
        commands
            .iter()
            .any(|c| c.contains("\"kubeadm\",\"init\",\"--config\"")),
        "{commands:#?}"
    );
    let config = file(&files, "/etc/kubernetes/kubeadm-config.yaml");
    assert!(
        config.contains("imageRepository: mirror.local:5000"),
        "{config}"
    );
}

#[test]
fn an_external_etcd_config_file_gets_the_mirror_as_image_repository() {
    let job = Job {
        registry_mirrors: vec!["registry.k8s.io=mirror.local:5000/k8s".into()],
        ..Job::new("kubeadm")
            .profile("debian12")
            .topology("ha-external-etcd")
    };
    let p = plan(&job);
    assert_eq!(p.code, 0, "{}", p.stderr);
    let files = written(&p.actions());
    // The control planes' init config and the etcd members' configs alike.
    let configs: Vec<&String> = files
        .iter()
        .filter(|(_, t)| t.contains("kind: ClusterConfiguration"))
        .map(|(_, t)| t)
        .collect();
    assert!(configs.len() >= 2, "{files:?}");
    for cfg in configs {
        assert!(
            cfg.contains("imageRepository: mirror.local:5000/k8s"),
            "{cfg}"
        );
    }
}

const V3: &str = r#"version = 3

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'

    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = 'registry.k8s.io/pause:3.10'

    [plugins.'io.containerd.cri.v1.images'.registry]
      config_path = ''

  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
    SystemdCgroup = false
"#;

fn eval(body: &str, flags: &[&str]) -> Vec<String> {
    let script =
        format!("import \"runtimes/containerd\" as containerd;\nimport \"runtimes/docker\" as docker;\n{body}\n");
    let mut args = vec![
        "plan",
        "./t.rhai",
        "--output",
        "json",
        "--profile",
        "debian12",
    ];
    args.extend(flags);
    let ran = Test::new().file("t.rhai", &script).args(&args).run();
    ran.code(0);
    ran.logs()
}

#[test]
fn containerd_config_v3_reads_certs_d_and_pins_the_sandbox() {
    let out = eval(
        &format!(
            "print(containerd::mirror_ready(containerd::with_sandbox(containerd::kubelet_ready({}), \"mirror.local:5000/pause:3.10.2\")));",
            serde_json::to_string(V3).unwrap()
        ),
        &["--registry-mirror", "registry.k8s.io=mirror.local:5000"],
    );
    let v = toml(&out[0]);
    let images = &v["plugins"]["io.containerd.cri.v1.images"];
    assert_eq!(
        images["registry"]["config_path"].as_str(),
        Some("/etc/containerd/certs.d")
    );
    assert_eq!(
        images["pinned_images"]["sandbox"].as_str(),
        Some("mirror.local:5000/pause:3.10.2")
    );
    assert_eq!(images["snapshotter"].as_str(), Some("overlayfs"));
    // No mirrors, no sandbox: the text is left as it is.
    let out = eval(
        &format!(
            "let t = {}; print(containerd::mirror_ready(t) == t);",
            serde_json::to_string(V3).unwrap()
        ),
        &[],
    );
    assert_eq!(out, ["true"]);
}

#[test]
fn a_private_ca_registry_names_the_ca_installed_in_the_trust_store() {
    let t = tempfile::tempdir().unwrap();
    let ca = t.path().join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let out = eval(
        "let m = registry_mirrors(); print(containerd::hosts_toml(\"quay.io\", m[\"quay.io\"]));",
        &[
            "--registry-mirror",
            "quay.io=mirror.local:5000",
            "--mirror-ca",
            ca.to_str().unwrap(),
        ],
    );
    let v = toml(&out[0]);
    let h = &v["host"]["https://mirror.local:5000"];
    assert_eq!(
        h["ca"].as_str(),
        Some("/usr/local/share/ca-certificates/galley-mirror-ca.crt")
    );
    assert!(h.get("skip_verify").is_none());
}

#[test]
fn docker_mirrors_docker_io_and_trusts_plain_http_mirrors_and_says_what_it_cannot() {
    let out = eval(
        "print(docker::with_mirrors(docker::daemon_json(false)));",
        &[
            "--registry-mirror",
            "docker.io=http://10.0.0.1:5000",
            "--registry-mirror",
            "quay.io=https://mirror.local:5002",
        ],
    );
    let json = out
        .iter()
        .find(|l| l.starts_with('{'))
        .expect("daemon.json");
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(
        v["registry-mirrors"],
        serde_json::json!(["http://10.0.0.1:5000"])
    );
    assert_eq!(
        v["insecure-registries"],
        serde_json::json!(["10.0.0.1:5000"])
    );
    assert_eq!(
        v["exec-opts"],
        serde_json::json!(["native.cgroupdriver=systemd"])
    );
    assert!(
        out.iter()
            .any(|l| l.contains("Docker mirrors only docker.io") && l.contains("quay.io")),
        "{out:?}"
    );
}

/// The real containerd reads the config.toml the plan writes (Debian package `containerd`).
#[test]
fn the_real_containerd_reads_the_mirrored_config() {
    let Some(bin) = ["/usr/bin/containerd", "/usr/local/bin/containerd"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        panic!("containerd is missing: install the Debian package containerd (apt-get install containerd)");
    };
    // The plan's host prints what this real containerd prints as its defaults.
    let defaults = std::process::Command::new(bin)
        .args(["config", "default"])
        .output()
        .unwrap();
    assert!(defaults.status.success(), "{defaults:?}");
    let (_keep, facts) =
        profile_with_containerd("debian12", &String::from_utf8_lossy(&defaults.stdout));
    let job = Job {
        registry_mirrors: vec!["registry.k8s.io=http://mirror.local:5000".into()],
        ..Job::new("containerd").facts(&facts)
    };
    let p = plan(&job);
    assert_eq!(p.code, 0, "{}", p.stderr);
    let files = written(&p.actions());
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("config.toml");
    std::fs::write(&cfg, file(&files, "/etc/containerd/config.toml")).unwrap();
    let out = std::process::Command::new(bin)
        .args(["--config", cfg.to_str().unwrap(), "config", "dump"])
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = toml(&dump);
    assert_eq!(
        v["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["config_path"].as_str(),
        Some("/etc/containerd/certs.d"),
        "{dump}"
    );
}
