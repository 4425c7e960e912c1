//! `on`, `try_on`, `on_one`: run a closure on several hosts at once, each thread with its own
//! tag (current host) and its own copy of captured values. This is the one module that uses
//! Rhai's `internals` API (cloning the global runtime state per thread), so the version is pinned.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, Map, NativeCallContext};

use super::system::resolve_hosts;
use super::{reg, usage, RResult};
use crate::error::{diagnostics, Kind, Stop};
use crate::executor::{Ctx, RunCtx};
use crate::report::grouping;

type Outcome = Result<Dynamic, Box<EvalAltResult>>;
type HostResult = (String, Outcome);

fn names_of(run: &RunCtx, hosts: &Dynamic) -> RResult<Vec<String>> {
    let patterns: Vec<String> = if let Some(arr) = hosts.read_lock::<Array>() {
        arr.iter().map(|v| v.to_string()).collect()
    } else {
        vec![hosts.to_string()]
    };
    let mut out = Vec::new();
    for p in patterns {
        for h in resolve_hosts(run, &p).map_err(usage)? {
            if !out.contains(&h) {
                out.push(h);
            }
        }
    }
    Ok(out)
}

/// Calls `f` for one host on this thread, with that host in the tag and private captures.
fn call_on(
    nc: &NativeCallContext,
    run: &Arc<RunCtx>,
    name: &str,
    f: &FnPtr,
) -> Result<Dynamic, Box<EvalAltResult>> {
    let target = run
        .target(name)
        .ok_or_else(|| usage(format!("unknown host `{name}`")))?;
    let mut global = nc.global_runtime_state().clone();
    global.tag = Ctx {
        run: run.clone(),
        target: Some(target),
    }
    .into_dynamic();
    let ctx = NativeCallContext::new_with_all_fields(
        nc.engine(),
        nc.fn_name(),
        nc.fn_source(),
        &global,
        nc.call_position(),
    );
    let mut fp = f.clone();
    fp.set_curry(
        f.curry()
            .iter()
            .map(Dynamic::flatten_clone)
            .collect::<Vec<_>>(),
    );
    match fp.call_raw(&ctx, None, [Dynamic::from(name.to_string())]) {
        // A closure that takes no argument (`|| ...`): call it without the host name.
        Err(e) if matches!(&*e, EvalAltResult::ErrorFunctionNotFound(sig, _) if sig.starts_with(fp.fn_name())) => {
            fp.call_raw(&ctx, None, [])
        }
        r => r,
    }
}

/// Runs `f` on each host, at most `--forks` at a time; results in the order of `names`. A plan
/// keeps what each host reports and prints it when all are done, step by step, hosts in
/// inventory order (`report::grouping`).
fn run_parallel(
    nc: &NativeCallContext,
    run: &Arc<RunCtx>,
    names: &[String],
    f: &FnPtr,
) -> Vec<HostResult> {
    let group = run.groups_output();
    let one = |name: &String| {
        if group {
            grouping::capture(|| call_on(nc, run, name, f))
        } else {
            (call_on(nc, run, name, f), Vec::new())
        }
    };
    let done: Vec<(Outcome, Vec<grouping::Event>)> = if names.len() == 1 {
        vec![one(&names[0])]
    } else {
        let next = AtomicUsize::new(0);
        let slots: Vec<Mutex<Option<_>>> = names.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|s| {
            for _ in 0..run.forks.clamp(1, names.len()) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(name) = names.get(i) else { break };
                    *slots[i].lock().unwrap() = Some(one(name));
                });
            }
        });
        slots
            .into_iter()
            .map(|s| {
                s.into_inner()
                    .unwrap()
                    .unwrap_or((Ok(Dynamic::UNIT), Vec::new()))
            })
            .collect()
    };
    let (outcomes, events): (Vec<_>, Vec<_>) = done.into_iter().unzip();
    if group {
        // Within a step, hosts go in inventory order, whatever order the recipe listed them in.
        let rank = |h: &String| run.all.iter().position(|a| a == h).unwrap_or(usize::MAX);
        let mut by_host: Vec<(&String, Vec<grouping::Event>)> = names.iter().zip(events).collect();
        by_host.sort_by_cached_key(|(h, _)| rank(h));
        run.reporter
            .replay(by_host.into_iter().map(|(_, e)| e).collect());
    }
    names.iter().cloned().zip(outcomes).collect()
}

/// The error `on` throws when hosts failed: each host with its own located message.
fn aggregate(
    nc: &NativeCallContext,
    run: &RunCtx,
    results: &[HostResult],
    not_started: &[String],
) -> Option<Box<EvalAltResult>> {
    let top = nc.call_source().unwrap_or("<recipe>");
    let mut kind = Kind::Step;
    let mut lines = Vec::new();
    for (host, r) in results {
        let Err(e) = r else { continue };
        let d = diagnostics::diagnose(e, top, &run.sources, None);
        if d.kind == Kind::Interrupted {
            return Some(Stop::Interrupt.raise());
        }
        if d.kind == Kind::Recipe {
            kind = Kind::Recipe;
        }
        run.reporter.host_failed(host, &d.message);
        // A message its action's line printed is not printed again: only where it happened.
        let rendered = if run.reporter.shown_on_action(host, &d.message) {
            format!("failed at {} (the error is above)", diagnostics::place(&d))
        } else {
            diagnostics::render(&d, &run.sources).replace('\n', "\n    ")
        };
        lines.push(format!("  {host}: {rendered}"));
    }
    if lines.is_empty() {
        return None;
    }
    let mut msg = format!(
        "{} of {} hosts failed:\n{}",
        lines.len(),
        results.len() + not_started.len(),
        lines.join("\n")
    );
    if !not_started.is_empty() {
        msg.push_str(&format!(
            "\n  not started (later batches): {}",
            not_started.join(", ")
        ));
    }
    Some(crate::error::of_kind(kind, msg))
}

fn batch_size(opts: &Map, total: usize) -> RResult<usize> {
    let Some(b) = opts.get("batch") else {
        return Ok(total.max(1));
    };
    let n = if let Some(pct) = b
        .read_lock::<rhai::ImmutableString>()
        .and_then(|s| s.strip_suffix('%').map(str::to_string))
    {
        let p: f64 = pct.trim().parse().map_err(|_| {
            usage(format!(
                "on(): batch `{b}` is not a percentage like \"25%\""
            ))
        })?;
        ((total as f64) * p / 100.0).ceil() as usize
    } else {
        b.as_int().map_err(|_| {
            usage("on(): batch must be a number of hosts or a percentage like \"25%\"")
        })? as usize
    };
    if let Some(k) = opts.keys().find(|k| k.as_str() != "batch") {
        return Err(usage(format!("on(): unknown option `{k}` (known: batch)")));
    }
    Ok(n.max(1))
}

fn on(nc: NativeCallContext, hosts: Dynamic, opts: Map, f: FnPtr) -> RResult<Array> {
    let run = Ctx::of(&nc)?.run;
    let names = names_of(&run, &hosts)?;
    let size = batch_size(&opts, names.len())?;
    let mut values = Array::new();
    for (i, batch) in names.chunks(size).enumerate() {
        let results = run_parallel(&nc, &run, batch, &f);
        let rest: Vec<String> = names.iter().skip((i + 1) * size).cloned().collect();
        if let Some(err) = aggregate(&nc, &run, &results, &rest) {
            return Err(err);
        }
        values.extend(results.into_iter().map(|(_, r)| r.unwrap_or_default()));
    }
    Ok(values)
}

fn try_on(nc: NativeCallContext, hosts: Dynamic, f: FnPtr) -> RResult<Array> {
    let run = Ctx::of(&nc)?.run;
    let names = names_of(&run, &hosts)?;
    let top = nc.call_source().unwrap_or("<recipe>").to_string();
    let results = run_parallel(&nc, &run, &names, &f);
    let mut out = Array::new();
    for (host, r) in results {
        let mut m = Map::new();
        m.insert("host".into(), host.clone().into());
        m.insert("ok".into(), r.is_ok().into());
        match r {
            Ok(v) => {
                m.insert("value".into(), v);
                m.insert("error".into(), "".into());
            }
            Err(e) => {
                let d = diagnostics::diagnose(&e, &top, &run.sources, None);
                if d.kind == Kind::Interrupted {
                    return Err(crate::error::Stop::Interrupt.raise());
                }
                run.reporter.host_failed(&host, &d.message);
                m.insert("value".into(), Dynamic::UNIT);
                m.insert("error".into(), d.message.into());
            }
        }
        out.push(m.into());
    }
    Ok(out)
}

fn on_one(nc: NativeCallContext, host: &str, f: FnPtr) -> RResult<Dynamic> {
    let run = Ctx::of(&nc)?.run;
    let names = resolve_hosts(&run, host).map_err(usage)?;
    let [name] = names.as_slice() else {
        return Err(usage(format!(
            "on_one(): `{host}` names {} hosts; give exactly one",
            names.len()
        )));
    };
    let results = vec![(name.clone(), call_on(&nc, &run, name, &f))];
    if let Some(err) = aggregate(&nc, &run, &results, &[]) {
        return Err(err);
    }
    Ok(results
        .into_iter()
        .next()
        .map(|(_, r)| r.unwrap_or_default())
        .unwrap_or_default())
}

pub fn register(engine: &mut Engine) {
    const ON_DOC: &[&str] = &[
        "Runs the closure on each host (a group, a host name, `all`, or an array of them) in parallel,",
        "at most --forks at once, and returns the closure's values in host order. The closure gets the",
        "host name. When hosts fail, the others finish, then the recipe stops with every host's error.",
        "Closures return values rather than change captured variables (each host gets its own copy).",
        "Option batch: N or \"25%\" runs hosts in rolling batches, stopping before the next batch on failure.",
    ];
    reg(
        engine,
        "on",
        &["hosts: Dynamic", "f: FnPtr", "Array"],
        ON_DOC,
        |nc: NativeCallContext, h: Dynamic, f: FnPtr| on(nc, h, Map::new(), f),
    );
    reg(
        engine,
        "on",
        &["hosts: Dynamic", "opts: Map", "f: FnPtr", "Array"],
        ON_DOC,
        on,
    );
    reg(
        engine,
        "try_on",
        &["hosts: Dynamic", "f: FnPtr", "Array"],
        &["Like on(), but never stops the recipe: returns #{host, ok, value, error} per host."],
        try_on,
    );
    reg(engine, "on_one", &["host: &str", "f: FnPtr", "Dynamic"], &[
        "Runs the closure on exactly one host and returns its value, e.g. a join command made on the",
        "first control plane: `let join = on_one(cp, || secret(run([...]).stdout));`",
    ], on_one);
}
