//! The archive (`--archive DIR`): every message written is appended to a file under a
//! directory, named by a layout from the message and its arrival time, and fsynced once per
//! batch before the batch is acknowledged. A file or directory the batch created has its parent
//! directory fsynced too, so that the new entry itself survives a power cut.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use crate::model::message::Message;
use crate::time::{Stamp, unix_seconds};
use crate::transform::pattern::Pattern;

/// Open files are kept for the next batch, up to this many.
const OPEN_FILES: usize = 64;

/// The archive: files opened once and kept, appended to, fsynced once per batch.
pub(super) struct Archive {
    dir: PathBuf,
    layout: Pattern,
    files: HashMap<PathBuf, File>,
    /// Directories that got a new entry since the last sync.
    new_entries: Vec<PathBuf>,
}

impl Archive {
    pub(super) fn new(dir: PathBuf, layout: Pattern) -> Archive {
        Archive {
            dir,
            layout,
            files: HashMap::new(),
            new_entries: Vec::new(),
        }
    }

    /// Appends a message and a newline to its file, and notes the file in `dirty` for
    /// [`Archive::sync`].
    pub(super) fn append(
        &mut self,
        raw: &[u8],
        received: SystemTime,
        dirty: &mut Vec<PathBuf>,
    ) -> io::Result<()> {
        let msg = Message::parse(raw).map_err(|e| io::Error::other(e.to_string()))?;
        let rel = self.layout.render(&msg, Stamp::utc(unix_seconds(received)));
        // Only plain names: a layout rendered from message fields cannot climb out of the
        // directory or name an absolute path.
        let path = self.dir.join(
            Path::new(&rel)
                .components()
                .filter(|c| matches!(c, Component::Normal(_)))
                .collect::<PathBuf>(),
        );
        if !self.files.contains_key(&path) {
            if self.files.len() >= OPEN_FILES {
                // Bounded: close the least likely to be reused (all) and reopen on demand. What
                // this batch appended to them is made durable first: `sync` cannot reach a file
                // once it is closed, and the batch is acknowledged after `sync`.
                self.sync(dirty)?;
                self.files.clear();
            }
            if let Some(parent) = path.parent() {
                // the directories about to be made, each a new entry in its parent
                let mut missing = parent;
                while !missing.exists() {
                    match missing.parent() {
                        Some(up) => {
                            self.new_entries.push(up.to_path_buf());
                            missing = up;
                        }
                        None => break,
                    }
                }
                fs::create_dir_all(parent)?;
                if !path.exists() {
                    self.new_entries.push(parent.to_path_buf());
                }
            }
            let f = OpenOptions::new().create(true).append(true).open(&path)?;
            self.files.insert(path.clone(), f);
        }
        let Some(f) = self.files.get_mut(&path) else {
            return Err(io::Error::other("archive file not open"));
        };
        f.write_all(raw)?;
        f.write_all(b"\n")?;
        if !dirty.contains(&path) {
            dirty.push(path);
        }
        Ok(())
    }

    /// Makes the files appended to durable, and the directory entries of new files and
    /// directories.
    pub(super) fn sync(&mut self, dirty: &[PathBuf]) -> io::Result<()> {
        for p in dirty {
            if let Some(f) = self.files.get(p) {
                f.sync_data()?;
            }
        }
        self.new_entries.sort();
        self.new_entries.dedup();
        for dir in self.new_entries.drain(..) {
            sync_dir(&dir)?;
        }
        Ok(())
    }
}

/// Makes a directory's entries durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows has no fsync of a directory (NTFS journals its metadata).
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of its own under the system's temporary directory, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "hl7-server-{name}-{}-{}",
                std::process::id(),
                crate::time::unix_nanos_now()
            ));
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const ADT: &[u8] = b"MSH|^~\\&|A|B|C|D|20240315||ADT^A01|M1|P|2.5\rPID|1\r";
    const ORU: &[u8] = b"MSH|^~\\&|A|B|C|D|20240315||ORU^R01|M2|P|2.5\rPID|1\r";

    /// 2024-03-15T12:00:00Z
    fn noon() -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_710_504_000)
    }

    /// An archive with `layout` in a fresh directory named after `test`.
    fn archive(test: &str, layout: &str) -> (TempDir, Archive) {
        let tmp = TempDir::new(test);
        let a = Archive::new(tmp.0.clone(), Pattern::parse(layout).unwrap());
        (tmp, a)
    }

    #[test]
    fn appends_by_layout_and_syncs_each_file_once() {
        let (tmp, mut a) = archive("archive", "%Y/%m/%d/{MSH-9.1}_{MSH-9.2}.hl7");
        let mut dirty = Vec::new();
        for raw in [ADT, ORU, ADT] {
            a.append(raw, noon(), &mut dirty).unwrap();
        }
        let adt = tmp.0.join("2024/03/15/ADT_A01.hl7");
        let oru = tmp.0.join("2024/03/15/ORU_R01.hl7");
        assert_eq!(dirty, [adt.clone(), oru.clone()]);
        // the new directories and files: their parents' entries are synced with the data
        let mut dirs = a.new_entries.clone();
        dirs.sort();
        dirs.dedup();
        assert_eq!(
            dirs,
            [
                tmp.0.clone(),
                tmp.0.join("2024"),
                tmp.0.join("2024/03"),
                tmp.0.join("2024/03/15"),
            ]
        );
        a.sync(&dirty).unwrap();
        assert!(a.new_entries.is_empty());
        assert_eq!(fs::read(&adt).unwrap(), [ADT, b"\n", ADT, b"\n"].concat());
        assert_eq!(fs::read(&oru).unwrap(), [ORU, b"\n"].concat());
        // an existing file makes no new entry
        let mut dirty = Vec::new();
        a.files.clear();
        a.append(ORU, noon(), &mut dirty).unwrap();
        assert!(a.new_entries.is_empty(), "{:?}", a.new_entries);
    }

    #[test]
    fn a_layout_cannot_leave_the_directory() {
        let tmp = TempDir::new("archive-escape");
        let inner = tmp.0.join("inner");
        let layout = Pattern::parse("../../{MSH-9.1}.hl7").unwrap();
        let mut a = Archive::new(inner.clone(), layout);
        let mut dirty = Vec::new();
        a.append(ADT, noon(), &mut dirty).unwrap();
        assert_eq!(dirty, [inner.join("ADT.hl7")]);
        let layout = Pattern::parse("/{MSH-9.1}.hl7").unwrap();
        let mut a = Archive::new(inner.clone(), layout);
        dirty.clear();
        a.append(ORU, noon(), &mut dirty).unwrap();
        assert_eq!(dirty, [inner.join("ORU.hl7")]);
    }

    #[test]
    fn failures_are_errors() {
        let (tmp, mut a) = archive("archive-fail", "%Y/{MSH-9.1}.hl7");
        // a file where the layout wants a directory
        fs::write(tmp.0.join("2024"), b"").unwrap();
        assert!(a.append(ADT, noon(), &mut Vec::new()).is_err());
        assert!(a.append(b"not a message", noon(), &mut Vec::new()).is_err());
    }

    #[test]
    fn open_files_are_bounded() {
        let (tmp, mut a) = archive("archive-many", "{MSH-10}.hl7");
        let mut dirty = Vec::new();
        for n in 0..OPEN_FILES + 5 {
            let raw = format!("MSH|^~\\&|A|B|C|D|2024||ADT^A01|F{n}|P|2.5\r");
            a.append(raw.as_bytes(), noon(), &mut dirty).unwrap();
            assert!(a.files.len() <= OPEN_FILES);
        }
        a.sync(&dirty).unwrap();
        assert_eq!(fs::read_dir(&tmp.0).unwrap().count(), OPEN_FILES + 5);
    }
}
