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

    /// Writes `data` whole, and never reads from the socket (over TLS the records are written
    /// as they are sealed, without driving the session by reads as `Write` does), so that
    /// another thread may read the socket's raw bytes meanwhile and hand them to
    /// [`Stream::decrypt`].
    pub fn write_only(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(data),
            Stream::Client(s) => seal(&mut s.conn, &mut s.sock, data),
            Stream::Server(s) => seal(&mut s.conn, &mut s.sock, data),
        }
    }

    /// Takes bytes that someone else read from the socket, and appends what they carry to
    /// `out`: over TLS their plaintext, so far as whole records have come (the rest is kept
    /// for the next bytes); over plain TCP the bytes themselves. True once the peer has ended
    /// the TLS session (close_notify). A TLS error is an `InvalidData` error (its alert is sent
    /// to the peer, best effort).
    pub fn decrypt(&mut self, received: &[u8], out: &mut Vec<u8>) -> io::Result<bool> {
        match self {
            Stream::Plain(_) => {
                out.extend_from_slice(received);
                Ok(false)
            }
            Stream::Client(s) => open(&mut s.conn, &mut s.sock, received, out),
            Stream::Server(s) => open(&mut s.conn, &mut s.sock, received, out),
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

/// Seals `data` into TLS records and writes them, without reading (see
/// [`Stream::write_only`]).
fn seal<D>(
    conn: &mut rustls::ConnectionCommon<D>,
    sock: &mut TcpStream,
    mut data: &[u8],
) -> io::Result<()> {
    while !data.is_empty() {
        let n = conn.writer().write(data)?;
        data = &data[n..];
        if n == 0 && !conn.wants_write() {
            return Err(io::ErrorKind::WriteZero.into());
        }
        send_records(conn, sock)?;
    }
    Ok(())
}

/// Writes the TLS records the session has ready.
fn send_records<D>(conn: &mut rustls::ConnectionCommon<D>, sock: &mut TcpStream) -> io::Result<()> {
    while conn.wants_write() {
        if conn.write_tls(sock)? == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
    }
    Ok(())
}

/// Feeds received TLS records to the session and takes out their plaintext (see
/// [`Stream::decrypt`]).
fn open<D>(
    conn: &mut rustls::ConnectionCommon<D>,
    sock: &mut TcpStream,
    mut received: &[u8],
    out: &mut Vec<u8>,
) -> io::Result<bool> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        // Never with nothing: an empty read is taken for the end of the stream.
        if !received.is_empty() {
            conn.read_tls(&mut received)?;
        }
        if let Err(e) = conn.process_new_packets() {
            let _ = send_records(conn, sock);
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        loop {
            match conn.reader().read(&mut buf) {
                Ok(0) => return Ok(true),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        // What the session answers by itself (a key update, say) goes out now.
        send_records(conn, sock)?;
        if received.is_empty() {
            return Ok(false);
        }
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

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::path::PathBuf;
    use std::thread;

    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    #[test]
    fn a_session_written_on_one_thread_is_read_on_another() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = server_config(&fixture("server.pem"), &fixture("server.key"), None).unwrap();
        // The server echoes what it reads, in a reply of its own each time, until the end.
        let echo = thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let mut s = Stream::server(tcp, server).unwrap();
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => s.write_all(&buf[..n]).and_then(|()| s.flush()).unwrap(),
                }
            }
        });
        let client = client_config(Some(&fixture("ca.pem")), None).unwrap();
        let tcp = TcpStream::connect(addr).unwrap();
        let name = server_name("localhost").unwrap();
        let mut s = Stream::client(tcp, client, name).unwrap();
        s.handshake().unwrap();
        s.tcp().set_read_timeout(None).unwrap();
        // Another thread reads the raw socket: the records it gets are decrypted here.
        let mut raw = s.tcp().try_clone().unwrap();
        let reader = thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = raw.read(&mut buf) {
                got.push(buf[..n].to_vec());
            }
            got
        });
        let message = vec![b'x'; 100_000];
        s.write_only(&message).unwrap();
        s.write_only(b"end").unwrap();
        // The server sees the end after the last bytes, and closes: the reader ends.
        s.shutdown(Shutdown::Write);
        echo.join().unwrap();
        let mut plain = Vec::new();
        for bytes in reader.join().unwrap() {
            s.decrypt(&bytes, &mut plain).unwrap();
        }
        assert_eq!(plain.len(), message.len() + 3);
        assert!(plain.starts_with(&message) && plain.ends_with(b"end"));
    }
}
