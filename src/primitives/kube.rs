//! Kubernetes through kubectl: `kubectl(args)`, `kubectl_apply(path_or_url)` (changed only when
//! kubectl says something was created or configured) and `kubectl_json(args)` (a Rhai map).
//! The kubeconfig is the option, else `KUBECONFIG` (for the machine galley runs on), else
//! /etc/kubernetes/admin.conf; the program is the option, else `GALLEY_KUBECTL`, else `kubectl`.

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::act::is_local;
use super::command::{argv_of, display, failure_text, run_parsed, RunOpts};
use super::{from_map, reg_with_opts, usage, Call, RResult, StepResult};
use crate::error::StepError;
use crate::executor::Performed;
use crate::host::CommandSpec;
use crate::report::Status;

pub const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeOpts {
    /// The kubeconfig to use (a path on the host).
    pub kubeconfig: Option<String>,
    /// The kubectl program (a path on the host).
    pub kubectl: Option<String>,
    /// `-n <namespace>`.
    pub namespace: Option<String>,
    /// kubectl(): safe to run in check mode (get, describe, version ...).
    #[serde(default)]
    pub readonly: bool,
    /// kubectl(): `false`: a non-zero exit does not fail the recipe.
    pub check: Option<bool>,
    /// Seconds before kubectl is killed.
    pub timeout: Option<u64>,
    /// kubectl(): text fed to kubectl's standard input (`apply -f -`).
    pub stdin: Option<String>,
}

/// Pure: which kubeconfig a call uses. Galley's own environment counts only when the host is
/// the machine galley runs on.
pub fn resolve_kubeconfig(opt: Option<&str>, env: Option<&str>, local: bool) -> String {
    opt.map(str::to_string)
        .or_else(|| env.filter(|e| local && !e.is_empty()).map(str::to_string))
        .unwrap_or_else(|| ADMIN_CONF.to_string())
}

/// Pure: which kubectl program a call runs (same precedence as the kubeconfig).
pub fn resolve_kubectl(opt: Option<&str>, env: Option<&str>, local: bool) -> String {
    opt.map(str::to_string)
        .or_else(|| env.filter(|e| local && !e.is_empty()).map(str::to_string))
        .unwrap_or_else(|| "kubectl".to_string())
}

/// Pure: `kubectl --kubeconfig K [-n NS] args...`. A `KUBECONFIG` with several files
/// (`a:b`) is passed through the environment instead, since `--kubeconfig` takes one file.
pub fn kubectl_argv(
    program: &str,
    kubeconfig: &str,
    ns: Option<&str>,
    args: &[String],
) -> Vec<String> {
    let mut argv = vec![program.to_string()];
    if !kubeconfig.contains(':') {
        argv.extend(["--kubeconfig".to_string(), kubeconfig.to_string()]);
    }
    if let Some(ns) = ns {
        argv.extend(["-n".to_string(), ns.to_string()]);
    }
    argv.extend(args.iter().cloned());
    argv
}

/// The full command for a call: program, kubeconfig and namespace resolved.
pub fn command_for(call: &Call, o: &KubeOpts, args: &[String]) -> CommandSpec {
    command_on(is_local(call), o, args)
}

/// [`command_for`] given whether the host is the machine galley runs on.
pub fn command_on(local: bool, o: &KubeOpts, args: &[String]) -> CommandSpec {
    let env_kc = std::env::var("KUBECONFIG").ok();
    let env_bin = std::env::var("GALLEY_KUBECTL").ok();
    let kc = resolve_kubeconfig(o.kubeconfig.as_deref(), env_kc.as_deref(), local);
    let bin = resolve_kubectl(o.kubectl.as_deref(), env_bin.as_deref(), local);
    let mut spec = CommandSpec::new(&kubectl_argv(&bin, &kc, o.namespace.as_deref(), args));
    if kc.contains(':') {
        spec.env.push(("KUBECONFIG".into(), kc));
    }
    spec.timeout = o.timeout.map(std::time::Duration::from_secs);
    spec.stdin = o.stdin.clone().map(String::into_bytes);
    spec
}

fn args_of(primitive: &str, args: Array) -> RResult<Vec<String>> {
    let args = argv_of(primitive, args)?;
    if args[0] == "kubectl" {
        return Err(usage(format!(
            "{primitive}: leave out `kubectl`; give its arguments, e.g. {primitive}([\"get\", \"nodes\"])"
        )));
    }
    Ok(args)
}

fn kubectl(nc: NativeCallContext, args: Array, opts: Option<Map>) -> RResult<StepResult> {
    let o: KubeOpts = from_map("kubectl", opts)?;
    let args = args_of("kubectl", args)?;
    let ctx = crate::executor::Ctx::of(&nc)?;
    let local = ctx.target()?.is_this_machine();
    let spec = command_on(local, &o, &args);
    let ro = RunOpts {
        timeout: o.timeout,
        env: (!spec.env.is_empty()).then(|| spec.env.iter().cloned().collect()),
        stdin: o.stdin.clone(),
        check: o.check,
        readonly: o.readonly,
        ..Default::default()
    };
    run_parsed(
        &nc,
        "kubectl",
        spec.argv,
        format!("kubectl {}", display(&args)),
        ro,
    )
}

/// What `kubectl apply` said about each object.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// `deployment.apps/web configured`, ...
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
}

/// Pure: reads `kubectl apply` output lines (`kind/name created|configured|unchanged`, with an
/// optional ` (server dry run)` suffix); warnings and other lines are ignored.
pub fn parse_apply(stdout: &str) -> ApplyOutcome {
    let mut out = ApplyOutcome::default();
    for line in stdout.lines() {
        let l = line
            .trim()
            .trim_end_matches("(server dry run)")
            .trim_end_matches("(dry run)")
            .trim();
        let Some((object, verb)) = l.rsplit_once(' ') else {
            continue;
        };
        if !object.contains('/') || object.contains(' ') {
            continue;
        }
        match verb {
            "created" | "configured" | "serverside-applied" | "pruned" => {
                out.changed.push(format!("{object} {verb}"))
            }
            "unchanged" => out.unchanged.push(object.to_string()),
            _ => {}
        }
    }
    out
}

fn kubectl_apply(nc: NativeCallContext, source: &str, opts: Option<Map>) -> RResult<StepResult> {
    let o: KubeOpts = from_map("kubectl_apply", opts)?;
    if o.readonly || o.check.is_some() || o.stdin.is_some() {
        return Err(usage(
            "kubectl_apply: options are kubeconfig, kubectl, namespace, timeout",
        ));
    }
    let mut call = Call::begin(&nc, "kubectl_apply", source)?;
    let source = if source.starts_with("http://") || source.starts_with("https://") {
        match super::mirrored::mirrored(&mut call, source) {
            // A mirror may be a folder on the host: kubectl takes the path.
            Ok(u) => crate::mirror::local_path(&u).map_or(u.clone(), str::to_string),
            Err(e) => return Err(call.fail(e)),
        }
    } else {
        source.to_string()
    };
    let mut args = vec!["apply".to_string(), "-f".to_string(), source];
    let spec = command_for(&call, &o, &args);
    // A check asks the API server what the apply would change (a server-side dry run).
    args.push("--dry-run=server".into());
    let dry = command_for(&call, &o, &args);
    let shown = display(&spec.argv);
    let dry_argv = dry.argv.clone();
    let applied = call.perform(spec.clone(), Some(dry), "kubectl apply");
    call.action.commands.push(match &applied {
        Ok(Performed::DryRun(_)) => dry_argv,
        _ => spec.argv,
    });
    let (out, shown) = match applied {
        Err(e) => return Err(call.fail(e.to_string())),
        // Plans contact nothing: a recorded output in the facts file answers, else it would apply.
        Ok(Performed::Recorded(Some(stdout))) => {
            return Ok(applied_as(call, stdout));
        }
        Ok(Performed::Recorded(None)) => return Ok(call.finish(Status::Changed)),
        Ok(Performed::DryRun(out) | Performed::Answered(out)) => (out, None),
        Ok(Performed::Ran(out)) => (out, Some(shown)),
    };
    if out.rc != 0 || out.timed_out || out.interrupted {
        let Some(shown) = shown else {
            let why = out.stderr_text();
            let first = why.lines().next().unwrap_or("").trim().to_string();
            call.action
                .summary
                .push_str(&format!(" (server dry run failed: {first})"));
            return Ok(call.finish(Status::Changed));
        };
        return Err(call.fail(failure_text(&shown, &out, o.timeout)));
    }
    Ok(applied_as(call, out.stdout_text()))
}

/// The step as kubectl's output tells it: changed when any object was created or configured.
fn applied_as(mut call: Call, stdout: String) -> StepResult {
    let outcome = parse_apply(&stdout);
    let status = if outcome.changed.is_empty() {
        Status::Ok
    } else {
        call.action
            .summary
            .push_str(&format!(" ({})", outcome.changed.join(", ")));
        Status::Changed
    };
    let mut r = call.finish(status);
    r.stdout = stdout;
    r
}

/// Pure: JSON text to a Rhai value.
pub fn json_to_dynamic(text: &str) -> Result<Dynamic, StepError> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("kubectl printed something that is not JSON: {e}"))?;
    rhai::serde::to_dynamic(&v).map_err(|e| e.to_string().into())
}

/// `-o json` appended unless the arguments already choose an output.
pub fn with_json_output(args: &[String]) -> Vec<String> {
    let mut a = args.to_vec();
    let has = a
        .iter()
        .any(|x| x == "-o" || x == "--output" || x.starts_with("-o") || x.starts_with("--output="));
    if !has {
        a.extend(["-o".to_string(), "json".to_string()]);
    }
    a
}

fn kubectl_json(nc: NativeCallContext, args: Array, opts: Option<Map>) -> RResult<Dynamic> {
    let o: KubeOpts = from_map("kubectl_json", opts)?;
    let args = with_json_output(&args_of("kubectl_json", args)?);
    let mut call = Call::begin(&nc, "kubectl_json", format!("kubectl {}", display(&args)))?;
    let spec = command_for(&call, &o, &args);
    call.action.commands.push(spec.argv.clone());
    let mut status = Status::Ok;
    let shown = display(&spec.argv);
    let out = match call.target.run(&call.run, spec, "kubectl") {
        Ok(out) => out,
        Err(e) => return Err(call.fail(e.to_string())),
    };
    let text = if out.unknown {
        // An empty object stands in so the plan goes on; the step says it cannot tell.
        call.action
            .summary
            .push_str(" (would check: the facts do not answer it)");
        status = Status::Unknown;
        "{}".to_string()
    } else if out.rc != 0 || out.timed_out || out.interrupted {
        return Err(call.fail(failure_text(&shown, &out, o.timeout)));
    } else {
        out.stdout_text()
    };
    match json_to_dynamic(&text) {
        Ok(v) => {
            call.finish(status);
            Ok(v)
        }
        Err(e) => Err(call.fail(e)),
    }
}

pub fn register(engine: &mut Engine) {
    reg_with_opts!(
        engine,
        /// Runs kubectl with the run's kubeconfig: `kubectl(["taint", "nodes", "--all", "node-role.kubernetes.io/control-plane-"])`.
        /// kubeconfig: the option, else $KUBECONFIG (when the host is the machine galley runs on), else
        /// /etc/kubernetes/admin.conf; program: the option `kubectl`, else $GALLEY_KUBECTL, else `kubectl`.
        /// Like run(): `changed` unless readonly (then it also runs in check mode). Options: kubeconfig,
        /// kubectl, namespace, readonly, check, timeout, stdin.
        "kubectl": KubeOpts, ["args: Array"], "Result", kubectl, (a: Array)
    );
    reg_with_opts!(
        engine,
        /// `kubectl apply -f <path or URL>`: `changed` only when kubectl reports objects created or
        /// configured, `ok` when all are unchanged. Check mode asks the server (`--dry-run=server`).
        /// Options: kubeconfig, kubectl, namespace, timeout.
        "kubectl_apply": KubeOpts, ["source: &str"], "Result", kubectl_apply, (s: &str)
    );
    reg_with_opts!(
        engine,
        /// Runs a read-only kubectl command with `-o json` and returns the parsed object as a map:
        /// `kubectl_json(["get", "nodes"]).items.len()`. Runs in check mode; in plan the facts file's
        /// recorded output answers (else `#{}`). Options: kubeconfig, kubectl, namespace, timeout.
        "kubectl_json": KubeOpts, ["args: Array"], "Dynamic", kubectl_json, (a: Array)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_precedence() {
        assert_eq!(resolve_kubeconfig(Some("/a"), Some("/b"), true), "/a");
        assert_eq!(resolve_kubeconfig(None, Some("/b"), true), "/b");
        assert_eq!(resolve_kubeconfig(None, Some("/b"), false), ADMIN_CONF);
        assert_eq!(resolve_kubeconfig(None, Some(""), true), ADMIN_CONF);
        assert_eq!(resolve_kubeconfig(None, None, true), ADMIN_CONF);
        assert_eq!(
            resolve_kubectl(None, Some("/t/kubectl"), true),
            "/t/kubectl"
        );
        assert_eq!(resolve_kubectl(None, Some("/t/kubectl"), false), "kubectl");
    }

    #[test]
    fn argv_building() {
        let a = kubectl_argv(
            "kubectl",
            "/k",
            Some("kube-system"),
            &["get".into(), "pods".into()],
        );
        assert_eq!(
            a,
            [
                "kubectl",
                "--kubeconfig",
                "/k",
                "-n",
                "kube-system",
                "get",
                "pods"
            ]
        );
        let a = kubectl_argv("kubectl", "/a:/b", None, &["version".into()]);
        assert_eq!(a, ["kubectl", "version"]);
        assert_eq!(
            with_json_output(&["get".into(), "nodes".into()]),
            ["get", "nodes", "-o", "json"]
        );
        assert_eq!(
            with_json_output(&["get".into(), "-ojson".into()]),
            ["get", "-ojson"]
        );
    }

    const CALICO_FIRST: &str = include_str!("../../tests/fixtures/kubectl/apply-created.txt");
    const CALICO_AGAIN: &str = include_str!("../../tests/fixtures/kubectl/apply-unchanged.txt");
    const MIXED: &str = include_str!("../../tests/fixtures/kubectl/apply-configured.txt");

    #[test]
    fn apply_outputs() {
        let first = parse_apply(CALICO_FIRST);
        assert!(
            first.changed.len() > 5 && first.unchanged.is_empty(),
            "{first:?}"
        );
        let again = parse_apply(CALICO_AGAIN);
        assert!(
            again.changed.is_empty() && again.unchanged.len() > 5,
            "{again:?}"
        );
        let mixed = parse_apply(MIXED);
        assert_eq!(mixed.changed, vec!["deployment.apps/web configured"]);
        assert_eq!(mixed.unchanged, vec!["service/web"]);
        let dry = parse_apply("configmap/x configured (server dry run)\n");
        assert_eq!(dry.changed, vec!["configmap/x configured"]);
    }

    #[test]
    fn json_becomes_a_map() {
        let v =
            json_to_dynamic(include_str!("../../tests/fixtures/kubectl/get-nodes.json")).unwrap();
        let m = v.cast::<Map>();
        assert_eq!(m["items"].clone().cast::<Array>().len(), 2);
        assert!(json_to_dynamic("error: x").is_err());
    }
}
