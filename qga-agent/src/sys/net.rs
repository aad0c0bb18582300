//! guest-network-get-interfaces and guest-network-get-route.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::ifaddrs::getifaddrs;
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

use qga_types::{
    GuestIpAddress, GuestIpAddressType, GuestNetworkInterface, GuestNetworkInterfaceStat,
    GuestNetworkRoute,
};

use super::{strerror, SysError};

/// `guest-network-get-interfaces` with statistics from `/proc/net/dev`.
pub fn network_interfaces() -> Result<Vec<GuestNetworkInterface>, SysError> {
    network_interfaces_with(Path::new("/proc/net/dev"))
}

/// `guest-network-get-interfaces`: one entry per interface name in `getifaddrs()` order.
pub fn network_interfaces_with(net_dev: &Path) -> Result<Vec<GuestNetworkInterface>, SysError> {
    let addrs = getifaddrs().map_err(|errno| SysError::with_errno("getifaddrs failed", errno))?;
    let socket = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|errno| SysError::with_errno("failed to create socket", errno))?;
    let net_dev_text = std::fs::read(net_dev).ok();
    let mut interfaces: Vec<GuestNetworkInterface> = Vec::new();
    for ifa in addrs {
        let index = match interfaces.iter().position(|i| i.name == ifa.interface_name) {
            Some(index) => index,
            None => {
                interfaces.push(GuestNetworkInterface {
                    name: ifa.interface_name.clone(),
                    hardware_address: None,
                    ip_addresses: None,
                    statistics: None,
                });
                interfaces.len() - 1
            }
        };
        let info = &mut interfaces[index];
        if info.hardware_address.is_none() {
            info.hardware_address = hardware_address(socket.as_raw_fd(), &info.name);
        }
        let address = ifa.address.as_ref().and_then(|addr| {
            if let Some(v4) = addr.as_sockaddr_in() {
                let prefix = ifa
                    .netmask
                    .as_ref()
                    .and_then(|m| m.as_sockaddr_in())
                    .map_or(0, |m| m.ip().to_bits().count_ones());
                Some(GuestIpAddress {
                    ip_address: v4.ip().to_string(),
                    ip_address_type: GuestIpAddressType::Ipv4,
                    prefix: i64::from(prefix),
                })
            } else if let Some(v6) = addr.as_sockaddr_in6() {
                let prefix = ifa
                    .netmask
                    .as_ref()
                    .and_then(|m| m.as_sockaddr_in6())
                    .map_or(0, |m| m.ip().to_bits().count_ones());
                Some(GuestIpAddress {
                    ip_address: ipv6_text(&v6.ip()),
                    ip_address_type: GuestIpAddressType::Ipv6,
                    prefix: i64::from(prefix),
                })
            } else {
                None
            }
        });
        let Some(address) = address else {
            continue;
        };
        info.ip_addresses.get_or_insert_with(Vec::new).push(address);
        if info.statistics.is_none() {
            info.statistics = net_dev_text
                .as_deref()
                .and_then(|text| interface_stats(text, &info.name));
        }
    }
    Ok(interfaces)
}

nix::ioctl_read_bad!(siocgifhwaddr, libc::SIOCGIFHWADDR, libc::ifreq);

/// The first six bytes of the interface's hardware address, formatted like qemu-ga.
fn hardware_address(socket: i32, name: &str) -> Option<String> {
    // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    let name = name.as_bytes();
    if name.len() >= request.ifr_name.len() {
        return None;
    }
    for (dst, src) in request.ifr_name.iter_mut().zip(name) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `socket` is an open socket and `request` a valid, NUL-terminated `ifreq` the
    // kernel fills in.
    unsafe { siocgifhwaddr(socket, &mut request) }.ok()?;
    // SAFETY: after a successful SIOCGIFHWADDR the union holds `ifru_hwaddr`.
    let data = unsafe { request.ifr_ifru.ifru_hwaddr.sa_data };
    let bytes: Vec<String> = data[..6]
        .iter()
        .map(|b| format!("{:02x}", *b as u8))
        .collect();
    Some(bytes.join(":"))
}

/// The statistics of `name` in `/proc/net/dev` content (`name:` then 16 counters).
pub fn interface_stats(text: &[u8], name: &str) -> Option<GuestNetworkInterfaceStat> {
    let text = String::from_utf8_lossy(text);
    for line in text.lines() {
        let Some((iface, counters)) = line.trim_start().split_once(':') else {
            continue;
        };
        if iface != name {
            continue;
        }
        let values: Vec<u64> = counters
            .split_whitespace()
            .map_while(|v| v.parse().ok())
            .collect();
        if values.len() < 16 {
            continue;
        }
        return Some(GuestNetworkInterfaceStat {
            rx_bytes: values[0],
            rx_packets: values[1],
            rx_errs: values[2],
            rx_dropped: values[3],
            tx_bytes: values[8],
            tx_packets: values[9],
            tx_errs: values[10],
            tx_dropped: values[11],
        });
    }
    None
}

/// An IPv6 address as glibc's `inet_ntop` writes it: lower-case hex, the longest run (first
/// of equals) of two or more zero groups as `::`, and IPv4-compatible (`::a.b.c.d`) and
/// IPv4-mapped (`::ffff:a.b.c.d`) addresses in dotted form.
pub fn ipv6_text(addr: &Ipv6Addr) -> String {
    let words = addr.segments();
    let (mut best_base, mut best_len) = (None, 0);
    let mut i = 0;
    while i < 8 {
        if words[i] == 0 {
            let start = i;
            while i < 8 && words[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                (best_base, best_len) = (Some(start), i - start);
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best_base = None;
    }
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some(base) = best_base {
            if i >= base && i < base + best_len {
                if i == base {
                    out.push(':');
                }
                i += 1;
                continue;
            }
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6
            && best_base == Some(0)
            && (best_len == 6 || (best_len == 5 && words[5] == 0xffff))
        {
            let o = addr.octets();
            out.push_str(&Ipv4Addr::new(o[12], o[13], o[14], o[15]).to_string());
            return out;
        }
        out.push_str(&format!("{:x}", words[i]));
        i += 1;
    }
    if best_base.is_some_and(|base| base + best_len == 8) {
        out.push(':');
    }
    out
}

/// `guest-network-get-route` from `/proc/net/route` and `/proc/net/ipv6_route`.
pub fn network_routes() -> Result<Vec<GuestNetworkRoute>, SysError> {
    network_routes_from(
        Path::new("/proc/net/route"),
        Path::new("/proc/net/ipv6_route"),
    )
}

/// `guest-network-get-route`: IPv4 routes then IPv6 routes, in file order. Either file
/// missing fails the command: `open("<path>"): <strerror>` (the first failure is reported;
/// qemu-ga aborts when both fail).
pub fn network_routes_from(
    route: &Path,
    ipv6_route: &Path,
) -> Result<Vec<GuestNetworkRoute>, SysError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|err| {
            SysError::new(format!(
                "open(\"{}\"): {}",
                path.display(),
                strerror(super::error::errno_of(&err))
            ))
        })
    };
    let v4 = read(route)?;
    let v6 = read(ipv6_route)?;
    let mut routes = parse_ipv4_routes(&String::from_utf8_lossy(&v4));
    routes.extend(parse_ipv6_routes(&String::from_utf8_lossy(&v6)));
    Ok(routes)
}

/// Parses `/proc/net/route` (first line is a header; lines that do not parse are skipped).
pub fn parse_ipv4_routes(text: &str) -> Vec<GuestNetworkRoute> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 11 {
                return None;
            }
            let hex = |s: &str| u32::from_str_radix(s, 16).ok();
            let int = |s: &str| s.parse::<i32>().ok().map(i64::from);
            let addr = |v: u32| Ipv4Addr::from(v.swap_bytes()).to_string();
            Some(GuestNetworkRoute {
                iface: f[0].to_owned(),
                destination: addr(hex(f[1])?),
                gateway: Some(addr(hex(f[2])?)),
                flags: Some(u64::from(hex(f[3])?)),
                refcnt: Some(int(f[4])?),
                r#use: Some(int(f[5])?),
                metric: int(f[6])?,
                mask: Some(addr(hex(f[7])?)),
                mtu: Some(int(f[8])?),
                window: Some(int(f[9])?),
                irtt: Some(int(f[10])?),
                version: 4,
                desprefixlen: None,
                source: None,
                srcprefixlen: None,
                nexthop: None,
            })
        })
        .collect()
}

/// Parses `/proc/net/ipv6_route` (no header). `metric` is the 32-bit field read as signed
/// (`ffffffff` is -1) like qemu-ga; `flags` is reported as the unsigned 32-bit value (qemu-ga
/// sign-extends it, so e.g. `RTF_LOCAL` routes show 18446744071564165121).
pub fn parse_ipv6_routes(text: &str) -> Vec<GuestNetworkRoute> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let hex = |s: &str| u32::from_str_radix(s, 16).ok();
            Some(GuestNetworkRoute {
                destination: ipv6_text(&hex_ipv6(f[0])?),
                desprefixlen: Some(hex(f[1])?.to_string()),
                source: Some(ipv6_text(&hex_ipv6(f[2])?)),
                srcprefixlen: Some(hex(f[3])?.to_string()),
                nexthop: Some(ipv6_text(&hex_ipv6(f[4])?)),
                metric: i64::from(hex(f[5])? as i32),
                refcnt: Some(i64::from(hex(f[6])? as i32)),
                r#use: Some(i64::from(hex(f[7])? as i32)),
                flags: Some(u64::from(hex(f[8])?)),
                iface: f[9].to_owned(),
                version: 6,
                gateway: None,
                mask: None,
                irtt: None,
                window: None,
                mtu: None,
            })
        })
        .collect()
}

fn hex_ipv6(text: &str) -> Option<Ipv6Addr> {
    if text.len() != 32 {
        return None;
    }
    u128::from_str_radix(text, 16).ok().map(Ipv6Addr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    extern "C" {
        /// glibc's inet_ntop(3), the reference for `ipv6_text` (not declared by `libc`).
        fn inet_ntop(
            af: libc::c_int,
            src: *const libc::c_void,
            dst: *mut libc::c_char,
            size: libc::socklen_t,
        ) -> *const libc::c_char;
    }

    fn libc_ntop(addr: &Ipv6Addr) -> String {
        let octets = addr.octets();
        let mut buf = [0 as libc::c_char; 64];
        // SAFETY: `octets` is a valid in6_addr-sized buffer and `buf` has room for any
        // IPv6 text (INET6_ADDRSTRLEN is 46).
        let text = unsafe {
            inet_ntop(
                libc::AF_INET6,
                octets.as_ptr().cast(),
                buf.as_mut_ptr(),
                buf.len() as libc::socklen_t,
            )
        };
        assert!(!text.is_null());
        // SAFETY: inet_ntop wrote a NUL-terminated string into `buf`.
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn ipv6_text_matches_glibc_inet_ntop() {
        let samples = [
            "::",
            "::1",
            "::2",
            "fe80::fc:ff:fe00:1",
            "fd00::2",
            "ff00::",
            "1::",
            "1:0:0:2::3",
            "1:0:2:0:0:3:0:0",
            "1:2:3:4:5:6:7:8",
            "1:0:3:4:5:6:7:8",
            "::ffff:1.2.3.4",
            "::1.2.3.4",
            "::ffff:0:1.2.3.4",
            "0:0:1::",
            "1::ffff:1.2.3.4",
            "2001:db8::ff00:42:8329",
            "::ffff:0.0.0.0",
            "::0.0.1.0",
            "ffff::",
        ];
        for sample in samples {
            let addr: Ipv6Addr = sample.parse().unwrap();
            assert_eq!(ipv6_text(&addr), libc_ntop(&addr), "{sample}");
        }
        // A walk over many zero patterns.
        for mask in 0u32..256 {
            let mut segments = [0u16; 8];
            for (i, s) in segments.iter_mut().enumerate() {
                if mask & (1 << i) != 0 {
                    *s = 0x1234 + i as u16;
                }
            }
            let addr = Ipv6Addr::from(segments);
            assert_eq!(ipv6_text(&addr), libc_ntop(&addr), "{addr:?}");
        }
    }

    const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0: 294670353    8343    1    2    0     0          0         0   405725    4937    3    4    0     0       0          0
  bad0: 1 2 3
";

    #[test]
    fn net_dev_statistics() {
        let eth0 = interface_stats(NET_DEV.as_bytes(), "eth0").unwrap();
        assert_eq!(
            eth0,
            GuestNetworkInterfaceStat {
                rx_bytes: 294_670_353,
                rx_packets: 8343,
                rx_errs: 1,
                rx_dropped: 2,
                tx_bytes: 405_725,
                tx_packets: 4937,
                tx_errs: 3,
                tx_dropped: 4,
            }
        );
        assert!(interface_stats(NET_DEV.as_bytes(), "eth").is_none());
        assert!(interface_stats(NET_DEV.as_bytes(), "bad0").is_none());
    }

    #[test]
    fn loopback_is_listed_with_addresses_mac_and_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let net_dev = dir.path().join("dev");
        std::fs::write(&net_dev, NET_DEV).unwrap();
        let interfaces = network_interfaces_with(&net_dev).unwrap();
        let lo = interfaces.iter().find(|i| i.name == "lo").unwrap();
        assert_eq!(lo.hardware_address.as_deref(), Some("00:00:00:00:00:00"));
        let addresses = lo.ip_addresses.as_ref().unwrap();
        assert!(addresses.contains(&GuestIpAddress {
            ip_address: "127.0.0.1".into(),
            ip_address_type: GuestIpAddressType::Ipv4,
            prefix: 8,
        }));
        assert_eq!(lo.statistics.as_ref().unwrap().rx_bytes, 3193);
        // Names are unique and every interface with addresses got statistics from the file
        // only if it is listed there.
        for (i, iface) in interfaces.iter().enumerate() {
            assert!(interfaces[i + 1..]
                .iter()
                .all(|other| other.name != iface.name));
            if iface.name != "lo" && iface.name != "eth0" {
                assert!(iface.statistics.is_none());
            }
        }
        let missing = network_interfaces_with(&dir.path().join("none")).unwrap();
        assert!(missing.iter().all(|i| i.statistics.is_none()));
    }

    const ROUTE: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t1\t2\t0\t00FFFFFF\t1500\t3\t4
short\t00000000
";

    const IPV6_ROUTE: &str = "\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
";

    #[test]
    fn routes_are_parsed_like_qemu_ga() {
        let dir = tempfile::tempdir().unwrap();
        let (v4, v6) = (dir.path().join("route"), dir.path().join("ipv6_route"));
        std::fs::write(&v4, ROUTE).unwrap();
        std::fs::write(&v6, IPV6_ROUTE).unwrap();
        let routes = network_routes_from(&v4, &v6).unwrap();
        assert_eq!(routes.len(), 6);
        assert_eq!(
            routes[0],
            GuestNetworkRoute {
                iface: "eth0".into(),
                destination: "0.0.0.0".into(),
                gateway: Some("192.0.2.1".into()),
                mask: Some("0.0.0.0".into()),
                metric: 100,
                flags: Some(3),
                refcnt: Some(0),
                r#use: Some(0),
                mtu: Some(0),
                window: Some(0),
                irtt: Some(0),
                version: 4,
                desprefixlen: None,
                source: None,
                srcprefixlen: None,
                nexthop: None,
            }
        );
        assert_eq!(routes[1].mask.as_deref(), Some("255.255.255.0"));
        assert_eq!(routes[1].destination, "192.0.2.0");
        assert_eq!(
            (routes[1].mtu, routes[1].window, routes[1].irtt),
            (Some(1500), Some(3), Some(4))
        );
        assert_eq!(
            routes[2],
            GuestNetworkRoute {
                iface: "eth0".into(),
                destination: "fd00::".into(),
                desprefixlen: Some("64".into()),
                source: Some("::".into()),
                srcprefixlen: Some("0".into()),
                nexthop: Some("::".into()),
                metric: 256,
                refcnt: Some(1),
                r#use: Some(0),
                flags: Some(1),
                version: 6,
                gateway: None,
                mask: None,
                irtt: None,
                window: None,
                mtu: None,
            }
        );
        assert_eq!(routes[3].nexthop.as_deref(), Some("fd00::1"));
        assert_eq!(routes[4].flags, Some(0x8020_0001));
        assert_eq!(routes[4].desprefixlen.as_deref(), Some("128"));
        assert_eq!(routes[5].metric, -1);

        let missing = dir.path().join("missing");
        assert_eq!(
            network_routes_from(&missing, &v6).unwrap_err().to_string(),
            format!("open(\"{}\"): No such file or directory", missing.display())
        );
        assert!(network_routes_from(&v4, &missing).is_err());
    }

    #[test]
    fn real_routes_parse() {
        if Path::new("/proc/net/route").exists() && Path::new("/proc/net/ipv6_route").exists() {
            let routes = network_routes().unwrap();
            assert!(routes.iter().all(|r| r.version == 4 || r.version == 6));
        }
    }
}
