//! The physical limit the parse benchmarks are compared with: a plain memchr split of a file
//! into segments, counting the `MSH` lines, with no parsing at all.
//! The time includes reading the file. `cargo run --release --example memchr_split FILE`

use std::io::Read;

fn main() {
    let path = std::env::args().nth(1).expect("usage: memchr_split FILE");
    let mut data = Vec::new();
    std::fs::File::open(&path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .expect("read");
    let start = std::time::Instant::now();
    let mut messages = 0u64;
    let mut segments = 0u64;
    let mut line = 0;
    for end in memchr::memchr2_iter(b'\r', b'\n', &data) {
        if data[line..end].starts_with(b"MSH") {
            messages += 1;
        }
        segments += 1;
        line = end + 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{messages} messages, {segments} segments, {:.0} MB/s",
        data.len() as f64 / 1e6 / secs
    );
}
