//! `wait_ready(#{...})`: polls one target — a TCP port, an HTTP status, a command, a file, a
//! systemd unit, Kubernetes nodes or objects, pods — until it is ready or the timeout passes, with
//! a growing interval, live progress and an error naming the target and the last state seen.
//! Waiting changes nothing, so a ready target is `ok`; in plan the step is recorded as `ok`
//! ("would wait for ..."); in check the target is probed once and, when not ready, `skipped`.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, Map, NativeCallContext};
use serde::Deserialize;
use serde_json::Value;

use super::act::{is_local, probe, tail};
use super::kube::{command_for, KubeOpts};
use super::{from_map, http, reg, usage, Call, RResult, StepResult};
use crate::executor::Waiting;
use crate::host::exec;
use crate::report::Status;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitOpts {
    tcp: Option<String>,
    http: Option<String>,
    cmd: Option<Vec<String>>,
    file: Option<String>,
    service: Option<String>,
    kube: Option<String>,
    pods: Option<String>,
    /// http: the wanted status (default: any 2xx).
    status: Option<Dynamic>,
    /// http: accept any TLS certificate.
    #[serde(default)]
    insecure: bool,
    /// kube: the condition that must be True (default `Ready`).
    condition: Option<String>,
    /// kube "nodes" / pods: at least this many (default 1).
    count: Option<Dynamic>,
    namespace: Option<String>,
    /// Seconds to wait in all (default 300).
    timeout: Option<Dynamic>,
    /// Seconds between the first probes (default 1); grows by half each time up to max_interval.
    interval: Option<Dynamic>,
    /// Longest pause between probes in seconds (default 10).
    max_interval: Option<Dynamic>,
    kubeconfig: Option<String>,
    kubectl: Option<String>,
}

/// What to wait for.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Tcp(String),
    Http {
        url: String,
        status: Option<u16>,
        insecure: bool,
    },
    Cmd(Vec<String>),
    File(String),
    Service(String),
    /// `nodes` or `kind/name`, the condition and (for nodes) how many.
    Kube {
        what: String,
        condition: String,
        count: usize,
    },
    Pods {
        selector: String,
        count: usize,
    },
}

impl Target {
    pub fn describe(&self) -> String {
        match self {
            Target::Tcp(a) => format!("tcp {a}"),
            Target::Http { url, status, .. } => match status {
                Some(s) => format!("http {url} (status {s})"),
                None => format!("http {url}"),
            },
            Target::Cmd(argv) => format!("cmd {}", super::command::display(argv)),
            Target::File(p) => format!("file {p}"),
            Target::Service(u) => format!("service {u}"),
            Target::Kube {
                what,
                condition,
                count,
            } if what == "nodes" => {
                format!("{count} node(s) {condition}")
            }
            Target::Kube {
                what, condition, ..
            } => format!("{what} {condition}"),
            Target::Pods { selector, .. } => format!("pods {selector}"),
        }
    }
}

/// Longest pause a recipe may ask for (`sleep`, `wait_ready`'s timeout and intervals): a year.
/// Longer ones are mistakes, and overflow the clock arithmetic.
pub const MAX_WAIT_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// A number of seconds as people write it: `1e300`, not three hundred digits.
fn shown(x: f64) -> String {
    if x.abs() >= 1e9 {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

pub fn too_long(what: &str, x: f64) -> Box<rhai::EvalAltResult> {
    usage(format!(
        "{what} {} seconds is too long (at most {MAX_WAIT_SECS}, a year)",
        shown(x)
    ))
}

fn secs(what: &str, v: &Option<Dynamic>, default: f64) -> RResult<f64> {
    let Some(v) = v else { return Ok(default) };
    let x = if v.is_int() {
        v.as_int().unwrap_or(0) as f64
    } else if v.is_float() {
        v.as_float().unwrap_or(0.0)
    } else {
        return Err(usage(format!(
            "wait_ready: {what} must be a number of seconds"
        )));
    };
    if x > MAX_WAIT_SECS {
        Err(too_long(&format!("wait_ready: {what}"), x))
    } else if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(usage(format!("wait_ready: {what} must be positive")))
    }
}

fn int_of(what: &str, v: &Option<Dynamic>, default: i64) -> RResult<i64> {
    match v {
        None => Ok(default),
        Some(v) => v
            .as_int()
            .map_err(|_| usage(format!("wait_ready: {what} must be an integer"))),
    }
}

/// Pure (but for option values): exactly one target out of the options.
fn target_of(o: &WaitOpts) -> RResult<Target> {
    let count = int_of("count", &o.count, 1)?.max(0) as usize;
    let condition = o.condition.clone().unwrap_or_else(|| "Ready".into());
    let mut found: Vec<Target> = Vec::new();
    if let Some(a) = &o.tcp {
        if !a.contains(':') {
            return Err(usage(format!("wait_ready: tcp `{a}` must be host:port")));
        }
        found.push(Target::Tcp(a.clone()));
    }
    if let Some(u) = &o.http {
        let status = int_of("status", &o.status, 0)?;
        let status = (status > 0).then_some(status as u16);
        found.push(Target::Http {
            url: u.clone(),
            status,
            insecure: o.insecure,
        });
    }
    if let Some(c) = &o.cmd {
        if c.is_empty() {
            return Err(usage("wait_ready: cmd is an empty argv"));
        }
        found.push(Target::Cmd(c.clone()));
    }
    if let Some(f) = &o.file {
        found.push(Target::File(f.clone()));
    }
    if let Some(s) = &o.service {
        found.push(Target::Service(s.clone()));
    }
    if let Some(k) = &o.kube {
        if k != "nodes" && !k.contains('/') {
            return Err(usage(format!(
                "wait_ready: kube `{k}` must be \"nodes\" or kind/name"
            )));
        }
        found.push(Target::Kube {
            what: k.clone(),
            condition,
            count,
        });
    }
    if let Some(p) = &o.pods {
        found.push(Target::Pods {
            selector: p.clone(),
            count,
        });
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(usage(
            "wait_ready: give one target: tcp, http, cmd, file, service, kube or pods",
        )),
        _ => Err(usage(format!(
            "wait_ready: give exactly one target, got {}",
            found
                .iter()
                .map(Target::describe)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn condition_true(obj: &Value, condition: &str) -> Option<bool> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == condition)
        .map(|c| c["status"] == "True")
}

fn name_of(obj: &Value) -> String {
    obj["metadata"]["name"].as_str().unwrap_or("?").to_string()
}

/// Pure: whether `kubectl get ... -o json` output meets `condition` (on at least `count` items
/// for a list), and a one-line state.
pub fn kube_state(json: &Value, condition: &str, count: usize) -> (bool, String) {
    let items: Vec<&Value> = match json["items"].as_array() {
        Some(items) => items.iter().collect(),
        None => vec![json],
    };
    let ok: Vec<String> = items
        .iter()
        .filter(|i| condition_true(i, condition) == Some(true))
        .map(|i| name_of(i))
        .collect();
    let not: Vec<String> = items
        .iter()
        .filter(|i| condition_true(i, condition) != Some(true))
        .map(|i| {
            let reason = i["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == condition))
                .and_then(|c| c["reason"].as_str())
                .unwrap_or("no condition yet");
            format!("{} ({reason})", name_of(i))
        })
        .collect();
    let ready = not.is_empty() && ok.len() >= count.max(1);
    let mut state = format!("{}/{} {condition}", ok.len(), items.len());
    if !not.is_empty() {
        state.push_str(&format!("; not: {}", not.join(", ")));
    }
    (ready, state)
}

/// Pure: whether every pod of a `kubectl get pods -o json` is Running and Ready (pods that ran
/// to completion are left out), with at least `count` of them.
pub fn pods_state(json: &Value, count: usize) -> (bool, String) {
    let pods: Vec<&Value> = json["items"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter(|p| p["status"]["phase"] != "Succeeded")
                .collect()
        })
        .unwrap_or_default();
    let not: Vec<String> = pods
        .iter()
        .filter(|p| p["status"]["phase"] != "Running" || condition_true(p, "Ready") != Some(true))
        .map(|p| {
            format!(
                "{} {}",
                name_of(p),
                p["status"]["phase"].as_str().unwrap_or("?")
            )
        })
        .collect();
    let ready = pods.len() - not.len();
    let mut state = format!("{ready}/{} pods ready", pods.len());
    if !not.is_empty() {
        state.push_str(&format!("; not: {}", not.join(", ")));
    }
    (not.is_empty() && pods.len() >= count.max(1), state)
}

/// Pure: whether an HTTP status is the wanted one (default: any 2xx).
pub fn status_ok(got: u16, want: Option<u16>) -> bool {
    match want {
        Some(w) => got == w,
        None => (200..300).contains(&got),
    }
}

struct Waiter<'a> {
    call: &'a Call,
    kube: KubeOpts,
    namespace: Option<String>,
}

impl Waiter<'_> {
    fn run_argv(&self, argv: &[String]) -> Result<crate::host::CommandOutput, String> {
        probe(self.call, argv, "wait_ready")
    }

    /// One probe: ready or not, and what was seen.
    fn once(&self, t: &Target) -> (bool, String) {
        match self.try_once(t) {
            Ok(r) => r,
            Err(e) => (false, e),
        }
    }

    fn try_once(&self, t: &Target) -> Result<(bool, String), String> {
        let local = is_local(self.call);
        match t {
            Target::Tcp(addr) if local => {
                let addrs: Vec<_> = addr
                    .to_socket_addrs()
                    .map_err(|e| format!("cannot resolve {addr}: {e}"))?
                    .collect();
                let mut last = format!("{addr} has no address");
                for a in addrs {
                    match TcpStream::connect_timeout(&a, Duration::from_secs(2)) {
                        Ok(_) => return Ok((true, "accepting connections".into())),
                        Err(e) => last = e.to_string(),
                    }
                }
                Ok((false, last))
            }
            Target::Tcp(addr) => {
                let (h, p) = addr.rsplit_once(':').unwrap_or((addr, ""));
                let script = "timeout 3 bash -c 'exec 3<>/dev/tcp/$0/$1' \"$0\" \"$1\" 2>/dev/null || nc -z -w 2 \"$0\" \"$1\"";
                let argv = ["sh", "-c", script, h, p].map(String::from).to_vec();
                let out = self.run_argv(&argv)?;
                Ok((
                    out.rc == 0,
                    if out.rc == 0 {
                        "accepting connections".into()
                    } else {
                        "not accepting connections".into()
                    },
                ))
            }
            Target::Http {
                url,
                status,
                insecure,
            } if local => match http::status(url, *insecure, Duration::from_secs(5)) {
                Ok(code) => Ok((status_ok(code, *status), format!("HTTP {code}"))),
                Err(e) => Ok((false, e)),
            },
            Target::Http {
                url,
                status,
                insecure,
            } => {
                let mut argv: Vec<String> = [
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "5",
                ]
                .map(String::from)
                .to_vec();
                if *insecure {
                    argv.push("-k".into());
                }
                argv.push(url.clone());
                let out = self.run_argv(&argv)?;
                let code: u16 = out.stdout_text().trim().parse().unwrap_or(0);
                if code == 0 {
                    return Ok((false, format!("no HTTP answer (curl exit code {})", out.rc)));
                }
                Ok((status_ok(code, *status), format!("HTTP {code}")))
            }
            Target::Cmd(argv) => {
                let out = self.run_argv(argv)?;
                let err = out.stderr_text();
                let last = tail(&err, 1)
                    .first()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                Ok((
                    out.rc == 0,
                    format!(
                        "exit code {}{}",
                        out.rc,
                        if last.is_empty() {
                            String::new()
                        } else {
                            format!(": {last}")
                        }
                    ),
                ))
            }
            Target::File(p) => {
                let st = self.call.target.stat(p).map_err(|e| e.to_string())?;
                Ok((
                    st.is_some(),
                    if st.is_some() {
                        "exists".into()
                    } else {
                        "does not exist".into()
                    },
                ))
            }
            Target::Service(u) => {
                let out = self.run_argv(&["systemctl".into(), "is-active".into(), u.clone()])?;
                let s = out.stdout_text().trim().to_string();
                Ok((
                    s == "active",
                    if s.is_empty() { "unknown".into() } else { s },
                ))
            }
            Target::Kube {
                what,
                condition,
                count,
            } => {
                let args = vec!["get".to_string(), what.clone(), "-o".into(), "json".into()];
                let json = self.kubectl_json(&args)?;
                Ok(kube_state(
                    &json,
                    condition,
                    if what == "nodes" { *count } else { 1 },
                ))
            }
            Target::Pods { selector, count } => {
                let args = vec![
                    "get".to_string(),
                    "pods".into(),
                    "-l".into(),
                    selector.clone(),
                    "-o".into(),
                    "json".into(),
                ];
                let json = self.kubectl_json(&args)?;
                Ok(pods_state(&json, *count))
            }
        }
    }

    fn kubectl_json(&self, args: &[String]) -> Result<Value, String> {
        let o = KubeOpts {
            namespace: self.namespace.clone(),
            ..self.kube_opts()
        };
        let spec = command_for(self.call, &o, args);
        let out = self.run_argv(&spec.argv)?;
        if out.rc != 0 {
            let err = out.stderr_text();
            return Err(tail(&err, 1)
                .first()
                .map_or(format!("kubectl exit code {}", out.rc), |l| l.to_string()));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("kubectl output is not JSON: {e}"))
    }

    fn kube_opts(&self) -> KubeOpts {
        KubeOpts {
            kubeconfig: self.kube.kubeconfig.clone(),
            kubectl: self.kube.kubectl.clone(),
            ..Default::default()
        }
    }
}

/// Sleeps up to `d` in short ticks; false when the run was interrupted meanwhile.
fn pause(d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if exec::interrupted() {
            return false;
        }
        std::thread::sleep(
            Duration::from_millis(50).min(end.saturating_duration_since(Instant::now())),
        );
    }
    !exec::interrupted()
}

fn wait_ready(nc: NativeCallContext, opts: Map) -> RResult<StepResult> {
    let o: WaitOpts = from_map("wait_ready", Some(opts))?;
    let target = target_of(&o)?;
    let timeout = secs("timeout", &o.timeout, 300.0)?;
    let mut interval = secs("interval", &o.interval, 1.0)?;
    let max_interval = secs("max_interval", &o.max_interval, 10.0)?.max(interval);
    let what = target.describe();
    let mut call = Call::begin(&nc, "wait_ready", what.clone())?;
    let waiting = call.waiting();
    if waiting == Waiting::Never {
        // Whether the target gets ready is for the host to tell: the plan would check.
        call.action.summary = format!("would wait for {what} (up to {timeout}s)");
        return Ok(call.finish(Status::Unknown));
    }
    let kube = KubeOpts {
        kubeconfig: o.kubeconfig.clone(),
        kubectl: o.kubectl.clone(),
        ..Default::default()
    };
    let namespace = o
        .namespace
        .clone()
        .or_else(|| matches!(target, Target::Pods { .. }).then(|| "default".into()));
    let waiter = Waiter {
        call: &call,
        kube,
        namespace,
    };
    let start = Instant::now();
    let mut budget = Duration::from_secs_f64(timeout);
    if let Some(left) = call.run.remaining() {
        budget = budget.min(left);
    }
    let deadline = start + budget;
    loop {
        let (ready, state) = waiter.once(&target);
        let elapsed = start.elapsed();
        if ready {
            call.action.summary = format!("{what} ready after {:.1}s", elapsed.as_secs_f64());
            let mut r = call.finish(Status::Ok);
            r.stdout = state;
            return Ok(r);
        }
        // A check run looks once. A host outside --limit in an apply run is in check mode, yet
        // waiting there only reads (the nodes a limited run adds become Ready over there).
        if waiting == Waiting::Once {
            call.action.summary =
                format!("{what}: not ready now ({state}); apply would wait up to {timeout}s");
            return Ok(call.finish(Status::Skipped));
        }
        let now = Instant::now();
        if now >= deadline {
            let msg = format!(
                "timed out after {:.0}s waiting for {what}; last state: {state}",
                elapsed.as_secs_f64()
            );
            return Err(call.fail(msg));
        }
        call.run
            .reporter
            .progress(call.host(), &format!("waiting for {what}"), elapsed, &state);
        let nap = Duration::from_secs_f64(interval).min(deadline - now);
        if !pause(nap) {
            let _ = call.fail(format!(
                "interrupted while waiting for {what}; last state: {state}"
            ));
            return Err(crate::error::Stop::Interrupt.raise());
        }
        interval = (interval * 1.5).min(max_interval);
    }
}

pub fn register(engine: &mut Engine) {
    super::options::schema::<WaitOpts>("wait_ready");
    reg(engine, "wait_ready", &["target: Map", "Result"], &[
        "Waits until one target is ready: tcp: \"host:port\"; http: url (+ status, insecure); cmd: argv (exit 0);",
        "file: path; service: unit (active); kube: \"nodes\" or \"kind/name\" (+ condition, default Ready, and",
        "count); pods: selector (+ namespace): all Running and Ready. timeout (default 300 s), interval",
        "(default 1 s, growing by half up to max_interval, default 10 s). On timeout the error names the",
        "target and the last state seen. `ok` when ready; plan records it; check probes once.",
    ], wait_ready);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, Dynamic)]) -> WaitOpts {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.insert((*k).into(), v.clone());
        }
        from_map("wait_ready", Some(m)).unwrap()
    }

    #[test]
    fn exactly_one_target() {
        assert!(target_of(&WaitOpts::default()).is_err());
        let two = opts(&[("tcp", "a:1".into()), ("file", "/x".into())]);
        assert!(target_of(&two).is_err());
        let t = target_of(&opts(&[("tcp", "127.0.0.1:6443".into())])).unwrap();
        assert_eq!(t.describe(), "tcp 127.0.0.1:6443");
        assert!(target_of(&opts(&[("tcp", "nocolon".into())])).is_err());
        let k = target_of(&opts(&[
            ("kube", "nodes".into()),
            ("count", Dynamic::from(3 as rhai::INT)),
        ]))
        .unwrap();
        assert_eq!(k.describe(), "3 node(s) Ready");
    }

    #[test]
    fn nodes_ready_state() {
        let v: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/kubectl/get-nodes.json"))
                .unwrap();
        let (ready, state) = kube_state(&v, "Ready", 1);
        assert!(!ready);
        assert_eq!(state, "1/2 Ready; not: worker1 (KubeletNotReady)");
        let one = &v["items"][0];
        assert_eq!(kube_state(one, "Ready", 1), (true, "1/1 Ready".to_string()));
        let empty: Value = serde_json::json!({"items": []});
        assert!(!kube_state(&empty, "Ready", 1).0);
    }

    #[test]
    fn pods_ready_state() {
        let v: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/kubectl/get-pods.json"))
                .unwrap();
        let (ready, state) = pods_state(&v, 1);
        assert!(!ready);
        assert_eq!(state, "1/2 pods ready; not: calico-node-q9d4m Pending");
        let mut all = v.clone();
        all["items"].as_array_mut().unwrap().remove(1);
        assert!(pods_state(&all, 1).0);
        assert!(!pods_state(&all, 2).0);
    }

    #[test]
    fn http_statuses() {
        assert!(status_ok(200, None));
        assert!(status_ok(204, None));
        assert!(!status_ok(503, None));
        assert!(status_ok(401, Some(401)));
        assert!(!status_ok(200, Some(401)));
    }
}
