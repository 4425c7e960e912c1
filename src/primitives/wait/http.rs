//! The HTTP probe: whether a URL answers with the wanted status (default any 2xx). On the
//! machine galley runs on, galley's own HTTP client asks; on another host, curl there.

use crate::error::StepError;
use std::time::Duration;

use super::probe::{Seen, Waiter};
use crate::primitives::act::is_local;

/// Pure: whether an HTTP status is the wanted one (default: any 2xx).
pub fn status_ok(got: u16, want: Option<u16>) -> bool {
    match want {
        Some(w) => got == w,
        None => (200..300).contains(&got),
    }
}

pub fn http(w: &Waiter, url: &str, status: Option<u16>, insecure: bool) -> Result<Seen, StepError> {
    if is_local(w.call) {
        return match crate::primitives::http::status(url, insecure, Duration::from_secs(5)) {
            Ok(code) => Ok((status_ok(code, status), format!("HTTP {code}"))),
            Err(e) => Ok((false, e.to_string())),
        };
    }
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
    if insecure {
        argv.push("-k".into());
    }
    argv.push(url.to_string());
    let out = w.run_argv(&argv)?;
    let code: u16 = out.stdout_text().trim().parse().unwrap_or(0);
    if code == 0 {
        return Ok((false, format!("no HTTP answer (curl exit code {})", out.rc)));
    }
    Ok((status_ok(code, status), format!("HTTP {code}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses() {
        assert!(status_ok(200, None));
        assert!(status_ok(204, None));
        assert!(!status_ok(503, None));
        assert!(status_ok(401, Some(401)));
        assert!(!status_ok(200, Some(401)));
    }
}
