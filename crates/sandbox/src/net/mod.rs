//! The network of a confined command when `[sandbox] allow_net` lists hosts: the command runs in
//! a network namespace of its own where only loopback exists, and reaches the listed hosts
//! through a filtering HTTP(S) proxy LocalGPT runs for it ([`Proxy`]), whose listener lives in
//! that namespace. [`Allowlist`] says which hosts and ports; names must resolve to public
//! addresses ([`crate::is_public`]), resolved once and connected to as checked.

mod allow;
mod proxy;
mod relay;
mod request;

pub use allow::{Allowlist, DEFAULT_PORTS, Permit};
pub use proxy::Proxy;

/// The port the proxy listens on inside the command's network namespace.
pub const PROXY_PORT: u16 = 3128;

/// The proxy's URL as the command sees it.
pub const PROXY_URL: &str = "http://127.0.0.1:3128";

/// The environment that points a command's HTTP clients at the proxy.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn proxy_environment() -> Vec<(&'static str, &'static str)> {
    vec![
        ("HTTP_PROXY", PROXY_URL),
        ("HTTPS_PROXY", PROXY_URL),
        ("http_proxy", PROXY_URL),
        ("https_proxy", PROXY_URL),
        ("ALL_PROXY", PROXY_URL),
        ("all_proxy", PROXY_URL),
        ("NO_PROXY", ""),
        ("no_proxy", ""),
    ]
}
