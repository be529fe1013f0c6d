//! The address forms `listen` and `send` accept, in one place: `PORT`, `:PORT`, `HOST:PORT`
//! and `[IPv6]:PORT`. A bare port means every interface (`0.0.0.0`) to a listener and
//! `localhost` to a client.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

/// Why an address cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddrError {
    /// Not an address at all: a usage error, found before any I/O.
    Syntax(String),
    /// Well formed, but the name does not resolve (or resolves to nothing).
    Resolve(String),
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrError::Syntax(m) | AddrError::Resolve(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for AddrError {}

/// `HOST:PORT` for an address as written, with `default_host` put in front of a bare port.
fn with_host(s: &str, default_host: &str) -> String {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        format!("{default_host}:{t}")
    } else if let Some(port) = t.strip_prefix(':') {
        format!("{default_host}:{port}")
    } else {
        t.to_string()
    }
}

/// The addresses to listen on for `PORT`, `:PORT` (every interface), `HOST:PORT` or
/// `[IPv6]:PORT`.
pub fn listen_addrs(s: &str) -> Result<Vec<SocketAddr>, AddrError> {
    let spec = with_host(s, "0.0.0.0");
    let addrs: Vec<SocketAddr> = spec
        .to_socket_addrs()
        .map_err(|e| {
            AddrError::Syntax(format!(
                "'{s}' is not an address to listen on (PORT, :PORT, HOST:PORT, [IPv6]:PORT): {e}"
            ))
        })?
        .collect();
    if addrs.is_empty() {
        return Err(AddrError::Resolve(format!("'{s}' resolves to no address")));
    }
    Ok(addrs)
}

/// The name (`HOST:PORT`, with `localhost` for a bare port) and the addresses to connect to.
pub fn connect_addrs(s: &str) -> Result<(String, Vec<SocketAddr>), AddrError> {
    let full = with_host(s, "localhost");
    let port_ok = full
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !port_ok {
        return Err(AddrError::Syntax(format!(
            "'{s}' is not an address: use HOST:PORT, [IPv6]:PORT or PORT"
        )));
    }
    let addrs: Vec<SocketAddr> = full
        .to_socket_addrs()
        .map_err(|e| AddrError::Resolve(format!("cannot resolve {full}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(AddrError::Resolve(format!("{full} resolves to no address")));
    }
    Ok((full, addrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_is_every_interface_to_a_listener_and_localhost_to_a_client() {
        assert_eq!(
            listen_addrs("2575").unwrap(),
            vec!["0.0.0.0:2575".parse().unwrap()]
        );
        assert_eq!(
            listen_addrs(":2575").unwrap(),
            vec!["0.0.0.0:2575".parse().unwrap()]
        );
        let (name, addrs) = connect_addrs(":2575").unwrap();
        assert_eq!(name, "localhost:2575");
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 2575)
        );
        assert_eq!(connect_addrs("127.0.0.1:9").unwrap().0, "127.0.0.1:9");
        assert_eq!(
            listen_addrs("[::1]:7").unwrap(),
            vec!["[::1]:7".parse().unwrap()]
        );
    }

    #[test]
    fn what_is_not_an_address_is_a_syntax_error() {
        for bad in ["", "host", "host:", ":", "host:99999", "http://x:1/"] {
            assert!(
                matches!(connect_addrs(bad), Err(AddrError::Syntax(_))),
                "{bad}"
            );
        }
        assert!(matches!(listen_addrs("nope"), Err(AddrError::Syntax(_))));
        assert!(matches!(
            listen_addrs("1.2.3.4:x"),
            Err(AddrError::Syntax(_))
        ));
    }
}
