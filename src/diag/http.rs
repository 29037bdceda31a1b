//! The debug endpoint's pages (Go's `net/http/pprof` habit), as plain functions.
//!
//! `respond(target)` maps a request target to a page; `handle_request(bytes)` parses an
//! HTTP/1.x request head and renders the whole response. The server that carries them
//! (`gort::debug::serve`, one goroutine accepting on a loopback `gort::net` listener) only
//! moves bytes, so everything an operator sees is testable without a socket.
//!
//! | target | page |
//! |---|---|
//! | `/debug/goroutines` | the grouped dump (`?debug=2`: every goroutine with its spawn backtrace) |
//! | `/debug/metrics` | `gort::metrics()` as text (`?format=json`: JSON) |
//! | `/debug/leaks` | the leak tracker's last check and report |
//! | `/debug/` | an index of these |

use std::fmt::Write as _;
use std::time::SystemTime;

use super::dump;
use crate::leak::tracker::LAST_CHECK;
use crate::runtime::sched::lock;

/// A page of the debug endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebugResponse {
    /// HTTP status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

impl DebugResponse {
    fn text(status: u16, body: String) -> DebugResponse {
        DebugResponse {
            status,
            content_type: TEXT,
            body,
        }
    }

    /// The whole HTTP/1.1 response (`Connection: close`).
    pub fn to_http(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            _ => "Error",
        };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        out.extend_from_slice(self.body.as_bytes());
        out
    }
}

/// The value of `key` in a query string (`a=1&b=2`), if present.
fn query_value<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The page for a request target such as `/debug/goroutines?debug=2`.
///
/// ```
/// let page = gort::debug::respond("/debug/metrics?format=json");
/// assert_eq!(page.status, 200);
/// assert!(page.body.starts_with("{\"procs\":"));
/// assert_eq!(gort::debug::respond("/nope").status, 404);
/// ```
pub fn respond(target: &str) -> DebugResponse {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match path.trim_end_matches('/') {
        "/debug/goroutines" => match query_value(query, "debug") {
            Some("2") => DebugResponse::text(200, goroutines_each()),
            _ => DebugResponse::text(200, crate::leak::dump().to_string()),
        },
        "/debug/metrics" => match query_value(query, "format") {
            Some("json") => DebugResponse {
                status: 200,
                content_type: JSON,
                body: crate::metrics().to_json(),
            },
            _ => DebugResponse::text(200, metrics_text()),
        },
        "/debug/leaks" => DebugResponse::text(200, leaks_text()),
        "" | "/debug" => DebugResponse::text(200, INDEX.to_owned()),
        _ => DebugResponse::text(404, format!("404 not found: {path}\n\n{INDEX}")),
    }
}

const INDEX: &str = "gort debug endpoint\n\
/debug/goroutines            goroutines grouped by spawn site, name and state\n\
/debug/goroutines?debug=2    every goroutine, with its spawn backtrace when captured\n\
/debug/metrics               scheduler metrics (?format=json for JSON)\n\
/debug/leaks                 the leak tracker's last check and report\n";

/// Parses an HTTP/1.x request head (`GET /debug/metrics HTTP/1.1\r\n…`) and renders the
/// response bytes. Only `GET` and `HEAD` are served.
///
/// ```
/// let response = gort::debug::handle_request(b"GET /debug/goroutines HTTP/1.1\r\nHost: x\r\n\r\n");
/// let text = String::from_utf8(response).unwrap();
/// assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(text.contains("goroutine profile: total"));
/// ```
pub fn handle_request(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let request_line = text.lines().next().unwrap_or("");
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return DebugResponse::text(400, "400 bad request\n".to_owned()).to_http();
    };
    if !version.starts_with("HTTP/1.") {
        return DebugResponse::text(400, "400 bad request\n".to_owned()).to_http();
    }
    match method {
        "GET" => respond(target).to_http(),
        "HEAD" => {
            let page = respond(target);
            let full = page.to_http();
            let head_end = full.len() - page.body.len();
            full[..head_end].to_vec()
        }
        _ => DebugResponse::text(405, "405 method not allowed\n".to_owned()).to_http(),
    }
}

/// `/debug/goroutines?debug=2`.
fn goroutines_each() -> String {
    let snap = crate::leak::snapshot();
    let mut out = format!(
        "goroutine dump: {} goroutines\n\n",
        dump::format_count(snap.len())
    );
    dump::write_each(&mut out, snap.goroutines());
    out
}

/// `/debug/metrics` as text: the schedtrace line, one figure per line.
fn metrics_text() -> String {
    let m = crate::metrics();
    let mut out = String::new();
    let _ = writeln!(out, "procs {}", m.procs);
    let _ = writeln!(out, "threads {}", m.threads);
    let _ = writeln!(out, "idle_threads {}", m.idle_threads);
    let _ = writeln!(out, "spinning_threads {}", m.spinning_threads);
    let _ = writeln!(out, "syscall_threads {}", m.syscall_threads);
    let _ = writeln!(out, "idle_procs {}", m.idle_procs);
    let _ = writeln!(out, "global_queue_length {}", m.global_queue_length);
    let queues: Vec<String> = m
        .local_queue_lengths
        .iter()
        .map(|n| n.to_string())
        .collect();
    let _ = writeln!(out, "local_queue_lengths {}", queues.join(" "));
    let _ = writeln!(out, "goroutines {}", m.goroutines);
    let _ = writeln!(out, "spawned {}", m.spawned);
    let _ = writeln!(out, "finished {}", m.finished);
    let _ = writeln!(out, "steals {}", m.steals);
    let _ = writeln!(out, "stolen {}", m.stolen);
    let _ = writeln!(out, "handoffs {}", m.handoffs);
    let _ = writeln!(out, "parks {}", m.parks);
    let _ = writeln!(out, "netpoll_wakeups {}", m.netpoll_wakeups);
    let _ = writeln!(out, "hogs {}", m.hogs);
    let _ = writeln!(out, "timers {}", m.timers);
    out
}

/// `/debug/leaks`: the most recent tracker check, with its report if it found something.
fn leaks_text() -> String {
    let last = lock(&LAST_CHECK);
    let Some(check) = last.as_ref() else {
        return "no leak tracker has checked yet (gort::leak::Tracker)\n".to_owned();
    };
    let ago = SystemTime::now()
        .duration_since(check.summary.at)
        .unwrap_or_default();
    let mut out = format!(
        "last check {} ago: {} goroutines, baseline {}\n",
        dump::format_duration(ago),
        dump::format_count(check.summary.count),
        dump::format_count(check.summary.baseline)
    );
    match &check.report {
        Some(report) => {
            let _ = writeln!(out, "\n{report}");
        }
        None => out.push_str("nothing to report\n"),
    }
    let (hogs, total) = crate::hogs();
    if !hogs.is_empty() {
        let _ = writeln!(
            out,
            "\nhogs (ran over 10ms without a runtime call): {total} since start; the latest:"
        );
        for hog in hogs.iter().rev().take(16) {
            let _ = writeln!(out, "  {}", super::dump::describe_hog(hog));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_found() {
        assert_eq!(query_value("debug=2", "debug"), Some("2"));
        assert_eq!(query_value("a=1&format=json", "format"), Some("json"));
        assert_eq!(query_value("flag&x=1", "flag"), Some(""));
        assert_eq!(query_value("", "debug"), None);
    }

    #[test]
    fn bad_requests_are_refused() {
        let r = String::from_utf8(handle_request(b"nonsense")).unwrap();
        assert!(r.starts_with("HTTP/1.1 400"), "{r}");
        let r = String::from_utf8(handle_request(b"POST /debug/metrics HTTP/1.1\r\n\r\n")).unwrap();
        assert!(r.starts_with("HTTP/1.1 405"), "{r}");
        let r = String::from_utf8(handle_request(b"HEAD /debug/metrics HTTP/1.1\r\n\r\n")).unwrap();
        assert!(
            r.starts_with("HTTP/1.1 200") && r.ends_with("\r\n\r\n"),
            "{r}"
        );
    }
}
