//! Template text to a tree of [`Node`]s. Every error carries the byte offset of its cause,
//! turned into a line and column at the end.

use super::{
    Cond, Escape, Expr, Filter, Key, LoopOver, LoopVar, Node, Options, Source, TemplateError,
};
use crate::model::path::{DotStyle, Occurrence, Path};

/// An error at a byte offset of the template.
#[derive(Debug)]
struct At(usize, String);

type R<T> = Result<T, At>;

fn err<T>(at: usize, what: impl Into<String>) -> R<T> {
    Err(At(at, what.into()))
}

/// Line and column (1-based, in characters) of a byte offset.
fn position(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src.as_bytes()[..offset];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n' || b == b'\r')
        .map_or(0, |i| i + 1);
    // \r\n counts as one line end
    let mut line = 1;
    let mut prev = 0u8;
    for &b in before {
        if b == b'\n' && prev != b'\r' || b == b'\r' {
            line += 1;
        }
        prev = b;
    }
    let column = src
        .get(line_start..offset)
        .map_or(offset - line_start, |s| s.chars().count())
        + 1;
    (line, column)
}

pub(super) fn parse(src: &str, opts: Options) -> Result<Vec<Node>, TemplateError> {
    Builder {
        src,
        opts,
        stack: Vec::new(),
        root: Vec::new(),
    }
    .run()
    .map_err(|At(off, what)| {
        let (line, column) = position(src, off);
        TemplateError { line, column, what }
    })
}

enum Kind {
    For(LoopOver),
    If {
        arms: Vec<(Cond, Vec<Node>)>,
        pending: Option<Box<Cond>>,
        in_else: bool,
    },
}

struct Frame {
    kind: Kind,
    nodes: Vec<Node>,
    at: usize,
}

struct Builder<'s> {
    src: &'s str,
    opts: Options,
    stack: Vec<Frame>,
    root: Vec<Node>,
}

impl<'s> Builder<'s> {
    fn nodes(&mut self) -> &mut Vec<Node> {
        match self.stack.last_mut() {
            Some(f) => &mut f.nodes,
            None => &mut self.root,
        }
    }

    fn text(&mut self, t: &str) {
        if t.is_empty() {
            return;
        }
        let bytes = if self.opts.escape == Escape::Hl7 {
            // Segments are joined with \r whatever line ends the template file has.
            let mut v = Vec::with_capacity(t.len());
            let b = t.as_bytes();
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    b'\r' if b.get(i + 1) == Some(&b'\n') => {
                        v.push(b'\r');
                        i += 1;
                    }
                    b'\n' => v.push(b'\r'),
                    c => v.push(c),
                }
                i += 1;
            }
            v
        } else {
            t.as_bytes().to_vec()
        };
        if let Some(Node::Text(prev)) = self.nodes().last_mut() {
            prev.extend_from_slice(&bytes);
        } else {
            self.nodes().push(Node::Text(bytes));
        }
    }

    fn run(mut self) -> R<Vec<Node>> {
        let src = self.src;
        let b = src.as_bytes();
        let mut text_start = 0;
        let mut i = 0;
        while let Some(off) = memchr::memchr(b'{', &b[i..]) {
            let at = i + off;
            let next = b.get(at + 1).copied();
            match next {
                Some(b'{') => {
                    let (inner, end) = self.tag_body(at, "}}")?;
                    self.text(&src[text_start..at]);
                    let expr = self.expr_tag(inner, at + 2)?;
                    self.nodes().push(Node::Out(expr));
                    text_start = end;
                    i = end;
                }
                Some(b'%') | Some(b'#') => {
                    let close = if next == Some(b'%') { "%}" } else { "#}" };
                    let (inner, end) = self.tag_body(at, close)?;
                    // A block tag alone on its line takes the line with it.
                    let line_start = b[..at]
                        .iter()
                        .rposition(|&c| c == b'\n' || c == b'\r')
                        .map_or(0, |p| p + 1);
                    let alone_before = line_start >= text_start
                        && b[line_start..at].iter().all(|&c| c == b' ' || c == b'\t');
                    let mut after = end;
                    while after < b.len() && matches!(b[after], b' ' | b'\t') {
                        after += 1;
                    }
                    let line_end = match b.get(after) {
                        None => Some(after),
                        Some(b'\r') if b.get(after + 1) == Some(&b'\n') => Some(after + 2),
                        Some(b'\r' | b'\n') => Some(after + 1),
                        _ => None,
                    };
                    let (text_end, resume) = match line_end {
                        Some(le) if alone_before => (line_start, le),
                        _ => (at, end),
                    };
                    self.text(&src[text_start..text_end]);
                    if next == Some(b'%') {
                        self.block_tag(inner, at + 2, at)?;
                    }
                    text_start = resume;
                    i = resume;
                }
                _ if self.opts.legacy_placeholders => match legacy(&b[at..]) {
                    Some((segment, field, len)) => {
                        self.text(&src[text_start..at]);
                        self.nodes().push(Node::Legacy { segment, field });
                        text_start = at + len;
                        i = at + len;
                    }
                    None => i = at + 1,
                },
                _ => i = at + 1,
            }
        }
        self.text(&src[text_start..]);
        if let Some(f) = self.stack.last() {
            let what = match f.kind {
                Kind::For(_) => "this {% for %} is not closed with {% endfor %}",
                Kind::If { .. } => "this {% if %} is not closed with {% endif %}",
            };
            return err(f.at, what);
        }
        Ok(self.root)
    }

    /// The text between `{{`/`{%`/`{#` at `at` and its closing `close`, skipping string
    /// literals; returns it and the offset after the close.
    fn tag_body(&self, at: usize, close: &str) -> R<(&'s str, usize)> {
        let src: &'s str = self.src;
        let b = self.src.as_bytes();
        let c = close.as_bytes();
        let mut i = at + 2;
        let mut quote: Option<u8> = None;
        while i < b.len() {
            match quote {
                Some(q) => {
                    if b[i] == b'\\' {
                        i += 1;
                    } else if b[i] == q {
                        quote = None;
                    }
                }
                None if c[0] != b'#' && (b[i] == b'"' || b[i] == b'\'') => quote = Some(b[i]),
                None if b[i..].starts_with(c) => return Ok((&src[at + 2..i], i + 2)),
                None => {}
            }
            i += 1;
        }
        err(
            at,
            format!("'{}' is not closed with '{close}'", &self.src[at..at + 2]),
        )
    }

    /// The innermost loop, for short forms.
    fn innermost_loop(&self) -> Option<&LoopOver> {
        self.stack.iter().rev().find_map(|f| match &f.kind {
            Kind::For(l) => Some(l),
            _ => None,
        })
    }

    fn expr_tag(&self, inner: &str, base: usize) -> R<Expr> {
        let toks = lex(inner, base)?;
        let mut p = Toks {
            t: &toks,
            i: 0,
            end: base + inner.len(),
        };
        if p.t.is_empty() {
            return err(
                base,
                "empty placeholder: write a field path like {{ PID-5.1 }}",
            );
        }
        let e = self.expr(&mut p)?;
        if let Some(t) = p.peek() {
            return err(
                t.at,
                "unexpected text after the expression (filters follow a '|')",
            );
        }
        Ok(e)
    }

    fn block_tag(&mut self, inner: &str, base: usize, at: usize) -> R<()> {
        let toks = lex(inner, base)?;
        let mut p = Toks {
            t: &toks,
            i: 0,
            end: base + inner.len(),
        };
        let Some(first) = p.next() else {
            return err(
                at,
                "empty block tag: expected for, if, elif, else, endfor or endif",
            );
        };
        let Tok::Word(kw) = &first.tok else {
            return err(first.at, "expected for, if, elif, else, endfor or endif");
        };
        match kw.as_str() {
            "for" => {
                let over = self.loop_over(&mut p)?;
                self.stack.push(Frame {
                    kind: Kind::For(over),
                    nodes: Vec::new(),
                    at,
                });
            }
            "if" => {
                let c = self.cond(&mut p)?;
                self.stack.push(Frame {
                    kind: Kind::If {
                        arms: Vec::new(),
                        pending: Some(Box::new(c)),
                        in_else: false,
                    },
                    nodes: Vec::new(),
                    at,
                });
            }
            "elif" | "else" => {
                let c = if kw == "elif" {
                    Some(self.cond(&mut p)?)
                } else {
                    None
                };
                let Some(Frame {
                    kind:
                        Kind::If {
                            arms,
                            pending,
                            in_else,
                        },
                    nodes,
                    ..
                }) = self.stack.last_mut()
                else {
                    return err(at, format!("{{% {kw} %}} without an open {{% if %}}"));
                };
                if *in_else {
                    return err(at, format!("{{% {kw} %}} after {{% else %}}"));
                }
                let body = std::mem::take(nodes);
                if let Some(prev) = pending.take() {
                    arms.push((*prev, body));
                }
                match c {
                    Some(c) => *pending = Some(Box::new(c)),
                    None => *in_else = true,
                }
            }
            "endfor" => match self.stack.pop() {
                Some(Frame {
                    kind: Kind::For(over),
                    nodes,
                    ..
                }) => self.nodes().push(Node::For { over, body: nodes }),
                Some(f) => {
                    self.stack.push(f);
                    return err(
                        at,
                        "{% endfor %} where an {% if %} is open (expected {% endif %})",
                    );
                }
                None => return err(at, "{% endfor %} without an open {% for %}"),
            },
            "endif" => match self.stack.pop() {
                Some(Frame {
                    kind:
                        Kind::If {
                            mut arms,
                            pending,
                            in_else,
                        },
                    nodes,
                    ..
                }) => {
                    let otherwise = if in_else {
                        nodes
                    } else {
                        if let Some(c) = pending {
                            arms.push((*c, nodes));
                        }
                        Vec::new()
                    };
                    self.nodes().push(Node::If { arms, otherwise });
                }
                Some(f) => {
                    self.stack.push(f);
                    return err(
                        at,
                        "{% endif %} where a {% for %} is open (expected {% endfor %})",
                    );
                }
                None => return err(at, "{% endif %} without an open {% if %}"),
            },
            other => {
                return err(
                    first.at,
                    format!(
                        "unknown block '{other}': expected for, if, elif, else, endfor or endif"
                    ),
                );
            }
        }
        if let Some(t) = p.peek() {
            return err(t.at, "unexpected text at the end of the block tag");
        }
        Ok(())
    }

    fn loop_over(&self, p: &mut Toks<'_>) -> R<LoopOver> {
        let Some(t) = p.next() else {
            return err(
                p.end,
                "expected what to loop over: a segment (OBX), a field (PID-3) or 'NAME in PATH'",
            );
        };
        let Tok::Word(w) = &t.tok else {
            return err(
                t.at,
                "expected a segment (OBX), a field (PID-3) or 'NAME in PATH'",
            );
        };
        if matches!(p.peek(), Some(Token { tok: Tok::Word(k), .. }) if k == "in") {
            p.next();
            let Some(t2) = p.next() else {
                return err(p.end, "expected a JSON path after 'in'");
            };
            let Tok::Word(path) = &t2.tok else {
                return err(t2.at, "expected a JSON path after 'in'");
            };
            if !w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || w.starts_with(|c: char| c.is_ascii_digit())
            {
                return err(t.at, "a loop variable is a name of letters, digits and _");
            }
            return Ok(LoopOver::Json {
                name: w.clone(),
                path: json_path(path, t2.at)?,
            });
        }
        if !looks_like_hl7_path(w) {
            return err(
                t.at,
                "expected a segment (OBX), a field (PID-3) or 'NAME in PATH' for a JSON array",
            );
        }
        let path = hl7_path(w, t.at)?;
        match (path.field, path.component, path.repetition) {
            (None, _, _) if path.occurrence == Occurrence::First => {
                Ok(LoopOver::Segments(path.segment))
            }
            (None, _, _) => err(
                t.at,
                "loop over all segments of an id: {% for OBX %}, without [n]",
            ),
            (Some(_), None, None) => Ok(LoopOver::Repetitions(path)),
            _ => err(
                t.at,
                "a loop goes over the repetitions of a field (PID-3), not a component or one repetition",
            ),
        }
    }

    fn cond(&self, p: &mut Toks<'_>) -> R<Cond> {
        let mut left = self.cond_and(p)?;
        while p.eat_word("or") {
            let right = self.cond_and(p)?;
            left = Cond::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn cond_and(&self, p: &mut Toks<'_>) -> R<Cond> {
        let mut left = self.cond_not(p)?;
        while p.eat_word("and") {
            let right = self.cond_not(p)?;
            left = Cond::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn cond_not(&self, p: &mut Toks<'_>) -> R<Cond> {
        if p.eat_word("not") {
            return Ok(Cond::Not(Box::new(self.cond_not(p)?)));
        }
        if p.peek().is_none() {
            return err(p.end, "expected a condition, e.g. PID-8 == \"F\"");
        }
        let left = self.expr(p)?;
        match p.peek().map(|t| &t.tok) {
            Some(Tok::EqEq) => {
                p.next();
                Ok(Cond::Eq(left, self.expr(p)?))
            }
            Some(Tok::NotEq) => {
                p.next();
                Ok(Cond::Ne(left, self.expr(p)?))
            }
            _ => Ok(Cond::Truthy(left)),
        }
    }

    /// `atom ('|' filter)*`
    fn expr(&self, p: &mut Toks<'_>) -> R<Expr> {
        let start = p.peek().map_or(p.end, |t| t.at);
        let src = self.atom(p)?;
        let mut filters = Vec::new();
        let mut optional = false;
        while matches!(p.peek(), Some(Token { tok: Tok::Pipe, .. })) {
            p.next();
            let f = self.filter(p)?;
            optional |= matches!(f, Filter::Default(_));
            filters.push(f);
        }
        let end = p.last_end();
        let label = self
            .src
            .get(start..end.max(start))
            .unwrap_or("")
            .trim()
            .to_string();
        Ok(Expr {
            src,
            filters,
            label,
            optional,
        })
    }

    fn atom(&self, p: &mut Toks<'_>) -> R<Source> {
        let Some(t) = p.next() else {
            return err(
                p.end,
                "expected a value: a field path, a JSON path or a \"string\"",
            );
        };
        let w = match &t.tok {
            Tok::Str(s) => return Ok(Source::Str(s.clone())),
            Tok::Word(w) => w,
            _ => {
                return err(
                    t.at,
                    "expected a value: a field path, a JSON path or a \"string\"",
                );
            }
        };
        match w.as_str() {
            "now" => {
                if matches!(
                    p.peek(),
                    Some(Token {
                        tok: Tok::LParen,
                        ..
                    })
                ) {
                    p.next();
                    let fmt = p.string("a strftime format, e.g. now(\"%Y%m%d%H%M%S\")")?;
                    p.expect_rparen()?;
                    super::filters::check_format(&fmt.0).map_err(|e| At(fmt.1, e))?;
                    return Ok(Source::Now(Some(fmt.0)));
                }
                return Ok(Source::Now(None));
            }
            "control_id" => return Ok(Source::ControlId),
            "counter" => return Ok(Source::Counter),
            _ => {}
        }
        if let Some(var) = w.strip_prefix("loop.") {
            let v = match var {
                "index" => LoopVar::Index,
                "index0" => LoopVar::Index0,
                "first" => LoopVar::First,
                "last" => LoopVar::Last,
                "length" => LoopVar::Length,
                _ => {
                    return err(
                        t.at,
                        "unknown loop variable: loop.index, loop.index0, loop.first, loop.last or loop.length",
                    );
                }
            };
            if self.innermost_loop().is_none() {
                return err(t.at, format!("{w} is only known inside a {{% for %}} loop"));
            }
            return Ok(Source::Loop(v));
        }
        if w.starts_with('-') && w[1..].starts_with(|c: char| c.is_ascii_digit()) {
            if !matches!(self.innermost_loop(), Some(LoopOver::Segments(_))) {
                return err(
                    t.at,
                    format!(
                        "the short form {w} is a field of the current segment: only inside {{% for SEG %}}"
                    ),
                );
            }
            let path = hl7_path(&format!("ZZZ{w}"), t.at.saturating_sub(3))?;
            return Ok(Source::ShortField(path));
        }
        if w == "." || (w.starts_with('.') && w[1..].starts_with(|c: char| c.is_ascii_digit())) {
            if !matches!(self.innermost_loop(), Some(LoopOver::Repetitions(_))) {
                return err(
                    t.at,
                    format!(
                        "the short form {w} is a component of the current repetition: only inside {{% for PID-3 %}}"
                    ),
                );
            }
            let mut nums = Vec::new();
            for part in w[1..].split('.').filter(|s| !s.is_empty()) {
                match part.parse::<usize>() {
                    Ok(n) if n > 0 => nums.push(n),
                    _ => {
                        return err(
                            t.at,
                            format!(
                                "bad short form {w}: expected .COMPONENT or .COMPONENT.SUB (from 1)"
                            ),
                        );
                    }
                }
            }
            if nums.len() > 2 {
                return err(
                    t.at,
                    format!(
                        "bad short form {w}: a repetition has components and subcomponents only"
                    ),
                );
            }
            return Ok(Source::ShortComponent {
                component: nums.first().copied(),
                subcomponent: nums.get(1).copied(),
            });
        }
        if w.bytes()
            .all(|c| c.is_ascii_digit() || c == b'.' || c == b'-')
            && w.bytes().any(|c| c.is_ascii_digit())
        {
            return Ok(Source::Str(w.clone()));
        }
        if looks_like_hl7_path(w) {
            return Ok(Source::Path(hl7_path(w, t.at)?));
        }
        Ok(Source::Json(json_path(w, t.at)?))
    }

    fn filter(&self, p: &mut Toks<'_>) -> R<Filter> {
        let Some(t) = p.next() else {
            return err(p.end, "expected a filter name after '|'");
        };
        let Tok::Word(name) = &t.tok else {
            return err(t.at, "expected a filter name after '|'");
        };
        let has_args = matches!(
            p.peek(),
            Some(Token {
                tok: Tok::LParen,
                ..
            })
        );
        let no_args = |f: Filter| -> R<Filter> {
            if has_args {
                err(t.at, format!("the filter {name} takes no arguments"))
            } else {
                Ok(f)
            }
        };
        let needs = |what: &str| -> R<()> {
            if has_args {
                Ok(())
            } else {
                err(t.at, format!("the filter {name} needs {what}"))
            }
        };
        let f = match name.as_str() {
            "upper" => no_args(Filter::Upper)?,
            "lower" => no_args(Filter::Lower)?,
            "trim" => no_args(Filter::Trim)?,
            "hl7" => no_args(Filter::Hl7)?,
            "json" => no_args(Filter::Json)?,
            "raw" => no_args(Filter::Raw)?,
            "base64decode" => no_args(Filter::Base64Decode)?,
            "base64encode" => no_args(Filter::Base64Encode)?,
            "first" => no_args(Filter::First)?,
            "last" => no_args(Filter::Last)?,
            "default" => {
                needs("a value: default(\"unknown\") or default(PID-3.1)")?;
                p.next();
                let e = self.expr(p)?;
                p.expect_rparen()?;
                Filter::Default(Box::new(e))
            }
            "replace" => {
                needs("two strings: replace(\"from\", \"to\")")?;
                p.next();
                let a = p.string("the text to replace")?;
                p.expect_comma()?;
                let b = p.string("the replacement")?;
                p.expect_rparen()?;
                if a.0.is_empty() {
                    return err(a.1, "replace: the text to replace is empty");
                }
                Filter::Replace(a.0, b.0)
            }
            "re_replace" | "regex_replace" => {
                needs("a regex and a replacement: re_replace(\"[^0-9]\", \"\")")?;
                p.next();
                let a = p.string("a regular expression")?;
                p.expect_comma()?;
                let b = p.string("the replacement ($1 is group 1)")?;
                p.expect_rparen()?;
                let re = regex::Regex::new(&a.0)
                    .map_err(|e| At(a.1, format!("bad regular expression: {e}")))?;
                Filter::ReReplace(re, b.0)
            }
            "date" => {
                needs(
                    "a strftime format: date(\"%Y-%m-%d\") or date(\"%H:%M\", \"Europe/Berlin\")",
                )?;
                p.next();
                let fmt = p.string("a strftime format")?;
                super::filters::check_format(&fmt.0).map_err(|e| At(fmt.1, e))?;
                let tz = if matches!(
                    p.peek(),
                    Some(Token {
                        tok: Tok::Comma,
                        ..
                    })
                ) {
                    p.next();
                    let z = p.string("a time zone name, e.g. \"Europe/Berlin\" or \"UTC\"")?;
                    Some(
                        jiff::tz::TimeZone::get(&z.0)
                            .map_err(|e| At(z.1, format!("unknown time zone '{}': {e}", z.0)))?,
                    )
                } else {
                    None
                };
                p.expect_rparen()?;
                Filter::Date(fmt.0, tz)
            }
            "join" => {
                needs("a separator: join(\", \")")?;
                p.next();
                let s = p.string("a separator")?;
                p.expect_rparen()?;
                Filter::Join(s.0)
            }
            other => {
                return err(
                    t.at,
                    format!(
                        "unknown filter '{other}' (known: default, upper, lower, trim, replace, re_replace, date, hl7, json, raw, base64decode, base64encode, first, last, join)"
                    ),
                );
            }
        };
        Ok(f)
    }
}

/// `{12-3}` at the start of `b`: (segment, field, length).
fn legacy(b: &[u8]) -> Option<(usize, usize, usize)> {
    let mut i = 1;
    let num = |i: &mut usize| -> Option<usize> {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - s < 6 {
            *i += 1;
        }
        if *i == s {
            return None;
        }
        std::str::from_utf8(&b[s..*i]).ok()?.parse().ok()
    };
    let seg = num(&mut i)?;
    if b.get(i) != Some(&b'-') {
        return None;
    }
    i += 1;
    let field = num(&mut i)?;
    if b.get(i) != Some(&b'}') {
        return None;
    }
    Some((seg, field, i + 1))
}

/// True when a word is meant as an HL7 path: a segment id (an upper-case letter, two more
/// upper-case letters or digits), alone or followed by `-`, `[` or `.` and a digit.
fn looks_like_hl7_path(w: &str) -> bool {
    let b = w.as_bytes();
    if b.len() < 3
        || !b[0].is_ascii_uppercase()
        || !b[1..3]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return false;
    }
    match b.get(3) {
        None => true,
        Some(b'-' | b'[') => true,
        Some(b'.') => b.get(4).is_some_and(u8::is_ascii_digit),
        _ => false,
    }
}

fn hl7_path(w: &str, at: usize) -> R<Path> {
    Path::parse_with(w, DotStyle::Refuse).map_err(|e| {
        // a short form (-5.1) was parsed as ZZZ-5.1: show it as written
        let shown = w.strip_prefix("ZZZ").unwrap_or(w);
        At(
            at + e.column.saturating_sub(1),
            format!("bad path '{shown}': {}", e.what),
        )
    })
}

/// `order.items[0].code`, `$.PID` (a `$` root reaches keys that look like segment ids).
fn json_path(w: &str, at: usize) -> R<Vec<Key>> {
    let s = w
        .strip_prefix("$.")
        .or_else(|| w.strip_prefix('$'))
        .unwrap_or(w);
    let mut keys = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    let base = at + (w.len() - s.len());
    let mut expect_name = true;
    while i < b.len() {
        match b[i] {
            b'[' => {
                let close = match b[i..].iter().position(|&c| c == b']') {
                    Some(c) => i + c,
                    None => return err(base + i, "expected ']'"),
                };
                let n: usize = s[i + 1..close].parse().map_err(|_| {
                    At(
                        base + i + 1,
                        "expected an array index (a number from 0)".to_string(),
                    )
                })?;
                keys.push(Key::Index(n));
                i = close + 1;
                expect_name = false;
            }
            b'.' if !expect_name => {
                i += 1;
                expect_name = true;
            }
            _ if expect_name => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'.' || c == b'[' || c == b']')
                    .map_or(b.len(), |p| i + p);
                if end == i {
                    return err(base + i, "expected a key name");
                }
                keys.push(Key::Name(s[i..end].to_string()));
                i = end;
                expect_name = false;
            }
            _ => return err(base + i, "expected '.' or '[' in the JSON path"),
        }
    }
    if keys.is_empty() || expect_name {
        return err(
            at,
            format!(
                "bad path '{w}': expected a field path (PID-5.1) or a JSON path (order.patient.id)"
            ),
        );
    }
    Ok(keys)
}

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    Pipe,
    EqEq,
    NotEq,
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    at: usize,
    end: usize,
}

fn lex(s: &str, base: usize) -> R<Vec<Token>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let at = base + i;
        let one = |tok| Token {
            tok,
            at,
            end: at + 1,
        };
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'(' => {
                out.push(one(Tok::LParen));
                i += 1;
            }
            b')' => {
                out.push(one(Tok::RParen));
                i += 1;
            }
            b',' => {
                out.push(one(Tok::Comma));
                i += 1;
            }
            b'|' => {
                out.push(one(Tok::Pipe));
                i += 1;
            }
            b'=' | b'!' => {
                if b.get(i + 1) != Some(&b'=') {
                    return err(at, "expected '==' or '!='");
                }
                let tok = if c == b'=' { Tok::EqEq } else { Tok::NotEq };
                out.push(Token {
                    tok,
                    at,
                    end: at + 2,
                });
                i += 2;
            }
            b'"' | b'\'' => {
                let mut v = String::new();
                let mut j = i + 1;
                loop {
                    let Some(ch) = s[j..].chars().next() else {
                        return err(at, "a string is not closed");
                    };
                    j += ch.len_utf8();
                    if ch as u32 == c as u32 {
                        break;
                    }
                    if ch == '\\' {
                        let Some(e) = s[j..].chars().next() else {
                            return err(at, "a string is not closed");
                        };
                        j += e.len_utf8();
                        match e {
                            'n' => v.push('\n'),
                            'r' => v.push('\r'),
                            't' => v.push('\t'),
                            '\\' | '"' | '\'' => v.push(e),
                            // kept, so regexes read as written: "\d+"
                            other => {
                                v.push('\\');
                                v.push(other);
                            }
                        }
                    } else {
                        v.push(ch);
                    }
                }
                out.push(Token {
                    tok: Tok::Str(v),
                    at,
                    end: base + j,
                });
                i = j;
            }
            _ => {
                let start = i;
                while i < b.len() {
                    let d = b[i];
                    if d.is_ascii_whitespace()
                        || matches!(d, b'|' | b',' | b'"' | b'\'' | b'=' | b')')
                    {
                        break;
                    }
                    if d == b'!' && b.get(i + 1) == Some(&b'=') {
                        break;
                    }
                    if d == b'(' {
                        // PID-3(2).1: a repetition in parentheses belongs to the path
                        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                        if digits > 0
                            && b.get(i + 1 + digits) == Some(&b')')
                            && b[start].is_ascii_uppercase()
                        {
                            i += digits + 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Word(s[start..i].to_string()),
                    at: base + start,
                    end: base + i,
                });
            }
        }
    }
    Ok(out)
}

struct Toks<'t> {
    t: &'t [Token],
    i: usize,
    /// Offset just after the tag's text, for "expected ..." at the end.
    end: usize,
}

impl<'t> Toks<'t> {
    fn peek(&self) -> Option<&'t Token> {
        self.t.get(self.i)
    }

    fn next(&mut self) -> Option<&'t Token> {
        let t = self.t.get(self.i);
        if t.is_some() {
            self.i += 1;
        }
        t
    }

    fn last_end(&self) -> usize {
        self.i
            .checked_sub(1)
            .and_then(|j| self.t.get(j))
            .map_or(self.end, |t| t.end)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some(Token { tok: Tok::Word(x), .. }) if x == w) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn string(&mut self, what: &str) -> R<(String, usize)> {
        match self.next() {
            Some(Token {
                tok: Tok::Str(s),
                at,
                ..
            }) => Ok((s.clone(), *at + 1)),
            Some(t) => err(t.at, format!("expected {what} in quotes")),
            None => err(self.end, format!("expected {what} in quotes")),
        }
    }

    fn expect_rparen(&mut self) -> R<()> {
        match self.next() {
            Some(Token {
                tok: Tok::RParen, ..
            }) => Ok(()),
            Some(t) => err(t.at, "expected ')'"),
            None => err(self.end, "expected ')'"),
        }
    }

    fn expect_comma(&mut self) -> R<()> {
        match self.next() {
            Some(Token {
                tok: Tok::Comma, ..
            }) => Ok(()),
            Some(t) => err(t.at, "expected ','"),
            None => err(self.end, "expected ','"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            escape: Escape::None,
            legacy_placeholders: true,
        }
    }

    fn error(src: &str) -> TemplateError {
        parse(src, opts()).unwrap_err()
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = error("line one\nPID|{{ PID-x }}");
        assert_eq!((e.line, e.column), (2, 12), "{e}");
        let e = error("a\r\nb {{ PID-5 | nope }}");
        assert_eq!((e.line, e.column), (2, 14), "{e}");
        assert!(e.what.contains("unknown filter"));
        let e = error("x\n{% for OBX %}\n{{ -5 }}\n");
        assert_eq!((e.line, e.column), (2, 1), "{e}");
        assert!(e.what.contains("endfor"));
        let e = error("{{ PID-5");
        assert_eq!((e.line, e.column), (1, 1));
        let e = error("{{ -5 }}");
        assert!(e.what.contains("only inside"), "{e}");
        let e = error("{% if PID-8 = \"F\" %}{% endif %}");
        assert_eq!(e.column, 13, "{e}");
        let e = error("{{ PID-7 | date(\"%!\") }}");
        assert!(e.what.contains("%!") || e.what.contains("format"), "{e}");
        let e = error("{{ x | re_replace(\"(\", \"\") }}");
        assert!(e.what.contains("regular expression"), "{e}");
        let e = error("{% endif %}");
        assert!(e.what.contains("without"), "{e}");
        let e = error("{{ PID-7 | date(\"%Y\", \"Mars/Base\") }}");
        assert!(e.what.contains("time zone"), "{e}");
    }

    #[test]
    fn words_and_paths() {
        assert!(looks_like_hl7_path("PID-5.1"));
        assert!(looks_like_hl7_path("OBX[2]-5"));
        assert!(looks_like_hl7_path("PID"));
        assert!(looks_like_hl7_path("PID.5"));
        assert!(!looks_like_hl7_path("order.patient"));
        assert!(!looks_like_hl7_path("PIDX"));
        assert_eq!(
            json_path("items[0].code", 0).unwrap(),
            vec![
                Key::Name("items".into()),
                Key::Index(0),
                Key::Name("code".into())
            ]
        );
        assert_eq!(
            json_path("$.PID", 0).unwrap(),
            vec![Key::Name("PID".into())]
        );
        assert!(json_path("a..b", 0).is_err());
        let t = lex("PID-3(2).1 | replace(\"a\", 'b')", 0).unwrap();
        assert_eq!(t[0].tok, Tok::Word("PID-3(2).1".into()));
        assert_eq!(legacy(b"{0-9}x"), Some((0, 9, 5)));
        assert_eq!(legacy(b"{0-x}"), None);
    }

    #[test]
    fn lone_block_lines_vanish() {
        let nodes = parse("A\n  {% for OBX %}\nB\n{% endfor %}\nC\n", opts()).unwrap();
        match &nodes[..] {
            [Node::Text(a), Node::For { body, .. }, Node::Text(c)] => {
                assert_eq!(a, b"A\n");
                assert!(matches!(&body[..], [Node::Text(b)] if b == b"B\n"));
                assert_eq!(c, b"C\n");
            }
            other => panic!("{other:?}"),
        }
    }
}
