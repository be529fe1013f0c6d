//! Socket chores of a connection slot: writing a frame whole whatever mode the socket was left
//! in, seeing whether the peer closed, (without waiting for replies) reading and dropping
//! what the peer sends so that its unread ACKs cannot stall it, and (with a window) the pump
//! that reads whatever the peer sends while the connection's own thread writes.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::wire::tls::Stream;

/// The reader thread of a connection that does not wait for replies.
pub(super) struct Drainer {
    /// Set by the thread when the peer closed.
    dead: Arc<AtomicBool>,
    /// Set by us when we are closing.
    closing: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl Drainer {
    /// Starts reading and dropping what the peer sends on `reader` (a clone of the socket).
    pub(super) fn spawn(reader: TcpStream, timeout: Duration) -> io::Result<Drainer> {
        reader.set_read_timeout(Some(timeout))?;
        let dead = Arc::new(AtomicBool::new(false));
        let closing = Arc::new(AtomicBool::new(false));
        let (d, c) = (dead.clone(), closing.clone());
        let handle = thread::spawn(move || drain(reader, &d, &c));
        Ok(Drainer {
            dead,
            closing,
            handle,
        })
    }

    /// The peer closed its side.
    pub(super) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Relaxed)
    }

    pub(super) fn join(self) {
        self.closing.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
    }
}

/// Reads and drops whatever the peer sends until it closes (or, once we are closing, until it
/// has been silent for a whole read timeout).
fn drain(mut s: TcpStream, dead: &AtomicBool, closing: &AtomicBool) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if closing.load(Ordering::Relaxed) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    dead.store(true, Ordering::Relaxed);
}

/// What the pump of a connection heard.
pub(super) enum Heard {
    /// Bytes as read from the socket (TLS records, over TLS), and when they came.
    Bytes(Vec<u8>, Instant),
    /// The peer closed the connection (`None`), or it failed; the pump has ended.
    End(Option<io::Error>),
}

/// The reader thread of a connection with a window ([`super::windowed`]): it reads whatever
/// the peer sends, as it comes, and hands it on with the time it came, so that the peer's
/// ACKs never wait for the connection's thread, whatever that thread is doing (a write that
/// blocks, a result handed over). It ends when the connection ends (`shutdown` wakes it) or
/// when nobody takes what it hears any more.
pub(super) struct Pump(JoinHandle<()>);

impl Pump {
    /// Starts reading `reader` (a clone of the connection's socket, in blocking mode with no
    /// read timeout); `tell` takes what is heard, and returns false when nobody listens.
    pub(super) fn spawn(reader: TcpStream, tell: impl Fn(Heard) -> bool + Send + 'static) -> Pump {
        Pump(thread::spawn(move || pump(reader, &tell)))
    }

    /// Waits for the thread, once the connection is shut down.
    pub(super) fn join(self) {
        let _ = self.0.join();
    }
}

fn pump(mut s: TcpStream, tell: &dyn Fn(Heard) -> bool) {
    let mut buf = vec![0; 64 * 1024];
    loop {
        let heard = match s.read(&mut buf) {
            Ok(0) => Heard::End(None),
            Ok(n) => Heard::Bytes(buf[..n].to_vec(), Instant::now()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Heard::End(Some(e)),
        };
        let end = matches!(heard, Heard::End(_));
        if !tell(heard) || end {
            return;
        }
    }
}

/// Over TLS, without waiting for replies: reads and drops what the peer sent so far, without
/// waiting, so that its ACKs cannot fill the buffers and stall it (one TLS session cannot be
/// read and written from two threads). Notes when the peer has closed.
pub(super) fn drain_now(s: &mut Stream, nonblocking: &mut bool, dead: &mut bool) {
    if !*nonblocking {
        if s.tcp().set_nonblocking(true).is_err() {
            return;
        }
        *nonblocking = true;
    }
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => {
                *dead = true;
                return;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => {
                *dead = true;
                return;
            }
        }
    }
}

/// Writes a frame whole. The socket may have been left non-blocking by the spin of the last
/// reply: if the send buffer is full, it goes back to blocking for the rest.
pub(super) fn write_frame(s: &mut Stream, frame: &[u8], nonblocking: &mut bool) -> io::Result<()> {
    if s.is_tls() {
        // rustls buffers what a non-blocking socket refuses and reports success: write TLS
        // records on a blocking socket, so that the frame is on its way when this returns.
        if *nonblocking {
            s.tcp().set_nonblocking(false)?;
            *nonblocking = false;
        }
        s.write_all(frame)?;
        return s.flush();
    }
    let mut rest = frame;
    while !rest.is_empty() {
        match s.write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                s.tcp().set_nonblocking(false)?;
                *nonblocking = false;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// True unless the peer has closed the connection (it is readable with end of input).
pub(super) fn peer_open(s: &TcpStream, nonblocking: bool) -> bool {
    let mut probe = [0u8; 1];
    if !nonblocking && s.set_nonblocking(true).is_err() {
        return false;
    }
    let r = s.peek(&mut probe);
    if !nonblocking {
        let _ = s.set_nonblocking(false);
    }
    match r {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
    }
}
