//! `galley artifacts RECIPE [plan flags]`: what the run would fetch, computed from its plan (the
//! same plan `galley plan` makes, with the same flags and mirrors), per host and deduplicated;
//! `--download DIR` fetches the URLs into DIR/<host>/<path>, a tree a plain HTTP server can serve
//! as the mirror.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::report::artifacts::{collect, manifest_images, HostArtifacts};
use crate::report::Format;
use crate::runner::{execute, RunOptions};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  galley artifacts kubeadm -i cluster.toml --set topology=multi
  galley artifacts docker --profile debian12 --output json
  galley artifacts kubeadm --download ./mirror")]
pub struct ArtifactsArgs {
    /// A bundled recipe name or a path to a .rhai file.
    pub recipe: String,
    #[command(flatten)]
    pub mode: super::mode_args::ModeArgs,
    /// Output format: a list per host, or one JSON object.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub output: Format,
    /// Fetch every URL into DIR/<host>/<path> (served by any HTTP server, that is the mirror).
    #[arg(long, value_name = "DIR")]
    pub download: Option<PathBuf>,
}

fn human(all: &BTreeMap<String, HostArtifacts>) -> String {
    let mut s = String::new();
    for (host, a) in all {
        s.push_str(&format!("{host}\n"));
        let mut section = |title: &str, items: Vec<String>| {
            if !items.is_empty() {
                s.push_str(&format!("  {title}\n"));
                for i in items {
                    s.push_str(&format!("    {i}\n"));
                }
            }
        };
        section("urls", a.urls.iter().cloned().collect());
        section("repositories", a.repositories.iter().cloned().collect());
        section(
            "packages",
            a.packages
                .iter()
                .map(|p| {
                    let v = if p.version.is_empty() {
                        "(any version)"
                    } else {
                        &p.version
                    };
                    format!("{} {v} ({})", p.name, p.manager)
                })
                .collect(),
        );
        section("images", a.images.iter().cloned().collect());
        section(
            "manifests not read (their images are not listed)",
            a.unread_manifests.iter().cloned().collect(),
        );
    }
    s
}

/// Whether a fetched URL is a Kubernetes manifest whose images the run pulls.
fn is_manifest(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or("");
    [".yaml", ".yml", ".json"].iter().any(|e| path.ends_with(e))
}

/// Reads every manifest URL a host fetches (each once) and adds the images it names; a manifest
/// that cannot be fetched is listed as such, with the reason, rather than failing the listing.
fn add_manifest_images(all: &mut BTreeMap<String, HostArtifacts>) {
    let mut read: BTreeMap<String, Result<std::collections::BTreeSet<String>, String>> =
        BTreeMap::new();
    for a in all.values_mut() {
        for url in a.urls.iter().filter(|u| is_manifest(u)) {
            let got = read.entry(url.clone()).or_insert_with(|| {
                let mut body = Vec::new();
                crate::primitives::fetch_url_within(url, &mut body, 30)
                    .map_err(|e| e.to_string())?;
                Ok(manifest_images(&String::from_utf8_lossy(&body)))
            });
            match got {
                Ok(images) => a.images.extend(images.iter().cloned()),
                Err(e) => {
                    a.unread_manifests.insert(format!("{url}: {e}"));
                }
            }
        }
    }
}

/// The sha256 published beside `url` (`URL.sha256`, first word), if the server has one.
fn published_sha256(url: &str) -> Option<String> {
    let mut body = Vec::new();
    crate::primitives::fetch_url_within(&format!("{url}.sha256"), &mut body, 30).ok()?;
    let text = String::from_utf8_lossy(&body);
    let word = text.split_whitespace().next()?.to_ascii_lowercase();
    (word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit())).then_some(word)
}

/// Where a URL goes under the download folder: DIR/<host[:port]>/<path>.
pub fn download_path(dir: &Path, url: &str) -> Option<PathBuf> {
    let u = url::Url::parse(url).ok()?;
    let host = match u.port() {
        Some(p) => format!("{}:{p}", u.host_str()?),
        None => u.host_str()?.to_string(),
    };
    let path = u.path().trim_start_matches('/');
    if path.is_empty() || path.ends_with('/') || path.split('/').any(|p| p == "..") {
        return None;
    }
    Some(dir.join(host).join(path))
}

fn download(dir: &Path, all: &BTreeMap<String, HostArtifacts>) -> Result<usize, String> {
    let mut n = 0;
    let mut seen = std::collections::BTreeSet::new();
    for a in all.values() {
        for url in &a.urls {
            if !seen.insert(url.clone()) {
                continue;
            }
            let pinned = a.checksums.get(url).cloned();
            let Some(dest) = download_path(dir, url) else {
                eprintln!("skipped {url}: not a file URL");
                continue;
            };
            let parent = dest.parent().unwrap_or(dir);
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            let mut tmp = tempfile::NamedTempFile::new_in(parent)
                .map_err(|e| format!("{}: {e}", parent.display()))?;
            let sha =
                crate::primitives::fetch_url(url, tmp.as_file_mut()).map_err(|e| e.to_string())?;
            let published = if url.ends_with(".sha256") {
                None
            } else {
                published_sha256(url)
            };
            for (whose, want) in [("the recipe pins", &pinned), ("published", &published)] {
                if let Some(want) = want.as_deref().filter(|w| *w != sha) {
                    return Err(format!(
                        "checksum mismatch for {url}: {whose} sha256 {want}, got {sha}; {} was not written",
                        dest.display()
                    ));
                }
            }
            tmp.persist(&dest)
                .map_err(|e| format!("{}: {}", dest.display(), e.error))?;
            let how = match (&pinned, &published) {
                (Some(_), _) => " (sha256 checked against the recipe's)",
                (None, Some(_)) => " (sha256 checked against the published one)",
                (None, None) => " (no sha256 to check against)",
            };
            if let Some(p) = &published {
                // The recipe fetches URL.sha256 through the mirror too: serve it beside the file.
                let side = PathBuf::from(format!("{}.sha256", dest.display()));
                std::fs::write(&side, format!("{p}\n"))
                    .map_err(|e| format!("{}: {e}", side.display()))?;
            }
            eprintln!("fetched {url} → {}{how}", dest.display());
            n += 1;
        }
    }
    Ok(n)
}

pub fn artifacts(a: ArtifactsArgs) -> i32 {
    let opts = match a.mode.options(true) {
        Ok(o) => RunOptions {
            recipe: a.recipe,
            format: Format::Silent,
            ..o
        },
        Err(e) => return super::usage_error(e),
    };
    let outcome = execute(&opts);
    if outcome.exit_code != 0 {
        return outcome.exit_code;
    }
    let mut all = collect(&outcome.reporter.actions());
    add_manifest_images(&mut all);
    match a.output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default()),
        _ => print!("{}", human(&all)),
    }
    if let Some(dir) = &a.download {
        if let Err(e) = download(dir, &all) {
            eprintln!("error: {e}");
            return 1;
        }
    }
    0
}
