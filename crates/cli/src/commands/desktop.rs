//! `localgpt desktop`: the desktop app. It finds this home's daemon the way `localgpt daemon
//! status` does (the pid file, checked against the live process and the home's lock) and talks to
//! it; when none runs, the app hosts the control plane itself, in this process
//! ([`crate::daemon::InProcessHost`]: the same host, API, heartbeat and jobs as a daemon, holding
//! the home's lock so it stays the only writer of the index and the sessions) until the window
//! closes, and says so in the window. A build without the `desktop` feature
//! (`--no-default-features`) says how to get the app instead.

use crate::app::App;

/// Opens the desktop app, on this home's daemon, or hosting the control plane itself when none
/// runs.
#[cfg(feature = "desktop")]
pub fn run(app: &App) -> anyhow::Result<()> {
    use crate::daemon;

    let (_hosted, address, notice) = match daemon::running(app) {
        Some((_pid, address)) => (None, address, None),
        None => {
            eprintln!("No daemon is running for this home; hosting LocalGPT in this window.");
            let hosted = daemon::InProcessHost::start(app)?;
            let address = hosted.address.to_string();
            let notice = "No daemon was running, so this window hosts LocalGPT itself: the \
                          heartbeat and jobs run while it is open. `localgpt daemon start` \
                          keeps them running without a window."
                .to_owned();
            (Some(hosted), address, Some(notice))
        }
    };
    let connection = localgpt_desktop::Connection {
        base_url: format!("http://{}", reachable(&address)),
        token: app
            .config
            .server
            .auth_token
            .as_ref()
            .map(|token| token.expose().to_owned()),
        notice,
        export_dir: export_dir(),
    };
    localgpt_desktop::run(connection)?;
    Ok(())
}

/// Without the feature: what to do instead.
#[cfg(not(feature = "desktop"))]
pub fn run(_app: &App) -> anyhow::Result<()> {
    anyhow::bail!(
        "this localgpt was built without the desktop app (--no-default-features); \
         build it with `cargo install --path crates/cli`, or use the web UI of \
         `localgpt daemon start` at http://127.0.0.1:31327/"
    )
}

/// The daemon's address as a client reaches it: a wildcard bind (`0.0.0.0`, `[::]`) is reached
/// on loopback, so the token never leaves the machine.
#[cfg(feature = "desktop")]
fn reachable(address: &str) -> String {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    match address.parse::<SocketAddr>() {
        Ok(socket) if socket.ip().is_unspecified() => {
            let loopback = match socket.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            };
            SocketAddr::new(loopback, socket.port()).to_string()
        }
        _ => address.to_owned(),
    }
}

/// `~/Downloads` when it exists, else the home folder.
#[cfg(feature = "desktop")]
fn export_dir() -> std::path::PathBuf {
    let home = std::env::home_dir().unwrap_or_else(std::env::temp_dir);
    let downloads = home.join("Downloads");
    if downloads.is_dir() { downloads } else { home }
}

#[cfg(all(test, feature = "desktop"))]
mod tests {
    use super::reachable;

    #[test]
    fn wildcard_binds_are_reached_on_loopback() {
        assert_eq!(reachable("0.0.0.0:31327"), "127.0.0.1:31327");
        assert_eq!(reachable("[::]:8080"), "[::1]:8080");
        assert_eq!(reachable("127.0.0.1:9"), "127.0.0.1:9");
    }
}
