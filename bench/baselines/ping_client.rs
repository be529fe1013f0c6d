//! The minimal MLLP client, to measure what the machine allows: N threads, one connection each,
//! each sending one framed message and reading until the reply's end block, M times, with no
//! parsing and no checks. `hl7 send` against the same peer shows what the real client costs.
//!
//! `cargo run --release --example ping_client -- ADDR CONNECTIONS MESSAGES FILE`: FILE's first
//! message (up to the second MSH) is the one sent. Prints messages per second on stdout.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: ping_client ADDR CONNECTIONS MESSAGES FILE");
        std::process::exit(2);
    }
    let addr = args[1].clone();
    let conns: usize = args[2].parse().expect("CONNECTIONS");
    let total: usize = args[3].parse().expect("MESSAGES");
    let data = std::fs::read(&args[4]).expect("FILE");
    let end = memchr::memmem::find(&data[3..], b"MSH|").map_or(data.len(), |i| i + 3);
    let msg = data[..end].strip_suffix(b"\n").unwrap_or(&data[..end]);
    let mut frame = vec![0x0b];
    frame.extend_from_slice(msg);
    frame.extend_from_slice(b"\x1c\r");
    let start = Instant::now();
    let threads: Vec<_> = (0..conns)
        .map(|k| {
            let (addr, frame) = (addr.clone(), frame.clone());
            let n = total / conns + usize::from(k < total % conns);
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).expect("connect");
                s.set_nodelay(true).expect("nodelay");
                let mut buf = vec![0u8; 64 * 1024];
                for _ in 0..n {
                    s.write_all(&frame).expect("write");
                    let mut have = 0;
                    loop {
                        let got = s.read(&mut buf[have..]).expect("read");
                        assert!(got > 0, "peer closed");
                        have += got;
                        if buf[..have].ends_with(b"\x1c\r") {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{:.0} msg/s ({total} messages, {conns} connections, {secs:.3} s)",
        total as f64 / secs
    );
}
