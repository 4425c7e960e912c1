//! Primitives about the run itself rather than a change: `params`, `facts`, `host`, `hosts`,
//! `secret`, `fail`, `warn`, `info`.

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};

use super::params;
use super::{refusal, reg, step, usage, RResult};
use crate::executor::{Ctx, RunCtx};
use crate::inventory::HostEntry;
use crate::report::{redact, Level};

fn params_fn(nc: NativeCallContext, defaults: Map) -> RResult<Map> {
    let run = Ctx::of(&nc)?.run;
    let mut seen = run.params.lock().unwrap();
    if seen.is_some() {
        return Err(usage(
            "params() is called more than once; declare all parameters in one params(#{...})",
        ));
    }
    // Inventory vars first, then --set over them.
    let hosts: Vec<(&str, &std::collections::BTreeMap<String, serde_json::Value>)> = run
        .order
        .iter()
        .filter_map(|n| run.targets.get(n))
        .map(|t| (t.entry.name.as_str(), &t.entry.vars))
        .collect();
    let mut base = defaults.clone();
    base.extend(params::from_inventory(&defaults, &hosts).map_err(|e| usage(e.to_string()))?);
    let resolved = params::resolve(&base, &run.sets).map_err(|e| usage(e.to_string()))?;
    *seen = Some(resolved.clone());
    if run.show_only {
        *seen = Some(defaults);
        return Err(crate::error::Stop::Show.raise());
    }
    Ok(resolved)
}

fn facts(nc: NativeCallContext) -> RResult<Dynamic> {
    let t = Ctx::of(&nc)?.target()?;
    let f = t
        .facts()
        .map_err(|e| step(format!("facts on {}: {e}", t.name())))?;
    rhai::serde::to_dynamic(&f)
}

pub fn host_map(e: &HostEntry) -> Map {
    let mut m = Map::new();
    m.insert("name".into(), e.name.clone().into());
    m.insert(
        "address".into(),
        e.address
            .clone()
            .unwrap_or_else(|| "127.0.0.1".into())
            .into(),
    );
    m.insert(
        "port".into(),
        Dynamic::from(e.port.unwrap_or(22) as rhai::INT),
    );
    m.insert("user".into(), e.user.clone().unwrap_or_default().into());
    m.insert(
        "groups".into(),
        e.groups
            .iter()
            .cloned()
            .map(Dynamic::from)
            .collect::<Array>()
            .into(),
    );
    m.insert(
        "vars".into(),
        rhai::serde::to_dynamic(&e.vars).unwrap_or_default(),
    );
    m
}

fn host(nc: NativeCallContext) -> RResult<Map> {
    Ok(host_map(&Ctx::of(&nc)?.target()?.entry))
}

/// Which hosts a pattern may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The hosts `--limit` keeps (`hosts()`).
    Limited,
    /// Every inventory host (`hosts_all()`).
    All,
    /// What `on()` acts on: `all` and groups as limited, a host named outright wherever it is
    /// (reading a host outside the limit is allowed; it is in check mode).
    On,
}

/// Host names for a pattern in the `On` scope (what `on()` and the REPL use).
pub fn resolve_hosts(run: &RunCtx, pattern: &str) -> Result<Vec<String>, String> {
    resolve_hosts_in(run, pattern, Scope::On)
}

/// Host names for a pattern: `all`, a group, a host, or several separated by commas.
pub fn resolve_hosts_in(run: &RunCtx, pattern: &str, scope: Scope) -> Result<Vec<String>, String> {
    let everyone = scope == Scope::All;
    let kept = |h: &str| everyone || run.order.iter().any(|o| o == h);
    let mut out: Vec<String> = Vec::new();
    for part in pattern.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let found: Vec<String> = if part == "all" {
            if everyone {
                run.all.clone()
            } else {
                run.order.clone()
            }
        } else if let Some(members) = run.groups.get(part) {
            members
                .iter()
                .filter(|m| run.targets.contains_key(*m) && kept(m))
                .cloned()
                .collect()
        } else if run.targets.contains_key(part) {
            if scope == Scope::Limited && !kept(part) {
                Vec::new()
            } else {
                vec![part.to_string()]
            }
        } else {
            let groups: Vec<&str> = run.groups.keys().map(String::as_str).collect();
            return Err(format!(
                "no host or group named `{part}` (groups: {}; hosts: {})",
                if groups.is_empty() {
                    "none".into()
                } else {
                    groups.join(", ")
                },
                run.all.join(", ")
            ));
        };
        for h in found {
            if !out.contains(&h) {
                out.push(h);
            }
        }
    }
    Ok(out)
}

fn hosts(nc: NativeCallContext, pattern: &str, scope: Scope) -> RResult<Array> {
    let run = Ctx::of(&nc)?.run;
    let names = resolve_hosts_in(&run, pattern, scope).map_err(usage)?;
    Ok(names.into_iter().map(Dynamic::from).collect())
}

fn log(nc: &NativeCallContext, level: Level, message: &str) -> RResult<()> {
    let ctx = Ctx::of(nc)?;
    let host = ctx
        .target
        .as_ref()
        .map_or("-".to_string(), |t| t.name().to_string());
    ctx.run
        .reporter
        .log_at(&host, level, message, super::site_of(nc));
    Ok(())
}

fn secret(value: Dynamic) -> RResult<Dynamic> {
    redact::add(&value.to_string()).map_err(|e| usage(format!("secret(): {e}")))?;
    Ok(value)
}

pub fn register(engine: &mut Engine) {
    reg(engine, "params", &["defaults: Map", "Map"], &[
        "Declares the recipe's parameters and their defaults, once, near the top:",
        "`let p = params(#{ k8s_version: \"1.31.4\" });` — `--set key=value` overrides are coerced to the",
        "default's type; an unknown key is an error. `galley show` lists them.",
    ], params_fn);
    reg(engine, "facts", &["Map"], &[
        "The current host's facts: os (family, id, version_id), arch, hostname, kernel, cpus, memory_mb,",
        "swap_mb, virtualization (vmx, svm, kvm), interfaces (name, mac, addresses), product_uuid, init,",
        "pkg_manager. Gathered once per host per run; in plan mode they come from the facts file.",
    ], facts);
    reg(
        engine,
        "host",
        &["Map"],
        &["The current host: name, address, port, user, groups, vars."],
        host,
    );
    reg(
        engine,
        "hosts",
        &["Array"],
        &["Every targeted host's name, in inventory order (only those `--limit` keeps)."],
        |nc: NativeCallContext| hosts(nc, "all", Scope::Limited),
    );
    reg(
        engine,
        "hosts",
        &["pattern: &str", "Array"],
        &["Host names of a group, a host or `all` (comma-separated for several), within `--limit`."],
        |nc: NativeCallContext, p: &str| hosts(nc, p, Scope::Limited),
    );
    reg(
        engine,
        "hosts_all",
        &["Array"],
        &["Every inventory host's name, `--limit` or not: the roles of the hosts a run does not act",
          "on. `on()` may read such a host (it runs in check mode there); it never changes it."],
        |nc: NativeCallContext| hosts(nc, "all", Scope::All),
    );
    reg(
        engine,
        "hosts_all",
        &["pattern: &str", "Array"],
        &["Host names of a group, a host or `all` in the whole inventory, `--limit` or not."],
        |nc: NativeCallContext, p: &str| hosts(nc, p, Scope::All),
    );
    reg(engine, "secret", &["value: Dynamic", "Dynamic"], &[
        "Marks a value secret: it is redacted from terminal output, JSON, logs, errors and REPL history.",
    ], secret);
    reg(
        engine,
        "fail",
        &["message: &str", "()"],
        &["Stops the recipe with this message (exit code 1)."],
        |m: &str| -> RResult<()> { Err(step(m)) },
    );
    reg(
        engine,
        "refuse",
        &["message: &str", "()"],
        &["Stops the recipe because its settings or inventory are wrong (exit code 2, like a usage error)."],
        |m: &str| -> RResult<()> { Err(refusal(m)) },
    );
    reg(
        engine,
        "warn",
        &["message: &str", "()"],
        &["Prints a warning tagged with the current host."],
        |nc: NativeCallContext, m: &str| log(&nc, Level::Warn, m),
    );
    reg(
        engine,
        "info",
        &["message: &str", "()"],
        &["Prints a message tagged with the current host."],
        |nc: NativeCallContext, m: &str| log(&nc, Level::Info, m),
    );
    const PLURAL: &[&str] = &[
        "A count with its noun, singular for one: `plural(1, \"host\")` is \"1 host\", `plural(3, \"host\")`",
        "\"3 hosts\"; give the plural when it is not the noun + s: `plural(n, \"proxy\", \"proxies\")`.",
    ];
    reg(
        engine,
        "plural",
        &["n: i64", "noun: &str", "String"],
        PLURAL,
        |n: rhai::INT, noun: &str| plural(n, noun, &format!("{noun}s")),
    );
    reg(
        engine,
        "plural",
        &["n: i64", "noun: &str", "nouns: &str", "String"],
        PLURAL,
        |n: rhai::INT, noun: &str, nouns: &str| plural(n, noun, nouns),
    );
}

/// `n` with the noun that goes with it.
fn plural(n: rhai::INT, noun: &str, nouns: &str) -> String {
    format!("{n} {}", if n == 1 { noun } else { nouns })
}
