//! The Kubernetes probes: `kube` (nodes, or one `kind/name`, with a condition that must be True)
//! and `pods` (all Running and Ready), read from `kubectl get ... -o json` on the host. Whether
//! the JSON is ready is pure ([`kube_state`], [`pods_state`]), tested on recorded outputs.

use crate::error::StepError;
use serde_json::Value;

use super::probe::{Seen, Waiter};
use crate::primitives::act::tail;
use crate::primitives::kube::{command_for, KubeOpts};

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

pub fn kube(w: &Waiter, what: &str, condition: &str, count: usize) -> Result<Seen, StepError> {
    let args = vec![
        "get".to_string(),
        what.to_string(),
        "-o".into(),
        "json".into(),
    ];
    let json = kubectl_json(w, &args)?;
    Ok(kube_state(
        &json,
        condition,
        if what == "nodes" { count } else { 1 },
    ))
}

pub fn pods(w: &Waiter, selector: &str, count: usize) -> Result<Seen, StepError> {
    let args = vec![
        "get".to_string(),
        "pods".into(),
        "-l".into(),
        selector.to_string(),
        "-o".into(),
        "json".into(),
    ];
    let json = kubectl_json(w, &args)?;
    Ok(pods_state(&json, count))
}

/// `kubectl <args>` with the call's kubeconfig, program and namespace, read as JSON.
fn kubectl_json(w: &Waiter, args: &[String]) -> Result<Value, StepError> {
    let o = KubeOpts {
        namespace: w.namespace.clone(),
        kubeconfig: w.kube.kubeconfig.clone(),
        kubectl: w.kube.kubectl.clone(),
        ..Default::default()
    };
    let spec = command_for(w.call, &o, args);
    let out = w.run_argv(&spec.argv)?;
    if out.rc != 0 {
        let err = out.stderr_text();
        return Err(tail(&err, 1)
            .first()
            .map_or(format!("kubectl exit code {}", out.rc), |l| l.to_string())
            .into());
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| StepError::from(format!("kubectl output is not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_ready_state() {
        let v: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/kubectl/get-nodes.json"
        ))
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
        let v: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/kubectl/get-pods.json"
        ))
        .unwrap();
        let (ready, state) = pods_state(&v, 1);
        assert!(!ready);
        assert_eq!(state, "1/2 pods ready; not: calico-node-q9d4m Pending");
        let mut all = v.clone();
        all["items"].as_array_mut().unwrap().remove(1);
        assert!(pods_state(&all, 1).0);
        assert!(!pods_state(&all, 2).0);
    }
}
