//! Output for people: a line per action as it finishes, diffs on request, a live line while a
//! command runs long, and a recap per host.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use super::{redact::redact, Action, Counts, Level, Status};
use crate::mode::Mode;

fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn status_code(s: Status) -> &'static str {
    match s {
        Status::Ok => "32",
        Status::Changed => "33",
        Status::Failed => "31;1",
        Status::Skipped => "36",
        Status::Unknown => "35",
    }
}

fn dur(d: Duration) -> String {
    if d.as_secs() >= 1 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

pub fn start(mode: Mode, recipe: &str, color: bool) -> String {
    let note = match mode {
        Mode::Apply => "",
        Mode::Check => " (check: probing real hosts, changing nothing)",
        Mode::Plan => " (plan: no host contacted)",
    };
    paint(&format!("{} {recipe}{note}", mode.as_str()), "1", color) + "\n"
}

/// An action's lines as printed: the status line, its error and, on request, its diff; each
/// line redacted before it is painted. A plan shows no durations: nothing ran.
pub fn action_text(a: &Action, color: bool, show_diff: bool, mode: Mode) -> String {
    let status = paint(
        &format!("{:>8}", a.status.as_str()),
        status_code(a.status),
        color,
    );
    let mut line = format!("{} {} {}", a.host, a.primitive, a.summary);
    if mode != Mode::Plan {
        let _ = write!(line, " ({})", dur(a.duration));
    }
    let mut out = format!("{status} {}\n", redact(&line));
    if let Some(err) = &a.error {
        for l in redact(err).lines() {
            let _ = writeln!(out, "         {l}");
        }
    }
    if show_diff {
        if let Some(diff) = &a.diff {
            for l in redact(diff).lines() {
                let code = if l.starts_with('+') {
                    "32"
                } else if l.starts_with('-') {
                    "31"
                } else {
                    "2"
                };
                let _ = writeln!(out, "         {}", paint(l, code, color));
            }
        }
    }
    out
}

pub fn log(host: &str, level: Level, message: &str, color: bool) -> String {
    let (tag, code) = match level {
        Level::Info => ("info", "34"),
        Level::Warn => ("warn", "33"),
        Level::Error => ("error", "31"),
    };
    format!(
        "{} {host} {}\n",
        paint(&format!("{tag:>8}"), code, color),
        redact(message)
    )
}

/// Longest live line, in characters.
pub const LIVE_WIDTH: usize = 150;

pub fn live(host: &str, what: &str, elapsed: Duration, last: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[K{}", live_text(host, what, elapsed, last));
    let _ = err.flush();
}

/// The live line: redacted whole, then cut to the width (a cut first could split a secret).
pub fn live_text(host: &str, what: &str, elapsed: Duration, last: &str) -> String {
    let line = format!("  … {host} {what} {:.0}s {last}", elapsed.as_secs_f64());
    redact(&line).chars().take(LIVE_WIDTH).collect()
}

pub fn clear_live() {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[K");
    let _ = err.flush();
}

pub fn recap(
    mode: Mode,
    elapsed: Duration,
    counts: &[(&str, &Counts)],
    errors: &BTreeMap<String, String>,
    color: bool,
) -> String {
    let mut out = String::new();
    // A plan's recap has no time either, so the same plan prints the same bytes.
    let title = match mode {
        Mode::Plan => format!("recap ({})", mode.as_str()),
        _ => format!("recap ({}, {})", mode.as_str(), dur(elapsed)),
    };
    let _ = writeln!(out, "{}", paint(&title, "1", color));
    let width = counts.iter().map(|(h, _)| h.len()).max().unwrap_or(0);
    for &(host, c) in counts {
        let failed = paint(
            &format!("failed={}", c.failed),
            if c.failed > 0 { "31;1" } else { "0" },
            color && c.failed > 0,
        );
        let unknown = if c.unknown > 0 {
            format!(" unknown={}", c.unknown)
        } else {
            String::new()
        };
        // A plan contacts no host: none can be unreachable.
        let unreachable = match mode {
            Mode::Plan => String::new(),
            _ => paint(
                &format!("unreachable={} ", c.unreachable),
                "31;1",
                color && c.unreachable > 0,
            ),
        };
        let _ = writeln!(
            out,
            "  {host:<width$}  ok={} changed={} {unreachable}{failed} skipped={}{unknown}",
            c.ok, c.changed, c.skipped
        );
        if let Some(e) = errors.get(host) {
            let _ = writeln!(
                out,
                "  {:<width$}  {}",
                "",
                redact(e).lines().next().unwrap_or("")
            );
        }
    }
    if mode != Mode::Apply {
        let _ = writeln!(out, "  nothing was changed ({} mode)", mode.as_str());
    }
    out
}
