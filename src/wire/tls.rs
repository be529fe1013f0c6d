//! MLLP over TLS: rustls configurations from PEM files, and one stream type for plain and TLS
//! connections, so that the MLLP code reads and writes the same way over both.
//!
//! The crypto provider is ring. Protocol versions are rustls' safe defaults (TLS 1.2 and 1.3).
//! A client trusts the system's certificate store unless given CA certificates of its own;
//! a server asks for client certificates only when given the CAs that sign them (mutual TLS),
//! and then refuses clients without one.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

pub use rustls::pki_types::ServerName;
pub use rustls::{ClientConfig as Client, ServerConfig as Server};

/// Why a TLS configuration could not be made: names the file and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate of a PEM file; at least one.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let what = path.display();
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| ConfigError(format!("{what}: {}", pem_error(e))))?;
    let certs = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError(format!("{what}: {}", pem_error(e))))?;
    if certs.is_empty() {
        return Err(ConfigError(format!(
            "{what}: no certificate in it (expected PEM, -----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(certs)
}

/// Reads the private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        ConfigError(format!(
            "{}: {} (expected a PEM private key)",
            path.display(),
            pem_error(e)
        ))
    })
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::Io(e) => e.to_string(),
        E::NoItemsFound => "nothing of the expected kind in it".into(),
        E::MissingSectionEnd { .. } => "a PEM section has no END line".into(),
        E::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed".into(),
        E::Base64Decode(_) => "a PEM section is not valid base64".into(),
        other => format!("{other:?}"),
    }
}

fn roots(path: &Path) -> Result<RootCertStore, ConfigError> {
    let mut store = RootCertStore::empty();
    for cert in load_certs(path)? {
        store
            .add(cert)
            .map_err(|e| ConfigError(format!("{}: not a usable CA: {e}", path.display())))?;
    }
    Ok(store)
}

/// A server configuration: its certificate chain and key, and, for mutual TLS, the CAs whose
/// client certificates it accepts (then a client without a valid certificate is refused).
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, ConfigError> {
    let chain = load_certs(cert)?;
    let key_der = load_key(key)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError(e.to_string()))?;
    let builder = match client_ca {
        Some(ca) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
                    .build()
                    .map_err(|e| ConfigError(format!("{}: {e}", ca.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(chain, key_der).map_err(|e| {
        ConfigError(format!(
            "{} and {}: the key does not go with the certificate, or is not usable: {e}",
            cert.display(),
            key.display()
        ))
    })?;
    Ok(Arc::new(config))
}

/// A client configuration: trusted CAs (the system's store when `ca` is `None`), and a
/// client certificate and key for mutual TLS.
pub fn client_config(
    ca: Option<&Path>,
    identity: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, ConfigError> {
    let store = match ca {
        Some(ca) => roots(ca)?,
        None => {
            let found = rustls_native_certs::load_native_certs();
            let mut store = RootCertStore::empty();
            let (added, _ignored) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(ConfigError(
                    "no trusted CA certificates found in the system store; give --ca FILE".into(),
                ));
            }
            store
        }
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError(e.to_string()))?
        .with_root_certificates(store);
    let config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|e| {
                ConfigError(format!(
                    "{} and {}: the key does not go with the certificate, or is not usable: {e}",
                    cert.display(),
                    key.display()
                ))
            })?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The name a client checks the server certificate against: a DNS name or an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, ConfigError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|_| ConfigError(format!("'{host}' is not a valid TLS server name")))
}

/// A connection: plain TCP, or TLS over TCP. Reads and writes go through TLS when there is
/// one; socket options (timeouts, non-blocking mode) are set on [`Stream::tcp`]. A read that
/// times out or would block leaves a TLS connection usable, so the same loops serve both.
pub enum Stream {
    Plain(TcpStream),
    Client(Box<rustls::StreamOwned<ClientConnection, TcpStream>>),
    Server(Box<rustls::StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    /// A TLS client connection over `tcp`; the handshake happens with the first read or write.
    pub fn client(
        tcp: TcpStream,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<Stream> {
        let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
        Ok(Stream::Client(Box::new(rustls::StreamOwned::new(
            conn, tcp,
        ))))
    }

    /// A TLS server connection over `tcp`; the handshake happens with the first read or write.
    pub fn server(tcp: TcpStream, config: Arc<ServerConfig>) -> io::Result<Stream> {
        let conn = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(Stream::Server(Box::new(rustls::StreamOwned::new(
            conn, tcp,
        ))))
    }

    /// The TCP socket under the connection.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Client(s) => &s.sock,
            Stream::Server(s) => &s.sock,
        }
    }

    /// Whether this connection is TLS.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Stream::Plain(_))
    }

    /// Whether the TLS handshake is still going on (always false for plain TCP).
    pub fn is_handshaking(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Client(s) => s.conn.is_handshaking(),
            Stream::Server(s) => s.conn.is_handshaking(),
        }
    }

    /// Runs the TLS handshake to its end (nothing for plain TCP).
    pub fn handshake(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            Stream::Client(s) => {
                while s.conn.is_handshaking() {
                    s.conn.complete_io(&mut s.sock)?;
                }
                Ok(())
            }
            Stream::Server(s) => {
                while s.conn.is_handshaking() {
                    s.conn.complete_io(&mut s.sock)?;
                }
                Ok(())
            }
        }
    }

    /// Ends the connection: a TLS close_notify (best effort), then a TCP shutdown.
    pub fn shutdown(&mut self, how: Shutdown) {
        match self {
            Stream::Plain(_) => {}
            Stream::Client(s) => {
                s.conn.send_close_notify();
                let _ = s.conn.complete_io(&mut s.sock);
            }
            Stream::Server(s) => {
                s.conn.send_close_notify();
                let _ = s.conn.complete_io(&mut s.sock);
            }
        }
        let _ = self.tcp().shutdown(how);
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Client(s) => s.read(buf),
            Stream::Server(s) => s.read(buf),
        };
        match r {
            // A peer that closes TCP without a TLS close_notify: end of input all the same
            // (MLLP frames carry their own ends, so nothing can be cut off unseen).
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && self.is_tls() => Ok(0),
            r => r,
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Client(s) => s.write(buf),
            Stream::Server(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Client(s) => s.flush(),
            Stream::Server(s) => s.flush(),
        }
    }
}
