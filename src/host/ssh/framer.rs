//! Splits one of the agent's output streams into "this command's output" and its end marker
//! (`\n<nonce> <rc>\n` on stdout, `\n<nonce>\n` on stderr; `<nonce>!` after a forced kill).
//! Pure and chunk-boundary safe, so it is tested by feeding every possible split.

use crate::host::capture::{Capture, LastLine, HEAD_CAP, TAIL_CAP};

/// How a command's stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    /// Exit code (stdout only).
    pub rc: Option<i32>,
    /// The agent's answer to a kill (`<nonce>!`), not the command's own end.
    pub forced: bool,
}

pub struct Framer {
    prefix: Vec<u8>,
    with_rc: bool,
    pending: Vec<u8>,
    capture: Capture,
    /// Whole output lines for progress.
    lines: LastLine,
    /// After a kill was requested, only the agent's forced marker ends the stream.
    forced_only: bool,
    /// A normal marker was seen after a kill request: drop bytes until the forced one.
    discarding: bool,
    end: Option<End>,
    leftover: Vec<u8>,
}

enum Parse {
    Incomplete,
    Malformed,
    Done { len: usize, end: End },
}

fn parse_tail(rest: &[u8], with_rc: bool) -> Parse {
    let forced = rest.first() == Some(&b'!');
    let r = if forced { &rest[1..] } else { rest };
    let Some(&first) = r.first() else {
        return Parse::Incomplete;
    };
    if !with_rc {
        return match first {
            b'\n' => Parse::Done {
                len: forced as usize + 1,
                end: End { rc: None, forced },
            },
            _ => Parse::Malformed,
        };
    }
    if first != b' ' {
        return Parse::Malformed;
    }
    let digits = &r[1..];
    match digits.iter().position(|b| !b.is_ascii_digit()) {
        None if digits.len() < 12 => Parse::Incomplete,
        Some(p) if p > 0 && digits[p] == b'\n' => {
            let rc = std::str::from_utf8(&digits[..p])
                .ok()
                .and_then(|s| s.parse().ok());
            Parse::Done {
                len: forced as usize + 2 + p,
                end: End { rc, forced },
            }
        }
        _ => Parse::Malformed,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Framer {
    /// `carry`: bytes left over after the previous command's marker on this stream.
    pub fn new(nonce: &str, with_rc: bool, carry: Vec<u8>) -> Self {
        Framer {
            prefix: format!("\n{nonce}").into_bytes(),
            with_rc,
            pending: carry,
            capture: Capture::new(HEAD_CAP, TAIL_CAP),
            lines: LastLine::default(),
            forced_only: false,
            discarding: false,
            end: None,
            leftover: Vec::new(),
        }
    }

    /// Keeps up to `cap` bytes from the start instead of the usual cap (a whole file read);
    /// past it nothing is kept from the end, only counted.
    pub fn set_head_cap(&mut self, cap: usize) {
        if cap != HEAD_CAP {
            self.capture = Capture::new(cap, 0);
        }
    }

    pub fn expect_forced(&mut self) {
        self.forced_only = true;
    }

    pub fn end(&self) -> Option<End> {
        self.end
    }

    fn emit(&mut self, n: usize, last: &mut String) {
        if !self.discarding && n > 0 {
            let chunk: Vec<u8> = self.pending.drain(..n).collect();
            if let Some(l) = self.lines.feed(&chunk) {
                *last = l;
            }
            self.capture.push(&chunk);
        } else {
            self.pending.drain(..n);
        }
    }

    /// Takes more bytes of the stream; `last` gets the latest output line for progress.
    pub fn feed(&mut self, data: &[u8], last: &mut String) {
        if self.end.is_some() {
            self.leftover.extend_from_slice(data);
            return;
        }
        self.pending.extend_from_slice(data);
        self.scan(last);
    }

    fn scan(&mut self, last: &mut String) {
        loop {
            let Some(i) = find(&self.pending, &self.prefix) else {
                let keep = self.prefix.len() + 16;
                let n = self.pending.len().saturating_sub(keep);
                self.emit(n, last);
                return;
            };
            match parse_tail(&self.pending[i + self.prefix.len()..], self.with_rc) {
                Parse::Incomplete => {
                    self.emit(i, last);
                    return;
                }
                Parse::Malformed => self.emit(i + 1, last),
                Parse::Done { len, end } => {
                    self.emit(i, last);
                    self.pending.drain(..self.prefix.len() + len);
                    if end.forced || !self.forced_only {
                        self.end = Some(end);
                        self.leftover = std::mem::take(&mut self.pending);
                        return;
                    }
                    self.discarding = true;
                }
            }
        }
    }

    /// Everything received so far, marker or not (for messages after a lost connection).
    pub fn drain_all(mut self) -> Vec<u8> {
        let n = self.pending.len();
        let mut last = String::new();
        self.emit(n, &mut last);
        self.capture.finish().0
    }

    /// The command's output (bounded), bytes dropped, and what followed the end marker.
    pub fn finish(self) -> (Vec<u8>, u64, Vec<u8>) {
        let (out, dropped) = self.capture.finish();
        (out, dropped, self.leftover)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_split(stream: &[u8], with_rc: bool, at: usize) -> (Vec<u8>, Option<End>, Vec<u8>) {
        let mut f = Framer::new("abc123", with_rc, Vec::new());
        let mut last = String::new();
        f.feed(&stream[..at], &mut last);
        f.feed(&stream[at..], &mut last);
        let end = f.end();
        let (out, _, left) = f.finish();
        (out, end, left)
    }

    #[test]
    fn every_split_gives_the_same_result() {
        let stream = b"hello\nworld\nabc12\n\nabc123 42\nnext";
        for at in 0..=stream.len() {
            let (out, end, left) = feed_split(stream, true, at);
            assert_eq!(out, b"hello\nworld\nabc12\n", "split at {at}");
            assert_eq!(
                end,
                Some(End {
                    rc: Some(42),
                    forced: false
                }),
                "split at {at}"
            );
            assert_eq!(left, b"next");
        }
    }

    #[test]
    fn output_without_trailing_newline_and_stderr_markers() {
        let (out, end, _) = feed_split(b"no newline\nabc123\n", false, 3);
        assert_eq!(out, b"no newline");
        assert_eq!(
            end,
            Some(End {
                rc: None,
                forced: false
            })
        );
        let (out, end, _) = feed_split(b"\nabc123 0\n", true, 0);
        assert_eq!(out, b"");
        assert_eq!(end.unwrap().rc, Some(0));
    }

    #[test]
    fn after_a_kill_only_the_forced_marker_ends_the_stream() {
        let mut f = Framer::new("n1", true, Vec::new());
        let mut last = String::new();
        f.expect_forced();
        f.feed(b"partial\nn1 143\nlate\nn1! 137\n", &mut last);
        assert_eq!(
            f.end(),
            Some(End {
                rc: Some(137),
                forced: true
            })
        );
        assert_eq!(f.finish().0, b"partial");
    }

    #[test]
    fn incomplete_marker_waits_and_progress_sees_lines() {
        let mut f = Framer::new("n1", true, b"carried ".to_vec());
        let mut last = String::new();
        f.feed(b"step one\nstep two\n", &mut last);
        f.feed(b"\nn1 1", &mut last);
        assert_eq!(f.end(), None);
        f.feed(b"27\n", &mut last);
        assert_eq!(f.end().unwrap().rc, Some(127));
        assert_eq!(last, "step two");
        assert_eq!(f.finish().0, b"carried step one\nstep two\n");
    }
}
