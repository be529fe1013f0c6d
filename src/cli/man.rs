//! `hl7 man`: man pages generated from the clap tree, and hl7-map(5), generated from
//! `docs/map.md`.
//!
//! The map page has no clap tree to come from: its one source is the reference page in
//! `docs/map.md`, embedded at build time and turned into roff by [`markdown_to_roff`], which
//! knows the small part of Markdown the docs use (headings, paragraphs, `-` lists, fenced code,
//! pipe tables, inline code, bold and links). So the page and the doc cannot drift apart: the
//! drift test of `man/` fails when `docs/map.md` changed and `man/hl7-map.5` was not
//! regenerated.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::shell::{Error, Exit, Global, Result};

/// Write the man pages (hl7.1 and hl7-<command>.1) into DIR, or print hl7.1
#[derive(clap::Args, Debug)]
#[command(
    after_long_help = "With DIR, hl7-map.5 is written too: the map format of hl7 flatten and hl7 ilp.\n\nExamples:\n  hl7 man man/\n  hl7 man | man -l -"
)]
pub struct Args {
    /// Directory to write the pages into; without it, hl7.1 goes to stdout
    pub dir: Option<PathBuf>,
}

/// The source of hl7-map(5).
const MAP_SOURCE: &str = include_str!("../../docs/map.md");

/// SEE ALSO of hl7(1).
const SEE_ALSO_TOP: &str = "\\fBhl7\\-map\\fR(5), the map of hl7 flatten and hl7 ilp.\n.PP\n\
The reference is in the docs/ folder of the source tree: install.md (installing, completions),\n\
input.md (input formats, errors), paths.md (field paths), json.md (output shapes), listen.md,\n\
send.md, simulate.md, templates.md, map.md, ilp.md, delivery.md (what an ACK promises, exit\n\
codes) and conformance.md (the HL7 and MLLP rules followed).\n";

/// SEE ALSO of the pages of the subcommands that read a map.
const SEE_ALSO_MAP: &str = "\\fBhl7\\-map\\fR(5), \\fBhl7\\fR(1)\n";

/// Every page as (file name, roff text): hl7.1, then hl7-<cmd>.1 for each subcommand, then
/// hl7-map.5.
pub fn pages() -> io::Result<Vec<(String, Vec<u8>)>> {
    let cmd = super::command();
    let version = cmd.get_version().unwrap_or_default().to_string();
    let mut pages = Vec::new();
    let mut top = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut top)?;
    pages.push(("hl7.1".to_string(), see_also(top, SEE_ALSO_TOP)));
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let name = format!("hl7-{}", sub.get_name());
        let reads_map = matches!(sub.get_name(), "flatten" | "ilp");
        let sub = sub
            .clone()
            .name(name.clone())
            .display_name(name.clone())
            .version(version.clone());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub).render(&mut page)?;
        if reads_map {
            page = see_also(page, SEE_ALSO_MAP);
        }
        pages.push((format!("{name}.1"), page));
    }
    pages.push(("hl7-map.5".to_string(), map_page(&version).into_bytes()));
    Ok(pages)
}

pub fn run(args: Args, _global: &Global) -> Result<Exit> {
    let pages = pages()?;
    match args.dir {
        Some(dir) => write_all(&dir, &pages)?,
        None => io::stdout().lock().write_all(&pages[0].1)?,
    }
    Ok(Exit::Ok)
}

fn write_all(dir: &Path, pages: &[(String, Vec<u8>)]) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::failure(format!("{}: {e}", dir.display())))?;
    for (name, text) in pages {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|e| Error::failure(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

/// Adds a SEE ALSO section (roff) to a page rendered by clap_mangen: before its VERSION
/// section, where man pages have it, or at the end.
fn see_also(page: Vec<u8>, body: &str) -> Vec<u8> {
    let section = format!(".SH \"SEE ALSO\"\n{body}");
    let text = String::from_utf8_lossy(&page);
    let out = match text.find("\n.SH VERSION\n") {
        Some(i) => format!("{}\n{section}{}", &text[..i], &text[i + 1..]),
        None => format!("{text}{section}"),
    };
    out.into_bytes()
}

/// hl7-map(5): `docs/map.md` as a man page.
fn map_page(version: &str) -> String {
    markdown_to_roff(MAP_SOURCE, "5", &format!("hl7 {version}"))
}

// ---------------------------------------------------------------------------------------------
// Markdown to roff, for the Markdown the docs use.

/// Renders a Markdown page as a man page in `section`. The first line, `# name: what it is`,
/// gives the title and the NAME section; text before the first `##` heading is the
/// DESCRIPTION. Then:
/// - `## Heading` is a section (upper-cased), `### Heading` a subsection;
/// - lines up to a blank line are one paragraph;
/// - `- item` starts a bullet; the lines indented under it continue it;
/// - a fenced code block is shown as written, indented, without filling;
/// - a pipe table becomes a tagged list: the first cell is the tag, the middle cells are
///   shown as `header: cell`, the last cell is the text;
/// - `` `code` `` and `**bold**` are bold, `[text](target)` is the text, followed by the
///   target when it is another page of the docs (`docs/paths.md`), or the target alone when
///   the text is its file name.
pub fn markdown_to_roff(md: &str, section: &str, source: &str) -> String {
    let mut lines = md.lines().peekable();
    let title = lines.next().unwrap_or_default();
    let title = title.trim_start_matches('#').trim();
    let (name, what) = title.split_once(':').unwrap_or((title, ""));
    let (name, what) = (name.trim(), what.trim());
    let mut out = String::new();
    out.push_str(".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n");
    out.push_str(&format!(".TH {name} {section}  \"{source}\" \n"));
    out.push_str(".SH NAME\n");
    out.push_str(&format!("{} \\- {}\n", text(name), inline(what)));

    // A paragraph or list item being gathered: (the macro that opens it, its text).
    let mut para: Option<(&str, String)> = None;
    let flush = |para: &mut Option<(&str, String)>, out: &mut String| {
        if let Some((mac, body)) = para.take() {
            out.push_str(mac);
            out.push('\n');
            out.push_str(&inline(body.trim()));
            out.push('\n');
        }
    };
    // Text before the first section is the description.
    let mut first = true;
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            flush(&mut para, &mut out);
            continue;
        }
        if std::mem::take(&mut first) && !line.starts_with("## ") {
            out.push_str(".SH DESCRIPTION\n");
        }
        if let Some(h) = line.strip_prefix("## ") {
            flush(&mut para, &mut out);
            out.push_str(&format!(".SH {}\n", quoted(&h.trim().to_uppercase())));
        } else if let Some(h) = line.strip_prefix("### ") {
            flush(&mut para, &mut out);
            out.push_str(&format!(".SS {}\n", quoted(h.trim())));
        } else if line.starts_with("```") {
            flush(&mut para, &mut out);
            out.push_str(".PP\n.RS 4\n.nf\n");
            for code in lines.by_ref() {
                if code.starts_with("```") {
                    break;
                }
                out.push_str(&text(code));
                out.push('\n');
            }
            out.push_str(".fi\n.RE\n");
        } else if line.starts_with('|') {
            flush(&mut para, &mut out);
            let mut rows = vec![cells(line)];
            while let Some(next) = lines.next_if(|l| l.starts_with('|')) {
                rows.push(cells(next));
            }
            table(&rows, &mut out);
        } else if let Some(item) = line.strip_prefix("- ") {
            flush(&mut para, &mut out);
            para = Some((".IP \\(bu 2", item.to_string()));
        } else {
            match para.as_mut() {
                Some((_, body)) => {
                    body.push(' ');
                    body.push_str(line.trim());
                }
                None => para = Some((".PP", line.trim().to_string())),
            }
        }
    }
    flush(&mut para, &mut out);
    out
}

/// A section or subsection title as one macro argument.
fn quoted(s: &str) -> String {
    let t = text(s).replace('"', "\\(dq");
    if t.contains(' ') {
        format!("\"{t}\"")
    } else {
        t
    }
}

/// The cells of a table row, trimmed. `\|` is a `|` inside a cell, and so is a `|` inside
/// backticks.
fn cells(row: &str) -> Vec<String> {
    let row = row.trim();
    let row = row.strip_prefix('|').unwrap_or(row);
    let row = row.strip_suffix('|').unwrap_or(row);
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut in_code = false;
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '`' => {
                in_code = !in_code;
                cell.push(c);
            }
            '|' if !in_code => out.push(std::mem::take(&mut cell).trim().to_string()),
            _ => cell.push(c),
        }
    }
    out.push(cell.trim().to_string());
    out
}

/// A pipe table as a tagged list (`.TP`). The first row is the header, the second the rule.
fn table(rows: &[Vec<String>], out: &mut String) {
    let header = rows.first().cloned().unwrap_or_default();
    let is_rule = |r: &Vec<String>| r.iter().all(|c| c.chars().all(|ch| "-: ".contains(ch)));
    for row in rows.iter().skip(1).filter(|r| !is_rule(r)) {
        let Some((tag, rest)) = row.split_first() else {
            continue;
        };
        out.push_str(".TP\n");
        out.push_str(&inline(tag));
        out.push('\n');
        let Some((last, middle)) = rest.split_last() else {
            continue;
        };
        for (i, cell) in middle.iter().enumerate() {
            let name = header.get(i + 1).map(String::as_str).unwrap_or_default();
            out.push_str(&inline(&format!("{name}: {cell}")));
            out.push_str("\n.br\n");
        }
        out.push_str(&inline(last));
        out.push('\n');
    }
}

/// Text with Markdown inline markup, as roff: `code` and **bold** in bold, links as their text.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('`')
            && let Some(end) = r.find('`')
        {
            out.push_str(&format!("\\fB{}\\fR", text_inline(&r[..end])));
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix("**")
            && let Some(end) = r.find("**")
        {
            out.push_str(&format!("\\fB{}\\fR", text_inline(&r[..end])));
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('[')
            && let Some((label, after)) = r.split_once("](")
            && let Some(end) = after.find(')')
        {
            match doc_target(&after[..end]) {
                // [paths.md](paths.md): the path says it all
                Some(doc) if doc.ends_with(label) => out.push_str(&text_inline(&doc)),
                Some(doc) => out.push_str(&format!("{} ({})", inline(label), text_inline(&doc))),
                None => out.push_str(&inline(label)),
            }
            rest = &after[end + 1..];
        } else {
            let first = rest.chars().next().map_or(1, char::len_utf8);
            let next = rest[first..]
                .find(['`', '*', '['])
                .map_or(rest.len(), |i| i + first);
            out.push_str(&text_inline(&rest[..next]));
            rest = &rest[next..];
        }
    }
    // A line of roff text must not start with a control character.
    if out.starts_with(['.', '\'']) {
        out.insert_str(0, "\\&");
    }
    out
}

/// Where a link of the docs points, as a path in the source tree; `None` for a link to a
/// place in the same page or a web address, which the text says well enough.
fn doc_target(target: &str) -> Option<String> {
    let path = target.split('#').next().unwrap_or_default();
    if path.is_empty() || path.contains("://") {
        return None;
    }
    Some(match path.strip_prefix("../") {
        Some(p) => p.to_string(),
        None => format!("docs/{path}"),
    })
}

/// One line of plain text as roff: backslashes, hyphens and apostrophes escaped, and a line
/// that would start with a control character made safe.
fn text(s: &str) -> String {
    let t = text_inline(s);
    if t.starts_with(['.', '\'']) {
        format!("\\&{t}")
    } else {
        t
    }
}

/// Plain text as roff, inside a line.
fn text_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            '\'' => out.push_str("\\*(Aq"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roff(md: &str) -> String {
        markdown_to_roff(md, "5", "hl7 0.1.0")
    }

    #[test]
    fn title_gives_the_name_section() {
        let r = roff("# hl7-map: the map of `hl7 flatten`\n");
        assert!(r.contains(".TH hl7-map 5  \"hl7 0.1.0\" \n"), "{r}");
        assert!(
            r.contains(".SH NAME\nhl7\\-map \\- the map of \\fBhl7 flatten\\fR\n"),
            "{r}"
        );
    }

    #[test]
    fn headings_paragraphs_and_lists() {
        let r = roff(
            "# a: b\n\n## See also\n\nOne line\nand the next.\n\n- first\n  goes on\n- second\n\n### Sub part\n",
        );
        assert!(r.contains(".SH \"SEE ALSO\"\n"), "{r}");
        assert!(r.contains(".PP\nOne line and the next.\n"), "{r}");
        assert!(
            r.contains(".IP \\(bu 2\nfirst goes on\n.IP \\(bu 2\nsecond\n"),
            "{r}"
        );
        assert!(r.contains(".SS \"Sub part\"\n"), "{r}");
    }

    #[test]
    fn code_blocks_are_kept_as_written() {
        let r = roff("# a: b\n\n```toml\n.hidden = 'x'\npath = \"PID-5\" # \\d\n```\n");
        assert!(
            r.contains(".nf\n\\&.hidden = \\*(Aqx\\*(Aq\npath = \"PID\\-5\" # \\ed\n.fi\n"),
            "{r}"
        );
    }

    #[test]
    fn tables_become_tagged_lists() {
        let r = roff(
            "# a: b\n\n| key | default | meaning |\n|---|---|---|\n| `table` | `observations` | the \\| table |\n",
        );
        assert!(
            r.contains(".TP\n\\fBtable\\fR\ndefault: \\fBobservations\\fR\n.br\nthe | table\n"),
            "{r}"
        );
        assert!(!r.contains("key"), "the header row is not an entry: {r}");
    }

    #[test]
    fn links_name_the_page_in_the_source_tree() {
        let r = roff(
            "# a: b\n\nSee [paths](paths.md#x), [results](../bench/RESULTS.md), [json.md](json.md) and [above](#keys).\n",
        );
        assert!(
            r.contains(".SH DESCRIPTION\n.PP\nSee paths (docs/paths.md), results (bench/RESULTS.md), docs/json.md and above.\n"),
            "{r}"
        );
    }

    #[test]
    fn the_map_page_is_generated_with_the_others() {
        let pages = pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.first(), Some(&"hl7.1"));
        assert_eq!(names.last(), Some(&"hl7-map.5"));
        let page = |n: &str| {
            String::from_utf8(pages.iter().find(|(p, _)| p == n).unwrap().1.clone()).unwrap()
        };
        let map = page("hl7-map.5");
        assert!(map.contains(".SH NAME\nhl7\\-map \\- "), "{map}");
        assert!(map.contains(".SH \"SEE ALSO\""));
        for n in ["hl7.1", "hl7-flatten.1", "hl7-ilp.1"] {
            let p = page(n);
            let see = p.find(".SH \"SEE ALSO\"\n").expect(n);
            assert!(p[see..].contains("\\fBhl7\\-map\\fR(5)"), "{n}");
            assert!(p.find(".SH VERSION").is_none_or(|v| v > see), "{n}");
        }
    }
}
