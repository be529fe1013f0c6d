//! The `hl7 convert --template` engine: text with `{{ EXPR | filter }}` placeholders, loops and
//! conditionals, rendered once per message.
//!
//! ```text
//! MSH|^~\&|{{ MSH-5 }}|{{ MSH-6 }}|{{ MSH-3 }}|{{ MSH-4 }}|{{ now }}||ORM^O01|{{ control_id }}|P|2.3
//! PID|1||{{ PID-3.1 }}||{{ PID-5.1 | upper }}^{{ PID-5.2 }}||{{ PID-7 | date("%Y%m%d") }}
//! {% for OBX %}
//! OBX|{{ loop.index }}|{{ -2 }}|{{ -3 }}||{{ -5 | default("n/a") }}
//! {% endfor %}
//! ```
//!
//! An expression is an HL7 field path in the one grammar of [`crate::model::path`] (`PID-5.1`,
//! `OBX[2]-5`, `OBX[*]-5`), a dotted path into a JSON document (`order.patient.id`,
//! `items[0].code`), a string literal, or a built-in (`now`, `now("%Y-%m-%d")`, `control_id`,
//! `counter`, `loop.index`...). Filters follow, each after a `|`: default, upper, lower, trim,
//! replace, re_replace, date, hl7, json, raw, base64decode, base64encode, first, last, join.
//!
//! Blocks: `{% for OBX %}` loops over segments (inside, `{{ -5 }}` is field 5 of the current
//! segment, and `OBX-5` means it too), `{% for PID-3 %}` over the repetitions of a field (inside,
//! `{{ .1 }}` is component 1 of the current repetition and `{{ . }}` all of it), `{% for item in
//! order.items %}` over a JSON array; `{% if COND %}`, `{% elif COND %}`, `{% else %}`,
//! `{% endif %}` with `==`, `!=`, `not`, `and`, `or`. `{# ... #}` is a comment. A block tag
//! alone on its line takes the whole line with it, so templates can be laid out line by line.
//!
//! Why our own engine and not minijinja: `PID-5.1` and `OBX[2]-5` are not Jinja expressions
//! (Jinja reads `PID - 5.1`), and the lookups must go to the zero-copy [`crate::model::message`] view
//! without building a context object per message, which is what keeps rendering at hundreds of
//! thousands of messages a second.
//!
//! The library does no I/O: [`Template::parse`] takes the text, [`Renderer::render`] writes into
//! a buffer and returns what it noticed (missing values, filter failures) for the caller to
//! report.
//!
//! ```
//! use hl7::model::message::Message;
//! use hl7::transform::template::{Env, Escape, Input, Options, Renderer, Template};
//! let t = Template::parse(
//!     "{{ PID-5.1 | upper }},{% for OBX %}{{ -5 }}{% if not loop.last %};{% endif %}{% endfor %}",
//!     Options { escape: Escape::None, legacy_placeholders: false },
//! ).unwrap();
//! let msg = Message::parse(b"MSH|^~\\&|A||||1||ORU^R01|C1|P|2.5\rPID|1||7||Doe\rOBX|1|NM|||4.2\rOBX|2|NM|||5\r").unwrap();
//! let env = Env { local: jiff::tz::TimeZone::UTC, id_seed: 1, collect_missing: false };
//! let mut out = Vec::new();
//! Renderer::new(env).render(&t, Input { message: Some(msg), json: None }, &mut out);
//! assert_eq!(out, b"DOE,4.2;5\n");
//! let e = Template::parse("a\n{{ PID-5 | nope }}", Options { escape: Escape::None, legacy_placeholders: false }).unwrap_err();
//! assert_eq!((e.line, e.column), (2, 12));
//! ```

mod eval;
mod filters;
mod parse;

pub use eval::{Env, Input, Problem, Renderer, Rendering};

use crate::model::path::Path;

/// How inserted values are escaped, and how a rendering is finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// HL7 escapes (`\F\`, `\S\`, `\X0D\`...); lines become `\r`-terminated segments.
    Hl7,
    /// JSON string escapes; each rendering is checked to be JSON and written on one line.
    Json,
    /// Values as they are; the rendering as written.
    None,
}

impl Escape {
    /// The default for a template file: `.hl7` is HL7, `.json` JSON, anything else none.
    pub fn from_file_name(name: &std::path::Path) -> Escape {
        match name
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("hl7") => Escape::Hl7,
            Some("json") => Escape::Json,
            _ => Escape::None,
        }
    }
}

/// How a template is read.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub escape: Escape,
    /// Also read the old broker script's `{S-F}` placeholders: segment S (0-based, in message
    /// order), field F of that segment's text split by the field separator (0 is the segment
    /// id; in MSH, 1 is the encoding characters, so `{0-9}` is MSH-10).
    pub legacy_placeholders: bool,
}

/// A template that does not parse: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub what: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.what
        )
    }
}

impl std::error::Error for TemplateError {}

/// A parsed template.
#[derive(Debug)]
pub struct Template {
    nodes: Vec<Node>,
    escape: Escape,
}

impl Template {
    /// Parses a template; every error names its line and column.
    pub fn parse(src: &str, opts: Options) -> Result<Template, TemplateError> {
        // A newline at the end of the file is not part of the template (as in Jinja), so a
        // template that writes bytes (base64decode) writes nothing more.
        let src = src.strip_prefix('\u{feff}').unwrap_or(src);
        let src = src
            .strip_suffix("\r\n")
            .or_else(|| src.strip_suffix('\n'))
            .or_else(|| src.strip_suffix('\r'))
            .unwrap_or(src);
        let nodes = parse::parse(src, opts)?;
        Ok(Template {
            nodes,
            escape: opts.escape,
        })
    }

    pub fn escape(&self) -> Escape {
        self.escape
    }
}

#[derive(Debug)]
pub(crate) enum Node {
    Text(Vec<u8>),
    Out(Expr),
    /// `{S-F}` with `--legacy-placeholders`.
    Legacy {
        segment: usize,
        field: usize,
    },
    If {
        arms: Vec<(Cond, Vec<Node>)>,
        otherwise: Vec<Node>,
    },
    For {
        over: LoopOver,
        body: Vec<Node>,
    },
}

#[derive(Debug)]
pub(crate) struct Expr {
    pub src: Source,
    pub filters: Vec<Filter>,
    /// The expression as written, for messages (`PID-5.1`).
    pub label: String,
    /// Has a `default` filter: not "missing" under `--strict`.
    pub optional: bool,
}

#[derive(Debug)]
pub(crate) enum Source {
    Path(Path),
    /// `-5.1` in a segment loop: the path with a placeholder segment id.
    ShortField(Path),
    /// `.1.2` or `.` in a repetition loop.
    ShortComponent {
        component: Option<usize>,
        subcomponent: Option<usize>,
    },
    Json(Vec<Key>),
    Str(String),
    Now(Option<String>),
    ControlId,
    Counter,
    Loop(LoopVar),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    Name(String),
    Index(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LoopVar {
    Index,
    Index0,
    First,
    Last,
    Length,
}

#[derive(Debug)]
pub(crate) enum LoopOver {
    Segments([u8; 3]),
    Repetitions(Path),
    Json { name: String, path: Vec<Key> },
}

#[derive(Debug)]
pub(crate) enum Cond {
    Or(Box<Cond>, Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Eq(Expr, Expr),
    Ne(Expr, Expr),
    Truthy(Expr),
}

#[derive(Debug)]
pub(crate) enum Filter {
    Default(Box<Expr>),
    Upper,
    Lower,
    Trim,
    Replace(String, String),
    ReReplace(regex::Regex, String),
    Date(String, Option<jiff::tz::TimeZone>),
    Hl7,
    Json,
    Raw,
    Base64Decode,
    Base64Encode,
    First,
    Last,
    Join(String),
}
