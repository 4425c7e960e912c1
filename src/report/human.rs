//! Output for people: a line per action as it finishes, diffs on request, a live line while a
//! command runs long, and a recap per host.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use super::{redact::redact, Action, Counts, Level, Status};
use crate::engine::Mode;

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

pub fn start(mode: Mode, recipe: &str, color: bool) {
    let note = match mode {
        Mode::Apply => "",
        Mode::Check => " (check: probing real hosts, changing nothing)",
        Mode::Plan => " (plan: no host contacted)",
    };
    println!(
        "{}",
        paint(&format!("{} {recipe}{note}", mode.as_str()), "1", color)
    );
}

pub fn action(a: &Action, color: bool, show_diff: bool) {
    let status = paint(
        &format!("{:>8}", a.status.as_str()),
        status_code(a.status),
        color,
    );
    let mut out = std::io::stdout().lock();
    let line = format!(
        "{status} {} {} {} ({})",
        a.host,
        a.primitive,
        a.summary,
        dur(a.duration)
    );
    let _ = writeln!(out, "{}", redact(&line));
    if let Some(err) = &a.error {
        for l in err.lines() {
            let _ = writeln!(out, "         {}", redact(l));
        }
    }
    if show_diff {
        if let Some(diff) = &a.diff {
            for l in diff.lines() {
                let code = if l.starts_with('+') {
                    "32"
                } else if l.starts_with('-') {
                    "31"
                } else {
                    "2"
                };
                let _ = writeln!(out, "         {}", paint(&redact(l), code, color));
            }
        }
    }
    let _ = out.flush();
}

pub fn log(host: &str, level: Level, message: &str, color: bool) {
    let (tag, code) = match level {
        Level::Info => ("info", "34"),
        Level::Warn => ("warn", "33"),
        Level::Error => ("error", "31"),
    };
    println!(
        "{} {host} {}",
        paint(&format!("{tag:>8}"), code, color),
        redact(message)
    );
}

pub fn live(host: &str, what: &str, elapsed: Duration, last: &str) {
    let line: String = format!("  … {host} {what} {:.0}s {last}", elapsed.as_secs_f64())
        .chars()
        .take(150)
        .collect();
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[K{}", redact(&line));
    let _ = err.flush();
}

pub fn clear_live() {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[K");
    let _ = err.flush();
}

pub fn recap(
    mode: Mode,
    elapsed: Duration,
    counts: &BTreeMap<String, Counts>,
    errors: &BTreeMap<String, String>,
    color: bool,
) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{}",
        paint(
            &format!("recap ({}, {})", mode.as_str(), dur(elapsed)),
            "1",
            color
        )
    );
    let width = counts.keys().map(String::len).max().unwrap_or(0);
    for (host, c) in counts {
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
        let _ = writeln!(
            out,
            "  {host:<width$}  ok={} changed={} {failed} skipped={}{unknown}",
            c.ok, c.changed, c.skipped
        );
        if let Some(e) = errors.get(host) {
            let _ = writeln!(
                out,
                "  {:<width$}  {}",
                "",
                redact(e.lines().next().unwrap_or(""))
            );
        }
    }
    if mode != Mode::Apply {
        let _ = writeln!(out, "  nothing was changed ({} mode)", mode.as_str());
    }
}
