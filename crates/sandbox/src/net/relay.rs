//! One proxied connection: read the head, decide, resolve once, connect to the checked address
//! and copy bytes both ways. A refusal is answered `403` with the reason in the status line and
//! the body, so the command (curl, Python, the model reading its output) sees why.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::allow::{Allowlist, Permit, printable};
use super::proxy::Live;
use super::request::{self, MAX_HEAD, Rejected, Request};
use crate::address::is_public;

/// How long the command has to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting to the destination may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Serves one connection from the command until either side closes it.
pub fn serve(mut client: TcpStream, allow: &Allowlist, live: &Live) {
    let _ = client.set_read_timeout(Some(HEAD_TIMEOUT));
    let (head, extra) = match read_head(&mut client) {
        Ok(read) => read,
        Err(rejected) => return refuse(&mut client, &rejected),
    };
    let request = match request::parse(&head) {
        Ok(request) => request,
        Err(rejected) => return refuse(&mut client, &rejected),
    };
    let (host, port) = match &request {
        Request::Connect { host, port } | Request::Forward { host, port, .. } => {
            (host.clone(), *port)
        }
    };
    let decided = allow.decide(&host, port).map_err(|reason| Rejected {
        status: 403,
        reason,
    });
    let upstream = match decided.and_then(|permit| connect(permit, &host)) {
        Ok(upstream) => upstream,
        Err(rejected) => return refuse(&mut client, &rejected),
    };
    let _ = client.set_read_timeout(None);
    let first = match &request {
        Request::Connect { .. } => {
            if client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .is_err()
            {
                return;
            }
            extra
        }
        Request::Forward { head, .. } => [head.as_slice(), &extra].concat(),
    };
    relay(client, upstream, &first, live);
}

/// Reads up to the end of the head; returns the head and any bytes after it.
fn read_head(client: &mut TcpStream) -> Result<(Vec<u8>, Vec<u8>), Rejected> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = request::head_end(&buffer) {
            let extra = buffer.split_off(end);
            return Ok((buffer, extra));
        }
        if buffer.len() > MAX_HEAD {
            return Err(Rejected {
                status: 431,
                reason: "the request head is too large".to_owned(),
            });
        }
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => {
                return Err(Rejected {
                    status: 400,
                    reason: "the request head did not arrive".to_owned(),
                });
            }
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
}

/// Turns a permit into a connection: a listed address as is; a name resolved once, refused if
/// any of its addresses is not public, connected to the checked address itself.
fn connect(permit: Permit, host: &str) -> Result<TcpStream, Rejected> {
    let failed = |reason: String| Rejected {
        status: 502,
        reason,
    };
    let addresses: Vec<SocketAddr> = match permit {
        Permit::Address(address) => vec![address],
        Permit::Name(name, port) => {
            let resolved: Vec<SocketAddr> = (name.as_str(), port)
                .to_socket_addrs()
                .map_err(|error| failed(format!("could not resolve {}: {error}", printable(host))))?
                .collect();
            if resolved.is_empty() {
                return Err(failed(format!("{} has no address", printable(host))));
            }
            if let Some(private) = resolved.iter().find(|address| !is_public(address.ip())) {
                return Err(Rejected {
                    status: 403,
                    reason: format!(
                        "{} resolves to a private, loopback or link-local address ({}); only \
                         addresses listed literally in [sandbox] allow_net may be private",
                        printable(host),
                        private.ip()
                    ),
                });
            }
            resolved
        }
    };
    let mut last = None;
    for address in &addresses {
        match TcpStream::connect_timeout(address, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(error) => last = Some(error),
        }
    }
    Err(failed(format!(
        "could not connect to {}: {}",
        printable(host),
        last.map(|error| error.to_string()).unwrap_or_default()
    )))
}

/// Answers with the refusal: its status, and the reason in the status line and the body.
fn refuse(client: &mut TcpStream, rejected: &Rejected) {
    let status = rejected.status;
    let title = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        _ => "Error",
    };
    let reason = printable_line(&rejected.reason);
    let body = format!("localgpt sandbox: {reason}\n");
    let answer = format!(
        "HTTP/1.1 {status} {title} (localgpt sandbox: {reason})\r\nContent-Type: text/plain\r\n\
         X-LocalGPT-Sandbox: refused\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(answer.as_bytes());
    let _ = client.shutdown(Shutdown::Write);
    // Let the command read the answer before the socket closes under it.
    let _ = client.set_read_timeout(Some(Duration::from_secs(1)));
    let mut sink = [0u8; 1024];
    while matches!(client.read(&mut sink), Ok(read) if read > 0) {}
}

/// One line of visible characters (non-ASCII becomes `?`), at most 300 of them.
fn printable_line(text: &str) -> String {
    text.chars()
        .take(300)
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// Copies both ways until both sides are done; `first` goes to the upstream before the rest.
fn relay(client: TcpStream, mut upstream: TcpStream, first: &[u8], live: &Live) {
    let (Ok(client_back), Ok(upstream_back)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let Some(_registered) = live.register(&[&upstream]) else {
        return; // The proxy is stopping.
    };
    if upstream.write_all(first).is_err() {
        return;
    }
    let back = std::thread::Builder::new()
        .name("sandbox-proxy-relay".to_owned())
        .spawn(move || copy_then_close(upstream_back, client_back));
    copy_then_close(client, upstream);
    if let Ok(back) = back {
        let _ = back.join();
    }
}

fn copy_then_close(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
