//! A candidate's stdout and stderr as the host sees them.
//!
//! - The guest never gets an I/O error: bytes past what is kept are dropped and
//!   counted (the report flags the truncation), and the last `keep` bytes stay.
//! - Past `max` bytes in all the candidate is stopped (a trap, which it cannot
//!   catch): a flood of output ends as `output-too-large` instead of filling memory.
//! - On stdout, a line that starts with the result marker (a prefix carrying a
//!   nonce the candidate was never given) is the harness's report: it is taken out
//!   of the stream and kept whole, up to `result_cap` bytes.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// The largest single write the guest is offered; WASI preview 1 writes 4 KiB chunks.
const PERMIT: usize = 64 << 10;

#[derive(Clone)]
pub(crate) struct Output(Arc<Mutex<State>>);

struct State {
    keep: usize,
    max: u64,
    /// The candidate's bytes, its last `keep` of them (trimmed in batches).
    tail: Vec<u8>,
    total: u64,
    too_large: bool,
    marker: Option<Marker>,
}

/// Finds `\x1e<prefix>` ... `\n` lines in a stream split at arbitrary points.
struct Marker {
    prefix: Vec<u8>,
    /// How many bytes of `prefix` the stream has matched so far.
    matched: usize,
    /// Inside a result line: its bytes so far.
    current: Option<Vec<u8>>,
    cap: usize,
    results: Vec<Vec<u8>>,
    oversized: bool,
}

/// What a stream held when the candidate ended.
#[derive(Debug, Clone, Default)]
pub(crate) struct Captured {
    pub tail: Vec<u8>,
    pub total: u64,
    pub too_large: bool,
    /// The result lines (without prefix or newline), in order.
    pub results: Vec<Vec<u8>>,
    /// A result line was longer than its cap (and dropped).
    pub oversized: bool,
}

impl Output {
    /// A stream that keeps the last `keep` bytes and stops the guest past `max`.
    pub fn new(keep: usize, max: u64) -> Output {
        Output(Arc::new(Mutex::new(State { keep, max, tail: Vec::new(), total: 0, too_large: false, marker: None })))
    }

    /// The same, also taking out lines that start with `prefix` (which must start
    /// with the byte 0x1e) as results of at most `cap` bytes.
    pub fn with_marker(keep: usize, max: u64, prefix: Vec<u8>, cap: usize) -> Output {
        assert_eq!(prefix.first(), Some(&0x1e), "a result marker starts with the record separator");
        let out = Output::new(keep, max);
        out.0.lock().unwrap().marker =
            Some(Marker { prefix, matched: 0, current: None, cap, results: Vec::new(), oversized: false });
        out
    }

    pub fn captured(&self) -> Captured {
        let state = self.0.lock().unwrap();
        let start = state.tail.len().saturating_sub(state.keep);
        let (results, oversized) = match &state.marker {
            Some(m) => (m.results.clone(), m.oversized),
            None => (Vec::new(), false),
        };
        Captured {
            tail: state.tail[start..].to_vec(),
            total: state.total,
            too_large: state.too_large,
            results,
            oversized,
        }
    }

    /// Keep `bytes` as a host-side reader's tail (no marker scanning, no
    /// trap): for native candidates' stderr.
    pub fn push(&self, bytes: &[u8]) {
        self.0.lock().unwrap().push(bytes);
    }

    /// The kept bytes as text (lossy), for error messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.captured().tail).into_owned()
    }

    fn write_bytes(&self, bytes: &[u8]) -> Result<(), StreamError> {
        let mut state = self.0.lock().unwrap();
        if state.too_large {
            return Err(StreamError::Trap(wasmtime::format_err!("output limit exceeded")));
        }
        match state.marker.take() {
            None => state.push(bytes),
            Some(mut marker) => {
                marker.scan(bytes, &mut |b| state.push(b));
                state.marker = Some(marker);
            }
        }
        if state.too_large {
            return Err(StreamError::Trap(wasmtime::format_err!(
                "output limit exceeded: more than {} bytes",
                state.max
            )));
        }
        Ok(())
    }
}

impl State {
    fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if self.total > self.max {
            self.too_large = true;
        }
        // Keep only what the tail needs; trim when the buffer doubles.
        let bytes = &bytes[bytes.len().saturating_sub(self.keep)..];
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > 2 * self.keep.max(1) {
            let cut = self.tail.len() - self.keep;
            self.tail.drain(..cut);
        }
    }
}

impl Marker {
    /// Pass `bytes` through, sending ordinary output to `out` and result lines
    /// to `results`.
    fn scan(&mut self, mut bytes: &[u8], out: &mut dyn FnMut(&[u8])) {
        while !bytes.is_empty() {
            if let Some(line) = &mut self.current {
                let end = bytes.iter().position(|&b| b == b'\n');
                let part = &bytes[..end.unwrap_or(bytes.len())];
                if line.len() + part.len() > self.cap {
                    self.oversized = true;
                    line.clear();
                    line.shrink_to_fit();
                } else if !self.oversized {
                    line.extend_from_slice(part);
                }
                match end {
                    Some(end) => {
                        let line = self.current.take().unwrap();
                        if !self.oversized {
                            self.results.push(line);
                        }
                        bytes = &bytes[end + 1..];
                    }
                    None => bytes = &[],
                }
            } else if self.matched > 0 {
                if bytes[0] == self.prefix[self.matched] {
                    self.matched += 1;
                    bytes = &bytes[1..];
                    if self.matched == self.prefix.len() {
                        self.matched = 0;
                        self.current = Some(Vec::new());
                    }
                } else {
                    // Not a marker after all: what looked like one is output.
                    out(&self.prefix[..self.matched]);
                    self.matched = 0;
                }
            } else {
                match bytes.iter().position(|&b| b == self.prefix[0]) {
                    Some(at) => {
                        out(&bytes[..at]);
                        self.matched = 1;
                        bytes = &bytes[at + 1..];
                    }
                    None => {
                        out(bytes);
                        bytes = &[];
                    }
                }
            }
        }
    }
}

impl IsTerminal for Output {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Output {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for Output {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.write_bytes(&bytes)
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Output {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Output {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Poll::Ready(match self.write_bytes(buf) {
            Ok(()) => Ok(buf.len()),
            Err(_) => Err(std::io::Error::other("output limit exceeded")),
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(out: &Output, chunks: &[&[u8]]) {
        for c in chunks {
            out.write_bytes(c).unwrap();
        }
    }

    #[test]
    fn result_lines_are_found_across_chunk_boundaries() {
        let whole = b"hello\x1e\x1eR:abc ok 1,2\nworld \x1eR:abd no\n";
        // Every split point gives the same answer.
        for cut in 0..whole.len() {
            let out = Output::with_marker(1024, 1 << 20, b"\x1eR:abc ".to_vec(), 100);
            feed(&out, &[&whole[..cut], &whole[cut..]]);
            let got = out.captured();
            assert_eq!(got.results, vec![b"ok 1,2".to_vec()], "cut at {cut}");
            assert_eq!(got.tail, b"hello\x1eworld \x1eR:abd no\n".to_vec(), "cut at {cut}");
        }
    }

    #[test]
    fn keeps_the_tail_counts_everything_and_stops_past_the_maximum() {
        let out = Output::new(4, 10);
        feed(&out, &[b"abcdef", b"gh"]);
        let got = out.captured();
        assert_eq!((got.tail.as_slice(), got.total, got.too_large), (&b"efgh"[..], 8, false));
        assert!(out.write_bytes(b"ijk").is_err());
        assert!(out.captured().too_large);
    }

    #[test]
    fn an_oversized_result_is_dropped_and_flagged() {
        let out = Output::with_marker(16, 1 << 20, b"\x1eR ".to_vec(), 4);
        feed(&out, &[b"\x1eR 123456\n"]);
        let got = out.captured();
        assert!(got.results.is_empty() && got.oversized);
    }
}
