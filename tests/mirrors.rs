//! URL mirrors for real: a loopback HTTP server the test starts is the mirror, and `galley run`
//! of a recipe that downloads the upstream URL gets the mirror's file (on this machine with
//! galley's own HTTP client, and over real SSH with the host's curl); a fetched .repo file has
//! its URLs rewritten; the mirror CA goes into the trust store before the first fetch; and bad
//! settings are refused, with the setting named, before any host is touched.

mod prim;

#[path = "support/sshd.rs"]
mod sshd;

use std::sync::{Arc, Mutex};

/// An upstream that does not exist: without the rewrite the fetch cannot succeed.
const UPSTREAM: &str = "https://files.upstream.invalid";

fn mirror_server(body: &'static [u8]) -> (prim::HttpServer, Arc<Mutex<Vec<String>>>) {
    let paths = Arc::new(Mutex::new(Vec::new()));
    let seen = paths.clone();
    let server = prim::HttpServer::start(move |path, _| {
        seen.lock().unwrap().push(path.to_string());
        match path {
            "/m/releases/v1/tool" => (200, body.to_vec()),
            _ => (404, b"not here".to_vec()),
        }
    });
    (server, paths)
}

#[test]
fn download_of_an_upstream_url_comes_from_the_mirror() {
    let (server, paths) = mirror_server(b"the mirrored tool\n");
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("tool");
    let recipe = format!(
        r#"download("{UPSTREAM}/releases/v1/tool", "{}");"#,
        dest.display()
    );
    let rule = format!("{UPSTREAM}={}", server.url("/m"));

    // Without the mirror the upstream does not resolve: the step fails and writes nothing.
    let r = prim::apply(tmp.path(), &recipe);
    r.code(1).has("files.upstream.invalid");
    assert!(!dest.exists());

    let r = prim::galley(tmp.path(), &recipe, &["run", "--mirror", &rule], &[]);
    r.code(0).has(&format!(
        "{UPSTREAM}/releases/v1/tool → {} (mirror {UPSTREAM})",
        server.url("/m/releases/v1/tool")
    ));
    assert_eq!(std::fs::read(&dest).unwrap(), b"the mirrored tool\n");
    assert_eq!(*paths.lock().unwrap(), vec!["/m/releases/v1/tool"]);
    let a = &r.actions()[0];
    assert_eq!(a["mirrored"][0]["rule"], UPSTREAM);
    assert_eq!(a["mirrored"][0]["to"], server.url("/m/releases/v1/tool"));
}

#[test]
fn the_longest_prefix_wins_and_the_command_line_beats_the_inventory() {
    let (server, paths) = mirror_server(b"x");
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("tool");
    let recipe = format!(
        r#"download("{UPSTREAM}/releases/v1/tool", "{}");"#,
        dest.display()
    );
    let inv = tmp.path().join("inv.toml");
    // The inventory's rule for the bare upstream points nowhere; the command line's rule for the
    // same prefix replaces it. Of the rules that match, the longest prefix wins.
    std::fs::write(
        &inv,
        format!(
            "[hosts.local]\nconnection = \"local\"\n[hosts.local.vars.mirrors]\n\"{UPSTREAM}\" = \"http://127.0.0.1:1/nowhere\"\n\"{UPSTREAM}/releases/v1\" = \"{}\"\n",
            server.url("/wrong")
        ),
    )
    .unwrap();
    let long = format!("{UPSTREAM}/releases={}", server.url("/m/releases"));
    let short = format!("{UPSTREAM}={}", server.url("/short"));
    let r = prim::galley(
        tmp.path(),
        &recipe,
        &[
            "run",
            "-i",
            inv.to_str().unwrap(),
            "--mirror",
            &short,
            "--mirror",
            &long,
        ],
        &[],
    );
    // The inventory's `…/releases/v1` rule is the longest of all: it wins (its path 404s).
    r.code(1);
    assert_eq!(*paths.lock().unwrap(), vec!["/wrong/tool"]);
    std::fs::write(
        &inv,
        format!("[hosts.local]\nconnection = \"local\"\n[hosts.local.vars.mirrors]\n\"{UPSTREAM}\" = \"http://127.0.0.1:1/nowhere\"\n"),
    )
    .unwrap();
    paths.lock().unwrap().clear();
    let r = prim::galley(
        tmp.path(),
        &recipe,
        &[
            "run",
            "-i",
            inv.to_str().unwrap(),
            "--mirror",
            &short,
            "--mirror",
            &long,
        ],
        &[],
    );
    r.code(0).has(&format!("(mirror {UPSTREAM}/releases)"));
    assert_eq!(*paths.lock().unwrap(), vec!["/m/releases/v1/tool"]);
}

#[test]
fn a_remote_host_downloads_from_the_mirror_set_in_the_inventory() {
    let sshd = sshd::Sshd::start();
    let (server, paths) = mirror_server(b"over ssh\n");
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("remote-tool");
    let inv = tmp.path().join("inv.toml");
    std::fs::write(
        &inv,
        format!(
            "[hosts.h1]\naddress = \"127.0.0.1\"\nport = {}\nuser = \"root\"\n[hosts.h1.vars]\nssh_config_file = \"{}\"\n[hosts.h1.vars.mirrors]\n\"{UPSTREAM}\" = \"{}\"\n",
            sshd.port,
            sshd.path("ssh_config").display(),
            server.url("/m")
        ),
    )
    .unwrap();
    let recipe = format!(
        r#"download("{UPSTREAM}/releases/v1/tool", "{}");"#,
        dest.display()
    );
    let r = prim::galley(
        tmp.path(),
        &recipe,
        &["run", "-i", inv.to_str().unwrap()],
        &[],
    );
    r.code(0).has(&format!("(mirror {UPSTREAM})"));
    assert_eq!(std::fs::read(&dest).unwrap(), b"over ssh\n");
    assert_eq!(*paths.lock().unwrap(), vec!["/m/releases/v1/tool"]);
    let cmds = r.commands().join("\n");
    assert!(cmds.contains(&server.url("/m/releases/v1/tool")), "{cmds}");
}

#[test]
fn a_fetched_repo_file_has_its_urls_rewritten() {
    let repo: &'static [u8] = b"[docker-ce-stable]\nname=Docker CE Stable\nbaseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable\nenabled=1\ngpgkey=https://download.docker.com/linux/centos/gpg\n";
    let server = prim::HttpServer::start(move |path, _| match path {
        "/docker/linux/centos/docker-ce.repo" => (200, repo.to_vec()),
        _ => (404, Vec::new()),
    });
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("docker-ce.repo");
    let recipe = format!(
        r#"yum_repo_url("https://download.docker.com/linux/centos/docker-ce.repo", #{{ dest: "{}" }});"#,
        dest.display()
    );
    let rule = format!("https://download.docker.com={}", server.url("/docker"));
    let r = prim::galley(tmp.path(), &recipe, &["run", "--mirror", &rule], &[]);
    r.code(0);
    let got = std::fs::read_to_string(&dest).unwrap();
    let m = server.url("/docker");
    assert_eq!(
        got,
        format!("[docker-ce-stable]\nname=Docker CE Stable\nbaseurl={m}/linux/centos/$releasever/$basearch/stable\nenabled=1\ngpgkey={m}/linux/centos/gpg\n")
    );
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "recipe.rhai")
        .collect();
    assert_eq!(names, vec!["docker-ce.repo"], "the fetched copy is removed");
    // Again: the file is there, nothing is fetched or written.
    let r = prim::galley(tmp.path(), &recipe, &["run", "--mirror", &rule], &[]);
    r.code(0);
    assert_eq!(r.statuses(), vec![("yum_repo_url".into(), "ok".into())]);
}

#[test]
fn the_mirror_ca_goes_into_the_trust_store_before_the_first_fetch() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let ca_s = ca.to_str().unwrap();
    let recipe = r#"download("https://dl.k8s.io/v1/kubectl", "/usr/local/bin/kubectl");
download("https://dl.k8s.io/v1/kubeadm", "/usr/local/bin/kubeadm");"#;
    for (profile, path, update) in [
        (
            "debian12",
            "/usr/local/share/ca-certificates/galley-mirror-ca.crt",
            "update-ca-certificates",
        ),
        (
            "rocky9",
            "/etc/pki/ca-trust/source/anchors/galley-mirror-ca.crt",
            "update-ca-trust",
        ),
    ] {
        let r = prim::galley(
            tmp.path(),
            recipe,
            &[
                "plan",
                "--profile",
                profile,
                "--mirror-ca",
                ca_s,
                "--mirror",
                "https://dl.k8s.io=https://mirror.internal/dl",
            ],
            &[],
        );
        r.code(0);
        let a = r.actions();
        let prims: Vec<&str> = a.iter().map(|a| a["primitive"].as_str().unwrap()).collect();
        assert_eq!(prims, ["mirror_ca", "download", "download"], "{profile}");
        assert!(
            a[0]["diff"].as_str().unwrap().contains(path),
            "{profile}: {}",
            a[0]
        );
        assert_eq!(a[0]["commands"][0][0], update);
    }
}

#[test]
fn bad_mirror_settings_are_refused_before_any_host_is_touched() {
    // A host nobody listens for: touching it would fail differently (and slowly).
    let port = sshd::free_port();
    let tmp = tempfile::tempdir().unwrap();
    let inv = |vars: &str| {
        let p = tmp.path().join("inv.toml");
        std::fs::write(
            &p,
            format!("[hosts.h1]\naddress = \"127.0.0.1\"\nport = {port}\nuser = \"root\"\n{vars}"),
        )
        .unwrap();
        p.to_string_lossy().into_owned()
    };
    let recipe = r#"download("https://dl.k8s.io/x", "/tmp/x");"#;
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        (
            vec!["--mirror".into(), "dl.k8s.io=http://m".into()],
            "",
            "--mirror: `dl.k8s.io` is not an http(s) URL prefix",
        ),
        (
            vec!["--mirror".into(), "https://dl.k8s.io=mirror:8080".into()],
            "",
            "--mirror: the mirror of https://dl.k8s.io, `mirror:8080`, is not an http(s) URL",
        ),
        (
            vec!["--mirror-ca".into(), "/nonexistent/mirror-ca.pem".into()],
            "",
            "--mirror-ca: cannot read the CA file `/nonexistent/mirror-ca.pem`",
        ),
        (
            vec!["--registry-mirror".into(), "docker.io=http://".into()],
            "",
            "--registry-mirror: the mirror of docker.io, `http://`, has no host",
        ),
        (
            vec![],
            "[hosts.h1.vars.mirrors]\n\"https://dl.k8s.io\" = \"ftp://m/x\"\n",
            "host `h1`: inventory var `mirrors`: the mirror of https://dl.k8s.io, `ftp://m/x`",
        ),
        (
            vec![],
            "[hosts.h1.vars.registry_mirrors]\n\"registry.k8s.io\" = \":5000\"\n",
            "inventory var `registry_mirrors`: the mirror of registry.k8s.io, `:5000`, has no host",
        ),
        (
            vec![],
            "[hosts.h1.vars]\nmirror_ca = \"/nonexistent/ca.pem\"\n",
            "inventory var `mirror_ca`: cannot read the CA file `/nonexistent/ca.pem`",
        ),
    ];
    for (flags, vars, want) in cases {
        let i = inv(vars);
        let mut args: Vec<&str> = vec!["run", "-i", &i];
        args.extend(flags.iter().map(String::as_str));
        let start = std::time::Instant::now();
        let r = prim::galley(tmp.path(), recipe, &args, &[]);
        r.code(2).has(want).lacks("ssh").lacks("connect");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{want}: took {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn a_folder_on_the_host_serves_as_a_mirror_for_manifests_and_downloads() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("mirror");
    std::fs::create_dir_all(folder.join("projectcalico/calico/v3.29.4/manifests")).unwrap();
    std::fs::write(
        folder.join("projectcalico/calico/v3.29.4/manifests/calico.yaml"),
        "kind: List\n",
    )
    .unwrap();
    let rule = format!(
        "https://raw.githubusercontent.com=file://{}",
        folder.display()
    );
    // kubectl apply gets the file's path (plan: the command it would run).
    let r = prim::galley(
        tmp.path(),
        r#"kubectl_apply("https://raw.githubusercontent.com/projectcalico/calico/v3.29.4/manifests/calico.yaml");"#,
        &["plan", "--mirror", &rule],
        &[],
    );
    r.code(0);
    let want = format!(
        "{}/projectcalico/calico/v3.29.4/manifests/calico.yaml",
        folder.display()
    );
    let cmds = r.commands().join("\n");
    assert!(cmds.contains(&format!("apply -f {want}")), "{cmds}");
    // download copies the file from the folder, for real.
    let dest = tmp.path().join("calico.yaml");
    let r = prim::galley(
        tmp.path(),
        &format!(
            r#"download("https://raw.githubusercontent.com/projectcalico/calico/v3.29.4/manifests/calico.yaml", "{}");"#,
            dest.display()
        ),
        &["run", "--mirror", &rule],
        &[],
    );
    r.code(0);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "kind: List\n");
}
