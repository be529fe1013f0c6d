//! Renderings written to files named by a pattern (`convert --output 'out/{MSH-10}.json'`):
//! the name is rendered from the message (or, for a JSON document that is none, from the
//! rendering when it is HL7), folders are made as needed, and a second rendering to the same
//! file in one run is refused instead of silently replacing the first, unless appending.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

use crate::model::message::Message;
use crate::time::Stamp;
use crate::transform::pattern::Pattern;

/// Why a rendering was not written.
#[derive(Debug)]
pub enum FileError {
    /// Without appending, the pattern named a file this run already wrote: for message `first`.
    Named { first: u64 },
    /// The folder or the file could not be made or written.
    Io(io::Error),
}

/// Files named by a pattern, written one rendering each (or appended to).
#[derive(Debug)]
pub struct Files {
    pattern: Pattern,
    append: bool,
    /// Files written in this run, and by which message.
    written: HashMap<PathBuf, u64>,
    /// How many renderings were written.
    pub count: u64,
}

impl Files {
    pub fn new(pattern: Pattern, append: bool) -> Self {
        Files {
            pattern,
            append,
            written: HashMap::new(),
            count: 0,
        }
    }

    /// Writes the rendering `out` of message number `n` (`msg`, when the input was one) to the
    /// file the pattern names for it at `at`. The name is built from message fields, so the
    /// caller must not print it (patient data).
    pub fn write(
        &mut self,
        msg: Option<Message<'_>>,
        out: &[u8],
        n: u64,
        at: Stamp,
    ) -> Result<(), FileError> {
        // Field paths read the input message. A JSON document that is not one has no fields:
        // they read the rendering when it is HL7 (a JSON order rendered as ORM^O01 can be filed
        // by its OBR-2), else nothing ('_').
        const NONE: &[u8] = b"MSH|^~\\&";
        let msg = msg
            .or_else(|| {
                out.starts_with(b"MSH")
                    .then(|| Message::parse(out).ok())
                    .flatten()
            })
            .or_else(|| Message::parse(NONE).ok());
        let path = match &msg {
            Some(m) => PathBuf::from(self.pattern.render(m, at)),
            None => return Err(FileError::Io(io::Error::other("no file name"))),
        };
        if !self.append
            && let Some(&first) = self.written.get(&path)
        {
            return Err(FileError::Named { first });
        }
        let result = (|| -> io::Result<()> {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs::create_dir_all(dir)?;
            }
            let mut f = OpenOptions::new()
                .create(true)
                .write(true)
                .append(self.append)
                .truncate(!self.append)
                .open(&path)?;
            f.write_all(out)
        })();
        result.map_err(FileError::Io)?;
        self.count += 1;
        if !self.append {
            self.written.insert(path, n);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hl7-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn named_by_the_message_and_never_replaced_in_one_run() {
        let d = dir("named");
        let p = Pattern::parse(&format!("{}/{{MSH-10}}/x.txt", d.display())).unwrap();
        let mut files = Files::new(p, false);
        let a = Message::parse(b"MSH|^~\\&|||||||ORU^R01|A1|P|2.5\r").unwrap();
        files.write(Some(a), b"one", 1, Stamp::default()).unwrap();
        assert_eq!(fs::read(d.join("A1/x.txt")).unwrap(), b"one");
        match files.write(Some(a), b"two", 2, Stamp::default()) {
            Err(FileError::Named { first: 1 }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(fs::read(d.join("A1/x.txt")).unwrap(), b"one");
        // a rendering that is HL7 names its own file when the input was not a message
        files
            .write(
                None,
                b"MSH|^~\\&|||||||ORM^O01|B2|P|2.3\r",
                3,
                Stamp::default(),
            )
            .unwrap();
        assert!(d.join("B2/x.txt").exists());
        assert_eq!(files.count, 2);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn appending_adds_to_the_file() {
        let d = dir("append");
        let p = Pattern::parse(&format!("{}/all.txt", d.display())).unwrap();
        let mut files = Files::new(p, true);
        for (n, part) in [b"a", b"b"].iter().enumerate() {
            files
                .write(None, &part[..], n as u64 + 1, Stamp::default())
                .unwrap();
        }
        assert_eq!(fs::read(d.join("all.txt")).unwrap(), b"ab");
        let _ = fs::remove_dir_all(&d);
    }
}
