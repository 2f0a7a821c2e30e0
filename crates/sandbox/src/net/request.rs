//! The head of a request a confined command sends its proxy: `CONNECT host:port` (for https and
//! other tunnels) or a plain-HTTP request with an absolute URI (`GET http://host/path`), which
//! is rewritten for the origin server with `Connection: close` and no `Proxy-*` headers.

/// Largest request head read.
pub const MAX_HEAD: usize = 16 * 1024;

/// What the command asked the proxy for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `CONNECT host:port`: a tunnel.
    Connect {
        /// The host as named.
        host: String,
        /// The port.
        port: u16,
    },
    /// A plain-HTTP request to forward.
    Forward {
        /// The host as named in the URI.
        host: String,
        /// The port (80 unless given).
        port: u16,
        /// The head to send the origin server.
        head: Vec<u8>,
    },
}

/// Why a head was not understood: the status to answer and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// HTTP status code.
    pub status: u16,
    /// The reason, in words.
    pub reason: String,
}

fn bad(reason: impl Into<String>) -> Rejected {
    Rejected {
        status: 400,
        reason: reason.into(),
    }
}

/// Where the head ends (the index after `\r\n\r\n` or `\n\n`), if it has.
pub fn head_end(buffer: &[u8]) -> Option<usize> {
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4);
    let lf = buffer
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|at| at + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Parses a complete head (up to and including the blank line).
pub fn parse(head: &[u8]) -> Result<Request, Rejected> {
    let text = std::str::from_utf8(head).map_err(|_| bad("the request head is not UTF-8"))?;
    let mut lines = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line));
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad("only HTTP/1.x requests are proxied"));
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad("malformed method"));
    }
    if method == "CONNECT" {
        let (host, port) = split_authority(target, None)?;
        return Ok(Request::Connect { host, port });
    }
    let Some(rest) = strip_prefix_ignore_case(target, "http://") else {
        return Err(bad(
            if strip_prefix_ignore_case(target, "https://").is_some() {
                "https URLs go through CONNECT (set HTTPS_PROXY), not as a plain request"
            } else {
                "the proxy only forwards absolute http:// URIs and CONNECT"
            },
        ));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let (host, port) = split_authority(authority, Some(80))?;
    let path = path.split('#').next().unwrap_or("");
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let mut out = format!("{method} {path} {version}\r\n");
    for line in lines.filter(|line| !line.is_empty()) {
        let Some((name, _)) = line.split_once(':') else {
            return Err(bad("malformed header line"));
        };
        let name = name.trim().to_ascii_lowercase();
        if name.starts_with("proxy-") || name == "connection" || name == "keep-alive" {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    Ok(Request::Forward {
        host,
        port,
        head: out.into_bytes(),
    })
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `host:port` (IPv6 in brackets); `default` when the port may be left out.
fn split_authority(authority: &str, default: Option<u16>) -> Result<(String, u16), Rejected> {
    if authority.contains('@') {
        return Err(Rejected {
            status: 403,
            reason: "URLs with a user name or password are not proxied".to_owned(),
        });
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inner, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("malformed IPv6 address"))?;
        (format!("[{inner}]"), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (authority.to_owned(), None),
        }
    };
    let port = match (port, default) {
        (Some(port), _) => port
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| bad("malformed port"))?,
        (None, Some(default)) => default,
        (None, None) => return Err(bad("CONNECT needs host:port")),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_and_absolute_uris_are_understood() {
        assert_eq!(
            parse(b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n"),
            Ok(Request::Connect {
                host: "example.org".into(),
                port: 443
            })
        );
        assert_eq!(
            parse(b"CONNECT [::1]:22 HTTP/1.1\r\n\r\n"),
            Ok(Request::Connect {
                host: "[::1]".into(),
                port: 22
            })
        );
        let Ok(Request::Forward { host, port, head }) = parse(
            b"GET HTTP://a.test:8080/x?y=1#frag HTTP/1.1\r\nHost: a.test:8080\r\n\
              Proxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\n\
              Connection: keep-alive\r\nAccept: */*\r\n\r\n",
        ) else {
            panic!("not forwarded");
        };
        assert_eq!((host.as_str(), port), ("a.test", 8080));
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "GET /x?y=1 HTTP/1.1\r\nHost: a.test:8080\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn everything_else_is_rejected() {
        for head in [
            &b"GET /relative HTTP/1.1\r\n\r\n"[..],
            b"GET https://a.test/ HTTP/1.1\r\n\r\n",
            b"CONNECT a.test HTTP/1.1\r\n\r\n",
            b"CONNECT a.test:0 HTTP/1.1\r\n\r\n",
            b"GET http://user:pw@a.test/ HTTP/1.1\r\n\r\n",
            b"CONNECT user@a.test:443 HTTP/1.1\r\n\r\n",
            b"GET http://a.test/ HTTP/2\r\n\r\n",
            b"get http://a.test/ HTTP/1.1\r\n\r\n",
            b"GET  http://a.test/ HTTP/1.1\r\n\r\n",
            b"GET http://a.test/ HTTP/1.1\r\nno colon\r\n\r\n",
            b"\xff\xfe\r\n\r\n",
        ] {
            assert!(parse(head).is_err(), "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn the_head_ends_at_the_first_blank_line() {
        assert_eq!(head_end(b"GET x\r\n\r\nbody"), Some(9));
        assert_eq!(head_end(b"GET x\n\nbody"), Some(7));
        assert_eq!(head_end(b"GET x\r\n"), None);
    }
}
