//! How primitives fetch through the user's mirrors: every URL a primitive fetches or writes into a
//! repository definition goes through [`mirrored`], which rewrites it by the host's mirror rules,
//! names the rule on the action (summary and JSON), and first installs the mirror CA into the
//! host's trust store, once per host, so that curl, dnf, apt and containerd trust the mirror.

use crate::error::StepError;
use std::sync::Arc;

use rhai::{Engine, Map, NativeCallContext};

use super::act::{act, spec_of};
use super::file::ensure_content;
use super::{reg, step, usage, Call, RResult};
use crate::executor::{Ctx, RunCtx, Target};
use crate::host::FileMeta;
use crate::report::{Mirrored, Status};

/// Where the mirror CA goes and the command that rebuilds the trust store, by OS family.
pub fn trust_store(family: &str) -> Option<(&'static str, &'static str)> {
    match family {
        "debian" => Some((
            "/usr/local/share/ca-certificates/galley-mirror-ca.crt",
            "update-ca-certificates",
        )),
        "redhat" => Some((
            "/etc/pki/ca-trust/source/anchors/galley-mirror-ca.crt",
            "update-ca-trust",
        )),
        _ => None,
    }
}

/// `url` through the current host's mirrors (itself when no rule matches). The rewrite is noted
/// on the action; the mirror CA, if any, is installed first.
pub fn mirrored(call: &mut Call, url: &str) -> Result<String, StepError> {
    let to = rewrite(call, url)?;
    call.action.fetches.push(to.clone());
    Ok(to)
}

/// [`mirrored`] for a package repository's URL (a yum baseurl, an apt uri): the package manager
/// fetches under it later.
pub fn mirrored_repo(call: &mut Call, url: &str) -> Result<String, StepError> {
    let to = rewrite(call, url)?;
    call.action.repositories.push(to.clone());
    Ok(to)
}

fn rewrite(call: &mut Call, url: &str) -> Result<String, StepError> {
    install_ca(&call.run, &call.target)?;
    let Some(r) = call.target.mirrors.rewrite(url) else {
        return Ok(url.to_string());
    };
    call.action
        .summary
        .push_str(&format!("; {url} → {} (mirror {})", r.url, r.rule));
    call.action.mirrored.push(Mirrored {
        url: url.to_string(),
        to: r.url.clone(),
        rule: r.rule,
    });
    Ok(r.url)
}

/// Every URL in a fetched text (a .repo file) through the mirrors, noted on the action.
pub fn mirrored_text(call: &mut Call, text: &str) -> String {
    let (out, done) = call.target.mirrors.rewrite_text(text);
    for (url, r) in done {
        if !call.action.mirrored.iter().any(|m| m.url == url) {
            call.action.mirrored.push(Mirrored {
                url,
                to: r.url,
                rule: r.rule,
            });
        }
    }
    out
}

/// The PEM a local fetch of `url` must verify against: the mirror CA when `url` is one the
/// mirrors produced, else none (the public roots).
pub fn ca_for<'a>(call: &'a Call, url: &str) -> Option<&'a str> {
    let ca = call.target.mirrors.ca.as_ref()?;
    call.action
        .mirrored
        .iter()
        .any(|m| m.to == url)
        .then_some(ca.pem.as_str())
}

/// Puts the mirror CA into the host's trust store once per run and host, as its own action.
fn install_ca(run: &Arc<RunCtx>, target: &Arc<Target>) -> Result<(), StepError> {
    let Some(ca) = target.mirrors.ca.clone() else {
        return Ok(());
    };
    let mut done = target.ca_installed.lock().unwrap();
    if *done {
        return Ok(());
    }
    let facts = target.facts()?;
    let Some((path, update)) = trust_store(&facts.os.family) else {
        return Err(format!(
            "mirror_ca: galley knows the trust store of the debian and redhat families, not `{}`; install {} on the host yourself and drop mirror_ca",
            facts.os.family, ca.path
        ).into());
    };
    let mut ca_call = Call::on(
        run.clone(),
        target.clone(),
        "mirror_ca",
        format!("{} → {path}", ca.path),
    );
    let meta = FileMeta {
        mode: Some(0o644),
        ..Default::default()
    };
    let r = ensure_content(&mut ca_call, path, ca.pem.as_bytes(), &meta, false).and_then(|c| {
        if c {
            act(
                &mut ca_call,
                spec_of(&[update.to_string()], &[], None),
                update,
            )?;
        }
        Ok(c)
    });
    match r {
        Ok(changed) => {
            *done = true;
            ca_call.finish(if changed { Status::Changed } else { Status::Ok });
            Ok(())
        }
        Err(e) => {
            let message = format!("installing the mirror CA {}: {e}", ca.path);
            drop(ca_call.fail(&message));
            Err(message.into())
        }
    }
}

/// `mirror_url(url)`: the URL the current host's mirrors give for `url` (itself when none
/// matches), for recipes that fetch with their own command (`curl URL.sha256`). The mirror CA
/// is installed first, as before any fetch.
fn mirror_url(nc: NativeCallContext, url: &str) -> RResult<String> {
    let ctx = Ctx::of(&nc)?;
    let target = ctx.target()?;
    install_ca(&ctx.run, &target).map_err(step)?;
    Ok(target.mirrors.apply(url))
}

/// `registry_mirrors()`: the image registry mirrors, registry → #{ host, url, insecure, ca }
/// (`host` is `host[:port][/path]`, `url` adds the scheme, `ca` is where the mirror CA is in the
/// host's trust store, installed first). At a recipe's top level with several hosts: the mirrors
/// every targeted host shares (an error if they differ), without `ca`.
fn registry_mirrors(nc: NativeCallContext) -> RResult<Map> {
    let ctx = Ctx::of(&nc)?;
    let (mirrors, ca_path) = match &ctx.target {
        Some(t) => {
            install_ca(&ctx.run, t).map_err(step)?;
            let ca = match &t.mirrors.ca {
                Some(_) => {
                    let family = t.facts().map_err(|e| step(e.to_string()))?.os.family;
                    trust_store(&family).map(|(p, _)| p.to_string())
                }
                None => None,
            };
            (t.mirrors.registries.clone(), ca)
        }
        None => {
            let mut all = ctx.run.targets.values().map(|t| &t.mirrors.registries);
            let first = all.next().cloned().unwrap_or_default();
            if all.any(|m| *m != first) {
                return Err(usage(
                    "registry_mirrors(): the targeted hosts have different registry mirrors; call it inside on(...) for each host",
                ));
            }
            (first, None)
        }
    };
    let mut out = Map::new();
    for (name, m) in &mirrors {
        let mut e = Map::new();
        e.insert("host".into(), m.host.clone().into());
        e.insert("url".into(), m.url().into());
        e.insert("insecure".into(), m.insecure.into());
        if let Some(p) = &ca_path {
            e.insert("ca".into(), p.clone().into());
        }
        out.insert(name.as_str().into(), e.into());
    }
    Ok(out)
}

pub fn register(engine: &mut Engine) {
    reg(
        engine,
        "mirror_url",
        &["url: &str", "String"],
        &[
            "The URL the current host's mirrors (--mirror, inventory var `mirrors`) give for `url`, or `url`",
            "itself. For fetches a recipe makes with its own command; primitives that fetch use the mirrors already.",
        ],
        mirror_url,
    );
    reg(
        engine,
        "registry_mirrors",
        &["Map"],
        &[
            "The current host's image registry mirrors (--registry-mirror, inventory var `registry_mirrors`):",
            "registry → #{ host: \"mirror.local:5000\", url: \"https://mirror.local:5000\", insecure: false, ca }",
            "(ca: the mirror CA's path in the trust store, when one is set). At the top level: what all hosts share.",
        ],
        registry_mirrors,
    );
}
