//! `network internet-check`: can the appliance reach the internet? An HTTP(S) GET of the
//! configured check URL (through the configured proxy, if any) with a deadline; on failure the
//! stage that failed is named — name resolution, connect, TLS, or the HTTP exchange/status — so
//! the operator knows whether to look at DNS, routing/firewall, certificates or the proxy.
//!
//! HTTPS needs the `https` cargo feature (rustls on ring with the webpki roots); without it an
//! `https://` URL is refused as unsupported (exit 69). Needs no privileges.
#![forbid(unsafe_code)]

use crate::outcome::Status;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use nanoserde::SerJson;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The check URL when the config names none: answers 204 with an empty body.
pub const DEFAULT_URL: &str = "http://connectivitycheck.gstatic.com/generate_204";
/// Deadline of the whole check when the config sets none.
pub const DEFAULT_TIMEOUT_S: u64 = 10;

/// A URL an operator may point the check at: http:// or https://, printable, at most 2048 bytes.
pub fn check_url(text: &str) -> Result<CheckUrl> {
    CheckUrl::parse(text)
}

/// A URL the internet check may fetch: `http://…` or `https://…`, at most 2048 bytes, without
/// blanks or control characters, whose host and port `Target::parse` accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckUrl(String);

impl CheckUrl {
    /// Parses a check URL.
    pub fn parse(text: &str) -> Result<CheckUrl> {
        let scheme_ok = text.starts_with("http://") || text.starts_with("https://");
        if !scheme_ok || text.len() > 2048 || text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(Error::Usage(format!(
                "invalid check URL '{}': expected http://… or https://…",
                crate::validate::printable(text)
            )));
        }
        // The same parser the request is made with: a URL it would refuse is bad input now, not
        // a failed check later.
        match Target::parse(text) {
            Some(_) => Ok(CheckUrl(text.to_string())),
            None => Err(Error::Usage(format!("invalid check URL '{}': not a URL with a host", crate::validate::printable(text)))),
        }
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CheckUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

crate::validate::wire_text!(CheckUrl);

/// The parts of an `http://` or `https://` URL a request needs.
#[derive(Debug, PartialEq)]
struct Target {
    https: bool,
    /// The name or address, IPv6 literals without their brackets.
    host: String,
    port: u16,
    /// `user:password` before an `@`, if any (a proxy's credentials).
    userinfo: Option<String>,
    /// Path and query, as given (the fragment dropped); `/` when empty.
    path: String,
}

impl Target {
    /// Splits a URL into its parts; `None` for anything but http(s) with a well-formed host and
    /// a port of 1–65535.
    fn parse(url: &str) -> Option<Target> {
        let (scheme, rest) = url.split_once("://")?;
        let https = match scheme {
            "http" => false,
            "https" => true,
            _ => return None,
        };
        let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo.to_string()), host_port),
            None => (None, authority),
        };
        let (host, port) = if let Some(inner) = host_port.strip_prefix('[') {
            let (host, after) = inner.split_once(']')?;
            let literal = !host.is_empty() && host.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
            (literal.then_some(host)?, if after.is_empty() { None } else { Some(after.strip_prefix(':')?) })
        } else {
            let (host, port) = host_port.rsplit_once(':').map_or((host_port, None), |(host, port)| (host, Some(port)));
            let name = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || "-._~%".contains(c));
            (name.then_some(host)?, port)
        };
        let port = match port {
            Some(text) => text.parse::<u16>().ok().filter(|&port| port != 0)?,
            None if https => 443,
            None => 80,
        };
        let path = tail.split('#').next().unwrap_or_default();
        let path = if path.is_empty() { "/".to_string() } else if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
        Some(Target { https, host: host.to_string(), port, userinfo, path })
    }

    /// A proxy as the config names it: `http://host:port` or plain `host:port`.
    fn proxy(text: &str) -> Option<Target> {
        let proxy = if text.contains("://") { Target::parse(text)? } else { Target::parse(&format!("http://{text}"))? };
        (!proxy.https).then_some(proxy)
    }

    /// `host:port` as CONNECT names it (IPv6 literals in brackets).
    fn host_and_port(&self) -> String {
        if self.host.contains(':') { format!("[{}]:{}", self.host, self.port) } else { format!("{}:{}", self.host, self.port) }
    }

    /// The Host header: the port only when it is not the scheme's.
    fn host_header(&self) -> String {
        let mut header = self.host_and_port();
        if self.port == if self.https { 443 } else { 80 } {
            header.truncate(header.rfind(':').unwrap_or(header.len()));
        }
        header
    }
}

/// Where the check failed.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// `name resolution`, `connect`, `TLS`, `HTTP` or `HTTP status`.
    pub stage: &'static str,
    /// Details for the operator.
    pub detail: String,
}

fn failure(stage: &'static str, detail: impl Into<String>) -> Failure {
    Failure { stage, detail: detail.into() }
}

/// Status line and headers may take at most this much: more is not an answer worth reading.
const MAX_HEAD: usize = 16 * 1024;

/// A connection the request goes over: plain TCP, or TLS over it (feature `https`).
trait Connection: Read + Write {
    /// The socket under it, whose timeouts enforce the deadline.
    fn tcp(&self) -> &TcpStream;
}

impl Connection for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

/// Sets the socket's read and write timeouts to what is left until `deadline`.
fn arm(tcp: &TcpStream, deadline: Instant) -> std::result::Result<(), Failure> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(failure("HTTP", "timed out"));
    }
    tcp.set_read_timeout(Some(left)).and_then(|()| tcp.set_write_timeout(Some(left))).map_err(|e| failure("HTTP", crate::error::strip_errno(&e)))
}

/// Names the stage an I/O error of the exchange failed (TLS errors come wrapped in io::Error).
fn io_failure(err: std::io::Error) -> Failure {
    use std::io::ErrorKind as K;
    if matches!(err.kind(), K::WouldBlock | K::TimedOut) {
        return failure("HTTP", "timed out");
    }
    #[cfg(feature = "https")]
    if let Some(tls) = err.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        return failure("TLS", tls.to_string());
    }
    failure("HTTP", crate::error::strip_errno(&err))
}

/// Resolves `host` and connects to its first address that answers, within `deadline`.
fn connect(host: &str, port: u16, deadline: Instant) -> std::result::Result<TcpStream, Failure> {
    use std::net::ToSocketAddrs;
    let addresses = (host, port)
        .to_socket_addrs()
        .map_err(|err| failure("name resolution", format!("{host}: {}", crate::error::strip_errno(&err))))?;
    let mut last = None;
    for address in addresses {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(failure("connect", "timed out"));
        }
        match TcpStream::connect_timeout(&address, left) {
            Ok(tcp) => return Ok(tcp),
            Err(err) => last = Some(err),
        }
    }
    Err(match last {
        None => failure("name resolution", format!("{host}: no address")),
        Some(err) if matches!(err.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => failure("connect", "timed out"),
        Some(err) => failure("connect", crate::error::strip_errno(&err)),
    })
}

/// An answer's status code and, for a redirect, where to.
#[derive(Debug, PartialEq)]
struct Head {
    code: u16,
    location: Option<String>,
}

/// Sends `request` and reads the answer's status line and headers (not the body).
fn exchange(conn: &mut dyn Connection, request: &str, deadline: Instant) -> std::result::Result<Head, Failure> {
    arm(conn.tcp(), deadline)?;
    conn.write_all(request.as_bytes()).and_then(|()| conn.flush()).map_err(io_failure)?;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        arm(conn.tcp(), deadline)?;
        let read = conn.read(&mut chunk).map_err(io_failure)?;
        if read == 0 {
            return Err(failure("HTTP", "the server closed the connection before answering"));
        }
        // Search only where the new bytes could complete a blank line.
        let from = head.len().saturating_sub(3);
        head.extend_from_slice(&chunk[..read]);
        if let Some(end) = head[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            head.truncate(from + end);
            return parse_head(&head);
        }
        if head.len() > MAX_HEAD {
            return Err(failure("HTTP", "the answer's headers exceed 16 KiB"));
        }
    }
}

/// Reads `HTTP/1.x NNN …` and a Location header out of an answer's head.
fn parse_head(head: &[u8]) -> std::result::Result<Head, Failure> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut words = status_line.splitn(3, ' ');
    let code = match (words.next(), words.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/1.") && code.len() == 3 => code.parse::<u16>().ok(),
        _ => None,
    };
    let Some(code) = code.filter(|code| (100..=999).contains(code)) else {
        let shown: String = status_line.chars().take(60).collect();
        return Err(failure("HTTP", format!("not an HTTP answer: '{}'", crate::validate::printable(&shown))));
    };
    let location = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("location"))
        .map(|(_, value)| crate::validate::printable(value.trim()).to_string());
    Ok(Head { code, location })
}

/// GETs `url` (through `proxy`, with CONNECT) by `deadline`: `Ok` on a 2xx answer.
fn fetch(url: &Target, proxy: Option<&Target>, deadline: Instant) -> std::result::Result<(), Failure> {
    let first_hop = proxy.unwrap_or(url);
    let mut tcp = connect(&first_hop.host, first_hop.port, deadline)?;
    if let Some(proxy) = proxy {
        let mut request = format!("CONNECT {0} HTTP/1.1\r\nHost: {0}\r\n", url.host_and_port());
        if let Some(credentials) = &proxy.userinfo {
            request += &format!("Proxy-Authorization: Basic {}\r\n", <base64ct::Base64 as base64ct::Encoding>::encode_string(credentials.as_bytes()));
        }
        request += "\r\n";
        let answer = exchange(&mut tcp, &request, deadline)?;
        if !(200..300).contains(&answer.code) {
            return Err(failure("HTTP", format!("the proxy refused the tunnel: {}", answer.code)));
        }
    }
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sensorctl/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION")
    );
    let answer = if url.https { https::exchange(tcp, url, &request, deadline)? } else { exchange(&mut tcp, &request, deadline)? };
    match (answer.code, answer.location) {
        (200..=299, _) => Ok(()),
        (code @ 300..=399, Some(location)) => Err(failure("HTTP status", format!("{code} (a redirect to {location})"))),
        (code, _) => Err(failure("HTTP status", code.to_string())),
    }
}

/// TLS over the connection: rustls on ring, the webpki roots.
#[cfg(feature = "https")]
mod https {
    use super::{arm, exchange as plain_exchange, failure, io_failure, Connection, Failure, Head, Target};
    use std::net::TcpStream;
    use std::sync::Arc;
    use std::time::Instant;

    type Stream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

    impl Connection for Stream {
        fn tcp(&self) -> &TcpStream {
            &self.sock
        }
    }

    /// Shakes hands with `url`'s host over `tcp`, then exchanges `request` inside.
    pub(super) fn exchange(tcp: TcpStream, url: &Target, request: &str, deadline: Instant) -> Result<Head, Failure> {
        let tls = |err: rustls::Error| failure("TLS", err.to_string());
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(tls)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(url.host.clone()).map_err(|err| failure("TLS", err.to_string()))?;
        let mut stream = Stream::new(rustls::ClientConnection::new(Arc::new(config), name).map_err(tls)?, tcp);
        while stream.conn.is_handshaking() {
            arm(&stream.sock, deadline)?;
            stream.conn.complete_io(&mut stream.sock).map_err(io_failure)?;
        }
        plain_exchange(&mut stream, request, deadline)
    }
}

/// Without the `https` feature an https:// URL is refused before anything is fetched.
#[cfg(not(feature = "https"))]
mod https {
    use super::{failure, Failure, Head, Target};
    use std::net::TcpStream;
    use std::time::Instant;

    pub(super) fn exchange(_: TcpStream, _: &Target, _: &str, _: Instant) -> Result<Head, Failure> {
        Err(failure("TLS", "this build has no HTTPS (cargo feature `https`)"))
    }
}

#[derive(SerJson)]
struct Report {
    ok: bool,
    url: String,
    #[nserde(serialize_none_as_null)]
    proxy: Option<String>,
    #[nserde(serialize_none_as_null)]
    stage: Option<String>,
    #[nserde(serialize_none_as_null)]
    detail: Option<String>,
    elapsed_ms: u64,
}

/// Fetches the check URL (`url` overrides the config's) and reports as the reference does.
pub fn run(ctx: &Context, url: Option<&CheckUrl>, json: bool, out: &mut dyn Write) -> Result<Status> {
    let config = ctx.config()?;
    let url = match url {
        Some(url) => url.clone(),
        None => check_url(config.internet_check_url.as_deref().unwrap_or(DEFAULT_URL))?,
    };
    let url = url.as_str().to_string();
    ctx.cancel.check("nothing was fetched")?;
    if url.starts_with("https://") && !cfg!(feature = "https") {
        return Err(Error::Unsupported(format!("{url}: this build has no HTTPS (cargo feature `https`)")));
    }
    let target = Target::parse(&url).ok_or_else(|| Error::Usage(format!("invalid check URL '{}'", crate::validate::printable(&url))))?;
    let proxy = match config.internet_check_proxy.as_deref() {
        Some(text) => Some(Target::proxy(text).ok_or_else(|| Error::BadFile {
            path: crate::config::Config::path(&ctx.root),
            why: format!("internet_check_proxy: '{}' is not http://host:port", crate::validate::printable(text)),
        })?),
        None => None,
    };
    let timeout = Duration::from_secs(config.internet_check_timeout_s.unwrap_or(DEFAULT_TIMEOUT_S).clamp(1, 300));
    if !json {
        emit(out, "Checking internet connectivity...")?;
        out.flush().map_err(|e| Error::io("write", "standard output", e))?;
    }
    let started = Instant::now();
    let outcome = fetch(&target, proxy.as_ref(), started + timeout);
    let elapsed_ms = started.elapsed().as_millis() as u64;
    if json {
        let failure = outcome.as_ref().err();
        let report = Report {
            ok: outcome.is_ok(),
            url,
            proxy: config.internet_check_proxy.clone(),
            stage: failure.map(|f| f.stage.to_string()),
            detail: failure.map(|f| f.detail.clone()),
            elapsed_ms,
        };
        emit(out, &report.serialize_json())?;
    } else {
        match &outcome {
            Ok(()) => emit(out, "The machine was successfully able to connect the internet.")?,
            Err(failure) => emit(
                out,
                &format!(
                    "The machine failed to connect the internet: {} failed: {} ({url})",
                    failure.stage, failure.detail
                ),
            )?,
        }
    }
    Ok(if outcome.is_ok() { Status::Ok } else { Status::Problem })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_urls() {
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("http://[::1]:8080/").is_ok());
        assert!(check_url("http://[::1]/").is_ok());
        for bad in ["http://[::1", "http://", "http://:80/", "https://host:99999/"] {
            assert_eq!(check_url(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
        assert!(check_url("https://example.test/").is_ok());
        for bad in ["ftp://x", "127.0.0.1", "http://a b", "http://x\n", "", &format!("http://{}", "a".repeat(2100))] {
            assert_eq!(check_url(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn urls_split_into_their_parts() {
        let parts = |u: &str| Target::parse(u).map(|t| format!("{} {} {} {:?} {}", t.https, t.host, t.port, t.userinfo, t.path));
        assert_eq!(parts("http://example.test/x").as_deref(), Some("false example.test 80 None /x"));
        assert_eq!(parts("https://example.test").as_deref(), Some("true example.test 443 None /"));
        assert_eq!(parts("http://u:p@127.0.0.1:8080/a?b#c").as_deref(), Some(r#"false 127.0.0.1 8080 Some("u:p") /a?b"#));
        assert_eq!(parts("http://[::1]:3128?q").as_deref(), Some("false ::1 3128 None /?q"));
        for bad in ["http://host:notaport/", "http:///path", "ftp://x/", "http://host:0/", "http://[zz::1]/", "http://ho st/", "http://[::1]x/"] {
            assert_eq!(parts(bad), None, "{bad}");
        }
        let target = Target::parse("http://[::1]:8080/").unwrap();
        assert_eq!((target.host_and_port(), target.host_header()), ("[::1]:8080".to_string(), "[::1]:8080".to_string()));
        let target = Target::parse("http://example.test/").unwrap();
        assert_eq!((target.host_and_port(), target.host_header()), ("example.test:80".to_string(), "example.test".to_string()));
        assert_eq!(Target::proxy("10.0.0.1:3128").map(|p| p.port), Some(3128));
        assert_eq!(Target::proxy("https://10.0.0.1:3128"), None);
    }

    #[test]
    fn answer_heads() {
        assert_eq!(parse_head(b"HTTP/1.1 204 No Content\r\nContent-Length: 0"), Ok(Head { code: 204, location: None }));
        assert_eq!(
            parse_head(b"HTTP/1.0 302 Found\r\nlocation:  http://portal.test/login "),
            Ok(Head { code: 302, location: Some("http://portal.test/login".into()) })
        );
        for bad in [&b"SSH-2.0-OpenSSH_9.2"[..], b"HTTP/1.1 20 OK", b"HTTP/2 200", b"", b"HTTP/1.1 abc"] {
            assert_eq!(parse_head(bad).unwrap_err().stage, "HTTP", "{}", String::from_utf8_lossy(bad));
        }
    }
}
