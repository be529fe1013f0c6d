//! A selection of field paths (`parse --select MSH-10,PID-3.1,OBX-5`) turned into rows: one row
//! per message, or one per OBX when a path names the observation (a bare `OBX-5`), each path
//! read around that OBX ([`crate::transform::obx`], the observation's own group first).

use crate::model::message::{Message, Segment, Value};
use crate::model::path::{DotStyle, Path, PathError};
use crate::transform::obx::{Context, Scope};

/// Paths to read from each message, in order.
#[derive(Clone, Debug)]
pub struct Selection {
    paths: Vec<Path>,
    per_obx: bool,
}

/// Why a selection cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SelectionError {
    /// A path that does not parse.
    Path(PathError),
    /// No path at all.
    Empty,
}

impl std::fmt::Display for SelectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SelectionError::Path(e) => e.fmt(f),
            SelectionError::Empty => {
                f.write_str("--select needs at least one path, e.g. --select MSH-10,PID-3.1")
            }
        }
    }
}

impl std::error::Error for SelectionError {}

impl Selection {
    /// The paths as written (blank ones ignored), read in `style` when they use dots.
    pub fn parse<'s>(
        paths: impl IntoIterator<Item = &'s str>,
        style: DotStyle,
    ) -> Result<Selection, SelectionError> {
        let paths = paths
            .into_iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| Path::parse_with(s, style).map_err(SelectionError::Path))
            .collect::<Result<Vec<_>, _>>()?;
        if paths.is_empty() {
            return Err(SelectionError::Empty);
        }
        let per_obx = paths.iter().any(|p| p.is_each(b"OBX"));
        Ok(Selection { paths, per_obx })
    }

    pub fn paths(&self) -> &[Path] {
        &self.paths
    }

    /// True when the rows are one per OBX rather than one per message.
    pub fn per_obx(&self) -> bool {
        self.per_obx
    }

    /// Calls `row` with the values of each row of `msg` (`None` where a path finds nothing),
    /// in order. `values` is scratch space, kept by the caller between messages.
    pub fn rows<'m, E>(
        &self,
        msg: &Message<'m>,
        values: &mut Vec<Option<Value<'m>>>,
        mut row: impl FnMut(&[Option<Value<'m>>]) -> Result<(), E>,
    ) -> Result<(), E> {
        values.clear();
        if !self.per_obx {
            // One row: each path finds its segment from the start, and the scan stops there
            // (no pass over the rest of the message).
            values.extend(self.paths.iter().map(|p| msg.get(p)));
            return row(values);
        }
        // The message's segments, so each row can look up the segments around its OBX.
        let segs: Vec<Segment<'m>> = msg.segments().collect();
        let cx = Context::new(&segs, Scope::Group);
        for (i, seg) in segs.iter().enumerate() {
            if seg.id() != b"OBX" {
                continue;
            }
            values.clear();
            values.extend(self.paths.iter().map(|p| cx.get(p, Some(i))));
            row(values)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORU: &[u8] = b"MSH|^~\\&|LAB||||||ORU^R01|C1|P|2.5\rPID|1||42\rOBR|1\rOBX|1|NM|HR||72\rNTE|1||calm\rOBX|2|NM|RR||14\r";

    fn texts(sel: &Selection, raw: &[u8]) -> Vec<Vec<String>> {
        let msg = Message::parse(raw).unwrap();
        let mut rows = Vec::new();
        sel.rows(&msg, &mut Vec::new(), |vals| {
            rows.push(
                vals.iter()
                    .map(|v| v.map(|v| v.text().into_owned()).unwrap_or_default())
                    .collect(),
            );
            Ok::<_, ()>(())
        })
        .unwrap();
        rows
    }

    #[test]
    fn one_row_per_message_or_per_observation() {
        let sel = Selection::parse(["MSH-10", "PID-3"], DotStyle::Refuse).unwrap();
        assert!(!sel.per_obx());
        assert_eq!(texts(&sel, ORU), [["C1", "42"]]);
        let sel =
            Selection::parse(["MSH-10", "OBX-3", "OBX-5", "NTE-3"], DotStyle::Refuse).unwrap();
        assert!(sel.per_obx());
        assert_eq!(
            texts(&sel, ORU),
            [["C1", "HR", "72", "calm"], ["C1", "RR", "14", ""]]
        );
    }

    #[test]
    fn blank_paths_are_ignored_and_none_is_an_error() {
        assert_eq!(
            Selection::parse([" ", ""], DotStyle::Refuse).unwrap_err(),
            SelectionError::Empty
        );
        assert!(matches!(
            Selection::parse(["PID-x"], DotStyle::Refuse),
            Err(SelectionError::Path(_))
        ));
        assert_eq!(
            Selection::parse(["", "PID-3"], DotStyle::Refuse)
                .unwrap()
                .paths()
                .len(),
            1
        );
    }
}
