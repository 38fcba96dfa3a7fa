//! `network internet-check` against HTTP servers the test runs on loopback (and, for a name
//! that cannot be resolved, inside a namespace whose resolver points nowhere).



use crate::common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A one-shot HTTP server on 127.0.0.1: answers the first request with `response` and sends
/// its request line back through the channel.
fn serve_once(response: &'static str) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) <= 2 {
                    break;
                }
            }
            let _ = tx.send(request_line.trim_end().to_string());
            if request_line.starts_with("CONNECT ") {
                // An HTTP proxy: open the tunnel, then answer the request that comes through it.
                let mut stream = stream.try_clone().unwrap();
                let _ = stream.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                let mut tunnelled = String::new();
                let _ = reader.read_line(&mut tunnelled);
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) <= 2 {
                        break;
                    }
                }
                let _ = tx.send(tunnelled.trim_end().to_string());
                let _ = stream.write_all(response.as_bytes());
            } else if !response.is_empty() {
                let mut stream = stream;
                let _ = stream.write_all(response.as_bytes());
            } else {
                std::thread::sleep(Duration::from_secs(30));
            }
        }
    });
    (port, rx)
}

fn config(root: &std::path::Path, json: &str) {
    std::fs::create_dir_all(root.join("etc/sensorctl")).unwrap();
    std::fs::write(root.join("etc/sensorctl/config.json"), json).unwrap();
}

#[test]
fn a_reachable_check_url_prints_the_reference_lines() {
    let root = sandbox("inet-ok");
    let (port, requests) = serve_once("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
    config(root.path(), &format!(r#"{{"version":1,"internet_check_url":"http://127.0.0.1:{port}/generate_204"}}"#));
    let link = alias(root.path(), "cyberx-xsense-internet-connectivity");
    let run = Invocation::new(link, root.path(), &[]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "Checking internet connectivity...\nThe machine was successfully able to connect the internet.\n");
    assert_eq!(requests.recv_timeout(Duration::from_secs(5)).unwrap(), "GET /generate_204 HTTP/1.1");
}

#[test]
fn failures_name_the_stage() {
    let root = sandbox("inet-fail");
    let (status_port, _rx) = serve_once("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    let closed_port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (redirect_port, _rx2) = serve_once("HTTP/1.1 302 Found\r\nLocation: http://portal.test/login\r\nContent-Length: 0\r\n\r\n");
    let (garbage_port, _rx3) = serve_once("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    for (url, expected) in [
        (format!("http://127.0.0.1:{status_port}/"), "HTTP status failed: 503"),
        // A captive portal's redirect is reported, not followed.
        (format!("http://127.0.0.1:{redirect_port}/"), "HTTP status failed: 302 (a redirect to http://portal.test/login)"),
        (format!("http://127.0.0.1:{garbage_port}/"), "HTTP failed: not an HTTP answer: 'SSH-2.0-OpenSSH_9.2'"),
        (format!("http://127.0.0.1:{closed_port}/"), "connect failed: Connection refused"),
    ] {
        let run = sensorctl(root.path(), &["network", "internet-check", "--url", &url]).run();
        assert_eq!(run.code, 1, "{url}: {}", run.stderr);
        assert!(run.stdout.starts_with("Checking internet connectivity...\nThe machine failed to connect the internet: "), "{}", run.stdout);
        assert!(run.stdout.contains(expected), "{url}: {}", run.stdout);
    }
}

#[test]
fn a_server_that_never_answers_times_out_at_the_configured_deadline() {
    let root = sandbox("inet-slow");
    let (port, _rx) = serve_once("");
    config(root.path(), r#"{"version":1,"internet_check_timeout_s":1}"#);
    let started = Instant::now();
    let run = sensorctl(root.path(), &["network", "internet-check", "--json", "--url", &format!("http://127.0.0.1:{port}/")]).run();
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains(r#""ok":false"#) && run.stdout.contains(r#""stage":"HTTP""#) && run.stdout.contains("timed out"), "{}", run.stdout);
}

#[test]
fn the_configured_proxy_is_used() {
    let root = sandbox("inet-proxy");
    let (port, requests) = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    // The target's name is never resolved here: only the proxy is contacted.
    config(
        root.path(),
        &format!(r#"{{"version":1,"internet_check_url":"http://check.example.invalid/x","internet_check_proxy":"http://127.0.0.1:{port}"}}"#),
    );
    let run = sensorctl(root.path(), &["network", "internet-check"]).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let line = requests.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(line, "CONNECT check.example.invalid:80 HTTP/1.1", "the proxy saw: {line}");
    assert_eq!(requests.recv_timeout(Duration::from_secs(5)).unwrap(), "GET /x HTTP/1.1");
}

#[test]
fn an_unresolvable_name_is_a_name_resolution_failure() {
    if !can_make_netns() {
        skip("needs root and iproute2 for a namespace with its own resolver");
        return;
    }
    let ns = NetNs::new("inet-dns");
    // `ip netns exec` binds /etc/netns/<name>/resolv.conf over /etc/resolv.conf: a resolver
    // on the namespace's own loopback, where nothing listens.
    let etc = std::path::PathBuf::from(format!("/etc/netns/{}", ns.0));
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n").unwrap();
    struct RemoveDir(std::path::PathBuf);
    impl Drop for RemoveDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = RemoveDir(etc);
    let root = sandbox("inet-dns");
    let out = ns.sensorctl(root.path(), &["network", "internet-check", "--url", "http://no-such-host.invalid/"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("name resolution failed: no-such-host.invalid"), "{stdout}");
}

#[test]
fn bad_requests_and_roles() {
    let root = sandbox("inet-bad");
    for url in ["ftp://x/", "http://a b/", "localhost"] {
        let run = sensorctl(root.path(), &["network", "internet-check", "--url", url]).run();
        assert_eq!(run.code, 2, "{url}: {}", run.stderr);
        assert!(run.stderr.contains("invalid check URL"), "{}", run.stderr);
    }
    let https = sensorctl(root.path(), &["network", "internet-check", "--url", "https://127.0.0.1:1/"]).run();
    if cfg!(feature = "https") {
        assert_eq!(https.code, 1);
    } else {
        assert_eq!(https.code, 69, "{}", https.stderr);
        assert!(https.stderr.contains("no HTTPS"), "{}", https.stderr);
    }
    let denied = sensorctl(root.path(), &["--role", "support", "network", "internet-check"]).run();
    assert_eq!(denied.code, 77);
    config(root.path(), r#"{"version":1,"internet_check_proxy":"not a proxy"}"#);
    let bad_proxy = sensorctl(root.path(), &["network", "internet-check", "--url", "http://127.0.0.1:1/"]).run();
    assert_eq!(bad_proxy.code, 1, "{}", bad_proxy.stderr);
    assert!(bad_proxy.stderr.contains("internet_check_proxy"), "{}", bad_proxy.stderr);
}
