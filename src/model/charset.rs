//! Character sets for HL7 v2 MSH-18 (HL7 Table 0211).
//!
//! HL7 v2 is a byte protocol: the delimiters are ASCII, but everything
//! between them is in whatever character set MSH-18 names (or ASCII when it
//! is empty). Real feeds mostly send UTF-8 or one of the ISO-8859 parts, so
//! that is what this module supports, with no dependencies beyond `std`.
//! Multi-byte legacy sets (ISO IR87, BIG-5, GB 18030, KS X 1001, UTF-16) are
//! deliberately not supported: [`Charset::from_msh18`] returns `None` for
//! them and the caller decides whether to reject or fall back.
//!
//! Decoding never fails and never panics: bytes that have no meaning in the
//! charset become U+FFFD and the call reports that the result was lossy, so
//! a listener can still parse, log and ACK a slightly broken message.

use std::borrow::Cow;

/// A character set named by MSH-18 that this crate can decode and encode.
///
/// `Copy` and small so it can be threaded through parsers by value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Charset {
    /// `ASCII` / `ISO IR6`, also what an empty MSH-18 means. Handled exactly
    /// like [`Charset::Utf8`], because messages labelled ASCII that actually
    /// carry UTF-8 are common and UTF-8 is a superset of ASCII anyway.
    Ascii,
    /// `UNICODE UTF-8` (and the older bare `UNICODE`).
    Utf8,
    /// ISO-8859-`n`, for `n` in `1..=11 | 13..=16` (part 12 was never
    /// published). Other values can be constructed but are not a real
    /// charset: they decode only ASCII (everything else is U+FFFD), encode
    /// only ASCII, and have the placeholder labels `8859/?` / `ISO-8859-?`,
    /// so a bad value degrades instead of panicking.
    Iso8859(u8),
}

/// Sentinel in the generated tables for a byte that a part leaves undefined.
/// 0 is safe because no part maps any of 0xA0..=0xFF to U+0000.
const UNDEF: u16 = 0;

/// Exact (case-insensitive) MSH-18 spellings and what they mean.
/// `US-ASCII` is not an HL7 label, but it is what [`Charset::name`] returns,
/// so accepting it lets every `name()` parse back to the same charset.
const ALIASES: &[(&str, Charset)] = &[
    ("", Charset::Ascii),
    ("ASCII", Charset::Ascii),
    ("US-ASCII", Charset::Ascii),
    ("ISO IR6", Charset::Ascii),
    ("UNICODE", Charset::Utf8),
    ("UNICODE UTF-8", Charset::Utf8),
    ("UTF-8", Charset::Utf8),
    ("UTF8", Charset::Utf8),
    ("LATIN1", Charset::Iso8859(1)),
    ("ISO IR100", Charset::Iso8859(1)),
    ("ISO IR101", Charset::Iso8859(2)),
    ("ISO IR109", Charset::Iso8859(3)),
    ("ISO IR110", Charset::Iso8859(4)),
    ("ISO IR144", Charset::Iso8859(5)),
    ("ISO IR127", Charset::Iso8859(6)),
    ("ISO IR126", Charset::Iso8859(7)),
    ("ISO IR138", Charset::Iso8859(8)),
    ("ISO IR148", Charset::Iso8859(9)),
];

/// Prefixes followed by a part number: the HL7 form (`8859/1`) and the
/// IANA-ish forms people type instead (`ISO-8859-1`, `ISO8859-1`, `ISO_8859-1`).
const PART_PREFIXES: &[&str] = &["8859/", "ISO-8859-", "ISO8859-", "ISO_8859-"];

/// MSH-18 labels indexed by part number; index 0 and 12 are placeholders.
const MSH18_LABELS: [&str; 17] = [
    "8859/?", "8859/1", "8859/2", "8859/3", "8859/4", "8859/5", "8859/6", "8859/7", "8859/8",
    "8859/9", "8859/10", "8859/11", "8859/?", "8859/13", "8859/14", "8859/15", "8859/16",
];

/// IANA names indexed by part number; index 0 and 12 are placeholders.
const NAMES: [&str; 17] = [
    "ISO-8859-?",
    "ISO-8859-1",
    "ISO-8859-2",
    "ISO-8859-3",
    "ISO-8859-4",
    "ISO-8859-5",
    "ISO-8859-6",
    "ISO-8859-7",
    "ISO-8859-8",
    "ISO-8859-9",
    "ISO-8859-10",
    "ISO-8859-11",
    "ISO-8859-?",
    "ISO-8859-13",
    "ISO-8859-14",
    "ISO-8859-15",
    "ISO-8859-16",
];

/// Whether `part` is an ISO-8859 part we have a mapping for.
fn is_valid_part(part: u8) -> bool {
    matches!(part, 1..=11 | 13..=16)
}

/// Parse the part number after a prefix: one or two ASCII digits, no leading
/// zero, naming a valid part. Strict so that junk like `8859/1x` or
/// `8859/001` is reported as unknown rather than guessed at.
fn parse_part(digits: &[u8]) -> Option<u8> {
    let part = match *digits {
        [d @ b'1'..=b'9'] => d - b'0',
        [d1 @ b'1'..=b'9', d2 @ b'0'..=b'9'] => (d1 - b'0') * 10 + (d2 - b'0'),
        _ => return None,
    };
    is_valid_part(part).then_some(part)
}

/// `value` without `prefix`, comparing ASCII case-insensitively.
fn strip_prefix_ignore_case<'a>(value: &'a [u8], prefix: &str) -> Option<&'a [u8]> {
    let (head, tail) = value.split_at_checked(prefix.len())?;
    head.eq_ignore_ascii_case(prefix.as_bytes()).then_some(tail)
}

/// How the bytes 0x80..=0xFF of one charset map to characters. Resolved
/// once per call so the per-byte loops do not re-dispatch on the part.
#[derive(Clone, Copy)]
enum High {
    /// ISO-8859-1: byte == code point.
    Latin1,
    /// 0x80..=0x9F are C1 controls (identity); 0xA0..=0xFF use the table.
    Table(&'static [u16; 96]),
    /// Not a real part: nothing above 0x7F is defined.
    Invalid,
}

impl High {
    fn of(part: u8) -> High {
        if part == 1 {
            High::Latin1
        } else {
            high_table(part).map_or(High::Invalid, High::Table)
        }
    }

    /// The character for a non-ASCII byte, or `None` if it is undefined.
    fn decode(self, byte: u8) -> Option<char> {
        match self {
            High::Latin1 => Some(char::from(byte)),
            High::Table(_) if byte < 0xA0 => Some(char::from(byte)),
            High::Table(table) => {
                let cp = *table.get(usize::from(byte.wrapping_sub(0xA0)))?;
                if cp == UNDEF {
                    None
                } else {
                    char::from_u32(u32::from(cp))
                }
            }
            High::Invalid => None,
        }
    }

    /// The byte for a non-ASCII character, or `None` if the charset lacks it.
    /// A linear scan of 96 entries: cheap next to the cost of a message, and
    /// it needs no second (reverse) table to keep in sync.
    fn encode(self, c: char) -> Option<u8> {
        let cp = u32::from(c);
        match self {
            High::Latin1 => u8::try_from(cp).ok(),
            High::Table(_) if cp < 0xA0 => u8::try_from(cp).ok(),
            High::Table(table) => {
                let cp = u16::try_from(cp).ok()?;
                let index = table.iter().position(|&entry| entry == cp)?;
                u8::try_from(0xA0 + index).ok()
            }
            High::Invalid => None,
        }
    }
}

/// Append an all-ASCII byte run to `out` in one copy.
fn push_ascii(out: &mut String, run: &[u8]) {
    match std::str::from_utf8(run) {
        Ok(s) => out.push_str(s),
        // Unreachable for ASCII input; handled rather than unwrapped so that
        // no input can ever panic.
        Err(_) => out.extend(run.iter().map(|&b| char::from(b))),
    }
}

impl Charset {
    /// Parse an MSH-18 value (the first repetition, already split by the
    /// caller; surrounding spaces ignored, case-insensitive, because senders
    /// are inconsistent about both).
    ///
    /// * `""`, `ASCII`, `ISO IR6` (and `US-ASCII`) → [`Charset::Ascii`]
    /// * `UNICODE`, `UNICODE UTF-8`, `UTF-8`, `UTF8` → [`Charset::Utf8`]
    /// * `8859/1`..`8859/16` (also `ISO-8859-n`, `ISO8859-n`, `ISO_8859-n`),
    ///   `LATIN1`, and the ISO IR numbers `ISO IR100`=1, `ISO IR101`=2,
    ///   `ISO IR109`=3, `ISO IR110`=4, `ISO IR144`=5, `ISO IR127`=6,
    ///   `ISO IR126`=7, `ISO IR138`=8, `ISO IR148`=9 → [`Charset::Iso8859`]
    ///
    /// Anything else (`UNICODE UTF-16`, `ISO IR87`, `BIG-5`,
    /// `GB 18030-2000`, `KS X 1001`, typos) is `None`: guessing a charset
    /// silently corrupts names, so the caller must choose what to do.
    pub fn from_msh18(value: &[u8]) -> Option<Charset> {
        let value = value.trim_ascii();
        if let Some(&(_, charset)) = ALIASES
            .iter()
            .find(|(label, _)| value.eq_ignore_ascii_case(label.as_bytes()))
        {
            return Some(charset);
        }
        PART_PREFIXES
            .iter()
            .find_map(|prefix| strip_prefix_ignore_case(value, prefix))
            .and_then(parse_part)
            .map(Charset::Iso8859)
    }

    /// The canonical MSH-18 label (`ASCII`, `UNICODE UTF-8`, `8859/1`, …),
    /// i.e. what to write when building a message or an ACK, so that
    /// [`Charset::from_msh18`] of it gives `self` back.
    pub fn msh18_label(self) -> &'static str {
        match self {
            Charset::Ascii => "ASCII",
            Charset::Utf8 => "UNICODE UTF-8",
            Charset::Iso8859(part) => MSH18_LABELS
                .get(usize::from(part))
                .copied()
                .unwrap_or("8859/?"),
        }
    }

    /// The IANA/WHATWG-style name (`US-ASCII`, `UTF-8`, `ISO-8859-1`, …) for
    /// humans and JSON output, where the HL7 spelling would be obscure.
    pub fn name(self) -> &'static str {
        match self {
            Charset::Ascii => "US-ASCII",
            Charset::Utf8 => "UTF-8",
            Charset::Iso8859(part) => NAMES
                .get(usize::from(part))
                .copied()
                .unwrap_or("ISO-8859-?"),
        }
    }

    /// Decode bytes to text; the `bool` is `true` when the decoding was
    /// lossless.
    ///
    /// [`Charset::Ascii`] and [`Charset::Utf8`] both decode as UTF-8, since a
    /// message labelled ASCII that carries UTF-8 is common in the wild (the
    /// caller decides whether to warn). Invalid or unmapped bytes become
    /// U+FFFD and make the result lossy, so decoding never fails.
    ///
    /// Borrows instead of allocating when the input is valid UTF-8 and the
    /// charset is Ascii/Utf8, or when it is pure ASCII for any charset, which
    /// covers the vast majority of fields.
    pub fn decode(self, bytes: &[u8]) -> (Cow<'_, str>, bool) {
        let borrowed = match self {
            Charset::Ascii | Charset::Utf8 => std::str::from_utf8(bytes).ok(),
            // Check for bytes >= 0x80 first: the cheap test that decides
            // whether a single-byte charset needs any work at all.
            Charset::Iso8859(_) if bytes.is_ascii() => std::str::from_utf8(bytes).ok(),
            Charset::Iso8859(_) => None,
        };
        if let Some(text) = borrowed {
            return (Cow::Borrowed(text), true);
        }
        let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
        let lossless = self.decode_into(bytes, &mut out);
        (Cow::Owned(out), lossless)
    }

    /// Append the decoding of `bytes` to `out` (without clearing it) and
    /// return whether it was lossless; same rules as [`Charset::decode`].
    /// Exists for hot paths that reuse one buffer across many fields.
    pub fn decode_into(self, bytes: &[u8], out: &mut String) -> bool {
        let part = match self {
            Charset::Ascii | Charset::Utf8 => return decode_utf8_into(bytes, out),
            Charset::Iso8859(part) => part,
        };
        let high = High::of(part);
        let mut lossless = true;
        out.reserve(bytes.len());
        let mut rest = bytes;
        loop {
            let ascii_len = rest
                .iter()
                .position(|b| !b.is_ascii())
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at(ascii_len);
            push_ascii(out, run);
            let Some((&byte, after)) = tail.split_first() else {
                return lossless;
            };
            match high.decode(byte) {
                Some(c) => out.push(c),
                None => {
                    out.push(char::REPLACEMENT_CHARACTER);
                    lossless = false;
                }
            }
            rest = after;
        }
    }

    /// Encode text back to bytes in this charset, e.g. to send a message in
    /// the charset its MSH-18 announces.
    ///
    /// Ascii and Utf8 encode as UTF-8 (identity, always borrowed), mirroring
    /// [`Charset::decode`]. For ISO-8859-n, pure-ASCII text is borrowed, and
    /// `Err(c)` reports the first character `c` that has no byte in the
    /// charset, so the caller can say exactly what could not be sent.
    ///
    /// # Errors
    ///
    /// `Err(c)` with the first character of `text` that ISO-8859-n cannot
    /// represent; never for Ascii/Utf8.
    pub fn encode(self, text: &str) -> Result<Cow<'_, [u8]>, char> {
        if matches!(self, Charset::Ascii | Charset::Utf8) || text.is_ascii() {
            return Ok(Cow::Borrowed(text.as_bytes()));
        }
        let mut out = Vec::with_capacity(text.len());
        self.encode_into(text, &mut out)?;
        Ok(Cow::Owned(out))
    }

    /// Append the encoding of `text` to `out`; same rules as
    /// [`Charset::encode`], for hot paths that reuse one buffer. On `Err`,
    /// `out` is left exactly as it was, so a failed field leaves no debris.
    ///
    /// # Errors
    ///
    /// As [`Charset::encode`]: the first character with no byte in the charset.
    pub fn encode_into(self, text: &str, out: &mut Vec<u8>) -> Result<(), char> {
        let part = match self {
            Charset::Ascii | Charset::Utf8 => {
                out.extend_from_slice(text.as_bytes());
                return Ok(());
            }
            Charset::Iso8859(part) => part,
        };
        let high = High::of(part);
        let start = out.len();
        out.reserve(text.len());
        let mut rest = text;
        loop {
            // Copy the ASCII run in one go; every byte before the first
            // non-ASCII byte is a whole character, so the split is on a char
            // boundary (and split_at_checked cannot panic regardless).
            let ascii_len = rest
                .bytes()
                .position(|b| !b.is_ascii())
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at_checked(ascii_len).unwrap_or((rest, ""));
            out.extend_from_slice(run.as_bytes());
            let mut chars = tail.chars();
            let Some(c) = chars.next() else {
                return Ok(());
            };
            match high.encode(c) {
                Some(byte) => out.push(byte),
                None => {
                    out.truncate(start);
                    return Err(c);
                }
            }
            rest = chars.as_str();
        }
    }
}

/// UTF-8 decoding for Ascii/Utf8: valid chunks are copied as-is and each
/// maximal invalid sequence becomes one U+FFFD (the same policy as
/// [`String::from_utf8_lossy`], so results match other tools).
fn decode_utf8_into(bytes: &[u8], out: &mut String) -> bool {
    let mut lossless = true;
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            out.push(char::REPLACEMENT_CHARACTER);
            lossless = false;
        }
    }
    lossless
}

// The ISO-8859 tables cover bytes 0xA0..=0xFF only: 0x00..=0x9F map to the
// same code point in every part, and ISO-8859-1 needs no table at all.
// Regenerate with `python3 tools/gen_charsets.py` and paste between the
// markers; `python3 tools/gen_charsets.py --check src/charset.rs` verifies.

// BEGIN GENERATED by tools/gen_charsets.py
/// ISO-8859-2, bytes 0xA0..=0xFF.
#[rustfmt::skip]
static ISO_8859_2: [u16; 96] = [
    /* 0xA0 */ 0x00A0, 0x0104, 0x02D8, 0x0141, 0x00A4, 0x013D, 0x015A, 0x00A7,
    /* 0xA8 */ 0x00A8, 0x0160, 0x015E, 0x0164, 0x0179, 0x00AD, 0x017D, 0x017B,
    /* 0xB0 */ 0x00B0, 0x0105, 0x02DB, 0x0142, 0x00B4, 0x013E, 0x015B, 0x02C7,
    /* 0xB8 */ 0x00B8, 0x0161, 0x015F, 0x0165, 0x017A, 0x02DD, 0x017E, 0x017C,
    /* 0xC0 */ 0x0154, 0x00C1, 0x00C2, 0x0102, 0x00C4, 0x0139, 0x0106, 0x00C7,
    /* 0xC8 */ 0x010C, 0x00C9, 0x0118, 0x00CB, 0x011A, 0x00CD, 0x00CE, 0x010E,
    /* 0xD0 */ 0x0110, 0x0143, 0x0147, 0x00D3, 0x00D4, 0x0150, 0x00D6, 0x00D7,
    /* 0xD8 */ 0x0158, 0x016E, 0x00DA, 0x0170, 0x00DC, 0x00DD, 0x0162, 0x00DF,
    /* 0xE0 */ 0x0155, 0x00E1, 0x00E2, 0x0103, 0x00E4, 0x013A, 0x0107, 0x00E7,
    /* 0xE8 */ 0x010D, 0x00E9, 0x0119, 0x00EB, 0x011B, 0x00ED, 0x00EE, 0x010F,
    /* 0xF0 */ 0x0111, 0x0144, 0x0148, 0x00F3, 0x00F4, 0x0151, 0x00F6, 0x00F7,
    /* 0xF8 */ 0x0159, 0x016F, 0x00FA, 0x0171, 0x00FC, 0x00FD, 0x0163, 0x02D9,
];

/// ISO-8859-3, bytes 0xA0..=0xFF (7 undefined).
#[rustfmt::skip]
static ISO_8859_3: [u16; 96] = [
    /* 0xA0 */ 0x00A0, 0x0126, 0x02D8, 0x00A3, 0x00A4, UNDEF,  0x0124, 0x00A7,
    /* 0xA8 */ 0x00A8, 0x0130, 0x015E, 0x011E, 0x0134, 0x00AD, UNDEF,  0x017B,
    /* 0xB0 */ 0x00B0, 0x0127, 0x00B2, 0x00B3, 0x00B4, 0x00B5, 0x0125, 0x00B7,
    /* 0xB8 */ 0x00B8, 0x0131, 0x015F, 0x011F, 0x0135, 0x00BD, UNDEF,  0x017C,
    /* 0xC0 */ 0x00C0, 0x00C1, 0x00C2, UNDEF,  0x00C4, 0x010A, 0x0108, 0x00C7,
    /* 0xC8 */ 0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC, 0x00CD, 0x00CE, 0x00CF,
    /* 0xD0 */ UNDEF,  0x00D1, 0x00D2, 0x00D3, 0x00D4, 0x0120, 0x00D6, 0x00D7,
    /* 0xD8 */ 0x011C, 0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x016C, 0x015C, 0x00DF,
    /* 0xE0 */ 0x00E0, 0x00E1, 0x00E2, UNDEF,  0x00E4, 0x010B, 0x0109, 0x00E7,
    /* 0xE8 */ 0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF,
    /* 0xF0 */ UNDEF,  0x00F1, 0x00F2, 0x00F3, 0x00F4, 0x0121, 0x00F6, 0x00F7,
    /* 0xF8 */ 0x011D, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x016D, 0x015D, 0x02D9,
];

/// ISO-8859-4, bytes 0xA0..=0xFF.
#[rustfmt::skip]
static ISO_8859_4: [u16; 96] = [
    /* 0xA0 */ 0x00A0, 0x0104, 0x0138, 0x0156, 0x00A4, 0x0128, 0x013B, 0x00A7,
    /* 0xA8 */ 0x00A8, 0x0160, 0x0112, 0x0122, 0x0166, 0x00AD, 0x017D, 0x00AF,
    /* 0xB0 */ 0x00B0, 0x0105, 0x02DB, 0x0157, 0x00B4, 0x0129, 0x013C, 0x02C7,
    /* 0xB8 */ 0x00B8, 0x0161, 0x0113, 0x0123, 0x0167, 0x014A, 0x017E, 0x014B,
    /* 0xC0 */ 0x0100, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x012E,
    /* 0xC8 */ 0x010C, 0x00C9, 0x0118, 0x00CB, 0x0116, 0x00CD, 0x00CE, 0x012A,
    /* 0xD0 */ 0x0110, 0x0145, 0x014C, 0x0136, 0x00D4, 0x00D5, 0x00D6, 0x00D7,
    /* 0xD8 */ 0x00D8, 0x0172, 0x00DA, 0x00DB, 0x00DC, 0x0168, 0x016A, 0x00DF,
    /* 0xE0 */ 0x0101, 0x00E1, 0x00E2, 0x00E3, 0x00E4, 0x00E5, 0x00E6, 0x012F,
    /* 0xE8 */ 0x010D, 0x00E9, 0x0119, 0x00EB, 0x0117, 0x00ED, 0x00EE, 0x012B,
    /* 0xF0 */ 0x0111, 0x0146, 0x014D, 0x0137, 0x00F4, 0x00F5, 0x00F6, 0x00F7,
    /* 0xF8 */ 0x00F8, 0x0173, 0x00FA, 0x00FB, 0x00FC, 0x0169, 0x016B, 0x02D9,
];

/// ISO-8859-5, bytes 0xA0..=0xFF.
#[rustfmt::skip]
static ISO_8859_5: [u16; 96] = [
    /* 0xA0 */ 0x00A0, 0x0401, 0x0402, 0x0403, 0x0404, 0x0405, 0x0406, 0x0407,
    /* 0xA8 */ 0x0408, 0x0409, 0x040A, 0x040B, 0x040C, 0x00AD, 0x040E, 0x040F,
    /* 0xB0 */ 0x0410, 0x0411, 0x0412, 0x0413, 0x0414, 0x0415, 0x0416, 0x0417,
    /* 0xB8 */ 0x0418, 0x0419, 0x041A, 0x041B, 0x041C, 0x041D, 0x041E, 0x041F,
    /* 0xC0 */ 0x0420, 0x0421, 0x0422, 0x0423, 0x0424, 0x0425, 0x0426, 0x0427,
    /* 0xC8 */ 0x0428, 0x0429, 0x042A, 0x042B, 0x042C, 0x042D, 0x042E, 0x042F,
    /* 0xD0 */ 0x0430, 0x0431, 0x0432, 0x0433, 0x0434, 0x0435, 0x0436, 0x0437,
    /* 0xD8 */ 0x0438, 0x0439, 0x043A, 0x043B, 0x043C, 0x043D, 0x043E, 0x043F,
    /* 0xE0 */ 0x0440, 0x0441, 0x0442, 0x0443, 0x0444, 0x0445, 0x0446, 0x0447,
    /* 0xE8 */ 0x0448, 0x0449, 0x044A, 0x044B, 0x044C, 0x044D, 0x044E, 0x044F,
    /* 0xF0 */ 0x2116, 0x0451, 0x0452, 0x0453, 0x0454, 0x0455, 0x0456, 0x0457,
    /* 0xF8 */ 0x0458, 0x0459, 0x045A, 0x045B, 0x045C, 0x00A7, 0x045E, 0x045F,
];

/// ISO-8859-6, bytes 0xA0..=0xFF (45 undefined).
#[rustfmt::skip]
static ISO_8859_6: [u16; 96] = [
    /* 0xA0 */ 0x00A0, UNDEF,  UNDEF,  UNDEF,  0x00A4, UNDEF,  UNDEF,  UNDEF,
    /* 0xA8 */ UNDEF,  UNDEF,  UNDEF,  UNDEF,  0x060C, 0x00AD, UNDEF,  UNDEF,
    /* 0xB0 */ UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,
    /* 0xB8 */ UNDEF,  UNDEF,  UNDEF,  0x061B, UNDEF,  UNDEF,  UNDEF,  0x061F,
    /* 0xC0 */ UNDEF,  0x0621, 0x0622, 0x0623, 0x0624, 0x0625, 0x0626, 0x0627,
    /* 0xC8 */ 0x0628, 0x0629, 0x062A, 0x062B, 0x062C, 0x062D, 0x062E, 0x062F,
    /* 0xD0 */ 0x0630, 0x0631, 0x0632, 0x0633, 0x0634, 0x0635, 0x0636, 0x0637,
    /* 0xD8 */ 0x0638, 0x0639, 0x063A, UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,
    /* 0xE0 */ 0x0640, 0x0641, 0x0642, 0x0643, 0x0644, 0x0645, 0x0646, 0x0647,
    /* 0xE8 */ 0x0648, 0x0649, 0x064A, 0x064B, 0x064C, 0x064D, 0x064E, 0x064F,
    /* 0xF0 */ 0x0650, 0x0651, 0x0652, UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,
    /* 0xF8 */ UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,
];

/// ISO-8859-7, bytes 0xA0..=0xFF (3 undefined).
#[rustfmt::skip]
static ISO_8859_7: [u16; 96] = [
    /* 0xA0 */ 0x00A0, 0x2018, 0x2019, 0x00A3, 0x20AC, 0x20AF, 0x00A6, 0x00A7,
    /* 0xA8 */ 0x00A8, 0x00A9, 0x037A, 0x00AB, 0x00AC, 0x00AD, UNDEF,  0x2015,
    /* 0xB0 */ 0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x0384, 0x0385, 0x0386, 0x00B7,
    /* 0xB8 */ 0x0388, 0x0389, 0x038A, 0x00BB, 0x038C, 0x00BD, 0x038E, 0x038F,
    /* 0xC0 */ 0x0390, 0x0391, 0x0392, 0x0393, 0x0394, 0x0395, 0x0396, 0x0397,
    /* 0xC8 */ 0x0398, 0x0399, 0x039A, 0x039B, 0x039C, 0x039D, 0x039E, 0x039F,
    /* 0xD0 */ 0x03A0, 0x03A1, UNDEF,  0x03A3, 0x03A4, 0x03A5, 0x03A6, 0x03A7,
    /* 0xD8 */ 0x03A8, 0x03A9, 0x03AA, 0x03AB, 0x03AC, 0x03AD, 0x03AE, 0x03AF,
    /* 0xE0 */ 0x03B0, 0x03B1, 0x03B2, 0x03B3, 0x03B4, 0x03B5, 0x03B6, 0x03B7,
    /* 0xE8 */ 0x03B8, 0x03B9, 0x03BA, 0x03BB, 0x03BC, 0x03BD, 0x03BE, 0x03BF,
    /* 0xF0 */ 0x03C0, 0x03C1, 0x03C2, 0x03C3, 0x03C4, 0x03C5, 0x03C6, 0x03C7,
    /* 0xF8 */ 0x03C8, 0x03C9, 0x03CA, 0x03CB, 0x03CC, 0x03CD, 0x03CE, UNDEF,
];

/// ISO-8859-8, bytes 0xA0..=0xFF (36 undefined).
#[rustfmt::skip]
static ISO_8859_8: [u16; 96] = [
    /* 0xA0 */ 0x00A0, UNDEF,  0x00A2, 0x00A3, 0x00A4, 0x00A5, 0x00A6, 0x00A7,
    /* 0xA8 */ 0x00A8, 0x00A9, 0x00D7, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x00AF,
    /* 0xB0 */ 0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x00B4, 0x00B5, 0x00B6, 0x00B7,
    /* 0xB8 */ 0x00B8, 0x00B9, 0x00F7, 0x00BB, 0x00BC, 0x00BD, 0x00BE, UNDEF,
    /* 0xC0 */ UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,
    /* 0xC8 */ UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,
    /* 0xD0 */ UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,
    /* 0xD8 */ UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  UNDEF,  0x2017,
    /* 0xE0 */ 0x05D0, 0x05D1, 0x05D2, 0x05D3, 0x05D4, 0x05D5, 0x05D6, 0x05D7,
    /* 0xE8 */ 0x05D8, 0x05D9, 0x05DA, 0x05DB, 0x05DC, 0x05DD, 0x05DE, 0x05DF,
    /* 0xF0 */ 0x05E0, 0x05E1, 0x05E2, 0x05E3, 0x05E4, 0x05E5, 0x05E6, 0x05E7,
    /* 0xF8 */ 0x05E8, 0x05E9, 0x05EA, UNDEF,  UNDEF,  0x200E, 0x200F, UNDEF,
];

/// ISO-8859-9, bytes 0xA0..=0xFF.
#[rustfmt::skip]
static ISO_8859_9: [u16; 96] = [
    /* 0xA0 */ 0x00A0, 0x00A1, 0x00A2, 0x00A3, 0x00A4, 0x00A5, 0x00A6, 0x00A7,
    /* 0xA8 */ 0x00A8, 0x00A9, 0x00AA, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x00AF,
    /* 0xB0 */ 0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x00B4, 0x00B5, 0x00B6, 0x00B7,
    /* 0xB8 */ 0x00B8, 0x00B9, 0x00BA, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x00BF,
    /* 0xC0 */ 0x00C0, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x00C7,
    /* 0xC8 */ 0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC, 0x00CD, 0x00CE, 0x00CF,
    /* 0xD0 */ 0x011E, 0x00D1, 0x00D2, 0x00D3, 0x00D4, 0x00D5, 0x00D6, 0x00D7,
    /* 0xD8 */ 0x00D8, 0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x0130, 0x015E, 0x00DF,
    /* 0xE0 */ 0x00E0, 0x00E1, 0x00E2, 0x00E3, 0x00E4, 0x00E5, 0x00E6, 0x00E7,
    /* 0xE8 */ 0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF,
    /* 0xF0 */ 0x011F, 0x00F1, 0x00F2, 0x00F3, 0x00F4, 0x00F5, 0x00F6, 0x00F7,
    /* 0xF8 */ 0x00F8, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x0131, 0x015F, 0x00FF,
];

/// ISO-8859-10, bytes 0xA0..=0xFF.
#[rustfmt::skip]
static ISO_8859_10: [u16; 96] = [
    /* 0xA0 */ 0x00A0, 0x0104, 0x0112, 0x0122, 0x012A, 0x0128, 0x0136, 0x00A7,
    /* 0xA8 */ 0x013B, 0x0110, 0x0160, 0x0166, 0x017D, 0x00AD, 0x016A, 0x014A,
    /* 0xB0 */ 0x00B0, 0x0105, 0x0113, 0x0123, 0x012B, 0x0129, 0x0137, 0x00B7,
    /* 0xB8 */ 0x013C, 0x0111, 0x0161, 0x0167, 0x017E, 0x2015, 0x016B, 0x014B,
    /* 0xC0 */ 0x0100, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x012E,
    /* 0xC8 */ 0x010C, 0x00C9, 0x0118, 0x00CB, 0x0116, 0x00CD, 0x00CE, 0x00CF,
    /* 0xD0 */ 0x00D0, 0x0145, 0x014C, 0x00D3, 0x00D4, 0x00D5, 0x00D6, 0x0168,
    /* 0xD8 */ 0x00D8, 0x0172, 0x00DA, 0x00DB, 0x00DC, 0x00DD, 0x00DE, 0x00DF,
    /* 0xE0 */ 0x0101, 0x00E1, 0x00E2, 0x00E3, 0x00E4, 0x00E5, 0x00E6, 0x012F,
    /* 0xE8 */ 0x010D, 0x00E9, 0x0119, 0x00EB, 0x0117, 0x00ED, 0x00EE, 0x00EF,
    /* 0xF0 */ 0x00F0, 0x0146, 0x014D, 0x00F3, 0x00F4, 0x00F5, 0x00F6, 0x0169,
    /* 0xF8 */ 0x00F8, 0x0173, 0x00FA, 0x00FB, 0x00FC, 0x00FD, 0x00FE, 0x0138,
];

/// ISO-8859-11, bytes 0xA0..=0xFF (8 undefined).
#[rustfmt::skip]
static ISO_8859_11: [u16; 96] = [
    /* 0xA0 */ 0x00A0, 0x0E01, 0x0E02, 0x0E03, 0x0E04, 0x0E05, 0x0E06, 0x0E07,
    /* 0xA8 */ 0x0E08, 0x0E09, 0x0E0A, 0x0E0B, 0x0E0C, 0x0E0D, 0x0E0E, 0x0E0F,
    /* 0xB0 */ 0x0E10, 0x0E11, 0x0E12, 0x0E13, 0x0E14, 0x0E15, 0x0E16, 0x0E17,
    /* 0xB8 */ 0x0E18, 0x0E19, 0x0E1A, 0x0E1B, 0x0E1C, 0x0E1D, 0x0E1E, 0x0E1F,
    /* 0xC0 */ 0x0E20, 0x0E21, 0x0E22, 0x0E23, 0x0E24, 0x0E25, 0x0E26, 0x0E27,
    /* 0xC8 */ 0x0E28, 0x0E29, 0x0E2A, 0x0E2B, 0x0E2C, 0x0E2D, 0x0E2E, 0x0E2F,
    /* 0xD0 */ 0x0E30, 0x0E31, 0x0E32, 0x0E33, 0x0E34, 0x0E35, 0x0E36, 0x0E37,
    /* 0xD8 */ 0x0E38, 0x0E39, 0x0E3A, UNDEF,  UNDEF,  UNDEF,  UNDEF,  0x0E3F,
    /* 0xE0 */ 0x0E40, 0x0E41, 0x0E42, 0x0E43, 0x0E44, 0x0E45, 0x0E46, 0x0E47,
    /* 0xE8 */ 0x0E48, 0x0E49, 0x0E4A, 0x0E4B, 0x0E4C, 0x0E4D, 0x0E4E, 0x0E4F,
    /* 0xF0 */ 0x0E50, 0x0E51, 0x0E52, 0x0E53, 0x0E54, 0x0E55, 0x0E56, 0x0E57,
    /* 0xF8 */ 0x0E58, 0x0E59, 0x0E5A, 0x0E5B, UNDEF,  UNDEF,  UNDEF,  UNDEF,
];

/// ISO-8859-13, bytes 0xA0..=0xFF.
#[rustfmt::skip]
static ISO_8859_13: [u16; 96] = [
    /* 0xA0 */ 0x00A0, 0x201D, 0x00A2, 0x00A3, 0x00A4, 0x201E, 0x00A6, 0x00A7,
    /* 0xA8 */ 0x00D8, 0x00A9, 0x0156, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x00C6,
    /* 0xB0 */ 0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x201C, 0x00B5, 0x00B6, 0x00B7,
    /* 0xB8 */ 0x00F8, 0x00B9, 0x0157, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x00E6,
    /* 0xC0 */ 0x0104, 0x012E, 0x0100, 0x0106, 0x00C4, 0x00C5, 0x0118, 0x0112,
    /* 0xC8 */ 0x010C, 0x00C9, 0x0179, 0x0116, 0x0122, 0x0136, 0x012A, 0x013B,
    /* 0xD0 */ 0x0160, 0x0143, 0x0145, 0x00D3, 0x014C, 0x00D5, 0x00D6, 0x00D7,
    /* 0xD8 */ 0x0172, 0x0141, 0x015A, 0x016A, 0x00DC, 0x017B, 0x017D, 0x00DF,
    /* 0xE0 */ 0x0105, 0x012F, 0x0101, 0x0107, 0x00E4, 0x00E5, 0x0119, 0x0113,
    /* 0xE8 */ 0x010D, 0x00E9, 0x017A, 0x0117, 0x0123, 0x0137, 0x012B, 0x013C,
    /* 0xF0 */ 0x0161, 0x0144, 0x0146, 0x00F3, 0x014D, 0x00F5, 0x00F6, 0x00F7,
    /* 0xF8 */ 0x0173, 0x0142, 0x015B, 0x016B, 0x00FC, 0x017C, 0x017E, 0x2019,
];

/// ISO-8859-14, bytes 0xA0..=0xFF.
#[rustfmt::skip]
static ISO_8859_14: [u16; 96] = [
    /* 0xA0 */ 0x00A0, 0x1E02, 0x1E03, 0x00A3, 0x010A, 0x010B, 0x1E0A, 0x00A7,
    /* 0xA8 */ 0x1E80, 0x00A9, 0x1E82, 0x1E0B, 0x1EF2, 0x00AD, 0x00AE, 0x0178,
    /* 0xB0 */ 0x1E1E, 0x1E1F, 0x0120, 0x0121, 0x1E40, 0x1E41, 0x00B6, 0x1E56,
    /* 0xB8 */ 0x1E81, 0x1E57, 0x1E83, 0x1E60, 0x1EF3, 0x1E84, 0x1E85, 0x1E61,
    /* 0xC0 */ 0x00C0, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x00C7,
    /* 0xC8 */ 0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC, 0x00CD, 0x00CE, 0x00CF,
    /* 0xD0 */ 0x0174, 0x00D1, 0x00D2, 0x00D3, 0x00D4, 0x00D5, 0x00D6, 0x1E6A,
    /* 0xD8 */ 0x00D8, 0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x00DD, 0x0176, 0x00DF,
    /* 0xE0 */ 0x00E0, 0x00E1, 0x00E2, 0x00E3, 0x00E4, 0x00E5, 0x00E6, 0x00E7,
    /* 0xE8 */ 0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF,
    /* 0xF0 */ 0x0175, 0x00F1, 0x00F2, 0x00F3, 0x00F4, 0x00F5, 0x00F6, 0x1E6B,
    /* 0xF8 */ 0x00F8, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x00FD, 0x0177, 0x00FF,
];

/// ISO-8859-15, bytes 0xA0..=0xFF.
#[rustfmt::skip]
static ISO_8859_15: [u16; 96] = [
    /* 0xA0 */ 0x00A0, 0x00A1, 0x00A2, 0x00A3, 0x20AC, 0x00A5, 0x0160, 0x00A7,
    /* 0xA8 */ 0x0161, 0x00A9, 0x00AA, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x00AF,
    /* 0xB0 */ 0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x017D, 0x00B5, 0x00B6, 0x00B7,
    /* 0xB8 */ 0x017E, 0x00B9, 0x00BA, 0x00BB, 0x0152, 0x0153, 0x0178, 0x00BF,
    /* 0xC0 */ 0x00C0, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x00C7,
    /* 0xC8 */ 0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC, 0x00CD, 0x00CE, 0x00CF,
    /* 0xD0 */ 0x00D0, 0x00D1, 0x00D2, 0x00D3, 0x00D4, 0x00D5, 0x00D6, 0x00D7,
    /* 0xD8 */ 0x00D8, 0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x00DD, 0x00DE, 0x00DF,
    /* 0xE0 */ 0x00E0, 0x00E1, 0x00E2, 0x00E3, 0x00E4, 0x00E5, 0x00E6, 0x00E7,
    /* 0xE8 */ 0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF,
    /* 0xF0 */ 0x00F0, 0x00F1, 0x00F2, 0x00F3, 0x00F4, 0x00F5, 0x00F6, 0x00F7,
    /* 0xF8 */ 0x00F8, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x00FD, 0x00FE, 0x00FF,
];

/// ISO-8859-16, bytes 0xA0..=0xFF.
#[rustfmt::skip]
static ISO_8859_16: [u16; 96] = [
    /* 0xA0 */ 0x00A0, 0x0104, 0x0105, 0x0141, 0x20AC, 0x201E, 0x0160, 0x00A7,
    /* 0xA8 */ 0x0161, 0x00A9, 0x0218, 0x00AB, 0x0179, 0x00AD, 0x017A, 0x017B,
    /* 0xB0 */ 0x00B0, 0x00B1, 0x010C, 0x0142, 0x017D, 0x201D, 0x00B6, 0x00B7,
    /* 0xB8 */ 0x017E, 0x010D, 0x0219, 0x00BB, 0x0152, 0x0153, 0x0178, 0x017C,
    /* 0xC0 */ 0x00C0, 0x00C1, 0x00C2, 0x0102, 0x00C4, 0x0106, 0x00C6, 0x00C7,
    /* 0xC8 */ 0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC, 0x00CD, 0x00CE, 0x00CF,
    /* 0xD0 */ 0x0110, 0x0143, 0x00D2, 0x00D3, 0x00D4, 0x0150, 0x00D6, 0x015A,
    /* 0xD8 */ 0x0170, 0x00D9, 0x00DA, 0x00DB, 0x00DC, 0x0118, 0x021A, 0x00DF,
    /* 0xE0 */ 0x00E0, 0x00E1, 0x00E2, 0x0103, 0x00E4, 0x0107, 0x00E6, 0x00E7,
    /* 0xE8 */ 0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF,
    /* 0xF0 */ 0x0111, 0x0144, 0x00F2, 0x00F3, 0x00F4, 0x0151, 0x00F6, 0x015B,
    /* 0xF8 */ 0x0171, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x0119, 0x021B, 0x00FF,
];

/// The 0xA0..=0xFF table for ISO-8859-`part`; `None` for part 1
/// (identity, no table needed) and for numbers that are not a part.
fn high_table(part: u8) -> Option<&'static [u16; 96]> {
    match part {
        2 => Some(&ISO_8859_2),
        3 => Some(&ISO_8859_3),
        4 => Some(&ISO_8859_4),
        5 => Some(&ISO_8859_5),
        6 => Some(&ISO_8859_6),
        7 => Some(&ISO_8859_7),
        8 => Some(&ISO_8859_8),
        9 => Some(&ISO_8859_9),
        10 => Some(&ISO_8859_10),
        11 => Some(&ISO_8859_11),
        13 => Some(&ISO_8859_13),
        14 => Some(&ISO_8859_14),
        15 => Some(&ISO_8859_15),
        16 => Some(&ISO_8859_16),
        _ => None,
    }
}
// END GENERATED

#[cfg(test)]
mod tests {
    use super::*;

    /// Every real ISO-8859 part.
    const PARTS: [u8; 15] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16];

    #[test]
    fn parses_labels() {
        let cases: &[(&str, Charset)] = &[
            ("", Charset::Ascii),
            ("   ", Charset::Ascii),
            ("ASCII", Charset::Ascii),
            ("ascii", Charset::Ascii),
            ("ISO IR6", Charset::Ascii),
            ("iso ir6", Charset::Ascii),
            ("US-ASCII", Charset::Ascii),
            ("UNICODE", Charset::Utf8),
            ("UNICODE UTF-8", Charset::Utf8),
            (" unicode utf-8 ", Charset::Utf8),
            ("UTF-8", Charset::Utf8),
            ("utf8", Charset::Utf8),
            ("8859/1", Charset::Iso8859(1)),
            ("\t8859/15 ", Charset::Iso8859(15)),
            ("8859/16", Charset::Iso8859(16)),
            ("ISO-8859-1", Charset::Iso8859(1)),
            ("iso-8859-2", Charset::Iso8859(2)),
            ("ISO8859-5", Charset::Iso8859(5)),
            ("iso_8859-7", Charset::Iso8859(7)),
            ("Latin1", Charset::Iso8859(1)),
            ("ISO IR100", Charset::Iso8859(1)),
            ("ISO IR101", Charset::Iso8859(2)),
            ("ISO IR109", Charset::Iso8859(3)),
            ("ISO IR110", Charset::Iso8859(4)),
            ("ISO IR144", Charset::Iso8859(5)),
            ("ISO IR127", Charset::Iso8859(6)),
            ("ISO IR126", Charset::Iso8859(7)),
            ("iso ir138", Charset::Iso8859(8)),
            ("ISO IR148", Charset::Iso8859(9)),
        ];
        for &(label, expected) in cases {
            assert_eq!(
                Charset::from_msh18(label.as_bytes()),
                Some(expected),
                "{label:?}"
            );
        }
    }

    #[test]
    fn rejects_unknown_labels() {
        for label in [
            "UNICODE UTF-16",
            "UNICODE UTF-32",
            "ISO IR87",
            "ISO IR14",
            "ISO IR159",
            "BIG-5",
            "GB 18030-2000",
            "KS X 1001",
            "CNS 11643-1992",
            "8859/0",
            "8859/12",
            "8859/17",
            "8859/01",
            "8859/",
            "8859/1x",
            "8859/100",
            "ISO-8859-12",
            "8859",
            "UTF 8",
            "UNICODEUTF-8",
            "LATIN 1",
            "ASCII\u{0}",
            "windows-1252",
            "\u{e9}",
        ] {
            assert_eq!(Charset::from_msh18(label.as_bytes()), None, "{label:?}");
        }
        // Arbitrary non-UTF-8 bytes must not panic either.
        assert_eq!(Charset::from_msh18(&[0xFF, 0x38, 0x38, 0x35, 0x39]), None);
    }

    #[test]
    fn labels_and_names_round_trip() {
        let mut all = vec![Charset::Ascii, Charset::Utf8];
        all.extend(PARTS.iter().map(|&p| Charset::Iso8859(p)));
        for charset in all {
            assert_eq!(
                Charset::from_msh18(charset.msh18_label().as_bytes()),
                Some(charset)
            );
            assert_eq!(
                Charset::from_msh18(charset.name().as_bytes()),
                Some(charset)
            );
        }
        assert_eq!(Charset::Ascii.msh18_label(), "ASCII");
        assert_eq!(Charset::Utf8.msh18_label(), "UNICODE UTF-8");
        assert_eq!(Charset::Iso8859(1).msh18_label(), "8859/1");
        assert_eq!(Charset::Iso8859(16).msh18_label(), "8859/16");
        assert_eq!(Charset::Ascii.name(), "US-ASCII");
        assert_eq!(Charset::Utf8.name(), "UTF-8");
        assert_eq!(Charset::Iso8859(10).name(), "ISO-8859-10");
    }

    #[test]
    fn latin1_lefevre() {
        let bytes = [0x4C, 0x65, 0x66, 0xE8, 0x76, 0x72, 0x65];
        let latin1 = Charset::Iso8859(1);
        let (text, lossless) = latin1.decode(&bytes);
        assert_eq!(text, "Lefèvre");
        assert!(lossless);
        assert!(matches!(text, Cow::Owned(_)));
        assert_eq!(latin1.encode(&text).as_deref(), Ok(&bytes[..]));
        // Latin-9 agrees on this one.
        assert_eq!(Charset::Iso8859(15).decode(&bytes).0, "Lefèvre");
    }

    #[test]
    fn greek_and_cyrillic() {
        let greek = [0xC5, 0xEB, 0xEB, 0xDC, 0xE4, 0xE1];
        let (text, lossless) = Charset::Iso8859(7).decode(&greek);
        assert_eq!((text.as_ref(), lossless), ("Ελλάδα", true));
        assert_eq!(Charset::Iso8859(7).encode(&text).as_deref(), Ok(&greek[..]));

        let cyrillic = b"\xBF\xE0\xD8\xD2\xD5\xE2, \xBC\xDE\xE1\xDA\xD2\xD0";
        let (text, lossless) = Charset::Iso8859(5).decode(cyrillic);
        assert_eq!((text.as_ref(), lossless), ("Привет, Москва", true));
        assert_eq!(
            Charset::Iso8859(5).encode(&text).as_deref(),
            Ok(&cyrillic[..])
        );
    }

    #[test]
    fn spot_checks_from_the_tables() {
        let cases: &[(u8, u8, char)] = &[
            (2, 0xA1, 'Ą'),
            (4, 0xA2, 'ĸ'),
            (6, 0xC7, 'ا'),
            (8, 0xE0, 'א'),
            (9, 0xDD, 'İ'),
            (11, 0xA1, 'ก'),
            (13, 0xFF, '’'),
            (14, 0xA1, 'Ḃ'),
            (15, 0xA4, '€'),
            (16, 0xA4, '€'),
            (1, 0xA4, '¤'),
            (5, 0x85, '\u{85}'),
        ];
        for &(part, byte, expected) in cases {
            let input = [byte];
            let (text, lossless) = Charset::Iso8859(part).decode(&input);
            assert_eq!(text, expected.to_string(), "8859-{part} {byte:#04X}");
            assert!(lossless);
        }
    }

    #[test]
    fn undefined_byte_is_replaced() {
        let (text, lossless) = Charset::Iso8859(3).decode(b"a\xA5b");
        assert_eq!(text, "a\u{FFFD}b");
        assert!(!lossless);
        for (part, byte) in [(6, 0xA1), (7, 0xAE), (8, 0xFB), (11, 0xDB), (11, 0xFF)] {
            let input = [byte];
            let (text, lossless) = Charset::Iso8859(part).decode(&input);
            assert_eq!(text, "\u{FFFD}", "8859-{part} {byte:#04X}");
            assert!(!lossless);
        }
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        for charset in [Charset::Utf8, Charset::Ascii] {
            let (text, lossless) = charset.decode(b"ab\xFFcd");
            assert_eq!(text, "ab\u{FFFD}cd");
            assert!(!lossless);
            // A truncated sequence at the end, too.
            let (text, lossless) = charset.decode(b"caf\xC3");
            assert_eq!((text.as_ref(), lossless), ("caf\u{FFFD}", false));
        }
    }

    #[test]
    fn ascii_labelled_utf8_decodes_as_utf8() {
        let (text, lossless) = Charset::Ascii.decode("Lefèvre".as_bytes());
        assert_eq!((text.as_ref(), lossless), ("Lefèvre", true));
        assert!(matches!(text, Cow::Borrowed(_)));
    }

    #[test]
    fn pure_ascii_borrows() {
        let input = b"PID|1||12345^^^MRN||DOE^JOHN";
        let mut all = vec![Charset::Ascii, Charset::Utf8, Charset::Iso8859(0)];
        all.extend(PARTS.iter().map(|&p| Charset::Iso8859(p)));
        for charset in all {
            let (text, lossless) = charset.decode(input);
            assert!(matches!(text, Cow::Borrowed(_)), "{charset:?}");
            assert!(lossless);
            assert_eq!(text.as_bytes(), input);
            let encoded = charset.encode("DOE^JOHN").unwrap();
            assert!(matches!(encoded, Cow::Borrowed(_)), "{charset:?}");
        }
        let (text, _) = Charset::Iso8859(1).decode(b"");
        assert!(matches!(text, Cow::Borrowed("")));
    }

    #[test]
    fn encode_reports_first_unmappable_char() {
        assert_eq!(Charset::Iso8859(1).encode("Lefèvre €5 ☃"), Err('€'));
        assert_eq!(Charset::Iso8859(15).encode("€5 ☃"), Err('☃'));
        assert_eq!(Charset::Iso8859(5).encode("Привет αβ"), Err('α'));
        assert_eq!(Charset::Iso8859(2).encode("😀"), Err('😀'));
        // Ascii/Utf8 are identity.
        assert_eq!(
            Charset::Ascii.encode("€😀").as_deref(),
            Ok("€😀".as_bytes())
        );
        assert!(matches!(Charset::Utf8.encode("€"), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn into_variants_append_and_clean_up() {
        let mut text = String::from("name=");
        assert!(Charset::Iso8859(1).decode_into(b"Lef\xE8vre", &mut text));
        assert!(!Charset::Utf8.decode_into(b";\xFF", &mut text));
        assert_eq!(text, "name=Lefèvre;\u{FFFD}");

        let mut bytes = b"MSH|".to_vec();
        assert_eq!(
            Charset::Iso8859(1).encode_into("Lefèvre", &mut bytes),
            Ok(())
        );
        assert_eq!(bytes, b"MSH|Lef\xE8vre");
        // On failure nothing is appended, not even the part before the error.
        assert_eq!(
            Charset::Iso8859(1).encode_into("|abc\u{e9}\u{20ac}", &mut bytes),
            Err('€')
        );
        assert_eq!(bytes, b"MSH|Lef\xE8vre");
        assert_eq!(Charset::Utf8.encode_into("|é", &mut bytes), Ok(()));
        assert_eq!(bytes, b"MSH|Lef\xE8vre|\xC3\xA9");
    }

    #[test]
    fn every_defined_byte_round_trips() {
        for part in PARTS {
            let charset = Charset::Iso8859(part);
            let mut defined = 0;
            for byte in 0..=u8::MAX {
                let input = [byte];
                let (text, lossless) = charset.decode(&input);
                assert_eq!(text.chars().count(), 1, "8859-{part} {byte:#04X}");
                if !lossless {
                    assert_eq!(text, "\u{FFFD}");
                    assert!(byte >= 0xA0, "8859-{part} {byte:#04X}");
                    continue;
                }
                defined += 1;
                if byte < 0xA0 {
                    assert_eq!(text.chars().next(), Some(char::from(byte)));
                }
                assert_eq!(
                    charset.encode(&text).as_deref(),
                    Ok(&[byte][..]),
                    "8859-{part} {byte:#04X} {text:?}"
                );
            }
            // Undefined counts per part, as published.
            let undefined = match part {
                3 => 7,
                6 => 45,
                7 => 3,
                8 => 36,
                11 => 8,
                _ => 0,
            };
            assert_eq!(defined, 256 - undefined, "8859-{part}");

            // All defined bytes at once, too (exercises the run splitting).
            let all: Vec<u8> = (0..=u8::MAX).filter(|&b| charset.decode(&[b]).1).collect();
            let (text, lossless) = charset.decode(&all);
            assert!(lossless);
            assert_eq!(charset.encode(&text).as_deref(), Ok(&all[..]));
        }
    }

    #[test]
    fn bogus_parts_degrade_without_panicking() {
        for part in [0, 12, 17, 200, u8::MAX] {
            let charset = Charset::Iso8859(part);
            let (text, lossless) = charset.decode(b"ab\x80\xE8c");
            assert_eq!((text.as_ref(), lossless), ("ab\u{FFFD}\u{FFFD}c", false));
            assert_eq!(charset.encode("abc").as_deref(), Ok(&b"abc"[..]));
            assert_eq!(charset.encode("abè"), Err('è'));
            assert_eq!(charset.msh18_label(), "8859/?");
            assert_eq!(charset.name(), "ISO-8859-?");
            assert_eq!(Charset::from_msh18(charset.msh18_label().as_bytes()), None);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small xorshift so the test needs no dependencies.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut all = vec![Charset::Ascii, Charset::Utf8, Charset::Iso8859(12)];
        all.extend(PARTS.iter().map(|&p| Charset::Iso8859(p)));
        for _ in 0..2_000 {
            let len = usize::try_from(next() % 24).unwrap();
            let bytes: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
            let _ = Charset::from_msh18(&bytes);
            for &charset in &all {
                let (text, lossless) = charset.decode(&bytes);
                let mut appended = String::new();
                assert_eq!(charset.decode_into(&bytes, &mut appended), lossless);
                assert_eq!(appended, text);
                if lossless {
                    assert_eq!(charset.encode(&text).as_deref(), Ok(&bytes[..]));
                }
            }
        }
    }
}
