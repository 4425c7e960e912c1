//! Mirrors for air-gapped and mirrored installs, as pure data: URL mirrors (a URL prefix → its
//! replacement, longest prefix wins), image registry mirrors (a registry → the host that serves
//! it) and the CA a mirror's certificates are signed with. One module so that every primitive
//! that fetches a URL or writes one into a repository definition rewrites it the same way, and so
//! that bad settings are refused, with the setting named, before any host is touched.
//!
//! Settings come from the inventory vars `mirrors`, `registry_mirrors` and `mirror_ca` (the host's
//! own over its groups' over `all`'s) and from `--mirror`, `--registry-mirror` and `--mirror-ca`,
//! which win over the inventory.

use std::collections::BTreeMap;

use serde_json::Value;

/// One URL mirror rule: URLs starting with `prefix` are fetched from `replacement` instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub prefix: String,
    pub replacement: String,
}

/// A URL after the mirrors: where it is fetched from, and the rule that sent it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub url: String,
    pub rule: String,
}

/// An image registry's mirror: `host[:port][/path]`, reached over plain HTTP when `insecure`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryMirror {
    pub registry: String,
    /// `host[:port][/path]`, without the scheme.
    pub host: String,
    /// Plain HTTP (given as `http://host…`).
    pub insecure: bool,
}

impl RegistryMirror {
    /// The mirror as a URL: `https://host…` or `http://host…`.
    pub fn url(&self) -> String {
        let scheme = if self.insecure { "http" } else { "https" };
        format!("{scheme}://{}", self.host)
    }
}

/// The CA a mirror's certificates are signed with: where it was read from and its PEM text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorCa {
    pub path: String,
    pub pem: String,
}

/// Everything one host's run knows about mirrors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mirrors {
    /// Longest prefix first.
    rules: Vec<Rule>,
    /// By registry name.
    pub registries: BTreeMap<String, RegistryMirror>,
    pub ca: Option<MirrorCa>,
}

/// The mirror settings given on the command line, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MirrorFlags {
    /// `--mirror PREFIX=REPLACEMENT`, in order.
    pub urls: Vec<String>,
    /// `--registry-mirror REGISTRY=HOST[:PORT][/PATH]`, in order.
    pub registries: Vec<String>,
    /// `--mirror-ca FILE`.
    pub ca: Option<String>,
}

impl MirrorFlags {
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty() && self.registries.is_empty() && self.ca.is_none()
    }
}

/// A mirror setting that is refused, with the setting named (`--mirror`, inventory var
/// `mirrors`, ...).
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// A flag's value is not `KEY=VALUE`.
    #[error("{setting} `{given}` is not {shape}")]
    NotPair {
        setting: &'static str,
        given: String,
        shape: &'static str,
    },
    #[error("{setting}: `{prefix}` is not an http(s) URL prefix like https://dl.k8s.io")]
    Prefix {
        setting: &'static str,
        prefix: String,
    },
    #[error("{setting}: the mirror of {prefix}, `{replacement}`, is not an http(s) URL (like http://10.0.0.1:8080/dl.k8s.io), a file:/// URL or an absolute path")]
    Replacement {
        setting: &'static str,
        prefix: String,
        replacement: String,
    },
    #[error("{setting}: `{registry}` is not a registry name like registry.k8s.io or docker.io")]
    Registry {
        setting: &'static str,
        registry: String,
    },
    #[error("{setting}: the mirror of {registry}, `{value}`, has no host: give HOST[:PORT][/PATH] like mirror.local:5000 (http://mirror.local:5000 for a plain-HTTP registry)")]
    RegistryHost {
        setting: &'static str,
        registry: String,
        value: String,
    },
    #[error("inventory var `{setting}` must be a map, e.g. {{ \"https://dl.k8s.io\" = \"http://10.0.0.1:8080/dl.k8s.io\" }}")]
    NotMap { setting: &'static str },
    #[error("inventory var `{setting}`: the value for `{key}` must be a string")]
    NotString { setting: &'static str, key: String },
    #[error("{setting}: cannot read the CA file `{path}`: {error}")]
    ReadCa {
        setting: &'static str,
        path: String,
        error: std::io::Error,
    },
    #[error("{setting}: `{path}` holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoPem { setting: &'static str, path: String },
    #[error("inventory var `mirror_ca` must be the path of a PEM file")]
    CaNotPath,
}

fn split_pair<'a>(
    setting: &'static str,
    s: &'a str,
    shape: &'static str,
) -> Result<(&'a str, &'a str), MirrorError> {
    s.split_once('=')
        .filter(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty())
        .map(|(k, v)| (k.trim(), v.trim()))
        .ok_or_else(|| MirrorError::NotPair {
            setting,
            given: s.to_string(),
            shape,
        })
}

/// A URL prefix: an http(s) URL with a host.
fn check_prefix(setting: &'static str, prefix: &str) -> Result<(), MirrorError> {
    match url::Url::parse(prefix) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        _ => Err(MirrorError::Prefix {
            setting,
            prefix: prefix.to_string(),
        }),
    }
}

/// A replacement: an http(s) URL with a host, a `file:///` URL or an absolute path (a folder
/// on the host itself).
fn check_replacement(setting: &'static str, prefix: &str, repl: &str) -> Result<(), MirrorError> {
    if repl.starts_with('/') {
        return Ok(());
    }
    match url::Url::parse(repl) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        Ok(u) if u.scheme() == "file" && u.path().starts_with('/') => Ok(()),
        _ => Err(MirrorError::Replacement {
            setting,
            prefix: prefix.to_string(),
            replacement: repl.to_string(),
        }),
    }
}

/// A registry mirror value `[http://|https://]host[:port][/path]`.
fn parse_registry(
    setting: &'static str,
    registry: &str,
    value: &str,
) -> Result<RegistryMirror, MirrorError> {
    if registry.is_empty()
        || registry.contains(['/', ' ', '='])
        || url::Host::parse(registry.split(':').next().unwrap_or("")).is_err()
    {
        return Err(MirrorError::Registry {
            setting,
            registry: registry.to_string(),
        });
    }
    let (insecure, rest) = if let Some(r) = value.strip_prefix("http://") {
        (true, r)
    } else if let Some(r) = value.strip_prefix("https://") {
        (false, r)
    } else {
        (false, value)
    };
    let rest = rest.trim_end_matches('/');
    let host_part = rest.split('/').next().unwrap_or("");
    let ok = !host_part.is_empty()
        && !rest.contains("://")
        && url::Url::parse(&format!("https://{rest}"))
            .ok()
            .and_then(|u| u.host_str().map(|h| !h.is_empty()))
            .unwrap_or(false);
    if !ok {
        return Err(MirrorError::RegistryHost {
            setting,
            registry: registry.to_string(),
            value: value.to_string(),
        });
    }
    Ok(RegistryMirror {
        registry: registry.to_string(),
        host: rest.to_string(),
        insecure,
    })
}

/// `--mirror PREFIX=REPLACEMENT` → a rule, or an error naming the flag.
pub fn parse_flag(s: &str) -> Result<Rule, MirrorError> {
    let (p, r) = split_pair("--mirror", s, "PREFIX=REPLACEMENT")?;
    check_prefix("--mirror", p)?;
    check_replacement("--mirror", p, r)?;
    Ok(Rule {
        prefix: p.to_string(),
        replacement: r.to_string(),
    })
}

/// `--registry-mirror REGISTRY=HOST[:PORT][/PATH]` → a registry mirror.
pub fn parse_registry_flag(s: &str) -> Result<RegistryMirror, MirrorError> {
    let (k, v) = split_pair("--registry-mirror", s, "REGISTRY=HOST[:PORT][/PATH]")?;
    parse_registry("--registry-mirror", k, v)
}

fn string_map(setting: &'static str, v: &Value) -> Result<Vec<(String, String)>, MirrorError> {
    let Value::Object(m) = v else {
        return Err(MirrorError::NotMap { setting });
    };
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(MirrorError::NotString {
                setting,
                key: k.clone(),
            }),
        })
        .collect()
}

fn read_ca(setting: &'static str, path: &str) -> Result<MirrorCa, MirrorError> {
    let pem = std::fs::read_to_string(path).map_err(|error| MirrorError::ReadCa {
        setting,
        path: path.to_string(),
        error,
    })?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(MirrorError::NoPem {
            setting,
            path: path.to_string(),
        });
    }
    Ok(MirrorCa {
        path: path.to_string(),
        pem,
    })
}

impl Mirrors {
    /// One host's mirrors: its inventory vars, then the command line over them. Every error
    /// names the setting (`--mirror`, inventory var `mirrors`, ...).
    pub fn resolve(
        flags: &MirrorFlags,
        vars: &BTreeMap<String, Value>,
    ) -> Result<Self, MirrorError> {
        let mut urls: BTreeMap<String, String> = BTreeMap::new();
        if let Some(v) = vars.get("mirrors") {
            for (p, r) in string_map("mirrors", v)? {
                check_prefix("inventory var `mirrors`", &p)?;
                check_replacement("inventory var `mirrors`", &p, &r)?;
                urls.insert(p, r);
            }
        }
        for f in &flags.urls {
            let rule = parse_flag(f)?;
            urls.insert(rule.prefix, rule.replacement);
        }
        let mut registries = BTreeMap::new();
        if let Some(v) = vars.get("registry_mirrors") {
            for (k, h) in string_map("registry_mirrors", v)? {
                let m = parse_registry("inventory var `registry_mirrors`", &k, &h)?;
                registries.insert(k, m);
            }
        }
        for f in &flags.registries {
            let m = parse_registry_flag(f)?;
            registries.insert(m.registry.clone(), m);
        }
        let ca = match (&flags.ca, vars.get("mirror_ca")) {
            (Some(p), _) => Some(read_ca("--mirror-ca", p)?),
            (None, Some(Value::String(p))) => Some(read_ca("inventory var `mirror_ca`", p)?),
            (None, Some(_)) => return Err(MirrorError::CaNotPath),
            (None, None) => None,
        };
        let mut rules: Vec<Rule> = urls
            .into_iter()
            .map(|(prefix, replacement)| Rule {
                prefix,
                replacement,
            })
            .collect();
        rules.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Ok(Mirrors {
            rules,
            registries,
            ca,
        })
    }

    /// Mirrors from rules alone (tests, the REPL).
    pub fn from_rules(rules: &[(&str, &str)]) -> Self {
        let mut rules: Vec<Rule> = rules
            .iter()
            .map(|(p, r)| Rule {
                prefix: p.to_string(),
                replacement: r.to_string(),
            })
            .collect();
        rules.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Mirrors {
            rules,
            ..Default::default()
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether there is anything to rewrite or install.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.registries.is_empty() && self.ca.is_none()
    }

    /// `url` through the mirrors: the longest matching prefix wins; a prefix matches only at a
    /// path boundary (`https://dl.k8s.io` matches `https://dl.k8s.io/x`, not
    /// `https://dl.k8s.io.example.com/`). `None` when no rule matches.
    pub fn rewrite(&self, url: &str) -> Option<Rewrite> {
        self.rules.iter().find_map(|r| {
            let rest = url.strip_prefix(r.prefix.as_str())?;
            let boundary =
                rest.is_empty() || r.prefix.ends_with('/') || rest.starts_with(['/', '?', '#']);
            boundary.then(|| Rewrite {
                url: join(&r.replacement, rest),
                rule: r.prefix.clone(),
            })
        })
    }

    /// `url` through the mirrors, or itself.
    pub fn apply(&self, url: &str) -> String {
        self.rewrite(url).map_or_else(|| url.to_string(), |r| r.url)
    }

    /// Every http(s) URL in a text (a fetched .repo file) through the mirrors, and the rewrites
    /// made.
    pub fn rewrite_text(&self, text: &str) -> (String, Vec<(String, Rewrite)>) {
        let mut out = String::with_capacity(text.len());
        let mut done = Vec::new();
        let mut rest = text;
        while let Some(at) = find_url(rest) {
            out.push_str(&rest[..at]);
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
                .unwrap_or(tail.len());
            let url = &tail[..end];
            match self.rewrite(url) {
                Some(r) => {
                    out.push_str(&r.url);
                    done.push((url.to_string(), r));
                }
                None => out.push_str(url),
            }
            rest = &tail[end..];
        }
        out.push_str(rest);
        (out, done)
    }

    /// The mirror of an image registry, if any.
    pub fn registry(&self, registry: &str) -> Option<&RegistryMirror> {
        self.registries.get(registry)
    }
}

/// The replacement and the rest of the URL, with exactly one `/` between them.
fn join(replacement: &str, rest: &str) -> String {
    match (replacement.ends_with('/'), rest.starts_with('/')) {
        (true, true) => format!("{replacement}{}", &rest[1..]),
        (false, false) if !rest.is_empty() && !rest.starts_with(['?', '#']) => {
            format!("{replacement}/{rest}")
        }
        _ => format!("{replacement}{rest}"),
    }
}

fn find_url(s: &str) -> Option<usize> {
    match (s.find("http://"), s.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A mirror's replacement may be a folder on the host: `file:///srv/m/x` or `/srv/m/x` → the
/// path, for commands (kubectl) that take a path rather than a URL.
pub fn local_path(url: &str) -> Option<&str> {
    if url.starts_with('/') {
        Some(url)
    } else {
        url.strip_prefix("file://").filter(|p| p.starts_with('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn longest_prefix_wins_at_a_boundary() {
        let m = Mirrors::from_rules(&[
            ("https://github.com", "http://m/gh"),
            ("https://github.com/flannel-io", "http://m/flannel/"),
        ]);
        assert_eq!(
            m.rewrite("https://github.com/a/b").unwrap(),
            Rewrite {
                url: "http://m/gh/a/b".into(),
                rule: "https://github.com".into()
            }
        );
        assert_eq!(
            m.apply("https://github.com/flannel-io/flannel/x.yml"),
            "http://m/flannel/flannel/x.yml"
        );
        assert_eq!(m.rewrite("https://github.com.evil.example/x"), None);
        assert_eq!(m.rewrite("https://dl.k8s.io/x"), None);
        assert_eq!(m.apply("https://github.com"), "http://m/gh");
    }

    #[test]
    fn text_rewrite_touches_only_mirrored_urls() {
        let m = Mirrors::from_rules(&[("https://download.docker.com", "http://10.0.0.1/docker")]);
        let repo = "[docker-ce-stable]\nbaseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable\ngpgkey=https://download.docker.com/linux/centos/gpg https://other.example/k\n";
        let (out, done) = m.rewrite_text(repo);
        assert_eq!(out, "[docker-ce-stable]\nbaseurl=http://10.0.0.1/docker/linux/centos/$releasever/$basearch/stable\ngpgkey=http://10.0.0.1/docker/linux/centos/gpg https://other.example/k\n");
        assert_eq!(done.len(), 2);
    }

    #[test]
    fn command_line_wins_over_inventory() {
        let flags = MirrorFlags {
            urls: vec!["https://dl.k8s.io=http://cli/dl".into()],
            ..Default::default()
        };
        let v = vars(
            json!({"mirrors": {"https://dl.k8s.io": "http://inv/dl", "https://pkgs.k8s.io": "http://inv/pkgs"}}),
        );
        let m = Mirrors::resolve(&flags, &v).unwrap();
        assert_eq!(m.apply("https://dl.k8s.io/a"), "http://cli/dl/a");
        assert_eq!(m.apply("https://pkgs.k8s.io/a"), "http://inv/pkgs/a");
    }

    #[test]
    fn bad_settings_are_named() {
        let e = parse_flag("dl.k8s.io=http://m").unwrap_err().to_string();
        assert!(e.contains("--mirror") && e.contains("dl.k8s.io"), "{e}");
        let e = parse_flag("https://dl.k8s.io=m:80")
            .unwrap_err()
            .to_string();
        assert!(e.contains("m:80"), "{e}");
        assert!(parse_flag("https://dl.k8s.io").is_err());
        let e = Mirrors::resolve(
            &MirrorFlags::default(),
            &vars(json!({"mirrors": {"https://x": "not a url"}})),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("inventory var `mirrors`"), "{e}");
        let e = Mirrors::resolve(&MirrorFlags::default(), &vars(json!({"mirrors": "x"})))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "inventory var `mirrors` must be a map, e.g. { \"https://dl.k8s.io\" = \"http://10.0.0.1:8080/dl.k8s.io\" }"
        );
        let e = parse_registry_flag("docker.io=").unwrap_err().to_string();
        assert!(e.contains("--registry-mirror"), "{e}");
        let e = parse_registry_flag("docker.io=http://")
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no host"), "{e}");
        let e = Mirrors::resolve(
            &MirrorFlags::default(),
            &vars(json!({"registry_mirrors": {"quay.io": "/v2"}})),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("inventory var `registry_mirrors`") && e.contains("no host"),
            "{e}"
        );
        let flags = MirrorFlags {
            ca: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let e = Mirrors::resolve(&flags, &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--mirror-ca") && e.contains("/nonexistent/ca.pem"),
            "{e}"
        );
    }

    #[test]
    fn registry_mirrors() {
        let m = parse_registry_flag("registry.k8s.io=http://mirror.local:5000").unwrap();
        assert!(m.insecure);
        assert_eq!(m.host, "mirror.local:5000");
        assert_eq!(m.url(), "http://mirror.local:5000");
        let m = parse_registry_flag("docker.io=mirror.local:5000/docker/").unwrap();
        assert!(!m.insecure);
        assert_eq!(m.host, "mirror.local:5000/docker");
    }

    #[test]
    fn paths_as_mirrors() {
        assert!(parse_flag("https://raw.githubusercontent.com=/srv/manifests").is_ok());
        assert!(parse_flag("https://raw.githubusercontent.com=file:///srv/manifests").is_ok());
        let m = Mirrors::from_rules(&[("https://raw.githubusercontent.com", "file:///srv/m")]);
        let u = m.apply("https://raw.githubusercontent.com/a/b.yaml");
        assert_eq!(local_path(&u), Some("/srv/m/a/b.yaml"));
        assert_eq!(local_path("https://x/y"), None);
    }
}
