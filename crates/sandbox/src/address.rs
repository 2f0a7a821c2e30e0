//! Which IP addresses count as public. The one guard shared by `web_fetch` and the sandbox's
//! network proxy: private, loopback, link-local, reserved and multicast addresses are not public,
//! and IPv4 carried inside IPv6 (mapped, compatible, NAT64, 6to4, Teredo) is judged as that IPv4
//! address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 224) // multicast and reserved
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let segments = v6.segments();
    let octets = v6.octets();
    let embedded =
        |at: usize| Ipv4Addr::new(octets[at], octets[at + 1], octets[at + 2], octets[at + 3]);
    if v6.is_loopback() || v6.is_unspecified() {
        return false;
    }
    // ::a.b.c.d (IPv4-compatible) and ::ffff:a.b.c.d (IPv4-mapped).
    if segments[..5] == [0; 5] && (segments[5] == 0 || segments[5] == 0xffff) {
        return is_public_v4(embedded(12));
    }
    // NAT64, well-known prefix 64:ff9b::/96: the last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(12));
    }
    let first = segments[0];
    // 6to4 (2002::/16): bits 16-47 are the IPv4 address of the site.
    if first == 0x2002 {
        return is_public_v4(embedded(2));
    }
    // Teredo (2001:0::/32): the server at bits 32-63, the client inverted in the last 32 bits.
    if first == 0x2001 && segments[1] == 0 {
        let client = Ipv4Addr::from(!u32::from(embedded(12)));
        return is_public_v4(embedded(4)) && is_public_v4(client);
    }
    !((first == 0x64 && segments[1] == 0xff9b && segments[2] == 1) // local-use NAT64 (RFC 8215)
        || (first == 0x0100 && segments[1..4] == [0; 3]) // discard-only 100::/64
        || (first == 0x2001 && segments[1] == 0x0db8) // documentation
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || (first & 0xffc0) == 0xfec0 // site local (deprecated)
        || (first & 0xff00) == 0xff00) // multicast
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_loopback_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "172.16.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
            "0.0.0.0",
            "::127.0.0.1",
            "::10.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::192.168.0.1",
            "64:ff9b:1::1.1.1.1",
            "64:ff9b:1:abcd::7f00:1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "2002:a9fe:a9fe::1",
            "2001:0:7f00:1::1",
            "2001:0:4136:e378:8000:63bf:f5ff:fffe",
            "2001:db8::1",
            "fec0::1",
            "ff02::1",
            "100::1",
            "198.18.0.1",
            "255.255.255.255",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700::1111",
            "64:ff9b::1.1.1.1",
            "::ffff:1.1.1.1",
            "2002:0101:0101::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
