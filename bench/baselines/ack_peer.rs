//! A minimal MLLP receiver that answers AA to every valid message, for measuring `hl7 send`
//! without `hl7 listen` in the way: one thread per connection, frames decoded with
//! `hl7::wire::mllp::Decoder`, answered by `hl7::ack::respond` in original mode (nothing is
//! stored), all ACKs for one read written at once. Frames that are not HL7 get a NAK and
//! invalid messages AE, as from `hl7 listen`.
//!
//! `cargo run --release --example ack_peer -- PORT` (0 picks a free port); prints
//! `listening on ADDR` on stderr, and a line per closed connection with its message count.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use hl7::ack::{self, Fate, Mode, Options};
use hl7::wire::mllp::{self, Decoder, Event};

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: ack_peer PORT");
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
    eprintln!("listening on {}", listener.local_addr().expect("address"));
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                std::thread::spawn(move || serve(s));
            }
            Err(e) => eprintln!("ack_peer: accept: {e}"),
        }
    }
}

fn serve(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let peer = s
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    let mut decoder = Decoder::new(16 << 20);
    let mut buf = vec![0u8; 256 * 1024];
    let mut out = Vec::with_capacity(64 * 1024);
    let mut id = String::new();
    let mut n = 0u64;
    loop {
        let got = match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => k,
        };
        decoder.feed(&buf[..got]);
        out.clear();
        while let Some(ev) = decoder.next_event() {
            if let Event::Frame { payload, .. } = ev {
                n += 1;
                id.clear();
                id.push_str("ACK");
                id.push_str(&n.to_string());
                let opts = Options {
                    now: "20260101000000",
                    control_id: &id,
                    app: None,
                    facility: None,
                    mode: Mode::Original,
                    code: None,
                    text: None,
                };
                let reply = ack::respond(payload, &opts, |_, _| Fate::ACCEPTED).reply;
                if let Some(r) = reply {
                    mllp::encode(&r, &mut out);
                }
            }
        }
        if !out.is_empty() && s.write_all(&out).is_err() {
            break;
        }
    }
    eprintln!("ack_peer: {peer}: {n} messages");
}
