//! What a run would fetch, read from its plan's actions: the URLs its steps fetch (as fetched,
//! after the mirrors), the package repositories they configure, the packages they install (name
//! and version) and the container images kubeadm's commands and the runtime configs name. Pure:
//! actions in, per-host sets out, for `galley artifacts`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Action;

/// A package a step installs; `version` is empty when the step does not pin one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// `yum`, `dnf` or `apt`.
    pub manager: String,
}

/// One host's artifacts, each set sorted and deduplicated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostArtifacts {
    pub urls: BTreeSet<String>,
    pub repositories: BTreeSet<String>,
    pub packages: BTreeSet<Package>,
    pub images: BTreeSet<String>,
    /// The sha256 the recipe pins for a URL (`download(url, dest, #{ sha256 })`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
    /// Manifests whose images could not be read, each with the reason.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub unread_manifests: BTreeSet<String>,
}

/// Pure: the images a Kubernetes manifest (YAML or JSON) names in its `image:` fields.
pub fn manifest_images(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r#"(?m)(?:^|[\s{,-])"?image"?\s*:\s*["']?([^\s"',}\]]+)"#)
        .expect("regex");
    re.captures_iter(text)
        .map(|c| c[1].to_string())
        .filter(|i| !i.contains("{{"))
        .collect()
}

/// Pure: `containerd.io-1.7.27` / `kubelet=1.35.4-*` → name and version.
pub fn split_package(spec: &str, manager: &str) -> Package {
    let (name, version) = if manager == "apt" {
        spec.split_once('=').unwrap_or((spec, ""))
    } else {
        match spec.rfind('-') {
            Some(i) if spec[i + 1..].starts_with(|c: char| c.is_ascii_digit()) => {
                (&spec[..i], &spec[i + 1..])
            }
            _ => (spec, ""),
        }
    };
    Package {
        name: name.to_string(),
        version: version.trim_end_matches(['*', '-']).to_string(),
        manager: manager.to_string(),
    }
}

fn packages_of(argv: &[String]) -> Vec<Package> {
    let Some(tool) = argv.first() else {
        return Vec::new();
    };
    let manager = match tool.rsplit('/').next().unwrap_or("") {
        "yum" => "yum",
        "dnf" => "dnf",
        "apt-get" | "apt" => "apt",
        _ => return Vec::new(),
    };
    let Some(at) = argv.iter().position(|a| a == "install") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut args = argv[at + 1..].iter();
    while let Some(a) = args.next() {
        if a == "-o" {
            args.next(); // `-o Dpkg::Options::=…`: the option's value
        } else if !a.starts_with('-') {
            out.push(split_package(a, manager));
        }
    }
    out
}

/// Pause images a written config names (containerd's sandbox image, cri-dockerd's flag,
/// kubeadm's config file).
fn pause_images(text: &str) -> Vec<String> {
    // Compiled once: this runs for every argument of every command and every diff line.
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"[A-Za-z0-9._:/-]+/pause:[A-Za-z0-9._-]+"#).expect("regex")
    });
    RE.find_iter(text).map(|m| m.as_str().to_string()).collect()
}

/// Every host's artifacts from a plan's actions.
pub fn collect(actions: &[Action]) -> BTreeMap<String, HostArtifacts> {
    let mut out: BTreeMap<String, HostArtifacts> = BTreeMap::new();
    for a in actions {
        let h = out.entry(a.host.clone()).or_default();
        h.urls.extend(a.fetches.iter().cloned());
        h.repositories.extend(a.repositories.iter().cloned());
        h.images.extend(a.images.iter().cloned());
        h.checksums.extend(a.checksums.iter().cloned());
        for argv in &a.commands {
            h.packages.extend(packages_of(argv));
            for arg in argv {
                h.images.extend(pause_images(arg));
            }
        }
        if let Some(d) = &a.diff {
            for line in d.lines().filter(|l| l.starts_with('+')) {
                h.images.extend(pause_images(line));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn packages_from_install_commands() {
        assert_eq!(
            packages_of(&argv(
                "yum install -y containerd.io-1.7.27 device-mapper-persistent-data"
            )),
            vec![
                split_package("containerd.io-1.7.27", "yum"),
                Package {
                    name: "device-mapper-persistent-data".into(),
                    version: "".into(),
                    manager: "yum".into()
                }
            ]
        );
        assert_eq!(
            split_package("kubelet=1.35.4-*", "apt"),
            Package {
                name: "kubelet".into(),
                version: "1.35.4".into(),
                manager: "apt".into()
            }
        );
        assert_eq!(
            split_package("containerd.io-1.7.27", "dnf").version,
            "1.7.27"
        );
        assert!(packages_of(&argv("yum remove -y x")).is_empty());
        let apt = packages_of(&argv(
            "apt-get install -y -o Dpkg::Options::=--force-confold kubelet=1.35.4-*",
        ));
        assert_eq!(apt.len(), 1);
        assert_eq!(apt[0].name, "kubelet");
    }

    #[test]
    fn images_from_manifests() {
        let yaml = "spec:\n  containers:\n    - name: a\n      image: docker.io/calico/node:v3.31.0\n      imagePullPolicy: IfNotPresent\n    - image: \"quay.io/x/y:1\"\n";
        let json = r#"{"containers":[{"image": "ghcr.io/flannel-io/flannel:v0.27.4","name":"f"}]}"#;
        assert_eq!(
            manifest_images(yaml).into_iter().collect::<Vec<_>>(),
            vec!["docker.io/calico/node:v3.31.0", "quay.io/x/y:1"]
        );
        assert_eq!(
            manifest_images(json),
            BTreeSet::from(["ghcr.io/flannel-io/flannel:v0.27.4".to_string()])
        );
    }

    #[test]
    fn images_from_configs() {
        assert_eq!(
            pause_images("+sandbox_image = \"m:5000/pause:3.10\""),
            vec!["m:5000/pause:3.10"]
        );
    }
}
