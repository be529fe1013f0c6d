//! The physical limit the parse benchmarks are compared with: a file read as `hl7` reads it
//! (a fixed 256 KiB buffer, read(2) after read(2)) and split into segments with memchr,
//! counting the `MSH` lines, with no parsing at all. The time includes reading the file.
//! `cargo run --release --example memchr_split FILE`

use std::io::Read;

fn main() {
    let path = std::env::args().nth(1).expect("usage: memchr_split FILE");
    let start = std::time::Instant::now();
    let mut file = std::fs::File::open(&path).expect("open");
    let mut buf = vec![0u8; 256 * 1024];
    let (mut messages, mut segments, mut bytes) = (0u64, 0u64, 0u64);
    // the start of the line the previous read ended in (at most 3 bytes are needed)
    let mut carry: Vec<u8> = Vec::with_capacity(4);
    let mut at_line_start = true;
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        bytes += n as u64;
        let data = &buf[..n];
        let mut line = 0;
        if !at_line_start && carry.len() < 3 {
            let take = (3 - carry.len()).min(n);
            carry.extend_from_slice(&data[..take]);
        }
        for end in memchr::memchr2_iter(b'\r', b'\n', data) {
            let head: &[u8] = if line == 0 && !at_line_start {
                &carry
            } else {
                &data[line..end]
            };
            if head.starts_with(b"MSH") {
                messages += 1;
            }
            segments += 1;
            line = end + 1;
        }
        at_line_start = line == n;
        if !at_line_start {
            carry.clear();
            carry.extend_from_slice(&data[line..n.min(line + 3)]);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{messages} messages, {segments} segments, {:.0} MB/s",
        bytes as f64 / 1e6 / secs
    );
}
