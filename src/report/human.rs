//! Output for people: a line per action as it finishes, diffs on request, the text of a live
//! row while a host's command runs long (`live` draws them), and a recap per host.

use std::collections::BTreeMap;
use std::fmt::Write as _;
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

/// Longest live row, in characters (indicatif cuts it to the terminal's width as well).
pub const LIVE_WIDTH: usize = 150;

/// A live row: the host (padded to `width`), how long it has been busy, what with, and its last
/// output line; the time comes before the command, which a narrow terminal may cut. Redacted
/// whole, then made one line, then cut to the width: a cut first could split a secret, and so
/// could turning the newlines of a multi-line one into spaces.
pub fn live_text(host: &str, width: usize, what: &str, elapsed: Duration, last: &str) -> String {
    let secs = elapsed.as_secs();
    let took = if secs < 60 {
        format!("{secs}s")
    } else {
        format!("{}m{:02}s", secs / 60, secs % 60)
    };
    let line = format!("  … {host:<width$}  {took:>6}  {what}  {last}");
    redact(line.trim_end())
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(LIVE_WIDTH)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::redact;

    #[test]
    fn a_live_row_names_the_host_its_time_and_command_on_one_line() {
        let row = live_text(
            "db",
            5,
            "run sh -c 'a\nb'",
            Duration::from_millis(3900),
            "last",
        );
        assert_eq!(row, "  … db         3s  run sh -c 'a b'  last");
        let row = live_text("web-1", 5, "run sleep 90", Duration::from_secs(65), "");
        assert_eq!(row, "  … web-1   1m05s  run sleep 90");
    }

    #[test]
    fn a_live_row_is_masked_before_it_is_cut_or_made_one_line() {
        redact::add("row-secret-Zq81\nsecond-Zq82").unwrap();
        // the secret straddles the width: a cut first would leave "row-secr" showing
        let pad = "x".repeat(LIVE_WIDTH - 30);
        let row = live_text(
            "h",
            1,
            &format!("run {pad}"),
            Duration::ZERO,
            "row-secret-Zq81",
        );
        assert!(row.ends_with(&format!("{pad}  {}", redact::MASK)), "{row}");
        // a multi-line secret in a command's last line: its lines are masked before they join
        let row = live_text(
            "h",
            1,
            "run x",
            Duration::ZERO,
            "row-secret-Zq81\nsecond-Zq82",
        );
        assert!(!row.contains("Zq8"), "{row}");
    }
}
