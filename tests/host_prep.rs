//! Repositories and kernel settings on this machine, where that is safe: repository files and
//! keyrings written into a temp folder (fetched from a loopback HTTP server), and the kernel
//! primitives' real probes (/proc) in check mode or with values already in force.

mod prim;

use std::path::Path;

#[test]
fn repository_files_converge() {
    let server = prim::HttpServer::start(|path, _| match path {
        "/docker-ce.repo" => (
            200,
            b"[docker-ce-stable]\nname=Docker CE Stable\nbaseurl=https://example.invalid/\n"
                .to_vec(),
        ),
        "/Release.key" => (
            200,
            b"-----BEGIN PGP PUBLIC KEY BLOCK-----\nxx\n-----END PGP PUBLIC KEY BLOCK-----\n"
                .to_vec(),
        ),
        "/binary.key" => (200, vec![0x99, 0x01, 0x0d, 0x04]),
        _ => (404, Vec::new()),
    });
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().display().to_string();
    let recipe = format!(
        r#"yum_repo("tiny", #{{ baseurl: "file:///srv/repo", gpgcheck: false, dir: "{d}/yum.repos.d" }});
yum_repo_url("{url}", #{{ dest: "{d}/yum.repos.d/docker-ce.repo" }});
apt_repo("kubernetes", #{{ uri: "https://pkgs.k8s.io/core:/stable:/v1.31/deb/", suite: "/",
    key_url: "{key}", keyring: "{d}/keyrings/kubernetes.asc", dir: "{d}/sources.list.d" }});
"#,
        url = server.url("/docker-ce.repo"),
        key = server.url("/Release.key"),
    );
    std::fs::create_dir_all(tmp.path().join("yum.repos.d")).unwrap();
    std::fs::create_dir_all(tmp.path().join("sources.list.d")).unwrap();
    let r = prim::apply(tmp.path(), &recipe);
    r.code(0);
    assert!(
        r.statuses().iter().all(|(_, s)| s == "changed"),
        "{:?}",
        r.statuses()
    );
    let read = |p: &str| std::fs::read_to_string(Path::new(&d).join(p)).unwrap();
    assert_eq!(
        read("yum.repos.d/tiny.repo"),
        "[tiny]\nname=tiny\nbaseurl=file:///srv/repo\nenabled=1\ngpgcheck=0\n"
    );
    assert!(read("yum.repos.d/docker-ce.repo").starts_with("[docker-ce-stable]"));
    assert!(read("keyrings/kubernetes.asc").starts_with("-----BEGIN PGP"));
    assert_eq!(
        read("sources.list.d/kubernetes.sources"),
        format!("Types: deb\nURIs: https://pkgs.k8s.io/core:/stable:/v1.31/deb/\nSuites: /\nSigned-By: {d}/keyrings/kubernetes.asc\n")
    );
    let r = prim::apply(tmp.path(), &recipe);
    r.code(0);
    assert!(
        r.statuses().iter().all(|(_, s)| s == "ok"),
        "{:?}",
        r.statuses()
    );

    // A binary key saved as .asc would break apt later: refused now.
    let bad = format!(
        r#"apt_repo("bin", #{{ uri: "https://x/", suite: "/", key_url: "{}", keyring: "{d}/keyrings/bin.asc", dir: "{d}/sources.list.d" }});"#,
        server.url("/binary.key")
    );
    prim::apply(tmp.path(), &bad)
        .code(1)
        .has("holds a binary key");
}

/// pkgs.k8s.io has a repository per minor: moving to the next one (the upgrade recipe does)
/// fetches the key again from the new place, where a key kept from before may not sign it.
#[test]
fn a_repository_that_moves_fetches_its_key_again() {
    let key = |n: &str| {
        format!("-----BEGIN PGP PUBLIC KEY BLOCK-----\n{n}\n-----END PGP PUBLIC KEY BLOCK-----\n")
    };
    let (one, two) = (key("one"), key("two"));
    let (a, b) = (one.clone(), two.clone());
    let server = prim::HttpServer::start(move |path, _| match path {
        "/v1.36/Release.key" => (200, a.clone().into_bytes()),
        "/v1.37/Release.key" => (200, b.clone().into_bytes()),
        _ => (404, Vec::new()),
    });
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().display().to_string();
    std::fs::create_dir_all(tmp.path().join("sources.list.d")).unwrap();
    let at = |minor: &str| {
        format!(
            r#"apt_repo("kubernetes", #{{ uri: "https://pkgs.k8s.io/core:/stable:/{minor}/deb/", suite: "/",
    key_url: "{key}", keyring: "{d}/keyrings/kubernetes.asc", dir: "{d}/sources.list.d" }});"#,
            key = server.url(&format!("/{minor}/Release.key")),
        )
    };
    let keyring = || std::fs::read_to_string(tmp.path().join("keyrings/kubernetes.asc")).unwrap();
    prim::apply(tmp.path(), &at("v1.36")).code(0);
    assert_eq!(keyring(), one);
    let moved = prim::apply(tmp.path(), &at("v1.37"));
    moved.code(0);
    assert_eq!(moved.statuses()[0].1, "changed");
    assert_eq!(keyring(), two);
    // Where it stays, the key is not fetched again: nothing changes.
    let again = prim::apply(tmp.path(), &at("v1.37"));
    again.code(0);
    assert!(
        again.statuses().iter().all(|(_, s)| s == "ok"),
        "{:?}",
        again.statuses()
    );
}

fn live(key: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/")))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn sysctl_probes_the_live_value() {
    let tmp = tempfile::tempdir().unwrap();
    let key = "net.ipv4.ip_forward";
    let now = live(key);
    let conf = tmp.path().join("99-test.conf").display().to_string();
    // The value in force: only the persistence file changes, and no command runs.
    let same = format!(r#"sysctl("{key}", "{now}", #{{ file: "{conf}" }});"#);
    let r = prim::apply(tmp.path(), &same);
    r.code(0);
    assert_eq!(r.statuses()[0].1, "changed");
    assert!(r.commands().is_empty(), "{:?}", r.commands());
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        format!("{key} = {now}\n")
    );
    let r = prim::apply(tmp.path(), &same);
    assert_eq!(r.code(0).statuses()[0].1, "ok");
    // Another value, in check mode: recorded, not run.
    let other = if now == "1" { "0" } else { "1" };
    let r = prim::galley(
        tmp.path(),
        &format!(r#"sysctl("{key}", "{other}", #{{ file: "{conf}" }});"#),
        &["run", "--check"],
        &[],
    );
    r.code(0);
    assert_eq!(r.commands(), [format!("sysctl -w {key}={other}")]);
    assert_eq!(live(key), now);
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        format!("{key} = {now}\n")
    );
}

#[test]
fn modprobe_and_swapoff_probe_in_check_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let r = prim::galley(
        tmp.path(),
        r#"modprobe("galley_no_such_module", #{ persist: false });"#,
        &["run", "--check"],
        &[],
    );
    r.code(0);
    assert_eq!(r.commands(), ["modprobe galley_no_such_module"]);
    // A module this machine has loaded (or built in) is ok.
    let modules = std::fs::read_to_string("/proc/modules").unwrap_or_default();
    if let Some(loaded) = modules
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().next())
    {
        let r = prim::galley(
            tmp.path(),
            &format!(r#"modprobe("{loaded}", #{{ persist: false }});"#),
            &["run", "--check"],
            &[],
        );
        assert_eq!(r.code(0).statuses()[0].1, "ok");
    }
    let swaps = std::fs::read_to_string("/proc/swaps").unwrap();
    let active = swaps.lines().skip(1).any(|l| !l.trim().is_empty());
    let r = prim::galley(tmp.path(), "swapoff();", &["run", "--check"], &[]);
    r.code(0);
    assert_eq!(
        r.commands().contains(&"swapoff -a".to_string()),
        active,
        "{swaps}"
    );
}
