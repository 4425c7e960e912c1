//! One probe of a target: [`Waiter::once`] says whether it is ready and what was seen. It hands
//! each kind of target to its family's probe (`ports.rs`, `http.rs`, `host.rs`, `kube.rs`); every
//! probe reads, none changes anything.

use super::target::Target;
use super::{host, http, kube, ports};
use crate::error::StepError;
use crate::executor::{probe, Call};
use crate::host::CommandOutput;
use crate::primitives::kube::KubeOpts;

/// Ready or not, and the state seen (the last one goes into the timeout's error).
pub type Seen = (bool, String);

/// What a probe needs beside its target: the call (its host), and for kubectl the kubeconfig,
/// the program and the namespace.
pub struct Waiter<'a> {
    pub call: &'a Call,
    pub kube: KubeOpts,
    pub namespace: Option<String>,
}

impl Waiter<'_> {
    /// Runs a read-only command on the host.
    pub fn run_argv(&self, argv: &[String]) -> Result<CommandOutput, StepError> {
        probe(self.call, argv, "wait_ready")
    }

    /// One probe: ready or not, and what was seen (a probe that fails is not ready).
    pub fn once(&self, t: &Target) -> Seen {
        match self.try_once(t) {
            Ok(r) => r,
            Err(e) => (false, e.to_string()),
        }
    }

    fn try_once(&self, t: &Target) -> Result<Seen, StepError> {
        match t {
            Target::Tcp(addr) => ports::tcp(self, addr),
            Target::Http {
                url,
                status,
                insecure,
            } => http::http(self, url, *status, *insecure),
            Target::Cmd(argv) => host::cmd(self, argv),
            Target::File(p) => host::file(self, p),
            Target::Service(u) => host::service(self, u),
            Target::Kube {
                what,
                condition,
                count,
            } => kube::kube(self, what, condition, *count),
            Target::Pods { selector, count } => kube::pods(self, selector, *count),
        }
    }
}
