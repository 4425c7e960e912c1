//! The TCP probe: whether a `host:port` accepts connections. On the machine galley runs on it
//! connects itself; on another host it asks the host (bash's /dev/tcp, else `nc -z`), since the
//! port may be reachable only from there.

use crate::error::StepError;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::probe::{Seen, Waiter};
use crate::primitives::act::is_local;

pub fn tcp(w: &Waiter, addr: &str) -> Result<Seen, StepError> {
    if is_local(w.call) {
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
        return Ok((false, last));
    }
    let (h, p) = addr.rsplit_once(':').unwrap_or((addr, ""));
    let script = "timeout 3 bash -c 'exec 3<>/dev/tcp/$0/$1' \"$0\" \"$1\" 2>/dev/null || nc -z -w 2 \"$0\" \"$1\"";
    let argv = ["sh", "-c", script, h, p].map(String::from).to_vec();
    let out = w.run_argv(&argv)?;
    Ok((
        out.rc == 0,
        if out.rc == 0 {
            "accepting connections".into()
        } else {
            "not accepting connections".into()
        },
    ))
}
