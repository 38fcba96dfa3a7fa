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
use std::io::Write;
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
/// blanks or control characters. ureq parses the rest when it fetches it.
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
        // The same parser ureq fetches it with: a URL it would refuse is bad input now, not a
        // failed check later.
        match ureq::http::Uri::try_from(text) {
            Ok(uri) if uri.host().is_some_and(|host| !host.is_empty()) && port_is_valid(&uri) => Ok(CheckUrl(text.to_string())),
            _ => Err(Error::Usage(format!("invalid check URL '{}': not a URL with a host", crate::validate::printable(text)))),
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

/// The URL's port, if it names one, fits in 16 bits.
fn port_is_valid(uri: &ureq::http::Uri) -> bool {
    let Some(authority) = uri.authority() else { return false };
    let authority = authority.as_str();
    if authority.ends_with(']') {
        return true; // an IPv6 literal without a port
    }
    authority.rsplit_once(':').is_none_or(|(_, port)| port.parse::<u16>().is_ok())
}

/// Where the check failed.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// `name resolution`, `connect`, `TLS`, `HTTP` or `HTTP status`.
    pub stage: &'static str,
    /// Details for the operator.
    pub detail: String,
}

/// Maps ureq's error to the stage that failed.
fn classify(err: &ureq::Error) -> Failure {
    use std::io::ErrorKind as K;
    use ureq::Error as E;
    let (stage, detail) = match err {
        E::HostNotFound => ("name resolution", "host not found".to_string()),
        E::Timeout(ureq::Timeout::Resolve) => ("name resolution", "timed out".to_string()),
        E::Timeout(ureq::Timeout::Connect) => ("connect", "timed out".to_string()),
        E::ConnectionFailed => ("connect", "connection failed".to_string()),
        E::Io(io) if matches!(
            io.kind(),
            K::ConnectionRefused | K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable | K::ConnectionReset
        ) => ("connect", crate::error::strip_errno(io)),
        E::Tls(what) => ("TLS", what.to_string()),
        E::StatusCode(code) => ("HTTP status", code.to_string()),
        E::Timeout(which) => ("HTTP", format!("timed out ({which:?})")),
        other => tls_or_http(other),
    };
    Failure { stage, detail }
}

#[cfg(feature = "https")]
fn tls_or_http(err: &ureq::Error) -> (&'static str, String) {
    match err {
        ureq::Error::Rustls(tls) => ("TLS", tls.to_string()),
        ureq::Error::Pem(pem) => ("TLS", pem.to_string()),
        other => ("HTTP", other.to_string()),
    }
}

#[cfg(not(feature = "https"))]
fn tls_or_http(err: &ureq::Error) -> (&'static str, String) {
    ("HTTP", err.to_string())
}

/// The host and port a URL (or proxy URL) connects to: `http://user@host:8080/x` →
/// (`host`, 8080); the scheme's port when none is given; IPv6 literals keep their brackets off.
pub fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if let Some(inner) = host_port.strip_prefix('[') {
        let (host, after) = inner.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port {
        Some(text) => text.parse().ok()?,
        None => default_port,
    };
    (!host.is_empty()).then(|| (host.to_string(), port))
}

/// Resolves the name the request will connect to first, so that a DNS failure is reported as
/// such (ureq folds it into a generic I/O error).
fn resolve(url: &str, proxy: Option<&str>) -> std::result::Result<(), Failure> {
    use std::net::ToSocketAddrs;
    let Some((host, port)) = host_port(proxy.unwrap_or(url)) else {
        return Err(Failure { stage: "HTTP", detail: "no host in the URL".to_string() });
    };
    match (host.as_str(), port).to_socket_addrs().map(|mut addrs| addrs.next()) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(Failure { stage: "name resolution", detail: format!("{host}: no address") }),
        Err(err) => Err(Failure { stage: "name resolution", detail: format!("{host}: {}", crate::error::strip_errno(&err)) }),
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
    let proxy = match config.internet_check_proxy.as_deref() {
        Some(text) => Some(ureq::Proxy::new(text).map_err(|e| Error::BadFile {
            path: crate::config::Config::path(&ctx.root),
            why: format!("internet_check_proxy: {e}"),
        })?),
        None => None,
    };
    let timeout = Duration::from_secs(config.internet_check_timeout_s.unwrap_or(DEFAULT_TIMEOUT_S).clamp(1, 300));
    if !json {
        emit(out, "Checking internet connectivity...")?;
        out.flush().map_err(|e| Error::io("write", "standard output", e))?;
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .proxy(proxy)
        .build()
        .into();
    let started = Instant::now();
    let outcome = resolve(&url, config.internet_check_proxy.as_deref())
        .and_then(|()| agent.get(&url).call().map(|_response| ()).map_err(|e| classify(&e)));
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
    fn host_and_port_of_urls() {
        let hp = |u: &str| host_port(u).map(|(h, p)| format!("{h} {p}"));
        assert_eq!(hp("http://example.test/x").as_deref(), Some("example.test 80"));
        assert_eq!(hp("https://example.test").as_deref(), Some("example.test 443"));
        assert_eq!(hp("http://u:p@127.0.0.1:8080/a?b").as_deref(), Some("127.0.0.1 8080"));
        assert_eq!(hp("http://[::1]:3128/").as_deref(), Some("::1 3128"));
        assert_eq!(hp("http://host:notaport/"), None);
        assert_eq!(hp("http:///path"), None);
        assert_eq!(hp("ftp://x/"), None);
    }

    #[test]
    fn errors_name_their_stage() {
        assert_eq!(classify(&ureq::Error::HostNotFound).stage, "name resolution");
        assert_eq!(classify(&ureq::Error::StatusCode(503)), Failure { stage: "HTTP status", detail: "503".into() });
        let refused = ureq::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(classify(&refused).stage, "connect");
        assert_eq!(classify(&ureq::Error::Tls("bad cert")).stage, "TLS");
    }
}
