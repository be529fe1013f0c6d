//! File name patterns: strftime fields and field paths (`%Y/%m/%d/{MSH-9.1}_{MSH-9.2}.hl7`),
//! used by `listen --archive-layout` (and `convert --output`).
//!
//! Values taken from messages are sanitized so they cannot leave the directory: `/`, `\`,
//! control characters and the like become `_`, a value of `.` or `..` becomes `_`, and an empty
//! value becomes `_`. The literal parts of the pattern are the user's and are kept.

use crate::model::message::Message;
use crate::model::path::Path;
use crate::time::Stamp;

/// A parsed pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    parts: Vec<Part>,
}

#[derive(Clone, Debug)]
enum Part {
    Text(String),
    /// A strftime conversion: one of `Y m d H M S j`.
    Time(char),
    Field(Path),
}

impl Pattern {
    /// Parses a pattern; `%%` is a literal `%`, `{{` a literal `{`.
    pub fn parse(s: &str) -> Result<Pattern, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '%' => match chars.next() {
                    Some('%') => text.push('%'),
                    Some(k @ ('Y' | 'm' | 'd' | 'H' | 'M' | 'S')) => {
                        if !text.is_empty() {
                            parts.push(Part::Text(std::mem::take(&mut text)));
                        }
                        parts.push(Part::Time(k));
                    }
                    Some(k) => {
                        return Err(format!("'%{k}' is not supported (use %Y %m %d %H %M %S)"));
                    }
                    None => return Err("a '%' at the end".into()),
                },
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '{' => {
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => inner.push(c),
                            None => return Err(format!("'{{{inner}' is not closed with '}}'")),
                        }
                    }
                    let path: Path = inner
                        .trim()
                        .parse()
                        .map_err(|e: crate::model::path::PathError| e.to_string())?;
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Field(path));
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Pattern { parts })
    }

    /// The file name for a message received at `at`.
    pub fn render(&self, msg: &Message<'_>, at: Stamp) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Time(k) => {
                    let s = match k {
                        'Y' => format!("{:04}", at.year),
                        'm' => format!("{:02}", at.month),
                        'd' => format!("{:02}", at.day),
                        'H' => format!("{:02}", at.hour),
                        'M' => format!("{:02}", at.minute),
                        _ => format!("{:02}", at.second),
                    };
                    out.push_str(&s);
                }
                Part::Field(p) => out.push_str(&sanitize(&msg.text(p).unwrap_or_default())),
            }
        }
        out
    }
}

/// A value made safe as one path component.
pub fn sanitize(v: &str) -> String {
    let cleaned: String = v
        .trim()
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "_".to_string()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Stamp = Stamp {
        year: 2024,
        month: 8,
        day: 14,
        hour: 9,
        minute: 5,
        second: 3,
    };

    #[test]
    fn renders_time_and_fields() {
        let m =
            Message::parse(b"MSH|^~\\&|A||||1||ORU^R01|C1|P|2.5\rPID|1||../../etc^^^X||DOE/JANE\r")
                .unwrap();
        let p = Pattern::parse("%Y/%m/%d/{MSH-9.1}_{MSH-9.2}.hl7").unwrap();
        assert_eq!(p.render(&m, AT), "2024/08/14/ORU_R01.hl7");
        let p = Pattern::parse("patients/{PID-3.1}/{PID-5}_%H%M%S_100%%_{{x}.json").unwrap();
        assert_eq!(
            p.render(&m, AT),
            "patients/.._.._etc/DOE_JANE_090503_100%_{x}.json"
        );
        let p = Pattern::parse("{PID-19}.hl7").unwrap();
        assert_eq!(p.render(&m, AT), "_.hl7", "an absent value is '_'");
        assert_eq!(sanitize(".."), "_");
    }

    #[test]
    fn bad_patterns() {
        assert!(Pattern::parse("%Q").is_err());
        assert!(Pattern::parse("{PID-x}").unwrap_err().contains("column"));
        assert!(Pattern::parse("{MSH-9").is_err());
        assert!(Pattern::parse("x%").is_err());
    }
}
