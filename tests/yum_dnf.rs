//! `yum()` through the real dnf into an `--installroot`, from a local repository this test builds
//! with rpmbuild and createrepo_c: install, pin, ok when installed, upgrade with latest, downgrade,
//! remove, and dnf's own error for an unknown package. Needs the Debian packages `dnf`, `rpm`
//! and `createrepo-c`.

mod prim;

use std::path::Path;
use std::process::Command;

const SPEC: &str = "Name: galley-tiny
Version: %{ver}
Release: 1
Summary: a tiny package for tests
License: MIT
BuildArch: noarch
%description
A tiny package for tests.
%install
mkdir -p %{buildroot}/usr/share/galley-tiny
echo %{ver} > %{buildroot}/usr/share/galley-tiny/version
%files
/usr/share/galley-tiny/version
";

/// Builds versions 1.0 and 2.0 of `galley-tiny` into `dir/repo` and indexes it.
fn build_repo(dir: &Path) -> String {
    prim::require("rpmbuild", "rpm");
    prim::require("createrepo_c", "createrepo-c");
    prim::require("dnf", "dnf");
    std::fs::write(dir.join("tiny.spec"), SPEC).unwrap();
    let repo = dir.join("repo");
    for v in ["1.0", "2.0"] {
        let out = Command::new("rpmbuild")
            .arg("-bb")
            .args([
                "--define",
                &format!("_topdir {}", dir.join("top").display()),
            ])
            .args(["--define", &format!("_rpmdir {}", repo.display())])
            .args(["--define", &format!("ver {v}")])
            .arg(dir.join("tiny.spec"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rpmbuild: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new("createrepo_c").arg(&repo).output().unwrap();
    assert!(
        out.status.success(),
        "createrepo_c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    repo.display().to_string()
}

/// A recipe calling yum() with the offline flags dnf needs for a private root.
fn recipe(root: &str, repo: &str, call: &str) -> String {
    format!(
        r#"let o = #{{ installroot: "{root}", manager: "dnf", extra_args: [
    "--setopt=reposdir=/dev/null", "--repofrompath=local,file://{repo}", "--releasever=9",
    "--nogpgcheck", "--setopt=install_weak_deps=False"] }};
{call}
"#
    )
}

fn installed(root: &str) -> String {
    let out = Command::new("rpm")
        .args(["--root", root, "-q", "galley-tiny"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if text.ends_with("is not installed") {
        String::new()
    } else {
        text
    }
}

#[test]
fn yum_converges_through_real_dnf() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let repo = build_repo(dir);
    let root = dir.join("root").display().to_string();
    std::fs::create_dir_all(&root).unwrap();
    let step = |call: &str| prim::apply(dir, &recipe(&root, &repo, call));

    // Pin: the book's name-version form.
    let r = step(r#"yum("galley-tiny-1.0", o);"#);
    r.code(0);
    assert_eq!(r.statuses(), vec![("yum".into(), "changed".into())]);
    assert!(
        r.commands()[0].starts_with("dnf install -y --installroot="),
        "{:?}",
        r.commands()
    );
    assert_eq!(installed(&root), "galley-tiny-1.0-1.noarch");

    // Already installed: ok, and no command.
    let r = step(
        r#"let a = yum("galley-tiny-1.0", o); let b = yum(["galley-tiny"], o); if a.changed || b.changed { fail("changed") }"#,
    );
    r.code(0);
    assert_eq!(
        r.statuses(),
        vec![("yum".into(), "ok".into()), ("yum".into(), "ok".into())]
    );
    assert!(r.commands().is_empty());

    // Check mode sees the update but changes nothing.
    let r = prim::galley(
        dir,
        &recipe(
            &root,
            &repo,
            r#"yum("galley-tiny", o + #{ state: "latest" });"#,
        ),
        &["run", "--check"],
        &[],
    );
    r.code(0);
    assert_eq!(r.statuses(), vec![("yum".into(), "changed".into())]);
    assert_eq!(installed(&root), "galley-tiny-1.0-1.noarch");

    // latest upgrades, then is ok.
    let r = step(r#"yum("galley-tiny", o + #{ state: "latest" });"#);
    r.code(0);
    assert!(
        r.commands()[0].starts_with("dnf upgrade -y"),
        "{:?}",
        r.commands()
    );
    assert_eq!(installed(&root), "galley-tiny-2.0-1.noarch");
    let r = step(r#"yum("galley-tiny", o + #{ state: "latest" });"#);
    r.code(0);
    assert_eq!(r.statuses(), vec![("yum".into(), "ok".into())]);

    // An older pin downgrades.
    let r = step(r#"yum("galley-tiny-1.0", o);"#);
    r.code(0);
    assert!(
        r.commands()[0].starts_with("dnf downgrade -y"),
        "{:?}",
        r.commands()
    );
    assert_eq!(installed(&root), "galley-tiny-1.0-1.noarch");

    // Remove, then ok.
    let r = step(r#"yum("galley-tiny", o + #{ state: "absent" });"#);
    r.code(0);
    assert!(
        r.commands()[0].starts_with("dnf remove -y"),
        "{:?}",
        r.commands()
    );
    assert_eq!(installed(&root), "");
    let r = step(r#"yum("galley-tiny", o + #{ state: "absent" });"#);
    r.code(0);
    assert_eq!(r.statuses(), vec![("yum".into(), "ok".into())]);

    // An unknown package: dnf's own message, exit code 1.
    let r = step(r#"yum(["galley-tiny", "galley-no-such-package"], o);"#);
    r.code(1)
        .has("Error: Unable to find a match: galley-no-such-package");
    assert_eq!(installed(&root), "");
}

/// A repository written by yum_repo (disabled, excluding the package) and read by the real dnf:
/// the install works only with enable_repo and disable_excludes.
#[test]
fn yum_repo_file_drives_real_dnf() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let repo = build_repo(dir);
    let root = dir.join("root").display().to_string();
    let reposdir = dir.join("repos.d").display().to_string();
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&reposdir).unwrap();
    let head = format!(
        r#"yum_repo("tiny", #{{ name: "Tiny", baseurl: "file://{repo}", gpgcheck: false, enabled: false,
    exclude: "galley-tiny", dir: "{reposdir}" }});
let o = #{{ installroot: "{root}", manager: "dnf", extra_args: ["--setopt=reposdir={reposdir}",
    "--releasever=9", "--setopt=install_weak_deps=False"] }};
"#
    );
    let r = prim::apply(dir, &format!("{head}yum(\"galley-tiny\", o);"));
    r.code(1).has("There are no enabled repositories");
    // Enabled, but the repository excludes the package.
    let r = prim::apply(
        dir,
        &format!(r#"{head}yum("galley-tiny", o + #{{ enable_repo: "tiny" }});"#),
    );
    r.code(1).has("Unable to find a match: galley-tiny");
    let r = prim::apply(
        dir,
        &format!(
            r#"{head}yum("galley-tiny", o + #{{ enable_repo: "tiny", disable_excludes: "tiny" }});"#
        ),
    );
    r.code(0);
    assert_eq!(
        r.statuses(),
        vec![
            ("yum_repo".into(), "ok".into()),
            ("yum".into(), "changed".into())
        ]
    );
    assert!(
        r.commands()[0].contains("--disableexcludes=tiny --enablerepo=tiny"),
        "{:?}",
        r.commands()
    );
    assert_eq!(installed(&root), "galley-tiny-2.0-1.noarch");
}
