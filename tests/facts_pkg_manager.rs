//! `galley facts` names the package manager of the host's OS family: a Debian host that merely
//! has dnf installed is an apt host, a RHEL-family host with both is a dnf host.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::Test;

#[test]
fn the_os_familys_package_manager_wins_over_others_installed() {
    let t = Test::new();
    // This machine's PATH with both managers found first (they only need to exist).
    let bin = t.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for p in ["dnf", "yum", "apt-get"] {
        let f = bin.join(p);
        std::fs::write(&f, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let ran = t.env("PATH", &path).args(&["facts", "--json"]).run();
    ran.code(0);
    let facts: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    let local = &facts["local"];
    let want = match local["os"]["family"].as_str().unwrap() {
        "debian" => "apt",
        "redhat" => "dnf",
        _ => "dnf", // the first one found
    };
    assert_eq!(local["pkg_manager"], want, "{local}");
}
