//! Package repositories: `yum_repo` writes `/etc/yum.repos.d/<id>.repo` (book step I1),
//! `yum_repo_url` fetches a ready-made `.repo` file (book step D2, `yum-config-manager
//! --add-repo`), `apt_repo` writes a sources entry and its keyring under /etc/apt/keyrings.
//! Files go through the same converge logic as `write_file`: `ok` when already so, else a diff.

use crate::error::StepError;
use rhai::{Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::act::OneOrMany;
use super::act::{act, spec_of};
use super::download::{fetch_into, DlOpts};
use super::file::{ensure_content, predicted_stat};
use super::mirrored::{mirrored, mirrored_repo, mirrored_text};
use super::{from_map, reg, reg_with_opts, usage, Call, RResult, StepResult};
use crate::executor::overlay::Flag;
use crate::executor::Effect;
use crate::host::FileMeta;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YumRepoOpts {
    pub name: Option<String>,
    pub baseurl: Option<String>,
    pub gpgkey: Option<OneOrMany>,
    pub gpgcheck: Option<bool>,
    pub repo_gpgcheck: Option<bool>,
    pub exclude: Option<OneOrMany>,
    pub enabled: Option<bool>,
    /// Folder of the .repo file (default /etc/yum.repos.d).
    pub dir: Option<String>,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

fn flag(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

/// Pure: the .repo file, keys in the book's order (name, baseurl, enabled, gpgcheck,
/// repo_gpgcheck, gpgkey), then exclude.
pub fn render_yum_repo(id: &str, o: &YumRepoOpts) -> String {
    let mut s = format!("[{id}]\nname={}\n", o.name.as_deref().unwrap_or(id));
    if let Some(b) = &o.baseurl {
        s.push_str(&format!("baseurl={b}\n"));
    }
    s.push_str(&format!("enabled={}\n", flag(o.enabled.unwrap_or(true))));
    if let Some(g) = o.gpgcheck {
        s.push_str(&format!("gpgcheck={}\n", flag(g)));
    }
    if let Some(g) = o.repo_gpgcheck {
        s.push_str(&format!("repo_gpgcheck={}\n", flag(g)));
    }
    if let Some(k) = &o.gpgkey {
        s.push_str(&format!("gpgkey={}\n", k.list().join(" ")));
    }
    if let Some(x) = &o.exclude {
        s.push_str(&format!("exclude={}\n", x.list().join(" ")));
    }
    s
}

fn finish(call: Call, r: Result<bool, StepError>) -> RResult<StepResult> {
    call.conclude(r)
}

fn yum_repo(nc: NativeCallContext, id: &str, opts: Map) -> RResult<StepResult> {
    let o: YumRepoOpts = from_map("yum_repo", Some(opts))?;
    if !valid_id(id) {
        return Err(usage(format!(
            "yum_repo: `{id}` is not a repository id (letters, digits, - _ . :)"
        )));
    }
    if o.baseurl.is_none() {
        return Err(usage("yum_repo: baseurl is required"));
    }
    let dir = o.dir.clone().unwrap_or_else(|| "/etc/yum.repos.d".into());
    let path = format!("{}/{id}.repo", dir.trim_end_matches('/'));
    let mut call = Call::begin(&nc, "yum_repo", path.clone())?;
    let meta = FileMeta {
        mode: Some(0o644),
        ..Default::default()
    };
    let r = mirror_yum_urls(&mut call, o).and_then(|o| {
        let content = render_yum_repo(id, &o);
        ensure_content(&mut call, &path, content.as_bytes(), &meta, false)
    });
    finish(call, r)
}

/// The repository's baseurl and keys through the mirrors (gpgkey may list several URLs in one
/// string, as yum allows).
fn mirror_yum_urls(call: &mut Call, mut o: YumRepoOpts) -> Result<YumRepoOpts, StepError> {
    if let Some(b) = &o.baseurl {
        o.baseurl = Some(mirrored_repo(call, b)?);
    }
    if let Some(k) = &o.gpgkey {
        let mut keys = Vec::new();
        for entry in k.list() {
            for url in entry.split_whitespace() {
                keys.push(mirrored(call, url)?);
            }
        }
        o.gpgkey = Some(OneOrMany::Many(keys));
    }
    Ok(o)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepoUrlOpts {
    /// Where to save it (default /etc/yum.repos.d/<file name of the URL>).
    dest: Option<String>,
    /// Fetch again even when the file exists.
    #[serde(default)]
    force: bool,
}

/// Pure: where `yum_repo_url` saves a URL by default.
pub fn repo_dest(url: &str) -> Option<String> {
    let name = url.split(['?', '#']).next()?.rsplit('/').next()?;
    name.ends_with(".repo")
        .then(|| format!("/etc/yum.repos.d/{name}"))
}

fn yum_repo_url(nc: NativeCallContext, url: &str, opts: Option<Map>) -> RResult<StepResult> {
    let o: RepoUrlOpts = from_map("yum_repo_url", opts)?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(usage(format!(
            "yum_repo_url: `{url}` is not an http(s) URL"
        )));
    }
    let dest = match o.dest.clone().or_else(|| repo_dest(url)) {
        Some(d) => d,
        None => {
            return Err(usage(format!(
                "yum_repo_url: `{url}` does not name a .repo file; give #{{ dest: \"/etc/yum.repos.d/NAME.repo\" }}"
            )))
        }
    };
    let mut call = Call::begin(&nc, "yum_repo_url", format!("{url} → {dest}"))?;
    let r = fetch_repo_file(&mut call, url, &dest, o.force);
    finish(call, r)
}

/// Fetches a .repo file. With URL mirrors in apply mode, the URLs inside it go through the
/// mirrors too: it is fetched beside dest under a name yum ignores, rewritten, written whole to
/// dest, and the fetched copy removed. Check and plan cannot see the fetched text, so they
/// record the fetch alone.
fn fetch_repo_file(call: &mut Call, url: &str, dest: &str, force: bool) -> Result<bool, StepError> {
    let dl = DlOpts {
        mode: Some("0644".into()),
        force,
        ..Default::default()
    };
    if call.target.mirrors.rules().is_empty() {
        return fetch_into(call, url, dest, &dl);
    }
    // Only a made change has the fetched text to rewrite; a recorded one records the fetch.
    match call.change(
        |_| Vec::new(),
        |call| fetch_mirrored(call, url, dest, dl.clone()),
    )? {
        Some(changed) => Ok(changed),
        None => fetch_into(call, url, dest, &dl),
    }
}

fn fetch_mirrored(call: &mut Call, url: &str, dest: &str, dl: DlOpts) -> Result<bool, StepError> {
    let force = dl.force;
    if !force && call.target.stat(dest)?.is_some() {
        mirrored(call, url)?;
        return Ok(false);
    }
    let (dir, name) = dest.rsplit_once('/').unwrap_or(("", dest));
    let fetched = format!("{dir}/.{name}.galley-fetch");
    let dl = DlOpts {
        mode: Some("0600".into()),
        force: true,
        ..dl
    };
    let r = fetch_into(call, url, &fetched, &dl).and_then(|_| {
        let text = call
            .target
            .read_file(&fetched)?
            .ok_or_else(|| format!("{fetched} vanished after the download"))?;
        let text = mirrored_text(call, &String::from_utf8_lossy(&text));
        let meta = FileMeta {
            mode: Some(0o644),
            ..Default::default()
        };
        ensure_content(call, dest, text.as_bytes(), &meta, false)
    });
    let rm = act(
        call,
        spec_of(&["rm".into(), "-f".into(), fetched.clone()], &[], None),
        "rm",
    );
    let changed = r?;
    rm?;
    Ok(changed)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AptRepoOpts {
    pub uri: Option<String>,
    /// Suite (`bookworm`, `jammy`, or `/` for flat repositories such as pkgs.k8s.io).
    pub suite: Option<String>,
    pub components: Option<OneOrMany>,
    /// URL of the signing key (saved under /etc/apt/keyrings).
    pub key_url: Option<String>,
    /// The signing key itself, ASCII-armored.
    pub key: Option<String>,
    /// Where the key is kept (default /etc/apt/keyrings/<name>.asc, or .gpg for a .gpg URL).
    pub keyring: Option<String>,
    pub arch: Option<OneOrMany>,
    /// `"deb822"` (a .sources file, the default) or `"list"` (a one-line .list file).
    pub format: Option<String>,
    /// Folder of the sources file (default /etc/apt/sources.list.d).
    pub dir: Option<String>,
}

/// Pure: the default keyring path: `.gpg` for a URL ending in .gpg (binary keys), else `.asc`.
pub fn keyring_path(name: &str, o: &AptRepoOpts) -> String {
    if let Some(k) = &o.keyring {
        return k.clone();
    }
    let binary = o.key_url.as_deref().is_some_and(|u| u.ends_with(".gpg"));
    format!(
        "/etc/apt/keyrings/{name}.{}",
        if binary { "gpg" } else { "asc" }
    )
}

/// Pure: the sources entry and the file name it goes in.
pub fn render_apt_source(
    name: &str,
    o: &AptRepoOpts,
    keyring: Option<&str>,
) -> Result<(String, String), StepError> {
    let uri = o.uri.as_deref().ok_or("uri is required")?;
    let suite = o
        .suite
        .as_deref()
        .ok_or("suite is required (use \"/\" for a flat repository)")?;
    let comps = o.components.as_ref().map(|c| c.list()).unwrap_or_default();
    if suite.ends_with('/') && !comps.is_empty() {
        return Err("a flat repository (suite ending in /) takes no components".into());
    }
    if !suite.ends_with('/') && comps.is_empty() {
        return Err("components are required (e.g. [\"main\"]) unless the suite ends in /".into());
    }
    let arch = o.arch.as_ref().map(|a| a.list()).unwrap_or_default();
    match o.format.as_deref().unwrap_or("deb822") {
        "deb822" => {
            let mut s = format!("Types: deb\nURIs: {uri}\nSuites: {suite}\n");
            if !comps.is_empty() {
                s.push_str(&format!("Components: {}\n", comps.join(" ")));
            }
            if !arch.is_empty() {
                s.push_str(&format!("Architectures: {}\n", arch.join(" ")));
            }
            if let Some(k) = keyring {
                s.push_str(&format!("Signed-By: {k}\n"));
            }
            Ok((format!("{name}.sources"), s))
        }
        "list" => {
            let mut opts = Vec::new();
            if !arch.is_empty() {
                opts.push(format!("arch={}", arch.join(",")));
            }
            if let Some(k) = keyring {
                opts.push(format!("signed-by={k}"));
            }
            let bracket = if opts.is_empty() {
                String::new()
            } else {
                format!("[{}] ", opts.join(" "))
            };
            let mut line = format!("deb {bracket}{uri} {suite}");
            for c in &comps {
                line.push(' ');
                line.push_str(c);
            }
            Ok((format!("{name}.list"), line + "\n"))
        }
        other => Err(format!("format `{other}` is not \"deb822\" or \"list\"").into()),
    }
}

fn ensure_keyring_dir(call: &mut Call, keyring: &str) -> Result<(), StepError> {
    let dir = keyring.rsplit_once('/').map_or("/", |(d, _)| d);
    if dir.is_empty() || call.target.stat(dir)?.is_some() {
        return Ok(());
    }
    let meta = FileMeta {
        mode: Some(0o755),
        ..Default::default()
    };
    let effects = |_: &Call| {
        vec![Effect::Dir {
            path: dir.to_string(),
            stat: predicted_stat(None, &meta, 4096, true),
        }]
    };
    call.change(effects, |call| {
        call.target
            .host
            .ensure_dir(dir, &meta)
            .map_err(StepError::from)
    })?;
    Ok(())
}

fn apt_repo_steps(call: &mut Call, name: &str, o: &AptRepoOpts) -> Result<bool, StepError> {
    let keyring = (o.key_url.is_some() || o.key.is_some() || o.keyring.is_some())
        .then(|| keyring_path(name, o));
    let uri = o
        .uri
        .as_deref()
        .map(|u| mirrored_repo(call, u))
        .transpose()?;
    let mirrored_opts = AptRepoOpts {
        uri,
        suite: o.suite.clone(),
        components: o.components.clone(),
        arch: o.arch.clone(),
        format: o.format.clone(),
        ..Default::default()
    };
    let (file, content) = render_apt_source(name, &mirrored_opts, keyring.as_deref())?;
    let dir = o
        .dir
        .clone()
        .unwrap_or_else(|| "/etc/apt/sources.list.d".into());
    let path = format!("{}/{file}", dir.trim_end_matches('/'));
    // A repository that moves (another URI or suite: pkgs.k8s.io's next minor) gets its key
    // fetched again from its key URL: the key kept from before may not be the one that signs
    // the new place.
    let moves = call.target.read_file(&path)?.as_deref() != Some(content.as_bytes());
    let mut changed = false;
    if let Some(k) = &keyring {
        ensure_keyring_dir(call, k)?;
        let meta = FileMeta {
            mode: Some(0o644),
            ..Default::default()
        };
        if let Some(text) = &o.key {
            changed |= ensure_content(call, k, text.as_bytes(), &meta, false)?;
        } else if let Some(url) = &o.key_url {
            let dl = DlOpts {
                mode: Some("0644".into()),
                force: moves,
                ..Default::default()
            };
            changed |= fetch_into(call, url, k, &dl)?;
            // A recorded key has no content to look at yet.
            call.change(|_| Vec::new(), |call| check_key_form(call, k))?;
        }
    }
    let meta = FileMeta {
        mode: Some(0o644),
        ..Default::default()
    };
    changed |= ensure_content(call, &path, content.as_bytes(), &meta, false)?;
    if changed {
        call.remember(vec![Effect::Flag(Flag::AptStale, true)]);
    }
    Ok(changed)
}

/// apt reads `.asc` keyrings as ASCII armor and `.gpg` ones as binary; a mix-up breaks
/// `apt-get update` later with a confusing message, so say it now.
fn check_key_form(call: &Call, keyring: &str) -> Result<(), StepError> {
    let Some(bytes) = call.target.read_file(keyring)? else {
        return Ok(());
    };
    let armored = bytes.starts_with(b"-----BEGIN PGP");
    match (keyring.ends_with(".asc"), armored) {
        (true, false) => {
            Err(format!("{keyring} holds a binary key; give keyring: \"…/NAME.gpg\"").into())
        }
        (false, true) if keyring.ends_with(".gpg") => Err(format!(
            "{keyring} holds an ASCII-armored key; give keyring: \"…/NAME.asc\""
        )
        .into()),
        _ => Ok(()),
    }
}

fn apt_repo(nc: NativeCallContext, name: &str, opts: Map) -> RResult<StepResult> {
    let o: AptRepoOpts = from_map("apt_repo", Some(opts))?;
    if !valid_id(name) || name.contains(':') {
        return Err(usage(format!(
            "apt_repo: `{name}` is not a repository name (letters, digits, - _ .)"
        )));
    }
    if o.key.is_some() && o.key_url.is_some() {
        return Err(usage("apt_repo: give key or key_url, not both"));
    }
    render_apt_source(name, &o, None).map_err(|e| usage(format!("apt_repo: {e}")))?;
    let mut call = Call::begin(&nc, "apt_repo", name)?;
    let r = apt_repo_steps(&mut call, name, &o);
    finish(call, r)
}

pub fn register(engine: &mut Engine) {
    super::options::schema::<YumRepoOpts>("yum_repo");
    super::options::schema::<AptRepoOpts>("apt_repo");
    reg(engine, "yum_repo", &["id: &str", "opts: Map", "Result"], &[
        "Writes /etc/yum.repos.d/<id>.repo: options name, baseurl (required), gpgkey (string or list),",
        "gpgcheck, repo_gpgcheck, exclude (string or list), enabled (default true), dir. `ok` when unchanged.",
    ], yum_repo);
    reg_with_opts!(
        engine,
        /// Fetches a ready-made .repo file into /etc/yum.repos.d (the book's `yum-config-manager --add-repo URL`);
        /// `ok` when it is already there. Options: dest, force (fetch again and replace).
        "yum_repo_url": RepoUrlOpts, ["url: &str"], "Result", yum_repo_url, (u: &str)
    );
    reg(engine, "apt_repo", &["name: &str", "opts: Map", "Result"], &[
        "Adds an apt repository: the signing key under /etc/apt/keyrings (key_url fetched once, or key",
        "given inline) and /etc/apt/sources.list.d/<name>.sources (deb822) or .list (format: \"list\").",
        "Options: uri, suite, components, key_url | key, keyring, arch, format, dir. The next apt() call",
        "refreshes the lists when this changed anything.",
    ], apt_repo);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn book_kubernetes_repo_i1() {
        let o = YumRepoOpts {
            name: Some("Kubernetes".into()),
            baseurl: Some(
                "https://packages.cloud.google.com/yum/repos/kubernetes-el7-x86_64".into(),
            ),
            enabled: Some(true),
            gpgcheck: Some(true),
            repo_gpgcheck: Some(true),
            gpgkey: Some(OneOrMany::Many(vec![
                "https://packages.cloud.google.com/yum/doc/yum-key.gpg".into(),
                "https://packages.cloud.google.com/yum/doc/rpm-package-key.gpg".into(),
            ])),
            ..Default::default()
        };
        assert_eq!(
            render_yum_repo("kubernetes", &o),
            "[kubernetes]
name=Kubernetes
baseurl=https://packages.cloud.google.com/yum/repos/kubernetes-el7-x86_64
enabled=1
gpgcheck=1
repo_gpgcheck=1
gpgkey=https://packages.cloud.google.com/yum/doc/yum-key.gpg https://packages.cloud.google.com/yum/doc/rpm-package-key.gpg
"
        );
    }

    #[test]
    fn current_kubernetes_repo_with_exclude() {
        let o = YumRepoOpts {
            baseurl: Some("https://pkgs.k8s.io/core:/stable:/v1.31/rpm/".into()),
            exclude: Some(OneOrMany::One(
                "kubelet kubeadm kubectl cri-tools kubernetes-cni".into(),
            )),
            gpgcheck: Some(true),
            ..Default::default()
        };
        let s = render_yum_repo("kubernetes", &o);
        assert!(s.contains("name=kubernetes\n"));
        assert!(
            s.ends_with("exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni\n"),
            "{s}"
        );
    }

    #[test]
    fn repo_url_destinations() {
        assert_eq!(
            repo_dest("https://download.docker.com/linux/centos/docker-ce.repo").as_deref(),
            Some("/etc/yum.repos.d/docker-ce.repo")
        );
        assert_eq!(repo_dest("https://example.com/repo?x=1"), None);
    }

    fn k8s() -> AptRepoOpts {
        AptRepoOpts {
            uri: Some("https://pkgs.k8s.io/core:/stable:/v1.31/deb/".into()),
            suite: Some("/".into()),
            key_url: Some("https://pkgs.k8s.io/core:/stable:/v1.31/deb/Release.key".into()),
            ..Default::default()
        }
    }

    #[test]
    fn apt_sources_deb822_and_list() {
        let o = k8s();
        let k = keyring_path("kubernetes", &o);
        assert_eq!(k, "/etc/apt/keyrings/kubernetes.asc");
        let (file, s) = render_apt_source("kubernetes", &o, Some(&k)).unwrap();
        assert_eq!(file, "kubernetes.sources");
        assert_eq!(
            s,
            "Types: deb\nURIs: https://pkgs.k8s.io/core:/stable:/v1.31/deb/\nSuites: /\nSigned-By: /etc/apt/keyrings/kubernetes.asc\n"
        );
        let docker = AptRepoOpts {
            uri: Some("https://download.docker.com/linux/ubuntu".into()),
            suite: Some("jammy".into()),
            components: Some(OneOrMany::One("stable".into())),
            arch: Some(OneOrMany::One("amd64".into())),
            format: Some("list".into()),
            ..Default::default()
        };
        let (file, s) =
            render_apt_source("docker", &docker, Some("/etc/apt/keyrings/docker.asc")).unwrap();
        assert_eq!(file, "docker.list");
        assert_eq!(
            s,
            "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu jammy stable\n"
        );
        let bad = AptRepoOpts {
            components: None,
            ..docker
        };
        assert!(render_apt_source("docker", &bad, None).is_err());
        let gpg = AptRepoOpts {
            key_url: Some("https://x/apt-key.gpg".into()),
            ..k8s()
        };
        assert!(keyring_path("k", &gpg).ends_with("k.gpg"));
    }
}
