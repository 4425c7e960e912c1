//! Probes the host answers itself: a command's exit code (`cmd`), a systemd unit's state
//! (`service`, through `systemctl is-active`) and whether a path exists (`file`).

use super::probe::{Seen, Waiter};
use crate::error::StepError;
use crate::primitives::act::tail;

pub fn cmd(w: &Waiter, argv: &[String]) -> Result<Seen, StepError> {
    let out = w.run_argv(argv)?;
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

pub fn file(w: &Waiter, p: &str) -> Result<Seen, StepError> {
    let st = w.call.target.stat(p)?;
    Ok((
        st.is_some(),
        if st.is_some() {
            "exists".into()
        } else {
            "does not exist".into()
        },
    ))
}

pub fn service(w: &Waiter, u: &str) -> Result<Seen, StepError> {
    let out = w.run_argv(&["systemctl".into(), "is-active".into(), u.to_string()])?;
    let s = out.stdout_text().trim().to_string();
    Ok((
        s == "active",
        if s.is_empty() { "unknown".into() } else { s },
    ))
}
