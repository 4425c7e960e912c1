//! HTTP from the machine galley runs on (ureq, rustls): streaming downloads with a running
//! SHA-256, and the status probes of `wait_ready`. Remote hosts fetch with their own curl instead.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::host::exec;

/// Why a GET (or a download) from this machine failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The mirror CA's PEM does not parse.
    #[error("the mirror CA: {0}")]
    Ca(String),
    /// A `file:///` mirror's file cannot be opened.
    #[error("{url}: {error}")]
    Open { url: String, error: std::io::Error },
    /// No answer (DNS, connection, TLS); a status probe says just why.
    #[error("{0}")]
    Unanswered(ureq::Error),
    /// No answer to a download's GET.
    #[error("GET {url}: {error}")]
    Get { url: String, error: ureq::Error },
    /// An answer that is not a success.
    #[error("GET {url}: HTTP {code} {reason}")]
    Status {
        url: String,
        code: u16,
        reason: &'static str,
    },
    /// Ctrl-C during the download.
    #[error("GET {url}: interrupted")]
    Interrupted { url: String },
    /// The body stopped coming.
    #[error("GET {url}: reading the body: {error}")]
    Body { url: String, error: std::io::Error },
    /// The body cannot be written where it goes.
    #[error("writing the download: {0}")]
    Write(std::io::Error),
}

fn agent(
    timeout: Option<Duration>,
    insecure: bool,
    ca: Option<&str>,
) -> Result<ureq::Agent, HttpError> {
    let mut tls = ureq::tls::TlsConfig::builder().disable_verification(insecure);
    if let Some(pem) = ca {
        let certs = ureq::tls::parse_pem(pem.as_bytes())
            .filter_map(|i| match i {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| HttpError::Ca(e.to_string()))?;
        tls = tls.root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs)));
    }
    let tls = tls.build();
    Ok(ureq::Agent::config_builder()
        .timeout_global(timeout)
        .timeout_connect(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .user_agent(concat!("galley/", env!("CARGO_PKG_VERSION")))
        .tls_config(tls)
        .build()
        .new_agent())
}

/// The status code of a GET (the body is not read), or why there is none.
pub fn status(url: &str, insecure: bool, timeout: Duration) -> Result<u16, HttpError> {
    let resp = agent(Some(timeout), insecure, None)?
        .get(url)
        .call()
        .map_err(HttpError::Unanswered)?;
    Ok(resp.status().as_u16())
}

/// Streams `url` (http, https, or a `file:///` mirror) into `out`, hashing as it goes; calls
/// `progress(bytes)` about twice a second. `ca` is the PEM the server's certificate must chain to
/// (a mirror's own CA) instead of the public roots. Returns the hex SHA-256 and the byte count.
/// Stops when the run is interrupted.
pub fn fetch(
    url: &str,
    out: &mut impl Write,
    timeout: Option<Duration>,
    ca: Option<&str>,
    progress: &dyn Fn(u64),
) -> Result<(String, u64), HttpError> {
    if let Some(path) = crate::mirror::local_path(url) {
        let mut f = std::fs::File::open(path).map_err(|error| HttpError::Open {
            url: url.to_string(),
            error,
        })?;
        return copy_hashing(url, &mut f, out, progress);
    }
    let mut resp = agent(timeout, false, ca)?
        .get(url)
        .call()
        .map_err(|error| HttpError::Get {
            url: url.to_string(),
            error,
        })?;
    let code = resp.status();
    if !code.is_success() {
        return Err(HttpError::Status {
            url: url.to_string(),
            code: code.as_u16(),
            reason: code.canonical_reason().unwrap_or(""),
        });
    }
    let mut reader = resp.body_mut().with_config().limit(u64::MAX).reader();
    copy_hashing(url, &mut reader, out, progress)
}

fn copy_hashing(
    url: &str,
    reader: &mut impl Read,
    out: &mut impl Write,
    progress: &dyn Fn(u64),
) -> Result<(String, u64), HttpError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let (mut total, mut shown) = (0u64, Instant::now());
    loop {
        if exec::interrupted() {
            return Err(HttpError::Interrupted {
                url: url.to_string(),
            });
        }
        let n = reader.read(&mut buf).map_err(|error| HttpError::Body {
            url: url.to_string(),
            error,
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(HttpError::Write)?;
        total += n as u64;
        if shown.elapsed() > Duration::from_millis(500) {
            progress(total);
            shown = Instant::now();
        }
    }
    Ok((hex(&hasher.finalize()), total))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a local file, streamed.
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut f, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_text() {
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
