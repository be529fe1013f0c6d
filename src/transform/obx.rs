//! Paths read for one observation. `parse --select` with an OBX path and `flatten` write one
//! row per OBX; in such a row a bare OBX path (`OBX-5`, `OBX[*]-5`) reads that OBX, a path
//! with an occurrence (`NTE[2]-3`) reads as written, and any other path reads the segment of
//! its kind that belongs with the OBX, found by a [`Scope`].
//!
//! ```
//! use hl7::Message;
//! use hl7::transform::obx::{Context, Scope};
//! let raw = b"MSH|^~\\&|A||||1||ORU^R01|1|P|2.5\rOBR|1|||P1\rOBX|1|NM|A||1\rNTE|1||first\rOBX|2|NM|B||2\r";
//! let msg = Message::parse(raw).unwrap();
//! let segs: Vec<_> = msg.segments().collect();
//! let (nte, obr) = ("NTE-3".parse().unwrap(), "OBR-4".parse().unwrap());
//! let group = Context::new(&segs, Scope::Group);
//! assert_eq!(group.get(&nte, Some(2)).unwrap().text(), "first");
//! assert!(group.get(&nte, Some(4)).is_none());
//! assert_eq!(group.get(&obr, Some(4)).unwrap().text(), "P1");
//! let before = Context::new(&segs, Scope::Before);
//! assert_eq!(before.get(&nte, Some(2)).unwrap().text(), "first"); // the message's first
//! assert_eq!(before.get(&nte, Some(4)).unwrap().text(), "first"); // the nearest before
//! ```

use crate::model::message::{Segment, Value};
use crate::model::path::{Occurrence, Path};

/// Which segment of its kind a path of another segment reads for an OBX's row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `parse --select`: the OBX's own group first (the segments after it up to the next OBX,
    /// OBR, ORC, SPM, PID or MSH: its NTE), else the nearest one before it that is in no OBX's
    /// group (its OBR, that OBR's notes, the PID); else none, so another observation's note
    /// never lands on this row.
    Group,
    /// `flatten`: the nearest one before the OBX, whichever group it is in (its OBR), else the
    /// first of the message.
    Before,
}

/// A message's segments, read for one observation at a time.
pub struct Context<'s, 'a> {
    segs: &'s [Segment<'a>],
    scope: Scope,
    /// With [`Scope::Group`]: for each segment, the index of the OBX whose group it is in.
    groups: Vec<Option<usize>>,
}

impl<'s, 'a> Context<'s, 'a> {
    pub fn new(segs: &'s [Segment<'a>], scope: Scope) -> Self {
        let groups = match scope {
            Scope::Group => groups(segs),
            Scope::Before => Vec::new(),
        };
        Context {
            segs,
            scope,
            groups,
        }
    }

    /// The segments, in message order.
    pub fn segments(&self) -> &'s [Segment<'a>] {
        self.segs
    }

    /// Path `p` for the row of the OBX at `segs[obx]`, or for the message when `obx` is `None`
    /// (the occurrence the path names, else the first).
    pub fn get(&self, p: &Path, obx: Option<usize>) -> Option<Value<'a>> {
        let Some(obx) = obx.filter(|&i| i < self.segs.len()) else {
            return self.first(p);
        };
        if p.is_each(b"OBX") {
            return self.segs[obx].get(p);
        }
        if let Occurrence::Nth(_) = p.occurrence {
            return self.first(p);
        }
        let id = &p.segment[..];
        let found = match self.scope {
            Scope::Before => match self.segs[..obx].iter().rposition(|s| s.id() == id) {
                Some(j) => Some(j),
                None => return self.first(p),
            },
            Scope::Group => {
                let own = (obx + 1..self.segs.len())
                    .take_while(|&j| self.groups[j] == Some(obx))
                    .find(|&j| self.segs[j].id() == id);
                own.or_else(|| {
                    (0..obx)
                        .rev()
                        .find(|&j| self.segs[j].id() == id && self.groups[j].is_none())
                })
            }
        };
        found.and_then(|j| self.segs[j].get(p))
    }

    /// The occurrence `p` names, else the first segment of its kind.
    fn first(&self, p: &Path) -> Option<Value<'a>> {
        let mut of_kind = self.segs.iter().filter(|s| s.id() == p.segment);
        let seg = match p.occurrence {
            Occurrence::Nth(k) => of_kind.nth(k.checked_sub(1)?),
            Occurrence::First | Occurrence::All => of_kind.next(),
        }?;
        seg.get(p)
    }
}

/// Segments that open a group: what follows them, up to the next one, is theirs.
fn opens_group(id: &[u8]) -> bool {
    matches!(id, b"OBX" | b"OBR" | b"ORC" | b"SPM" | b"PID" | b"MSH")
}

/// For each segment, the index of the OBX whose group it is in, if any.
fn groups(segs: &[Segment<'_>]) -> Vec<Option<usize>> {
    let mut owner = None;
    segs.iter()
        .enumerate()
        .map(|(i, s)| {
            if opens_group(s.id()) {
                owner = (s.id() == b"OBX").then_some(i);
                None
            } else {
                owner
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    const RAW: &[u8] = b"MSH|^~\\&|A||||1||ORU^R01|1|P|2.5\rNTE|1||pre\rPID|1||42\rOBR|1|||P1\rNTE|1||obr note\rOBX|1|NM|A||1\rNTE|1||own\rOBX|2|NM|B||2\rORC|1\rNTE|1||after orc\rOBX|3|NM|C||3\rOBR|2|||P2\rOBX|4|NM|D||4\r";

    fn texts(scope: Scope, path: &str) -> Vec<String> {
        let msg = Message::parse(RAW).unwrap();
        let segs: Vec<_> = msg.segments().collect();
        let cx = Context::new(&segs, scope);
        let p: Path = path.parse().unwrap();
        let mut out = vec![
            cx.get(&p, None)
                .map_or("-".into(), |v| v.text().into_owned()),
        ];
        for (i, s) in segs.iter().enumerate() {
            if s.id() == b"OBX" {
                out.push(
                    cx.get(&p, Some(i))
                        .map_or("-".into(), |v| v.text().into_owned()),
                );
            }
        }
        out
    }

    #[test]
    fn the_two_scopes() {
        // message, then OBX 1 to 4
        assert_eq!(
            texts(Scope::Group, "NTE-3"),
            ["pre", "own", "obr note", "after orc", "after orc"]
        );
        assert_eq!(
            texts(Scope::Before, "NTE-3"),
            ["pre", "obr note", "own", "after orc", "after orc"]
        );
        assert_eq!(texts(Scope::Group, "OBR-4"), ["P1", "P1", "P1", "P1", "P2"]);
        assert_eq!(
            texts(Scope::Before, "OBR-4"),
            ["P1", "P1", "P1", "P1", "P2"]
        );
        assert_eq!(texts(Scope::Group, "OBX-5"), ["1", "1", "2", "3", "4"]);
        assert_eq!(texts(Scope::Group, "OBX[*]-5"), ["1", "1", "2", "3", "4"]);
        assert_eq!(texts(Scope::Before, "NTE[2]-3"), ["obr note"; 5]);
        assert_eq!(texts(Scope::Group, "OBX[3]-5"), ["3"; 5]);
        assert_eq!(texts(Scope::Group, "ZZZ-1"), ["-"; 5]);
        assert_eq!(texts(Scope::Before, "SPM-1"), ["-"; 5]);
    }
}
