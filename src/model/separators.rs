//! The delimiters a message declares in MSH-1 and MSH-2, and the errors of a header that
//! cannot be read. Both [`crate::model::message`] and [`crate::model::escape`] need them; they
//! live here so that neither imports the other for them.

use std::fmt;

/// The delimiters a message declares in MSH-1 and MSH-2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Separators {
    pub field: u8,
    pub component: u8,
    pub repetition: u8,
    /// Absent when MSH-2 has fewer than 3 characters: then nothing is an escape.
    pub escape: Option<u8>,
    /// Absent when MSH-2 has fewer than 4 characters.
    pub subcomponent: Option<u8>,
    /// The v2.7 truncation character, the 5th of MSH-2 when present.
    pub truncation: Option<u8>,
    /// How many encoding characters MSH-2 declared (1 to 5).
    pub declared: u8,
}

impl Default for Separators {
    /// The standard `|^~\&`.
    fn default() -> Self {
        Separators {
            field: b'|',
            component: b'^',
            repetition: b'~',
            escape: Some(b'\\'),
            subcomponent: Some(b'&'),
            truncation: None,
            declared: 4,
        }
    }
}

/// Why a message (or its header) cannot be read. `offset` is the byte offset inside the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageError {
    pub offset: usize,
    /// The field path concerned, e.g. `MSH-2`, when there is one.
    pub path: Option<String>,
    pub what: String,
}

impl MessageError {
    pub(crate) fn new(offset: usize, path: Option<&str>, what: impl Into<String>) -> Self {
        MessageError {
            offset,
            path: path.map(str::to_owned),
            what: what.into(),
        }
    }
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{p}: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

impl std::error::Error for MessageError {}

impl Separators {
    /// Reads the separators of a header segment (`MSH`, `FHS` or `BHS` followed by MSH-1 and
    /// MSH-2). `line` is the header segment, or the whole message.
    pub fn from_msh(line: &[u8]) -> Result<Separators, MessageError> {
        // the id and paths are only spelled out for an error: this runs once per message
        let id = || String::from_utf8_lossy(&line[..line.len().min(3)]).into_owned();
        let Some(&field) = line.get(3).filter(|b| !matches!(b, b'\r' | b'\n')) else {
            return Err(MessageError::new(
                line.len(),
                Some(&format!("{}-1", id())),
                "the header ends before the field separator and encoding characters",
            ));
        };
        if !field.is_ascii_graphic() || field.is_ascii_alphanumeric() {
            return Err(MessageError::new(
                3,
                Some(&format!("{}-1", id())),
                format!(
                    "the field separator must be a printable ASCII punctuation character, found {}",
                    show_byte(field)
                ),
            ));
        }
        let rest = &line[4..];
        let end = rest
            .iter()
            .position(|&b| b == field || b == b'\r' || b == b'\n')
            .unwrap_or(rest.len());
        let enc = &rest[..end];
        let path = || format!("{}-2", id());
        if enc.is_empty() {
            return Err(MessageError::new(
                4,
                Some(&path()),
                "the encoding characters are missing (expected 4, like ^~\\&)",
            ));
        }
        if enc.len() > 5 {
            return Err(MessageError::new(
                4,
                Some(&path()),
                format!("expected 4 or 5 encoding characters, found {}", enc.len()),
            ));
        }
        for (i, &c) in enc.iter().enumerate() {
            if !c.is_ascii_graphic() || c.is_ascii_alphanumeric() {
                return Err(MessageError::new(
                    4 + i,
                    Some(&path()),
                    format!(
                        "encoding character {} must be printable ASCII punctuation, found {}",
                        i + 1,
                        show_byte(c)
                    ),
                ));
            }
            if c == field || enc[..i].contains(&c) {
                return Err(MessageError::new(
                    4 + i,
                    Some(&path()),
                    format!(
                        "duplicate encoding character '{}' (each delimiter must be distinct)",
                        c as char
                    ),
                ));
            }
        }
        Ok(Separators {
            field,
            component: enc[0],
            repetition: enc.get(1).copied().unwrap_or(0),
            escape: enc.get(2).copied(),
            subcomponent: enc.get(3).copied(),
            truncation: enc.get(4).copied(),
            declared: enc.len() as u8,
        })
    }

    /// MSH-2 as declared: `^~\&` or `^~\&#`.
    pub fn encoding_chars(&self) -> Vec<u8> {
        let mut v = vec![self.component];
        if self.declared >= 2 {
            v.push(self.repetition);
        }
        v.extend(self.escape);
        v.extend(self.subcomponent);
        v.extend(self.truncation);
        v
    }
}

/// A byte as an error message shows it: a quoted character, or `byte 0x0B` when it does
/// not print.
pub fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02X}")
    }
}

/// The segment ids whose first field is the field separator itself.
#[inline]
pub fn is_header_id(id: &[u8]) -> bool {
    matches!(id, b"MSH" | b"FHS" | b"BHS")
}

/// A line holds a segment id when it starts with three upper-case letters or digits followed by
/// the field separator or its end.
#[inline]
pub fn valid_segment_id(line: &[u8], field_sep: u8) -> bool {
    line.len() >= 3
        && line[0].is_ascii_uppercase()
        && line[1..3]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && (line.len() == 3 || line[3] == field_sep)
}
