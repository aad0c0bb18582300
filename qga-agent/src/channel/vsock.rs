//! vsock-listen: a listening `AF_VSOCK` stream socket at `<cid>:<port>`.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, VsockAddr};

use crate::sys::strerror;

/// Parses `<cid>:<port>` (decimal digits only, each fitting 32 bits).
pub fn parse_address(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("error parsing address '{text}'");
    let (cid, port) = text.split_once(':').ok_or_else(bad)?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(cid) || !digits(port) {
        return Err(bad());
    }
    let cid = cid
        .parse()
        .map_err(|_| format!("Failed to parse cid '{cid}'"))?;
    let port = port
        .parse()
        .map_err(|_| format!("Failed to parse port '{port}'"))?;
    Ok((cid, port))
}

/// Creates the listening socket (backlog 1: one client at a time).
pub fn listen(address: &str) -> Result<OwnedFd, String> {
    let (cid, port) = parse_address(address)?;
    let fd = socket::socket(
        AddressFamily::Vsock,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|errno| format!("Failed to create socket: {}", strerror(errno)))?;
    socket::bind(fd.as_raw_fd(), &VsockAddr::new(cid, port))
        .map_err(|errno| format!("Failed to bind socket: {}", strerror(errno)))?;
    socket::listen(&fd, Backlog::new(1).unwrap_or(Backlog::MAXCONN))
        .map_err(|errno| format!("Failed to listen on socket: {}", strerror(errno)))?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_address("4294967295:1234"), Ok((u32::MAX, 1234)));
        assert_eq!(
            parse_address("abc"),
            Err("error parsing address 'abc'".into())
        );
        assert_eq!(
            parse_address("1:-2"),
            Err("error parsing address '1:-2'".into())
        );
        assert_eq!(
            parse_address("4294967296:1"),
            Err("Failed to parse cid '4294967296'".into())
        );
    }
}
