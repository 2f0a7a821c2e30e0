//! `[sandbox] allow_net`, parsed: which hosts and ports a confined command may reach through the
//! proxy. An entry is a host name (`example.org`), a wildcard for its subdomains
//! (`*.example.org`) or an IP address (`127.0.0.1`, `[::1]`), optionally with a port
//! (`example.org:8443`); without one only ports 80 and 443 are allowed. Names must resolve to
//! public addresses only; a private, loopback or link-local address is reached only when it is
//! listed literally.

use std::net::{IpAddr, SocketAddr};

/// Ports an entry without a port allows.
pub const DEFAULT_PORTS: [u16; 2] = [80, 443];

/// What an entry names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// One host name, lower case, without a trailing dot.
    Name(String),
    /// Every subdomain of this name (`*.name`), not the name itself.
    Subdomains(String),
    /// One IP address, reached even when it is not public.
    Address(IpAddr),
}

/// One allow_net entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    host: Host,
    port: Option<u16>,
}

impl Entry {
    fn allows_port(&self, port: u16) -> bool {
        match self.port {
            Some(listed) => listed == port,
            None => DEFAULT_PORTS.contains(&port),
        }
    }
}

/// The hosts a command may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    entries: Vec<Entry>,
}

/// Where an allowed request may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permit {
    /// A listed IP address: connect to exactly this.
    Address(SocketAddr),
    /// A listed name: resolve it once, check every address is public, connect to one of them.
    Name(String, u16),
}

impl Allowlist {
    /// Parses `entries`; the error names the first entry that is not a host or `host:port`.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let entries = entries
            .iter()
            .map(|entry| {
                parse_entry(entry).ok_or_else(|| {
                    format!(
                        "[sandbox] allow_net entry `{}` is not a host name, `*.domain`, an IP \
                         address or one of those with `:port`",
                        entry.escape_debug()
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { entries })
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Decides whether `host` (as a request names it) on `port` may be reached; the error is the
    /// reason, in words.
    pub fn decide(&self, host: &str, port: u16) -> Result<Permit, String> {
        let Some(wanted) = request_host(host) else {
            return Err(format!("`{}` is not a host name", printable(host)));
        };
        let matching: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|entry| host_matches(&entry.host, &wanted))
            .collect();
        if matching.is_empty() {
            return Err(format!("{} is not in [sandbox] allow_net", printable(host)));
        }
        if !matching.iter().any(|entry| entry.allows_port(port)) {
            return Err(format!(
                "port {port} of {} is not allowed by [sandbox] allow_net (an entry without a \
                 port allows 80 and 443)",
                printable(host)
            ));
        }
        Ok(match wanted {
            Host::Address(ip) => Permit::Address(SocketAddr::new(ip, port)),
            Host::Name(name) | Host::Subdomains(name) => Permit::Name(name, port),
        })
    }
}

fn host_matches(entry: &Host, wanted: &Host) -> bool {
    match (entry, wanted) {
        (Host::Name(listed), Host::Name(name)) => listed == name,
        (Host::Subdomains(domain), Host::Name(name)) => name
            .strip_suffix(domain.as_str())
            .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.')),
        (Host::Address(listed), Host::Address(ip)) => listed == ip,
        _ => false,
    }
}

/// `host` as a request names it: an IP address (IPv6 possibly in brackets) or a host name.
fn request_host(host: &str) -> Option<Host> {
    let bare = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(Host::Address(ip));
    }
    valid_name(host).map(Host::Name)
}

/// A host name lower-cased without its trailing dot, if it is one: labels of letters, digits,
/// `-` and `_`, at most 253 characters.
fn valid_name(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then_some(name)
}

fn parse_entry(entry: &str) -> Option<Entry> {
    let entry = entry.trim();
    // `[v6]` or `[v6]:port`.
    if let Some(rest) = entry.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let ip = inner.parse::<IpAddr>().ok()?;
        let port = match after {
            "" => None,
            _ => Some(parse_port(after.strip_prefix(':')?)?),
        };
        return Some(Entry {
            host: Host::Address(ip),
            port,
        });
    }
    // A bare IPv6 address (no port possible).
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(Entry {
            host: Host::Address(ip),
            port: None,
        });
    }
    let (host, port) = match entry.rsplit_once(':') {
        Some((host, port)) => (host, Some(parse_port(port)?)),
        None => (entry, None),
    };
    let host = if let Ok(ip) = host.parse::<IpAddr>() {
        if ip.is_ipv6() {
            return None; // IPv6 with a port needs brackets.
        }
        Host::Address(ip)
    } else if let Some(domain) = host.strip_prefix("*.") {
        Host::Subdomains(valid_name(domain)?)
    } else {
        Host::Name(valid_name(host)?)
    };
    Some(Entry { host, port })
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|port| *port != 0)
}

/// `text` cut to 100 characters of visible ASCII (others become `?`), safe to put in a status
/// line or a message.
pub fn printable(text: &str) -> String {
    text.chars()
        .take(100)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Allowlist {
        Allowlist::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn entries_allow_exactly_their_host_and_port() {
        let allow = list(&[
            "Example.ORG.",
            "*.cdn.test",
            "api.test:8443",
            "127.0.0.1:4000",
            "[::1]:5000",
        ]);
        assert_eq!(
            allow.decide("example.org", 443),
            Ok(Permit::Name("example.org".into(), 443))
        );
        assert!(allow.decide("EXAMPLE.org.", 80).is_ok());
        assert!(allow.decide("example.org", 8080).is_err());
        assert!(allow.decide("www.example.org", 443).is_err());
        assert!(allow.decide("a.b.cdn.test", 443).is_ok());
        assert!(allow.decide("cdn.test", 443).is_err());
        assert!(allow.decide("evilcdn.test", 443).is_err());
        assert!(allow.decide("api.test", 8443).is_ok());
        assert!(allow.decide("api.test", 443).is_err());
        assert_eq!(
            allow.decide("127.0.0.1", 4000),
            Ok(Permit::Address("127.0.0.1:4000".parse().unwrap()))
        );
        assert!(allow.decide("127.0.0.1", 4001).is_err());
        assert!(allow.decide("localhost", 4000).is_err());
        assert!(allow.decide("2130706433", 4000).is_err());
        assert!(allow.decide("::ffff:127.0.0.1", 4000).is_err());
        assert!(allow.decide("[::1]", 5000).is_ok());
        assert!(allow.decide("169.254.169.254", 80).is_err());
        assert!(allow.decide("exa mple.org", 443).is_err());
    }

    #[test]
    fn malformed_entries_are_named() {
        for bad in [
            "http://example.org",
            "example.org/path",
            "user@example.org",
            "example.org:0",
            "example.org:99999",
            "",
            "*.",
        ] {
            let error = Allowlist::parse(&[bad.to_string()]).unwrap_err();
            assert!(error.contains("allow_net entry"), "{bad}: {error}");
        }
    }

    #[test]
    fn reasons_are_printable() {
        let reason = list(&[]).decide("a\r\nX-Evil: 1", 80).unwrap_err();
        assert!(!reason.contains('\r') && !reason.contains('\n'), "{reason}");
    }
}
