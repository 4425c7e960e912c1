//! Bounded capture of a command's output: a command printing gigabytes must not exhaust memory,
//! yet the start (what recipes parse) and the end (where errors are) both survive.

use std::io::Read;
use std::sync::Mutex;

/// Bytes kept from the start of a stream.
pub const HEAD_CAP: usize = 8 * 1024 * 1024;
/// Bytes kept from the end of a stream once the head is full.
pub const TAIL_CAP: usize = 64 * 1024;

#[derive(Debug, Default)]
pub struct Capture {
    head: Vec<u8>,
    tail: std::collections::VecDeque<u8>,
    dropped: u64,
    head_cap: usize,
    tail_cap: usize,
}

impl Capture {
    pub fn new(head_cap: usize, tail_cap: usize) -> Self {
        Capture {
            head_cap,
            tail_cap,
            ..Default::default()
        }
    }

    pub fn push(&mut self, mut data: &[u8]) {
        if self.head.len() < self.head_cap {
            let take = data.len().min(self.head_cap - self.head.len());
            self.head.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        if data.len() >= self.tail_cap {
            self.dropped += (self.tail.len() + data.len() - self.tail_cap) as u64;
            self.tail.clear();
            self.tail.extend(&data[data.len() - self.tail_cap..]);
            return;
        }
        let overflow = (self.tail.len() + data.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..overflow);
        self.dropped += overflow as u64;
        self.tail.extend(data);
    }

    /// The kept bytes (head, a marker, tail) and how many bytes were dropped.
    pub fn finish(self) -> (Vec<u8>, u64) {
        let mut out = self.head;
        if self.dropped > 0 {
            out.extend_from_slice(
                format!("\n[... {} bytes omitted ...]\n", self.dropped).as_bytes(),
            );
        }
        out.extend(self.tail);
        (out, self.dropped)
    }
}

/// Reads a stream to its end into a capture, remembering the last complete line for progress.
pub fn drain(mut reader: impl Read, capture: &Mutex<Capture>, last_line: &Mutex<String>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut lines = LastLine::default();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let chunk = &buf[..n];
        capture.lock().unwrap().push(chunk);
        if let Some(line) = lines.feed(chunk) {
            *last_line.lock().unwrap() = line;
        }
    }
}

/// Longest output line shown as progress; longer ones are not shown at all, since any cut made
/// before redaction could split a secret and show its first half.
pub const MAX_PROGRESS_LINE: usize = 16 * 1024;

/// Finds the last complete, non-empty output line across reads. Only whole lines (ended by `\n`
/// or `\r`) are offered: a line cut at a read boundary could hold half a secret, which
/// redaction would not recognise.
#[derive(Default)]
pub struct LastLine {
    partial: Vec<u8>,
    /// The line being read has already passed `MAX_PROGRESS_LINE`.
    overlong: bool,
}

impl LastLine {
    /// Takes the next bytes of the stream; returns the last whole non-empty line they complete.
    pub fn feed(&mut self, chunk: &[u8]) -> Option<String> {
        let Some(end) = chunk.iter().rposition(|b| *b == b'\n' || *b == b'\r') else {
            self.push_partial(chunk);
            return None;
        };
        let mut found = None;
        let mut start = 0;
        for (i, b) in chunk[..=end].iter().enumerate() {
            if *b != b'\n' && *b != b'\r' {
                continue;
            }
            let piece = &chunk[start..i];
            start = i + 1;
            let line = if self.partial.is_empty() && !self.overlong {
                piece.to_vec()
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(piece);
                if std::mem::take(&mut self.overlong) {
                    continue;
                }
                whole
            };
            if line.len() > MAX_PROGRESS_LINE {
                continue;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if !text.is_empty() {
                found = Some(text.to_string());
            }
        }
        self.push_partial(&chunk[end + 1..]);
        found
    }

    fn push_partial(&mut self, bytes: &[u8]) {
        if self.overlong {
            return;
        }
        self.partial.extend_from_slice(bytes);
        if self.partial.len() > MAX_PROGRESS_LINE {
            self.partial.clear();
            self.overlong = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_under_the_cap() {
        let mut c = Capture::new(10, 4);
        c.push(b"hello");
        assert_eq!(c.finish(), (b"hello".to_vec(), 0));
    }

    #[test]
    fn keeps_head_and_tail_and_counts_the_rest() {
        let mut c = Capture::new(4, 3);
        c.push(b"abcdefghij");
        let (out, dropped) = c.finish();
        assert_eq!(dropped, 3);
        assert_eq!(out, b"abcd\n[... 3 bytes omitted ...]\nhij".to_vec());
    }

    #[test]
    fn tail_keeps_the_last_bytes_across_pushes() {
        let mut c = Capture::new(2, 4);
        for chunk in [&b"ab"[..], b"cd", b"efghij", b"k"] {
            c.push(chunk);
        }
        let (out, dropped) = c.finish();
        assert_eq!(dropped, 5);
        assert_eq!(out, b"ab\n[... 5 bytes omitted ...]\nhijk".to_vec());
    }

    #[test]
    fn last_line_skips_blank_lines() {
        assert_eq!(
            LastLine::default().feed(b"one\ntwo\n\n"),
            Some("two".into())
        );
        assert_eq!(LastLine::default().feed(b"\n\n"), None);
    }

    #[test]
    fn last_line_is_only_ever_a_whole_line() {
        let mut l = LastLine::default();
        assert_eq!(l.feed(b"done\nhalf of a li"), Some("done".into()));
        assert_eq!(l.feed(b"ne that"), None);
        assert_eq!(
            l.feed(b" ends\rnext"),
            Some("half of a line that ends".into())
        );
        let long = vec![b'x'; MAX_PROGRESS_LINE + 10];
        assert_eq!(l.feed(&long), None);
        assert_eq!(l.feed(b"tail\nshort\n"), Some("short".into()));
    }
}
