//! CSV as `hl7` writes it (`parse --to csv`, `flatten --to csv`), on csv-core: comma-separated
//! fields, records ended by `\n`, a field quoted when it holds a comma, a quote, `\r` or `\n`
//! (csv-core's rule) or starts or ends with a space, and quotes inside doubled.
//!
//! Spaces at either end are quoted because many readers trim unquoted fields, and a value
//! such as `" Doe "` must come back as it was. A record of one empty field is an empty line,
//! the output `hl7` has always had (csv-core would write `""`); readers that skip blank lines,
//! csv-core's among them, drop such a record.
//!
//! ```
//! use hl7::transform::csv::Writer;
//! let (w, mut out) = (Writer::new(), Vec::new());
//! w.record(&mut out, [&b"a,b"[..], b"say \"hi\"", b" x", b"plain"]);
//! assert_eq!(out, b"\"a,b\",\"say \"\"hi\"\"\",\" x\",plain\n");
//! ```

/// Appends CSV to a byte buffer: field by field ([`Writer::field`], [`Writer::delimiter`],
/// [`Writer::end`]) or a record at a time ([`Writer::record`]).
#[derive(Clone, Debug)]
pub struct Writer {
    /// The bytes that make a field quoted: those of csv-core's writer with its defaults,
    /// looked up once here so that the common field (nothing to quote) costs a scan and a
    /// copy.
    special: [bool; 256],
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    pub fn new() -> Writer {
        let core = csv_core::Writer::new();
        Writer {
            special: std::array::from_fn(|b| core.is_special_byte(b as u8)),
        }
    }

    /// Appends one field, quoted when it needs it.
    #[inline]
    pub fn field(&self, out: &mut Vec<u8>, f: &[u8]) {
        let edge_space = f.first() == Some(&b' ') || f.last() == Some(&b' ');
        if edge_space || f.iter().any(|&b| self.special[usize::from(b)]) {
            quoted(out, f);
        } else {
            out.extend_from_slice(f);
        }
    }

    /// Appends the separator between two fields.
    #[inline]
    pub fn delimiter(&self, out: &mut Vec<u8>) {
        out.push(b',');
    }

    /// Ends a record.
    #[inline]
    pub fn end(&self, out: &mut Vec<u8>) {
        out.push(b'\n');
    }

    /// Appends a whole record.
    pub fn record<'v>(&self, out: &mut Vec<u8>, fields: impl IntoIterator<Item = &'v [u8]>) {
        for (i, f) in fields.into_iter().enumerate() {
            if i > 0 {
                self.delimiter(out);
            }
            self.field(out, f);
        }
        self.end(out);
    }
}

/// Appends a field in quotes, with csv-core's quoting (quotes inside doubled).
#[cold]
#[inline(never)]
fn quoted(out: &mut Vec<u8>, f: &[u8]) {
    out.push(b'"');
    let start = out.len();
    // At most every byte doubled.
    out.resize(start + 2 * f.len(), 0);
    let (_, _, written) = csv_core::quote(f, &mut out[start..], b'"', b'"', true);
    out.truncate(start + written);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[&str]) -> String {
        let mut out = Vec::new();
        Writer::new().record(&mut out, fields.iter().map(|f| f.as_bytes()));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn quotes_what_needs_it() {
        assert_eq!(record(&["a", "", "b c"]), "a,,b c\n");
        assert_eq!(
            record(&["a,b", "x\"y", "\"\""]),
            "\"a,b\",\"x\"\"y\",\"\"\"\"\"\"\n"
        );
        assert_eq!(
            record(&["l1\nl2", "cr\r", " lead", "trail "]),
            "\"l1\nl2\",\"cr\r\",\" lead\",\"trail \"\n"
        );
        assert_eq!(record(&["é;\t#"]), "é;\t#\n");
        assert_eq!(record(&[""]), "\n");
        assert_eq!(record(&[]), "\n");
        assert_eq!(record(&[" "]), "\" \"\n");
    }

    #[test]
    fn reads_back_with_csv_core() {
        let fields = ["a,b", "x\"y\"", " s ", "two\nlines", "", "plain"];
        let text = record(&fields);
        let mut reader = csv_core::Reader::new();
        let (mut out, mut ends) = (vec![0u8; 256], vec![0usize; 16]);
        let (res, _, nout, nend) = reader.read_record(text.as_bytes(), &mut out, &mut ends);
        assert_eq!(res, csv_core::ReadRecordResult::Record);
        let mut from = 0;
        let got: Vec<&str> = ends[..nend]
            .iter()
            .map(|&e| {
                let f = std::str::from_utf8(&out[from..e]).unwrap();
                from = e;
                f
            })
            .collect();
        assert_eq!(got, fields);
        assert_eq!(from, nout);
    }
}
