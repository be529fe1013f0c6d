//! Control ids (MSH-10) that the toolkit writes itself: ACKs, simulated traffic, rendered
//! templates. One scheme for all: a bijective mix of a counter keyed by a per-run seed, so ids
//! never repeat within a run and look like a gateway's.

/// The splitmix64 finaliser: a bijection on u64, so distinct inputs give distinct outputs.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

/// Appends a 16-hex-digit control id unique for each (`seed`, `n`): a bijective mix of the
/// counter, keyed by the seed, looks like the ids a gateway writes (`48141146362990a1`).
pub fn push_control_id(out: &mut Vec<u8>, seed: u64, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let v = mix64(n ^ mix64(seed));
    for i in (0..16).rev() {
        out.push(HEX[((v >> (i * 4)) & 15) as usize]);
    }
}

/// A seed that differs from run to run and between processes started in the same instant:
/// the clock's nanoseconds and the process id, mixed.
pub fn run_seed() -> u64 {
    mix64(crate::time::unix_nanos_now() as u64 ^ ((std::process::id() as u64) << 32))
}
