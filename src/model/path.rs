//! The one field path grammar used everywhere: `parse --select`, flatten maps, convert
//! templates, ilp maps and error messages (docs/paths.md).
//!
//! ```text
//! path  := SEG [ '[' (N | '*') ']' ] ( ('-' | '.') FIELD [ ('[' N ']' | '(' N ')') ] [ '.' COMP [ '.' SUB ] ] )?
//! SEG   := an upper-case letter, then two upper-case letters or digits (PID, OBX, ZPI, PV1)
//! ```
//! Every number is 1-based. `PID.5.1` is read as `PID-5.1`, and paths always print in the dash
//! form. A dot path with three numbers (`PID.1.5.1`) is ambiguous: one system we replace wrote
//! it as occurrence, field, component (`PID[1]-5.1`), python-hl7 reads it as field,
//! repetition, component (`PID-1[5].1`), and Mirth-style paths go on to a subcomponent
//! (`PID-1.5.1`). It is refused unless a [`DotStyle`] says which is meant, so configuration
//! migrated from any of them keeps its meaning.
//!
//! ```
//! use hl7::model::path::Path;
//! let p: Path = "OBX[2]-5.1".parse().unwrap();
//! assert_eq!(p.to_string(), "OBX[2]-5.1");
//! let q: Path = "pid.3(2).1".parse::<Path>().unwrap_or_else(|_| "PID.3(2).1".parse().unwrap());
//! assert_eq!(q.to_string(), "PID-3[2].1");
//! assert!("PID-0".parse::<Path>().is_err());
//! let e = "PID.1.5.1".parse::<Path>().unwrap_err().to_string();
//! assert!(e.contains("PID[1]-5.1") && e.contains("PID-1[5].1"));
//! ```

use std::fmt;
use std::str::FromStr;

/// Which segment occurrence a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Occurrence {
    /// No occurrence written (`OBX-5`): the first, or each one in a per-observation context.
    First,
    /// `OBX[2]-5`.
    Nth(usize),
    /// `OBX[*]-5`: every occurrence.
    All,
}

/// How to read a dot path with three numbers after the segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DotStyle {
    /// Refuse it with a message that shows both readings (the default).
    #[default]
    Refuse,
    /// `PID.1.5.1` is field 1, component 5, subcomponent 1 (Mirth-style dots).
    FieldComponent,
    /// `PID.1.5.1` is occurrence 1, field 5, component 1 (the system some maps come from).
    OccurrenceField,
    /// `PID.1.5.1` is field 1, repetition 5, component 1 (python-hl7's `SEG.F.R.C`).
    FieldRepetition,
}

/// A parsed field path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Path {
    pub segment: [u8; 3],
    pub occurrence: Occurrence,
    /// `None` names the whole segment.
    pub field: Option<usize>,
    pub repetition: Option<usize>,
    pub component: Option<usize>,
    pub subcomponent: Option<usize>,
}

/// Why a path could not be read: the input, the column (1-based) and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathError {
    pub input: String,
    pub column: usize,
    pub what: String,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad path '{}' at column {}: {}",
            self.input, self.column, self.what
        )
    }
}

impl std::error::Error for PathError {}

impl Path {
    /// Parses with an explicit [`DotStyle`].
    pub fn parse_with(s: &str, style: DotStyle) -> Result<Path, PathError> {
        Parser {
            s: s.trim().as_bytes(),
            i: 0,
            input: s,
        }
        .path(style)
    }

    /// The segment id as text.
    pub fn segment_str(&self) -> &str {
        std::str::from_utf8(&self.segment).unwrap_or("???")
    }

    /// True when the path names a segment without an explicit occurrence (`OBX-5`, `OBX[*]-5`),
    /// i.e. it means "each one" in a per-segment context.
    pub fn is_each(&self, segment: &[u8]) -> bool {
        self.segment == segment && matches!(self.occurrence, Occurrence::First | Occurrence::All)
    }
}

impl FromStr for Path {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Path, PathError> {
        Path::parse_with(s, DotStyle::Refuse)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.segment_str())?;
        match self.occurrence {
            Occurrence::First => {}
            Occurrence::Nth(n) => write!(f, "[{n}]")?,
            Occurrence::All => f.write_str("[*]")?,
        }
        if let Some(field) = self.field {
            write!(f, "-{field}")?;
            if let Some(r) = self.repetition {
                write!(f, "[{r}]")?;
            }
            if let Some(c) = self.component {
                write!(f, ".{c}")?;
            }
            if let Some(s) = self.subcomponent {
                write!(f, ".{s}")?;
            }
        }
        Ok(())
    }
}

struct Parser<'s> {
    s: &'s [u8],
    i: usize,
    input: &'s str,
}

impl Parser<'_> {
    fn err(&self, what: impl Into<String>) -> PathError {
        PathError {
            input: self.input.to_string(),
            column: self.i + 1,
            what: what.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn number(&mut self, what: &str) -> Result<usize, PathError> {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        if start == self.i {
            return Err(self.err(format!("expected {what} (a number from 1)")));
        }
        let n: usize = std::str::from_utf8(&self.s[start..self.i])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| self.err(format!("{what} is too large")))?;
        if n == 0 {
            self.i = start;
            return Err(self.err(format!("{what} 0: numbers in paths start at 1")));
        }
        Ok(n)
    }

    fn path(mut self, style: DotStyle) -> Result<Path, PathError> {
        if self.s.is_empty() {
            return Err(self.err("empty path; expected a segment id like PID"));
        }
        let seg = self.s.get(..3).filter(|id| {
            id[0].is_ascii_uppercase()
                && id[1..]
                    .iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        });
        let Some(seg) = seg else {
            let hint = if self.s.len() >= 3 && self.s[..3].iter().all(u8::is_ascii_alphanumeric) {
                " (segment ids are upper case: PID, not pid)"
            } else {
                ""
            };
            return Err(self.err(format!(
                "expected a segment id of 3 upper-case letters or digits{hint}"
            )));
        };
        let segment = [seg[0], seg[1], seg[2]];
        self.i = 3;
        let mut occurrence = Occurrence::First;
        if self.eat(b'[') {
            occurrence = if self.eat(b'*') {
                Occurrence::All
            } else {
                Occurrence::Nth(self.number("a segment occurrence")?)
            };
            if !self.eat(b']') {
                return Err(self.err("expected ']'"));
            }
        } else if self.peek() == Some(b'(') {
            return Err(self.err(
                "write a segment occurrence as OBX[2] (1-based); OBX(1) is HAPI's 0-based form",
            ));
        }
        let mut p = Path {
            segment,
            occurrence,
            field: None,
            repetition: None,
            component: None,
            subcomponent: None,
        };
        match self.peek() {
            None => return Ok(p),
            Some(b'-') => {
                self.i += 1;
                self.dash_rest(&mut p)?;
            }
            Some(b'.') => {
                self.i += 1;
                self.dot_rest(&mut p, style)?;
            }
            Some(_) => return Err(self.err("expected '-' and a field number, like PID-5")),
        }
        if self.i < self.s.len() {
            return Err(self.err("unexpected characters after the path"));
        }
        Ok(p)
    }

    fn repetition(&mut self, p: &mut Path) -> Result<(), PathError> {
        for (open, close) in [(b'[', b']'), (b'(', b')')] {
            if self.eat(open) {
                p.repetition = Some(self.number("a repetition")?);
                if !self.eat(close) {
                    return Err(self.err(format!("expected '{}'", close as char)));
                }
            }
        }
        Ok(())
    }

    fn dash_rest(&mut self, p: &mut Path) -> Result<(), PathError> {
        p.field = Some(self.number("a field number")?);
        self.repetition(p)?;
        if self.eat(b'.') {
            p.component = Some(self.number("a component number")?);
            if self.eat(b'.') {
                p.subcomponent = Some(self.number("a subcomponent number")?);
            }
        } else if self.peek() == Some(b'-') {
            return Err(
                self.err("components follow a dot: PID-5.1 (HAPI's PID-5-1 form is not accepted)")
            );
        }
        Ok(())
    }

    fn dot_rest(&mut self, p: &mut Path, style: DotStyle) -> Result<(), PathError> {
        if self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            return Err(self.err(
                "python-hl7 keys like PID.F5.R1.C1 are not accepted; write PID-5.1 (field 5, component 1)",
            ));
        }
        let first = self.number("a field number")?;
        let mut nums = vec![first];
        let mut rep_after_first = None;
        if matches!(self.peek(), Some(b'[' | b'(')) {
            let mut tmp = p.clone();
            self.repetition(&mut tmp)?;
            rep_after_first = tmp.repetition;
        }
        while self.eat(b'.') {
            nums.push(self.number("a number")?);
        }
        match (nums.as_slice(), style) {
            ([f], _) => p.field = Some(*f),
            ([f, c], _) => {
                p.field = Some(*f);
                p.component = Some(*c);
            }
            ([a, b, c], DotStyle::FieldComponent) => {
                p.field = Some(*a);
                p.component = Some(*b);
                p.subcomponent = Some(*c);
            }
            ([a, b, c], DotStyle::OccurrenceField)
                if rep_after_first.is_none() && p.occurrence == Occurrence::First =>
            {
                p.occurrence = Occurrence::Nth(*a);
                p.field = Some(*b);
                p.component = Some(*c);
            }
            ([a, b, c], DotStyle::FieldRepetition) if rep_after_first.is_none() => {
                p.field = Some(*a);
                p.component = Some(*c);
                p.repetition = Some(*b);
                return Ok(());
            }
            ([a, b, c], DotStyle::Refuse)
                if rep_after_first.is_none() && p.occurrence == Occurrence::First =>
            {
                let seg = std::str::from_utf8(&p.segment).unwrap_or("???");
                return Err(PathError {
                    input: self.input.to_string(),
                    column: 1,
                    what: format!(
                        "a dot path with three numbers is ambiguous: as occurrence.field.component it is {seg}[{a}]-{b}.{c}; as python-hl7's field.repetition.component it is {seg}-{a}[{b}].{c}; as field.component.subcomponent it is {seg}-{a}.{b}.{c}; write one of those, or choose the dot style"
                    ),
                });
            }
            ([a, b, c], _) => {
                p.field = Some(*a);
                p.component = Some(*b);
                p.subcomponent = Some(*c);
            }
            _ => {
                return Err(self.err("too many numbers: a path goes down to subcomponents at most"));
            }
        }
        p.repetition = rep_after_first;
        Ok(())
    }
}

/// Parses a comma-separated list of paths (`MSH-10,PID-3.1`).
pub fn parse_list(s: &str, style: DotStyle) -> Result<Vec<Path>, PathError> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| Path::parse_with(p, style))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        s.parse::<Path>()
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string()
    }

    fn err(s: &str) -> String {
        s.parse::<Path>().unwrap_err().to_string()
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(ok("PID-5"), "PID-5");
        assert_eq!(ok("PID-5.1"), "PID-5.1");
        assert_eq!(ok("PID-5.1.2"), "PID-5.1.2");
        assert_eq!(ok("PID.5.1"), "PID-5.1");
        assert_eq!(ok("PID.5"), "PID-5");
        assert_eq!(ok("PID-3[2].1"), "PID-3[2].1");
        assert_eq!(ok("PID-3(2).1"), "PID-3[2].1");
        assert_eq!(ok("OBX[2]-5"), "OBX[2]-5");
        assert_eq!(ok("OBX[*]-5"), "OBX[*]-5");
        assert_eq!(ok("ZPI-1"), "ZPI-1");
        assert_eq!(ok("PV1-3"), "PV1-3");
        assert_eq!(ok(" MSH-9.2 "), "MSH-9.2");
        assert_eq!(ok("PID"), "PID");
        assert_eq!(ok("OBX[3]"), "OBX[3]");
    }

    #[test]
    fn fields() {
        let p: Path = "OBX[2]-5[3].1.2".parse().unwrap();
        assert_eq!(p.occurrence, Occurrence::Nth(2));
        assert_eq!(
            (p.field, p.repetition, p.component, p.subcomponent),
            (Some(5), Some(3), Some(1), Some(2))
        );
        assert!("OBX-5".parse::<Path>().unwrap().is_each(b"OBX"));
        assert!(!"OBX[1]-5".parse::<Path>().unwrap().is_each(b"OBX"));
    }

    #[test]
    fn errors_name_the_column_and_the_fix() {
        assert!(err("").contains("empty"));
        assert!(err("pid-5").contains("upper case"));
        assert!(err("PID-0").contains("start at 1"));
        assert!(err("PID-x").contains("column 5"));
        assert!(err("PID-5-1").contains("PID-5.1"));
        assert!(err("OBX(1)-5").contains("0-based"));
        assert!(err("PID.F5.R1").contains("python-hl7"));
        assert!(err("PID-5.1.2.3").contains("unexpected"));
        assert!(err("PID-3[2").contains("']'"));
        assert!(err("PI").contains("segment id"));
        assert!(err("PID5").contains("'-'"));
    }

    #[test]
    fn three_number_dot_paths() {
        let e = err("PID.1.5.1");
        assert!(
            e.contains("PID[1]-5.1") && e.contains("PID-1[5].1") && e.contains("PID-1.5.1"),
            "{e}"
        );
        let c = Path::parse_with("PID.1.5.1", DotStyle::FieldRepetition).unwrap();
        assert_eq!(c.to_string(), "PID-1[5].1");
        let a = Path::parse_with("PID.1.5.1", DotStyle::OccurrenceField).unwrap();
        assert_eq!(a.to_string(), "PID[1]-5.1");
        let b = Path::parse_with("PID.1.5.1", DotStyle::FieldComponent).unwrap();
        assert_eq!(b.to_string(), "PID-1.5.1");
        // with an explicit occurrence or repetition there is only one reading
        assert_eq!(ok("PID[1].5.1.2"), "PID[1]-5.1.2");
        assert_eq!(ok("PID.3(2).1.2"), "PID-3[2].1.2");
    }

    #[test]
    fn lists() {
        let v = parse_list("MSH-10, PID-3.1,", DotStyle::Refuse).unwrap();
        assert_eq!(v.len(), 2);
        assert!(parse_list("MSH-10,PID-x", DotStyle::Refuse).is_err());
    }
}
