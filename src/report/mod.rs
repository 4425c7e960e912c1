//! What a run tells its user: one record per primitive call (an action), logs, a live row per
//! host busy with a long step and a recap per host, rendered for a person or as JSON lines.

pub mod artifacts;
pub mod grouping;
mod human;
mod json;
mod live;
pub mod redact;
pub mod sink;
pub mod stdout;

pub use human::{action_text, live_text};
pub use json::{action_value, line as json_line};
pub use live::write_above;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::mode::Mode;

/// How long a step runs before its host gets a live row.
pub const LIVE_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Already as wanted; nothing done.
    Ok,
    /// Changed (apply), or would change (check/plan).
    Changed,
    Failed,
    /// Not run: a guard (`creates`, `unless`) said so, or check mode cannot run it.
    Skipped,
    /// Plan only: a probe the facts file does not answer; the plan cannot tell (would check).
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Unknown => "unknown",
        }
    }
}

/// One primitive call's record.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub host: String,
    pub primitive: String,
    pub summary: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    #[serde(serialize_with = "json::millis")]
    pub duration: Duration,
    /// Commands run (apply) or that would run (check/plan).
    pub commands: Vec<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// URLs the mirrors rewrote in this step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mirrored: Vec<Mirrored>,
    /// URLs this step fetches (after the mirrors), for `galley artifacts`.
    #[serde(skip)]
    pub fetches: Vec<String>,
    /// Failed because its host could not be reached: counted as `unreachable`, not `failed`.
    #[serde(skip)]
    pub unreachable: bool,
    /// Package repositories this step configures (after the mirrors), for `galley artifacts`.
    #[serde(skip)]
    pub repositories: Vec<String>,
    /// The sha256 a step pins for a URL it fetches (after the mirrors), for `galley artifacts
    /// --download`.
    #[serde(skip)]
    pub checksums: Vec<(String, String)>,
    /// Container images this step pulls (a `run` that names them with `images:`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// The recipe call site (`source:line:column`) of the primitive, which groups a plan by step.
    #[serde(skip)]
    pub site: Option<String>,
}

/// One URL a mirror rule rewrote: what the recipe gave, what is fetched, and the rule's prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mirrored {
    pub url: String,
    pub to: String,
    pub rule: String,
}

impl Action {
    pub fn new(host: &str, primitive: &str, summary: impl Into<String>) -> Self {
        Action {
            host: host.to_string(),
            primitive: primitive.to_string(),
            summary: summary.into(),
            status: Status::Ok,
            diff: None,
            duration: Duration::ZERO,
            commands: Vec::new(),
            error: None,
            mirrored: Vec::new(),
            fetches: Vec::new(),
            repositories: Vec::new(),
            checksums: Vec::new(),
            images: Vec::new(),
            site: None,
            unreachable: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub ok: u32,
    pub changed: u32,
    /// 1 when galley could not reach the host (its steps that failed for it are not `failed`).
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    /// Plan probes the facts did not answer.
    pub unknown: u32,
}

impl Counts {
    fn add(&mut self, a: &Action) {
        match a.status {
            Status::Failed if a.unreachable => {}
            Status::Ok => self.ok += 1,
            Status::Changed => self.changed += 1,
            Status::Failed => self.failed += 1,
            Status::Skipped => self.skipped += 1,
            Status::Unknown => self.unknown += 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    #[default]
    Human,
    Json,
    /// Nothing on stdout; errors still go to stderr (`galley artifacts` reads the actions).
    #[value(skip)]
    Silent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// Shared by every thread of a run; serialises output so lines never interleave.
pub struct Reporter {
    sink: Arc<dyn sink::Sink>,
    format: Format,
    show_diff: bool,
    color: bool,
    live: bool,
    mode: Mode,
    start: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The run started (its first line was printed): a recipe that did not compile, or that
    /// the lint stopped, has nothing to recap for people.
    started: bool,
    counts: BTreeMap<String, Counts>,
    /// Hosts in the order they were registered (inventory order), for the recap.
    order: Vec<String>,
    actions: Vec<Action>,
    /// The rows of busy hosts on a terminal's stderr, once a step has run long.
    live: Option<live::Live>,
    host_errors: BTreeMap<String, String>,
    /// Error texts already printed (on an action's line, or as the error that ended the run):
    /// the recap does not repeat them.
    shown: Vec<String>,
}

impl State {
    /// Erases the live rows before a line is printed; busy hosts' rows come back at their next
    /// tick.
    fn clear_live(&mut self) {
        if let Some(live) = &mut self.live {
            live.clear();
        }
    }

    /// Removes the live rows for good (the run is over).
    fn close_live(&mut self) {
        if let Some(mut live) = self.live.take() {
            live.close();
        }
    }
}

impl Reporter {
    /// A reporter that prints on the process's stdout and stderr.
    pub fn new(format: Format, mode: Mode, show_diff: bool) -> Self {
        Self::to(Arc::new(sink::Std), format, mode, show_diff)
    }

    /// A reporter that writes to `sink`.
    pub fn to(sink: Arc<dyn sink::Sink>, format: Format, mode: Mode, show_diff: bool) -> Self {
        let (out_tty, err_tty) = sink.terminal();
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && out_tty;
        Reporter {
            sink,
            format,
            show_diff,
            color,
            live: format == Format::Human && err_tty,
            mode,
            start: Instant::now(),
            state: Mutex::new(State::default()),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Registers a host so the recap lists it even when it did nothing.
    pub fn host(&self, name: &str) {
        let mut st = self.state.lock().unwrap();
        st.counts.entry(name.to_string()).or_default();
        if !st.order.iter().any(|h| h == name) {
            st.order.push(name.to_string());
        }
    }

    pub fn start(&self, recipe: &str) {
        self.state.lock().unwrap().started = true;
        match self.format {
            Format::Json => self.sink.out(&json::start(self.mode, recipe)),
            Format::Human => self.sink.out(&human::start(self.mode, recipe, self.color)),
            Format::Silent => {}
        }
    }

    pub fn action(&self, action: &Action) {
        self.done(&action.host, None);
        let Some(grouping::Event::Action(action)) =
            grouping::keep(grouping::Event::Action(Box::new(action.clone())))
        else {
            return;
        };
        let mut st = self.state.lock().unwrap();
        st.counts
            .entry(action.host.clone())
            .or_default()
            .add(&action);
        st.actions.push((*action).clone());
        if let Some(e) = &action.error {
            st.shown.push(e.clone());
        }
        st.clear_live();
        match self.format {
            Format::Json => self.sink.out(&json::action(&action, self.mode)),
            Format::Human => self.sink.out(&human::action_text(
                &action,
                self.color,
                self.show_diff,
                self.mode,
            )),
            Format::Silent => {}
        }
    }

    pub fn log(&self, host: &str, level: Level, message: &str) {
        self.log_at(host, level, message, None);
    }

    /// A log from a recipe call site (`info()` and friends); see [`Action::site`].
    pub fn log_at(&self, host: &str, level: Level, message: &str, site: Option<String>) {
        let event = grouping::Event::Log {
            host: host.to_string(),
            level,
            message: message.to_string(),
            site,
        };
        if grouping::keep(event).is_none() {
            return;
        }
        let mut st = self.state.lock().unwrap();
        st.clear_live();
        match self.format {
            Format::Json => self.sink.out(&json::log(host, level, message)),
            Format::Human => self.sink.out(&human::log(host, level, message, self.color)),
            Format::Silent if level != Level::Info => self.sink.err(&format!(
                "{} {host}: {}",
                level_name(level),
                redact::redact(message)
            )),
            Format::Silent => {}
        }
    }

    /// Reports what hosts' threads captured (inventory order), step by step.
    pub fn replay(&self, per_host: Vec<Vec<grouping::Event>>) {
        for e in grouping::merge(per_host) {
            match e {
                grouping::Event::Action(a) => self.action(&a),
                grouping::Event::Log {
                    host,
                    level,
                    message,
                    site,
                } => self.log_at(&host, level, &message, site),
            }
        }
    }

    /// Shows `host` busy with `what` (a step, or a command as a shell reads it) on the live area:
    /// terminal only, once it has run [`LIVE_AFTER`].
    pub fn progress(&self, host: &str, what: &str, elapsed: Duration, last_line: &str) {
        if !self.live || elapsed < LIVE_AFTER {
            return;
        }
        let mut st = self.state.lock().unwrap();
        let rank = st
            .order
            .iter()
            .position(|h| h == host)
            .unwrap_or(usize::MAX);
        let width = st
            .order
            .iter()
            .map(|h| h.chars().count())
            .max()
            .unwrap_or(0);
        let text = human::live_text(host, width, what, elapsed, last_line);
        st.live
            .get_or_insert_with(live::Live::new)
            .show(host, rank, what, text);
    }

    /// `host` is no longer busy with `what` (any step: `None`): its live row goes.
    pub fn done(&self, host: &str, what: Option<&str>) {
        if !self.live {
            return;
        }
        if let Some(live) = self.state.lock().unwrap().live.as_mut() {
            live.done(host, what);
        }
    }

    /// Remembers why a host failed outside any single action (unreachable, recipe error).
    pub fn host_failed(&self, host: &str, error: &str) {
        self.state
            .lock()
            .unwrap()
            .host_errors
            .insert(host.to_string(), error.to_string());
    }

    /// Whether an action of `host` already printed `error`.
    pub fn shown_on_action(&self, host: &str, error: &str) -> bool {
        let error = redact::redact(error);
        let st = self.state.lock().unwrap();
        st.actions
            .iter()
            .any(|a| a.host == host && a.error.as_deref() == Some(error.as_str()))
    }

    /// Counts `host` as unreachable (`why`: the connection's error), as Ansible does.
    pub fn unreachable(&self, host: &str, why: &str) {
        let mut st = self.state.lock().unwrap();
        st.counts.entry(host.to_string()).or_default().unreachable = 1;
        st.host_errors
            .entry(host.to_string())
            .or_insert_with(|| why.to_string());
    }

    pub fn actions(&self) -> Vec<Action> {
        self.state.lock().unwrap().actions.clone()
    }

    pub fn counts(&self) -> BTreeMap<String, Counts> {
        self.state.lock().unwrap().counts.clone()
    }

    /// Prints an error that ended the run (already rendered with location for people).
    pub fn error(&self, rendered: &str, exit_code: i32) {
        let mut st = self.state.lock().unwrap();
        st.close_live();
        st.shown.push(rendered.to_string());
        if self.sink.closed() {
            return; // the reader went away: end quietly
        }
        if self.format == Format::Json {
            self.sink.out(&json::error(rendered, exit_code));
        }
        self.sink.err(&redact::redact(rendered));
    }

    /// Prints the per-host recap.
    pub fn recap(&self, exit_code: i32) {
        let mut st = self.state.lock().unwrap();
        st.close_live();
        let elapsed = self.start.elapsed();
        match self.format {
            Format::Json => self.sink.out(&json::recap(
                self.mode,
                elapsed,
                &st.counts,
                &st.host_errors,
                exit_code,
            )),
            Format::Human if !st.started => {}
            Format::Human => {
                let mut hosts: Vec<(&str, &Counts)> = Vec::new();
                for h in st.order.iter().chain(st.counts.keys()) {
                    if let Some(c) = st
                        .counts
                        .get(h)
                        .filter(|_| !hosts.iter().any(|(n, _)| n == h))
                    {
                        hosts.push((h, c));
                    }
                }
                // A host's error is shown once: not again when a line above printed it.
                let errors: BTreeMap<String, String> = st
                    .host_errors
                    .iter()
                    .filter(|(_, e)| {
                        let first = redact::redact(e).lines().next().unwrap_or("").to_string();
                        !st.shown.iter().any(|s| s.contains(&first))
                    })
                    .map(|(h, e)| (h.clone(), e.clone()))
                    .collect();
                self.sink.out(&human::recap(
                    self.mode, elapsed, &hosts, &errors, self.color,
                ))
            }
            Format::Silent => {}
        }
    }
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}
