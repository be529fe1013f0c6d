//! docs/architecture.md, checked: which part of the source may import which, and no import
//! cycles between files. The imports are read from the source text (`crate::…`, `hl7::…`,
//! `super::…`), so a new module or a new import that breaks the plan fails here, and the fix is
//! to move the code or to change the plan (and this table) on purpose.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The library's top-level parts and what each may import (besides itself).
const LIBRARY: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("time", &[]),
    ("id", &["time"]),
    ("wire", &["model", "time", "id"]),
    ("ack", &["model", "time", "id"]),
    ("transform", &["model", "time", "id", "wire", "ack"]),
    (
        "client",
        &["model", "time", "id", "wire", "ack", "transform"],
    ),
    (
        "server",
        &["model", "time", "id", "wire", "ack", "transform"],
    ),
    (
        "simulate",
        &["model", "time", "id", "wire", "ack", "transform"],
    ),
];

/// The binary's parts: what each may import from the binary (the library is open to all of
/// them, but `simulate` only to `cmd/simulate.rs`).
const BINARY: &[(&str, &[&str])] = &[
    ("main", &["cli", "shell"]),
    ("cli", &["cmd", "shell"]),
    ("cmd", &["shell"]),
    ("shell", &[]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/transform/flatten/map.rs` -> `[transform, flatten, map]`,
/// `src/model/mod.rs` -> `[model]`, `src/lib.rs` -> `[]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        let last = parts.pop().unwrap();
        if last == "main" {
            parts.push("main".into());
        }
    }
    parts
}

/// Whether a file belongs to the binary crate.
fn in_binary(module: &[String]) -> bool {
    matches!(
        module.first().map(String::as_str),
        Some("main" | "cli" | "cmd" | "shell")
    )
}

/// Source text without comments (line comments and doc comments), so that a doc link or a
/// sentence naming a module is not read as an import, and without the unit tests at the end
/// of a file (`#[cfg(test)] mod tests`: test helpers may reach across, and their `super::` is
/// relative to the inline module).
fn code_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].contains("mod "))
        .unwrap_or(lines.len());
    lines[..end]
        .iter()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths a file names: `crate::a::b`, `hl7::a::b` (from the binary) and
/// `super::a` (resolved against the file's own module), as far as they go.
fn imports(module: &[String], binary: bool, code: &str) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    let bytes = code.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == b':') {
            i += 1;
            continue;
        }
        let rest = &bytes[i..];
        let (root, skip): (Vec<String>, usize) = if rest.starts_with(b"crate::") {
            (
                if binary { vec!["<bin>".into()] } else { vec![] },
                "crate::".len(),
            )
        } else if binary && rest.starts_with(b"hl7::") {
            (vec![], "hl7::".len())
        } else if rest.starts_with(b"super::") {
            let mut m = module.to_vec();
            let mut j = 0;
            while rest[j..].starts_with(b"super::") {
                m.pop();
                j += "super::".len();
            }
            if binary {
                m.insert(0, "<bin>".into());
            }
            (m, j)
        } else {
            i += 1;
            continue;
        };
        let mut path = root;
        let mut j = i + skip;
        loop {
            let start = j;
            while j < bytes.len() && ident(bytes[j]) {
                j += 1;
            }
            let seg = &code[start..j];
            if seg.is_empty() || !seg.starts_with(|c: char| c.is_ascii_lowercase()) {
                break;
            }
            path.push(seg.to_string());
            if bytes[j..].starts_with(b"::") {
                j += 2;
            } else {
                break;
            }
        }
        if !path.is_empty() {
            out.insert(path);
        }
        i = j.max(i + 1);
    }
    out
}

/// A file, as (in the binary crate, module path).
type Node = (bool, Vec<String>);

struct Source {
    module: Vec<String>,
    binary: bool,
    imports: BTreeSet<Vec<String>>,
}

fn sources() -> Vec<Source> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    files
        .iter()
        .map(|f| {
            let module = module_of(f);
            let binary = in_binary(&module);
            let code = code_of(&fs::read_to_string(f).unwrap());
            let imports = imports(&module, binary, &code);
            Source {
                module,
                binary,
                imports,
            }
        })
        .collect()
}

#[test]
fn every_part_imports_only_what_the_plan_allows() {
    let library: BTreeMap<&str, &[&str]> = LIBRARY.iter().copied().collect();
    let binary: BTreeMap<&str, &[&str]> = BINARY.iter().copied().collect();
    let mut broken = Vec::new();
    for s in sources() {
        let Some(part) = s.module.first().map(String::as_str) else {
            continue; // lib.rs declares the parts
        };
        for import in &s.imports {
            let (crate_bin, target) = match import.first().map(String::as_str) {
                Some("<bin>") => (true, import.get(1).map(String::as_str)),
                _ => (false, import.first().map(String::as_str)),
            };
            let Some(target) = target else { continue };
            if target == part && crate_bin == s.binary {
                continue;
            }
            let allowed = if s.binary {
                if crate_bin {
                    binary.get(part).is_some_and(|a| a.contains(&target))
                } else {
                    // the library is open to the binary, but simulate only to its command
                    library.contains_key(target)
                        && (target != "simulate" || s.module == ["cmd", "simulate"])
                }
            } else {
                !crate_bin && library.get(part).is_some_and(|a| a.contains(&target))
            };
            if !allowed {
                broken.push(format!(
                    "src/{} imports {}{}",
                    s.module.join("/"),
                    if crate_bin { "crate::" } else { "" },
                    import
                        .iter()
                        .filter(|p| *p != "<bin>")
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("::")
                ));
            }
        }
        if !s.binary && !library.contains_key(part) {
            broken.push(format!(
                "src/{}: `{part}` is not a part of the library in docs/architecture.md",
                s.module.join("/")
            ));
        }
        if s.binary && !binary.contains_key(part) {
            broken.push(format!(
                "src/{}: `{part}` is not a part of the binary in docs/architecture.md",
                s.module.join("/")
            ));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn no_two_files_import_each_other() {
    let sources = sources();
    // a file's module, and the file an import path lands in: the longest module prefix
    let modules: BTreeSet<Node> = sources
        .iter()
        .map(|s| (s.binary, s.module.clone()))
        .collect();
    let mut edges: BTreeMap<Node, BTreeSet<Node>> = BTreeMap::new();
    for s in &sources {
        for import in &s.imports {
            let (binary, mut path) = match import.first().map(String::as_str) {
                Some("<bin>") => (true, import[1..].to_vec()),
                _ => (false, import.clone()),
            };
            while !path.is_empty() && !modules.contains(&(binary, path.clone())) {
                path.pop();
            }
            // a parent uses the children it declares: that is ownership, not a cycle
            if binary == s.binary && s.module.starts_with(&path) || path.starts_with(&s.module) {
                continue;
            }
            edges
                .entry((s.binary, s.module.clone()))
                .or_default()
                .insert((binary, path));
        }
    }
    // a file in a cycle reaches itself; report each cycle once, by its set of files
    let reach = |start: &Node| {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<_> = edges.get(start).into_iter().flatten().cloned().collect();
        while let Some(n) = todo.pop() {
            if seen.insert(n.clone()) {
                todo.extend(edges.get(&n).into_iter().flatten().cloned());
            }
        }
        seen
    };
    let mut cycles = BTreeSet::new();
    for node in edges.keys() {
        let from_node = reach(node);
        if from_node.contains(node) {
            let members: BTreeSet<String> = from_node
                .iter()
                .filter(|n| reach(n).contains(node))
                .map(|n| n.1.join("/"))
                .collect();
            cycles.insert(members.into_iter().collect::<Vec<_>>().join(" -> "));
        }
    }
    assert!(
        cycles.is_empty(),
        "files that import each other, directly or through others:\n{}",
        cycles.into_iter().collect::<Vec<_>>().join("\n")
    );
}
