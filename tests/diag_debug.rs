//! The debug endpoint's pages (`gort::debug::respond`, `handle_request`): what an operator
//! gets from `curl localhost:6060/debug/...`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gort::debug::{handle_request, respond};
use gort::go;
use gort::leak::{Tracker, TrackerConfig};

fn live_until(release: &Arc<AtomicBool>, name: &str) -> gort::JoinHandle<()> {
    let r = release.clone();
    go!(gort::Builder::new().name(name), move || {
        while !r.load(Ordering::Acquire) {
            gort::sleep(Duration::from_millis(1));
        }
    })
}

#[test]
fn goroutines_page_grouped_and_detailed() {
    let release = Arc::new(AtomicBool::new(false));
    let hs: Vec<_> = (0..3).map(|_| live_until(&release, "page-probe")).collect();
    let grouped = respond("/debug/goroutines");
    assert_eq!(grouped.status, 200);
    assert!(grouped.content_type.starts_with("text/plain"));
    assert!(
        grouped.body.starts_with("goroutine profile: total "),
        "{}",
        grouped.body
    );
    assert!(grouped.body.contains("(page-probe)"), "{}", grouped.body);
    let each = respond("/debug/goroutines?debug=2");
    for h in &hs {
        let header = format!("goroutine {} \"page-probe\" [", h.id());
        assert!(
            each.body.contains(&header),
            "{header} missing:\n{}",
            each.body
        );
    }
    assert!(
        each.body.contains("spawned at tests/diag_debug.rs:"),
        "{}",
        each.body
    );
    release.store(true, Ordering::Release);
    hs.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn metrics_page_text_and_json() {
    let text = respond("/debug/metrics");
    assert!(
        text.body.contains("procs ") && text.body.contains("parks "),
        "{}",
        text.body
    );
    let json = respond("/debug/metrics?format=json");
    assert_eq!(json.content_type, "application/json");
    assert!(json.body.starts_with("{\"procs\":"), "{}", json.body);
}

#[test]
fn leaks_page_shows_the_last_check() {
    let release = Arc::new(AtomicBool::new(false));
    let tracker = Tracker::new(TrackerConfig::new().leak_threshold(2).on_report(|_| {}));
    let hs: Vec<_> = (0..5)
        .map(|_| live_until(&release, "leaks-page-probe"))
        .collect();
    tracker.check_now();
    let page = respond("/debug/leaks");
    assert!(page.body.starts_with("last check "), "{}", page.body);
    release.store(true, Ordering::Release);
    hs.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn http_framing() {
    let response = String::from_utf8(handle_request(
        b"GET /debug/metrics?format=json HTTP/1.1\r\nHost: localhost:6060\r\n\r\n",
    ))
    .unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Type: application/json"));
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(length, body.len());
    let missing = String::from_utf8(handle_request(b"GET /debug/pprof HTTP/1.1\r\n\r\n")).unwrap();
    assert!(missing.starts_with("HTTP/1.1 404 Not Found"));
    assert!(
        missing.contains("/debug/goroutines"),
        "the 404 lists the pages"
    );
    let index = respond("/debug/");
    assert_eq!(index.status, 200);
}

/// One request over a real socket, from a plain thread.
fn get(addr: std::net::SocketAddr, target: &str) -> String {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    write!(conn, "GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn the_endpoint_serves_over_http_on_loopback() {
    let release = Arc::new(AtomicBool::new(false));
    let probe = live_until(&release, "served-probe");
    let server = gort::debug::serve(":0").unwrap();
    assert!(server.local_addr().ip().is_loopback());
    let page = get(server.local_addr(), "/debug/goroutines");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("(served-probe)"), "{page}");
    assert!(page.contains("(gort-debug-http)"), "{page}");
    let each = get(server.local_addr(), "/debug/goroutines?debug=2");
    assert!(
        each.contains(&format!("goroutine {} \"served-probe\" [", probe.id())),
        "{each}"
    );
    let json = get(server.local_addr(), "/debug/metrics?format=json");
    assert!(json.contains("Content-Type: application/json"), "{json}");
    assert!(get(server.local_addr(), "/nope").starts_with("HTTP/1.1 404"));
    // A goroutine client, through gort::net, while the server runs in goroutines too.
    let addr = server.local_addr();
    let from_goroutine = go!(move || {
        use std::io::{Read, Write};
        let mut conn = gort::net::TcpStream::connect(addr).unwrap();
        conn.write_all(b"GET /debug/leaks HTTP/1.1\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        conn.read_to_string(&mut response).unwrap();
        response
    })
    .join()
    .unwrap();
    assert!(
        from_goroutine.starts_with("HTTP/1.1 200 OK"),
        "{from_goroutine}"
    );
    server.stop();
    assert!(!gort::leak::snapshot()
        .iter()
        .any(|g| g.name() == Some("gort-debug-http")));
    release.store(true, Ordering::Release);
    probe.join().unwrap();
}
