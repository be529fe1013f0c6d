//! HL7 escape sequences (v2.3 ch. 2 §2.9 / v2.5 §2.7): decoding when a value is asked for, and
//! encoding when a value is written.
//!
//! Decoding follows HL7 v2.5 §2.7 (docs/conformance.md "Escapes"): the delimiter escapes `\F\ \S\
//! \T\ \R\ \E\` become the *declared* delimiters, `\Xhh..\` becomes bytes read in the message's
//! character set, and everything that only has meaning to a renderer or a charset switcher (`\H\
//! \N\ \.br\ \Cxxyy\ \Mxxyyzz\ \Zxxx\`) is kept exactly as written. Unknown codes (`\Q\`, lower
//! case `\f\`), empty `\\` and an escape character with no closing partner are malformed: kept raw,
//! and reported through [`Decoded::clean`] so the caller can warn.

use crate::model::charset::Charset;
use crate::model::separators::Separators;

/// What a decode saw, beyond the text it produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Every byte had a character in the charset (nothing became U+FFFD).
    pub lossless: bool,
    /// No unknown or malformed escape sequence was met.
    pub clean: bool,
}

impl Decoded {
    const OK: Decoded = Decoded {
        lossless: true,
        clean: true,
    };
}

/// True when `raw` holds the escape character, i.e. decoding could change it.
#[inline]
pub fn has_escape(raw: &[u8], sep: &Separators) -> bool {
    match sep.escape {
        Some(e) => memchr::memchr(e, raw).is_some(),
        None => false,
    }
}

/// Decodes the escape sequences of one leaf value into `out`, reading its bytes as `charset`.
pub fn decode_into(raw: &[u8], sep: &Separators, charset: Charset, out: &mut String) -> Decoded {
    let Some(esc) = sep.escape else {
        return Decoded {
            lossless: charset.decode_into(raw, out),
            clean: true,
        };
    };
    let mut status = Decoded::OK;
    let mut plain_start = 0;
    let mut i = 0;
    let mut hex = Vec::new();
    while let Some(off) = memchr::memchr(esc, &raw[i..]) {
        let open = i + off;
        let Some(len) = memchr::memchr(esc, &raw[open + 1..]) else {
            // A lone escape character: the rest of the value is kept as written.
            status.clean = false;
            break;
        };
        let close = open + 1 + len;
        let code = &raw[open + 1..close];
        let replacement = classify(code, sep);
        match replacement {
            Some(Piece::Keep) => {
                // kept raw: stays part of the plain run
            }
            Some(piece) => {
                status.lossless &= charset.decode_into(&raw[plain_start..open], out);
                match piece {
                    Piece::Byte(b) => out.push(b as char),
                    Piece::Hex(digits) => {
                        hex.clear();
                        hex.extend(
                            digits
                                .chunks_exact(2)
                                .map(|p| hex_val(p[0]) << 4 | hex_val(p[1])),
                        );
                        let mark = out.len();
                        if !charset.decode_into(&hex, out) {
                            // Hex bytes that are not valid in a Unicode message are most often
                            // Latin-1 written by an older system (`\XE9\` for é): read them so.
                            if matches!(charset, Charset::Ascii | Charset::Utf8) {
                                out.truncate(mark);
                                out.extend(hex.iter().map(|&b| b as char));
                            } else {
                                status.lossless = false;
                            }
                        }
                    }
                    Piece::Keep => unreachable!(),
                }
                plain_start = close + 1;
            }
            None => status.clean = false,
        }
        i = close + 1;
        if i >= raw.len() {
            break;
        }
    }
    status.lossless &= charset.decode_into(&raw[plain_start..], out);
    status
}

enum Piece<'a> {
    Byte(u8),
    Hex(&'a [u8]),
    Keep,
}

/// What the escape sequence with this code (the bytes between the two escape characters)
/// means; `None` for unknown or malformed codes.
fn classify<'a>(code: &'a [u8], sep: &Separators) -> Option<Piece<'a>> {
    match code {
        b"F" => Some(Piece::Byte(sep.field)),
        b"S" => Some(Piece::Byte(sep.component)),
        b"R" => Some(Piece::Byte(sep.repetition)),
        b"E" => sep.escape.map(Piece::Byte),
        b"T" => sep.subcomponent.map(Piece::Byte),
        // The truncation character's escape is unsettled (\L\ in HAPI and hl7apy, \P\ in
        // a secondary reference): accept both, and only where a truncation character exists.
        b"L" | b"P" => sep.truncation.map(Piece::Byte),
        [b'X', digits @ ..] if is_hex_pairs(digits) => Some(Piece::Hex(digits)),
        b"H" | b"N" => Some(Piece::Keep),
        [b'.', cmd @ ..] if is_formatting(cmd) => Some(Piece::Keep),
        [b'C' | b'M', digits @ ..] if is_hex_pairs(digits) => Some(Piece::Keep),
        [b'Z', ..] => Some(Piece::Keep),
        _ => None,
    }
}

/// At `text[i]` (an escape character), the length of a sequence that decoding keeps as
/// written (formatting, highlighting, charset switches, local escapes), if one starts there.
fn kept_len(text: &[u8], i: usize, sep: &Separators) -> Option<usize> {
    let esc = sep.escape?;
    let close = memchr::memchr(esc, &text[i + 1..])?;
    let code = &text[i + 1..i + 1 + close];
    match classify(code, sep) {
        Some(Piece::Keep) => Some(close + 2),
        _ => None,
    }
}

fn is_hex_pairs(digits: &[u8]) -> bool {
    !digits.is_empty() && digits.len().is_multiple_of(2) && digits.iter().all(u8::is_ascii_hexdigit)
}

fn hex_val(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        _ => d - b'A' + 10,
    }
}

/// The formatting commands of FT (v2.5 §2.7.6): `.br .sp n .in ±n .ti ±n .sk n .ce .fi .nf`.
fn is_formatting(cmd: &[u8]) -> bool {
    let (name, arg) = cmd.split_at(cmd.len().min(2));
    let numeric = |a: &[u8]| {
        let a = a
            .strip_prefix(b"+")
            .or_else(|| a.strip_prefix(b"-"))
            .unwrap_or(a);
        a.iter().all(u8::is_ascii_digit)
    };
    match name {
        b"br" | b"ce" | b"fi" | b"nf" => arg.is_empty(),
        b"sp" | b"sk" | b"in" | b"ti" => numeric(arg),
        _ => false,
    }
}

/// Decodes one leaf value to a new string.
pub fn decode(raw: &[u8], sep: &Separators, charset: Charset) -> (String, Decoded) {
    let mut s = String::with_capacity(raw.len());
    let d = decode_into(raw, sep, charset, &mut s);
    (s, d)
}

/// Encodes text as one HL7 leaf value: the escape character first, then the delimiters, then
/// CR and LF (as `\X0D\` and `\X0A\`), each the escape sequence of the declared characters.
/// The sequences that decoding keeps as written (`\.br\`, `\H\`, `\Cxxyy\`, `\Zxxx\`) are
/// written back as they are. Returns the first character the charset cannot represent.
pub fn encode_into(
    text: &str,
    sep: &Separators,
    charset: Charset,
    out: &mut Vec<u8>,
) -> Result<(), char> {
    let Some(esc) = sep.escape else {
        return charset.encode_into(text, out);
    };
    let special = |c: char| -> Option<&'static str> {
        if !c.is_ascii() {
            return None;
        }
        let b = c as u8;
        if b == esc {
            Some("E")
        } else if b == sep.field {
            Some("F")
        } else if b == sep.component {
            Some("S")
        } else if b == sep.repetition {
            Some("R")
        } else if Some(b) == sep.subcomponent {
            Some("T")
        } else if b == b'\r' {
            Some("X0D")
        } else if b == b'\n' {
            Some("X0A")
        } else {
            None
        }
    };
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut skip_to = 0;
    for (i, c) in text.char_indices() {
        if i < skip_to {
            continue;
        }
        if c as u32 == esc as u32 {
            // Sequences that decoding keeps as written (\.br\, \H\, ...) go back as they are,
            // so an edited value keeps its formatting.
            if let Some(len) = kept_len(bytes, i, sep) {
                skip_to = i + len;
                continue;
            }
        }
        if let Some(code) = special(c) {
            charset.encode_into(&text[start..i], out)?;
            out.push(esc);
            out.extend_from_slice(code.as_bytes());
            out.push(esc);
            start = i + 1;
        }
    }
    charset.encode_into(&text[start..], out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std_sep() -> Separators {
        Separators::default()
    }

    fn dec(raw: &str) -> (String, Decoded) {
        decode(raw.as_bytes(), &std_sep(), Charset::Utf8)
    }

    #[test]
    fn delimiter_escapes_become_declared_characters() {
        let (s, d) = dec(r"pipe\F\caret\S\amp\T\tilde\R\backslash\E\end");
        assert_eq!(s, r"pipe|caret^amp&tilde~backslash\end");
        assert_eq!(d, Decoded::OK);
    }

    #[test]
    fn custom_escape_character() {
        // MSH!@%$?: field !, component @, repetition %, escape $, subcomponent ?
        let sep = Separators::from_msh(b"MSH!@%$?!").unwrap();
        let (s, _) = decode(b"a$F$b$S$c$E$", &sep, Charset::Utf8);
        assert_eq!(s, "a!b@c$");
    }

    #[test]
    fn formatting_and_charset_switches_are_kept_raw() {
        let raw = r"Line1\.br\Line2\.sp2\\.in+4\x\H\BOLD\N\ \C2D41\caf\M2442\k\Zvendor\";
        let (s, d) = dec(raw);
        assert_eq!(s, raw);
        assert!(d.clean);
    }

    #[test]
    fn hex_bytes_in_message_charset_with_latin1_fallback() {
        // A \X0D0A\ B \X41\ \X00e9\  (00 e9 is not UTF-8: read as Latin-1)
        let (s, d) = dec(r"A\X0D0A\B\X41\\X00e9\");
        assert_eq!(s, "A\r\nBA\u{0}\u{e9}");
        assert!(d.clean && d.lossless);
        let (s, _) = dec(r"caf\XC3A9\");
        assert_eq!(s, "café", "hex bytes that are UTF-8 decode as UTF-8");
    }

    #[test]
    fn malformed_and_unknown_escapes_are_kept_and_flagged() {
        for raw in [
            r"\Q\",
            r"\f\ \s\",
            r"a\\b",
            r"lone\backslash",
            r"trailing \F",
            r"\X1\",
        ] {
            let (s, d) = dec(raw);
            assert_eq!(s, raw, "{raw}");
            assert!(!d.clean, "{raw}");
        }
    }

    #[test]
    fn truncation_escape_only_with_a_truncation_character() {
        let sep5 = Separators::from_msh(b"MSH|^~\\&#|").unwrap();
        assert_eq!(decode(br"Room \L\12", &sep5, Charset::Utf8).0, "Room #12");
        assert_eq!(decode(br"Room \P\12", &sep5, Charset::Utf8).0, "Room #12");
        let (s, d) = dec(r"Room \L\12");
        assert_eq!(s, r"Room \L\12");
        assert!(!d.clean);
    }

    #[test]
    fn encode_round_trips_and_escapes_escape_first() {
        let sep = std_sep();
        let text = "a|b^c&d~e\\f\r\ng";
        let mut out = Vec::new();
        encode_into(text, &sep, Charset::Utf8, &mut out).unwrap();
        assert_eq!(out, br"a\F\b\S\c\T\d\R\e\E\f\X0D\\X0A\g".to_vec());
        assert_eq!(decode(&out, &sep, Charset::Utf8).0, text);
    }

    #[test]
    fn kept_sequences_are_written_back_as_they_are() {
        let sep = std_sep();
        for raw in [
            r"Line1\.br\Line2\H\bold\N\",
            r"\C2D41\caf\Zlocal\",
            r"a\.sp2\b",
        ] {
            let (text, _) = decode(raw.as_bytes(), &sep, Charset::Utf8);
            let mut out = Vec::new();
            encode_into(&text, &sep, Charset::Utf8, &mut out).unwrap();
            assert_eq!(out, raw.as_bytes(), "{raw}");
        }
        // a backslash that starts no known sequence is escaped
        let mut out = Vec::new();
        encode_into(r"C:\dir\Q", &sep, Charset::Utf8, &mut out).unwrap();
        assert_eq!(out, br"C:\E\dir\E\Q".to_vec());
    }

    #[test]
    fn latin1_charset_decodes_plain_runs() {
        let (s, d) = decode(b"Lef\xe8vre \\S\\", &std_sep(), Charset::Iso8859(1));
        assert_eq!(s, "Lefèvre ^");
        assert!(d.lossless);
    }
}
