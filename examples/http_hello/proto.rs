//! The HTTP/1.1 subset every "hello world" server in this repository speaks: the gort example
//! (`examples/http_hello`), the graceful-shutdown example, and the tokio, std-thread and may
//! peers in `benches/http/`, so the benchmark compares runtimes, not parsers.
//!
//! A request is a head ending in an empty line, and a body if it has `Content-Length`; it is
//! answered with a fixed 14-byte body. Requests may be pipelined. HTTP/1.1 connections stay
//! open unless the client sends `Connection: close`; HTTP/1.0 ones close unless it sends
//! `Connection: keep-alive`.

#![allow(dead_code)] // each server uses a part

/// The answer to every request.
pub const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, World!\n";

/// The answer to a request we cannot parse (then the connection closes).
pub const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// Largest request head accepted.
pub const MAX_HEAD: usize = 8 * 1024;

/// Largest request body accepted (the servers read and discard it).
pub const MAX_BODY: usize = 1 << 20;

/// One parsed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Bytes it occupies (head and body).
    pub len: usize,
    /// Whether the connection stays open after the answer.
    pub keep_alive: bool,
}

/// A request that cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadRequest;

/// Parses the request at the start of `buf`: `Ok(None)` if it is not complete yet.
pub fn parse(buf: &[u8]) -> Result<Option<Request>, BadRequest> {
    let Some(head_end) = find_head_end(buf) else {
        return if buf.len() > MAX_HEAD {
            Err(BadRequest)
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| BadRequest)?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().ok_or(BadRequest)?;
    let version = request_line.rsplit(' ').next().ok_or(BadRequest)?;
    let mut keep_alive = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(BadRequest),
    };
    let mut body = 0usize;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            body = value.parse().map_err(|_| BadRequest)?;
            if body > MAX_BODY {
                return Err(BadRequest);
            }
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        }
    }
    let len = head_end + 4 + body;
    Ok((buf.len() >= len).then_some(Request { len, keep_alive }))
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// A connection's buffers: what was read and not parsed yet, and the answers to write.
pub struct Conn {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Answers ready to be written.
    pub out: Vec<u8>,
}

/// What to do after `Conn::answer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Write `out` (if not empty), then read more.
    Read,
    /// Write `out`, then close.
    Close,
}

impl Default for Conn {
    fn default() -> Self {
        Conn::new()
    }
}

impl Conn {
    /// Empty buffers.
    pub fn new() -> Conn {
        Conn {
            buf: vec![0; 2 * MAX_HEAD],
            start: 0,
            end: 0,
            out: Vec::with_capacity(4096),
        }
    }

    /// Where the next read goes (never empty).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        &mut self.buf[self.end..]
    }

    /// `n` bytes were read into `spare()`.
    pub fn filled(&mut self, n: usize) {
        self.end += n;
    }

    /// Whether unparsed bytes are buffered (a request has begun).
    pub fn has_partial(&self) -> bool {
        self.end > self.start
    }

    /// Answers every complete buffered request into `out`.
    pub fn answer(&mut self) -> Next {
        loop {
            match parse(&self.buf[self.start..self.end]) {
                Ok(Some(req)) => {
                    self.out.extend_from_slice(RESPONSE);
                    self.start += req.len;
                    if !req.keep_alive {
                        return Next::Close;
                    }
                }
                Ok(None) => return Next::Read,
                Err(BadRequest) => {
                    self.out.extend_from_slice(BAD_REQUEST);
                    return Next::Close;
                }
            }
        }
    }
}

/// Serves one connection with blocking reads and writes until the client closes it (or asks
/// to): the loop of every thread-style server here (gort's goroutines, may's coroutines, std's
/// threads). `conn` is the socket, or a reference to one that implements `Read` and `Write`.
pub fn serve_blocking<S: std::io::Read + std::io::Write>(mut conn: S) {
    let mut state = Conn::new();
    loop {
        let n = match conn.read(state.spare()) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        state.filled(n);
        let next = state.answer();
        if !state.out.is_empty() {
            if conn.write_all(&state.out).is_err() {
                return;
            }
            state.out.clear();
        }
        if next == Next::Close {
            return;
        }
    }
}
