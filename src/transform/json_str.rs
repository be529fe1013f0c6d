//! JSON string literals: the one writer of them that every JSON output here uses (messages,
//! envelopes, flattened rows, templates), so they all escape alike. A leaf, below `json` and
//! `envelope`, which both need it and one of which reads the other.

/// The bytes that must be escaped in a JSON string.
pub(super) const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Appends `s` as a JSON string literal.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    push_str_bytes(out, s.as_bytes())
}

/// Appends UTF-8 bytes (the caller guarantees validity) as a JSON string literal.
pub(super) fn push_str_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut rest = b;
    while let Some(p) = rest.iter().position(|&c| NEEDS_ESCAPE[c as usize]) {
        out.extend_from_slice(&rest[..p]);
        let c = rest[p];
        rest = &rest[p + 1..];
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
            }
        }
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}
