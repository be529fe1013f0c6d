//! No-panic property tests of the library, with fixed seeds (so every run sees the same inputs).
//!
//! Inputs: random byte strings biased toward HL7 (headers, delimiters, terminators, MLLP framing,
//! escapes, non-UTF-8 bytes), and every corpus fixture mutated many times (byte flips, inserted
//! delimiters, truncations, duplicated and deleted spans). Each input goes through the whole
//! pipeline: splitter (all three formats, and with reads cut at random places), message parse,
//! validate, charset resolution, path lookups, JSON in both shapes, and JSON back to HL7.
//!
//! Beyond not panicking, it checks what must hold for any input:
//! - the splitter's items do not depend on how the reads are cut;
//! - both JSON shapes are valid JSON;
//! - a message that parses and validates comes back from its JSON byte for byte, as its
//!   segments joined by `\r` (the lossless promise of docs/json.md).
//!
//! The last test runs the binary's flatten, convert and ilp over streams of mutated messages
//! and rows: errors are fine, a panic (or a usage error) is not.

use std::io::{self, Read};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use serde_json::Value;

use crate::util::api::json::{self, Notes, Shape, Writer};
use crate::util::api::{DotStyle, Format, Item, Message, Path, Splitter};
use crate::util::{corpus_inputs, read_corpus, run, sample};

/// Every corpus input: (name, bytes).
fn fixtures() -> Vec<(String, Vec<u8>)> {
    corpus_inputs()
        .into_iter()
        .map(|name| {
            let bytes = read_corpus(&name);
            (name, bytes)
        })
        .collect()
}

/// Bytes and byte strings HL7 parsers trip on.
const TOKENS: &[&[u8]] = &[
    b"MSH|^~\\&|",
    b"MSH|^~\\&#|",
    b"MSH",
    b"MSH|",
    b"|^~\\&",
    b"FHS|^~\\&|",
    b"BHS|^~\\&|",
    b"BTS|",
    b"FTS|",
    b"PID|",
    b"OBX|",
    b"|",
    b"^",
    b"~",
    b"\\",
    b"&",
    b"#",
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\r",
    b"\x0b",
    b"\x1c",
    b"\x1c\r",
    b"\x0b\x06\x1c\r",
    b"\\X",
    b"\\X0D0A\\",
    b"\\X00e9\\",
    b"\\XE",
    b"\\F\\",
    b"\\.br\\",
    b"\\.sp",
    b"\\C2842\\",
    b"\\Z",
    b"\\L\\",
    b"\"\"",
    b"\xff",
    b"\xe9",
    b"\xc3",
    b"\xf0\x9f\x99",
    b"\xef\xbb\xbf",
    b"{",
    b"}",
    b"\"",
    b"0",
    b"9",
    b"2.5",
    b"ADT^A01",
    b"8859/1",
    b"UNICODE UTF-8",
    b" ",
    b"\t",
    b"\0",
];

const PATHS: &[&str] = &[
    "MSH-1",
    "MSH-2",
    "MSH-9",
    "MSH-9.2",
    "MSH-10",
    "MSH-12.1",
    "MSH-18",
    "PID",
    "PID-3",
    "PID-3[2].1",
    "PID-3(3).4.2",
    "PID-5.1",
    "PID-5.1.1",
    "PID[2]-1",
    "OBX[2]-5",
    "OBX[*]-5",
    "OBX-5.5",
    "ZZZ-1",
    "PID-999.999.999",
    "FHS-9",
];

/// Random text from HL7 pieces, letters, digits and any byte.
fn random_piece(rng: &mut StdRng, v: &mut Vec<u8>, count: usize) {
    for _ in 0..count {
        match rng.random_range(0..10) {
            0..=4 => v.extend_from_slice(TOKENS.choose(rng).unwrap()),
            5 | 6 => v.push(rng.random_range(b'A'..=b'Z')),
            7 => v.push(rng.random_range(b'0'..=b'9')),
            _ => v.push(rng.random()),
        }
    }
}

/// Random bytes biased toward HL7: half of them start with a header that validates, followed
/// by segments whose fields are random pieces.
fn random_hl7ish(rng: &mut StdRng) -> Vec<u8> {
    let mut v = Vec::new();
    if rng.random_bool(0.1) {
        v.push(0x0b);
    }
    match rng.random_range(0..6) {
        0..=2 => {
            let header = [
                &b"MSH|^~\\&|A|B|C|D|20240101||ORU^R01|C1|P|2.5"[..],
                b"MSH|^~\\&#|A|B|C|D|20240101||ORU^R01|C1|P|2.7",
                b"MSH*^~\\&*A*B*C*D*20240101**ORU^R01*C1*P*2.4",
                b"MSH!@%$?!A!B!!!1!!ADT@A01!C2!P!2.5",
                b"MSH|^~\\&|A||||1||ADT^A08|C3|P|2.5||||||8859/1",
                b"MSH|^~\\&|A||||1||ADT^A08|C4|P|2.5||||||UNICODE UTF-8",
            ]
            .choose(rng)
            .unwrap()
            .to_vec();
            let fs = header[3];
            v.extend_from_slice(&header);
            for _ in 0..rng.random_range(0..8) {
                v.extend_from_slice([&b"\r"[..], b"\n", b"\r\n"].choose(rng).unwrap());
                v.extend_from_slice(
                    [&b"PID"[..], b"OBX", b"NTE", b"ZZ1", b"PV1"]
                        .choose(rng)
                        .unwrap(),
                );
                for _ in 0..rng.random_range(0..6) {
                    v.push(fs);
                    // values without line breaks, so the segment structure mostly survives
                    let start = v.len();
                    let n = rng.random_range(0..5);
                    random_piece(rng, &mut v, n);
                    for b in &mut v[start..] {
                        if *b == b'\r' || *b == b'\n' {
                            *b = b' ';
                        }
                    }
                }
            }
        }
        3 => v.extend_from_slice(b"MSH|^~\\&|"),
        _ => {}
    }
    let n = rng.random_range(0..40);
    random_piece(rng, &mut v, n);
    v
}

fn mutate(rng: &mut StdRng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = v.len();
        let at = if len == 0 {
            0
        } else {
            rng.random_range(0..=len)
        };
        match rng.random_range(0..6) {
            // flip a byte
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                v[i] = if rng.random_bool(0.5) {
                    rng.random()
                } else {
                    *[
                        b'|', b'^', b'~', b'\\', b'&', b'\r', b'\n', 0x0b, 0x1c, 0xff,
                    ]
                    .choose(rng)
                    .unwrap()
                };
            }
            // insert a token
            1 | 2 => {
                let t = TOKENS.choose(rng).unwrap();
                v.splice(at..at, t.iter().copied());
            }
            // truncate
            3 => v.truncate(at),
            // duplicate a span
            4 if len > 0 => {
                let a = rng.random_range(0..len);
                let b = (a + rng.random_range(1..=64)).min(len);
                let span = v[a..b].to_vec();
                let to = rng.random_range(0..=len);
                v.splice(to..to, span);
            }
            // delete a span
            _ if len > 0 => {
                let a = rng.random_range(0..len);
                let b = (a + rng.random_range(1..=32)).min(len);
                v.drain(a..b);
            }
            _ => v.extend_from_slice(TOKENS.choose(rng).unwrap()),
        }
    }
    v
}

/// Hands out the input in pieces of random size (up to 8 bytes or up to 4 KiB), so split points
/// land everywhere.
struct Cut<'a> {
    data: &'a [u8],
    rng: StdRng,
}

impl Read for Cut<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let max = if self.rng.random_bool(0.5) { 8 } else { 4096 };
        let n = self
            .data
            .len()
            .min(buf.len())
            .min(self.rng.random_range(1..=max));
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[derive(Default)]
struct Stats {
    inputs: usize,
    messages: usize,
    valid: usize,
    round_trips: usize,
    json_docs: usize,
}

/// Kind, offset and bytes of every item, for comparing two splits of the same input.
type Items = Vec<(u8, u64, Vec<u8>)>;

/// Splits everything; with `full`, every message goes through [`check_message`], else only
/// through parse and validate (to keep debug builds fast).
fn split_all<R: Read>(
    mut s: Splitter<R>,
    full: bool,
    stats: &mut Stats,
    writer: &mut Writer,
    paths: &[Path],
) -> Items {
    let mut items = Vec::new();
    loop {
        let item = match s.next_item() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => panic!("reading from memory failed: {e}"),
        };
        match item {
            Item::Message(c) => {
                items.push((b'M', c.offset, c.bytes.to_vec()));
                if full {
                    check_message(c.bytes, stats, writer, paths);
                } else if let Ok(m) = Message::parse(c.bytes) {
                    let _ = m.validate();
                }
            }
            Item::Json(c) => {
                items.push((b'J', c.offset, c.bytes.to_vec()));
                if full {
                    check_json(c.bytes, stats);
                }
            }
            Item::Invalid(c, why) => {
                assert!(!why.is_empty());
                items.push((b'I', c.offset, c.bytes.to_vec()));
            }
            Item::Warning { offset, what } => {
                assert!(!what.is_empty());
                items.push((b'W', offset, what.into_bytes()));
            }
            Item::Mark(c) => items.push((b'K', c.offset, c.bytes.to_vec())),
            Item::Idle => {}
        }
    }
    items
}

/// The whole pipeline on one input; panics only on a broken property.
fn exercise(input: &[u8], seed: u64, stats: &mut Stats, writer: &mut Writer, paths: &[Path]) {
    stats.inputs += 1;
    split_all(Splitter::new(input), true, stats, writer, paths);
    // Reads cut anywhere must give the same items. The format is fixed first: detection
    // itself depends on read sizes (`format_detection_does_not_depend_on_read_sizes`).
    let mut probe = Splitter::new(input);
    let _ = probe.next_item();
    let format = probe.format().unwrap_or(Format::Hl7);
    let whole = split_all(
        Splitter::with_format(input, format),
        false,
        stats,
        writer,
        paths,
    );
    let cut = split_all(
        Splitter::with_format(
            Cut {
                data: input,
                rng: StdRng::seed_from_u64(seed),
            },
            format,
        ),
        false,
        stats,
        writer,
        paths,
    );
    assert!(
        whole == cut,
        "items depend on read sizes (seed {seed}, {format:?}) for input {:?}",
        String::from_utf8_lossy(input)
    );
    // every chunk is the input's bytes at its offset
    for (kind, offset, bytes) in &whole {
        if *kind != b'W' {
            let at = *offset as usize;
            assert!(
                input.get(at..at + bytes.len()) == Some(&bytes[..]),
                "chunk at {at} is not the input there: {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
    for format in [Format::Hl7, Format::Mllp, Format::Ndjson] {
        split_all(
            Splitter::with_format(input, format),
            false,
            stats,
            writer,
            paths,
        );
    }
}

fn check_message(bytes: &[u8], stats: &mut Stats, writer: &mut Writer, paths: &[Path]) {
    stats.messages += 1;
    let Ok(mut msg) = Message::parse(bytes) else {
        return;
    };
    let valid = msg.validate().is_ok();
    let _ = msg.resolve_charset();
    let _ = (msg.message_type(), msg.control_id(), msg.version());
    for p in paths {
        if let Some(v) = msg.get(p) {
            let _ = (v.text(), v.is_null(), v.is_empty(), v.is_leaf());
            let _ = v.parts().count();
        }
    }
    for seg in msg.segments() {
        let _ = (seg.id_str(), seg.field_count());
        for f in seg.fields() {
            let _ = f.text();
        }
    }
    let mut out = Vec::new();
    let mut notes = Notes::default();
    writer.write(&mut out, &msg, Shape::Paths, &mut notes);
    let paths_doc = serde_json::from_slice::<Value>(&out);
    out.clear();
    writer.write(&mut out, &msg, Shape::Segments, &mut notes);
    let segments_doc = serde_json::from_slice::<Value>(&out);
    if !valid {
        // a message the CLI would refuse: writing it must not panic; see
        // `json_of_an_unvalidated_message_is_valid_utf8` for what else goes wrong
        if let Ok(doc) = segments_doc {
            let _ = json::to_hl7(&doc, &mut Vec::new());
        }
        return;
    }
    let paths_doc = paths_doc.unwrap_or_else(|e| {
        panic!(
            "paths shape is not JSON ({e}) for {:?}",
            String::from_utf8_lossy(bytes)
        )
    });
    assert!(paths_doc.is_object());
    let doc = segments_doc.unwrap_or_else(|e| {
        panic!(
            "segments shape is not JSON ({e}) for {:?}",
            String::from_utf8_lossy(bytes)
        )
    });
    stats.valid += 1;
    let mut back = Vec::new();
    let result = json::to_hl7(&doc, &mut back);
    let mut want = Vec::new();
    for seg in msg.segments() {
        want.extend_from_slice(seg.bytes());
        want.push(b'\r');
    }
    assert!(
        result.is_ok(),
        "to_hl7 failed ({result:?}) for {:?}",
        String::from_utf8_lossy(bytes)
    );
    assert!(
        back == want,
        "round trip differs:\n  in:  {:?}\n  out: {:?}\n  json: {}",
        String::from_utf8_lossy(&want),
        String::from_utf8_lossy(&back),
        String::from_utf8_lossy(&out)
    );
    stats.round_trips += 1;
}

fn check_json(bytes: &[u8], stats: &mut Stats) {
    if let Ok(doc) = serde_json::from_slice::<Value>(bytes) {
        stats.json_docs += 1;
        let mut out = Vec::new();
        if json::to_hl7(&doc, &mut out).is_ok()
            && !out.is_empty()
            && let Ok(m) = Message::parse(&out)
        {
            let _ = m.validate();
        }
    }
}

fn paths() -> Vec<Path> {
    PATHS
        .iter()
        .map(|p| p.parse().unwrap_or_else(|e| panic!("{p}: {e}")))
        .collect()
}

#[test]
fn random_hl7ish_bytes_never_panic() {
    let mut rng = StdRng::seed_from_u64(0x4c37_0001);
    let mut stats = Stats::default();
    let mut writer = Writer::new();
    let paths = paths();
    for i in 0..4000 {
        let input = random_hl7ish(&mut rng);
        exercise(&input, i, &mut stats, &mut writer, &paths);
    }
    // the generator does reach the interesting paths
    assert!(stats.messages > 1000, "{} messages", stats.messages);
    assert!(stats.round_trips > 300, "{} round trips", stats.round_trips);
}

#[test]
fn mutated_corpus_never_panics_and_round_trips() {
    let files = fixtures();
    // files are shared out over a few threads; each file has its own seed, so the inputs do
    // not depend on the thread count
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4);
    let totals: Vec<Stats> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let files = &files;
                scope.spawn(move || {
                    let mut stats = Stats::default();
                    let mut writer = Writer::new();
                    let paths = paths();
                    for (k, (name, raw)) in files.iter().enumerate().skip(t).step_by(threads) {
                        let mut rng = StdRng::seed_from_u64(0x4c37_0100 + k as u64);
                        // the unmutated file first
                        exercise(raw, 0, &mut stats, &mut writer, &paths);
                        // a few hundred mutants of small files, fewer of big ones (debug builds
                        // are slow); the mutants of a big file are mutants of its first 16 KiB
                        let base = &raw[..raw.len().min(16 << 10)];
                        let n = if name.contains("keepalive") {
                            10
                        } else {
                            (200_000 / base.len().max(1)).clamp(10, 200)
                        };
                        for i in 0..n {
                            let m = mutate(&mut rng, base);
                            exercise(&m, i as u64, &mut stats, &mut writer, &paths);
                        }
                    }
                    stats
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let inputs: usize = totals.iter().map(|s| s.inputs).sum();
    let round_trips: usize = totals.iter().map(|s| s.round_trips).sum();
    assert!(inputs > 5_000, "{inputs} inputs");
    assert!(round_trips > 4_000, "{round_trips} round trips");
}

/// Changes a JSON document the way a careless script might: strings replaced by HL7-ish text,
/// values of the wrong type, elements dropped, duplicated or nested too deep.
fn mutate_json(rng: &mut StdRng, v: &mut Value) {
    match v {
        Value::Array(items) => {
            if !items.is_empty() && rng.random_bool(0.05) {
                let i = rng.random_range(0..items.len());
                if rng.random_bool(0.5) {
                    items.remove(i);
                } else {
                    let dup = items[i].clone();
                    items.insert(i, dup);
                }
            }
            if rng.random_bool(0.02) {
                items.push(Value::Array(vec![Value::Array(vec![Value::Array(vec![
                    Value::Array(vec![Value::from("deep")]),
                ])])]));
            }
            for item in items.iter_mut() {
                mutate_json(rng, item);
            }
        }
        Value::Object(map) => {
            for (_, item) in map.iter_mut() {
                mutate_json(rng, item);
            }
        }
        _ => {
            if rng.random_bool(0.08) {
                *v = match rng.random_range(0..8) {
                    0 => Value::Null,
                    1 => Value::from(rng.random_range(-5..100_000)),
                    2 => Value::from(rng.random_bool(0.5)),
                    3 => serde_json::json!({"x": 1}),
                    4 => Value::Array(Vec::new()),
                    5 => Value::from(""),
                    _ => Value::from(String::from_utf8_lossy(&random_hl7ish(rng)).into_owned()),
                };
            }
        }
    }
}

#[test]
fn mutated_ndjson_never_panics() {
    // the JSON side: our own segments-shape JSON, changed, back through to_hl7 and parse
    let mut rng = StdRng::seed_from_u64(0x4c37_0003);
    let mut writer = Writer::new();
    let mut docs = 0;
    let mut ok = 0;
    for (_, raw) in fixtures() {
        if raw.len() > 20_000 {
            continue;
        }
        let mut s = Splitter::new(&raw[..]);
        let mut lines = Vec::new();
        while let Ok(Some(item)) = s.next_item() {
            if let Item::Message(c) = item
                && let Ok(mut m) = Message::parse(c.bytes)
            {
                m.resolve_charset();
                let mut out = Vec::new();
                writer.write(&mut out, &m, Shape::Segments, &mut Notes::default());
                lines.push(out);
            }
        }
        for line in lines.iter().take(3) {
            let Ok(doc) = serde_json::from_slice::<Value>(line) else {
                continue;
            };
            for _ in 0..60 {
                let mut d = doc.clone();
                mutate_json(&mut rng, &mut d);
                docs += 1;
                let mut out = Vec::new();
                if json::to_hl7(&d, &mut out).is_ok() {
                    ok += 1;
                    let mut sp = Splitter::new(&out[..]);
                    while let Ok(Some(Item::Message(c))) = sp.next_item() {
                        if let Ok(m) = Message::parse(c.bytes) {
                            let _ = m.validate();
                        }
                    }
                }
            }
            // byte-level damage too: whatever still parses as JSON goes through
            for _ in 0..30 {
                let m = mutate(&mut rng, line);
                if let Ok(d) = serde_json::from_slice::<Value>(&m) {
                    docs += 1;
                    let _ = json::to_hl7(&d, &mut Vec::new());
                }
            }
        }
    }
    assert!(docs > 2000, "{docs} documents");
    assert!(ok > 200, "{ok} documents turned into HL7");
}

#[test]
fn format_detection_does_not_depend_on_read_sizes() {
    // A raw HL7 batch whose first MSH comes after 64 bytes, with a VT byte before it (here an
    // MLLP-framed message inside the batch). Read at once, Format::detect sees the VT with no
    // MSH before it and picks MLLP; read 64 bytes at a time it picks HL7. From the CLI:
    // `hl7 parse FILE` gives 1 message and exit 0, `(printf A; sleep 0.3; printf B) | hl7 parse`
    // gives a "not part of a message" error and exit 1.
    let input: &[u8] = b"BHS|^~\\&|APP|FAC|RCV|FAC|20240315090000||||BATCH-1\rNTE|1||a note before the first message\r\x0bMSH|^~\\&|A||||1||ADT^A01|C1|P|2.5\rPID|1\r\x1c\r";
    struct Small<'a>(&'a [u8]);
    impl Read for Small<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(64);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let mut a = Splitter::new(input);
    let _ = a.next_item();
    let mut b = Splitter::new(Small(input));
    let _ = b.next_item();
    assert_eq!(a.format(), b.format());
}

#[test]
fn json_of_an_unvalidated_message_is_valid_utf8() {
    // `PV1` followed by a BOM instead of `|`: the writer takes byte 3 (0xEF) as the field
    // separator and copies the rest of the BOM (0xBB 0xBF) into the JSON as is. The message is
    // valid UTF-8, parses (Message::parse checks only MSH-1/MSH-2) and fails validate(); the CLI
    // validates first, but the library API promises JSON for any parsed message.
    let raw = "MSH|^~\\&|A||||1||ADT^A08|C1|P|2.5\rPV1\u{feff}|1|I\r".as_bytes();
    let mut msg = Message::parse(raw).unwrap();
    assert!(msg.validate().is_err());
    msg.resolve_charset();
    for shape in [Shape::Segments, Shape::Paths] {
        let mut out = Vec::new();
        Writer::new().write(&mut out, &msg, shape, &mut Notes::default());
        assert!(
            serde_json::from_slice::<Value>(&out).is_ok(),
            "{shape:?}: {:?}",
            String::from_utf8_lossy(&out)
        );
    }
}

#[test]
fn random_paths_never_panic_and_print_back() {
    let mut rng = StdRng::seed_from_u64(0x4c37_0004);
    const PARTS: &[&str] = &[
        "PID",
        "OBX",
        "MSH",
        "Z01",
        "pid",
        "-",
        "-",
        ".",
        ".",
        "[",
        "]",
        "(",
        ")",
        "*",
        "1",
        "2",
        "3",
        "0",
        "10",
        "99999999999999999999999",
        " ",
        "#",
        "a",
        "",
    ];
    let msg = read_corpus("synthetic__path_notation_fixture.hl7");
    let msg = Message::parse(&msg).unwrap();
    let mut parsed = 0;
    for _ in 0..5000 {
        let mut s: String = if rng.random_bool(0.6) {
            (*[
                "PID-", "OBX[2]-", "MSH.", "PID-3(", "PID.", "OBX[*]-", "PID-5.",
            ]
            .choose(&mut rng)
            .unwrap())
            .to_string()
        } else {
            String::new()
        };
        for _ in 0..rng.random_range(0..8) {
            s.push_str(PARTS.choose(&mut rng).unwrap());
        }
        for style in [
            DotStyle::Refuse,
            DotStyle::FieldComponent,
            DotStyle::OccurrenceField,
        ] {
            match Path::parse_with(&s, style) {
                Ok(p) => {
                    parsed += 1;
                    let _ = msg.get(&p).map(|v| v.text());
                    // what a path prints is the same path in our grammar
                    let printed = p.to_string();
                    let again: Path = printed.parse().unwrap_or_else(|e| {
                        panic!("{s:?} printed as {printed:?}, which does not parse: {e}")
                    });
                    assert_eq!(again, p, "{s:?} printed as {printed:?}");
                }
                Err(e) => {
                    assert!(e.column >= 1, "{s:?}: column {}", e.column);
                }
            }
        }
    }
    assert!(parsed > 300, "{parsed} paths parsed");
}

/// The subcommands added after the library tests above (flatten with and without a map,
/// convert through the shipped templates, ilp on mangled rows) on streams of mutated messages:
/// each run may report errors (exit 1) but never panics, and never stops early.
#[test]
fn new_subcommands_never_panic_on_mutated_streams() {
    let files = fixtures();
    let mut rng = StdRng::seed_from_u64(0x6e65_7763);
    let mut stream = Vec::new();
    for _ in 0..600 {
        let (_, raw) = files.choose(&mut rng).unwrap();
        stream.extend_from_slice(&mutate(&mut rng, raw));
        stream.push(b'\n');
    }
    let map = sample("elisa.toml");
    let run = |args: &[&str], input: &[u8]| -> Vec<u8> {
        let out = run(args, input);
        let err = &out.stderr;
        assert!(
            matches!(out.code, 0 | 1) && !err.contains("panicked"),
            "{args:?}: exit {}\n{}",
            out.code,
            &err[err.floor_char_boundary(err.len().saturating_sub(3000))..]
        );
        out.stdout
    };
    run(&["flatten", "--from", "hl7"], &stream);
    run(&["flatten", "--map", &map, "--from", "hl7"], &stream);
    let rows = run(
        &["flatten", "--map", &map, "--wide", "--from", "hl7"],
        &stream,
    );
    for t in [
        "observation_record.json",
        "pacs_oru_to_report.json",
        "adt_vendor_a_to_b.hl7",
        "ack.hl7",
        "pdf_attachment.tmpl",
    ] {
        let template = sample(&format!("templates/{t}"));
        run(
            &["convert", "--template", &template, "--from", "hl7"],
            &stream,
        );
    }
    // rows as flatten writes them, and then mangled
    let vent = std::fs::read(sample("oru_r01_vent.hl7")).unwrap();
    let mut good = run(&["flatten", "--map", &map], &vent);
    good.extend_from_slice(&rows);
    let mut mangled = Vec::new();
    for line in good.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        mangled.extend_from_slice(&mutate(&mut rng, line));
        mangled.push(b'\n');
    }
    run(
        &["ilp", "--map", &map, "--dry-run", "--from", "ndjson"],
        &mangled,
    );
    run(
        &[
            "ilp",
            "--dry-run",
            "--symbols",
            "device_serial",
            "--from",
            "ndjson",
        ],
        &mangled,
    );
    run(&["ilp", "--dry-run", "--from", "csv"], &mangled);
}
