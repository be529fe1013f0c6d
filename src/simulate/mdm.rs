//! `mdm`: clinical documents from a transcription system, MDM^T02 (original document
//! notification and content), HL7 2.5.1. Each message carries a small generated one-page PDF,
//! base64 in OBX-5 (ED type), with the document type in TXA-2 and as a LOINC code in OBX-3.
//!
//! Messages come at seeded gaps of one to twenty minutes from the start time; each names a
//! patient of the population, a physician, and a unique document number (TXA-12). The PDF is a
//! valid PDF 1.4 file written by hand (a catalog, one page, two standard Helvetica fonts, one
//! uncompressed text stream, an information dictionary, and a cross-reference table with the
//! byte offsets of the objects), a little over 2 KB.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Config, Generator, PHYSICIANS, Patient, Rng, Time, mix64, push_control_id, push_u64};

/// Document types: TXA-2 code (HL7 table 0270), its name, the LOINC code and name for OBX-3.
const DOC_TYPES: &[(&str, &str, &str, &str)] = &[
    ("DS", "Discharge summary", "18842-5", "Discharge summary"),
    ("CN", "Consultation", "11488-4", "Consult note"),
    ("PR", "Progress note", "11506-3", "Progress note"),
    (
        "OP",
        "Operative report",
        "11504-8",
        "Surgical operation note",
    ),
    (
        "HP",
        "History and physical examination",
        "34117-2",
        "History and physical note",
    ),
];

/// Wards for PV1-3.1.
const WARDS: &[&str] = &["MED", "SURG", "CARD", "ORTHO", "NEURO"];

/// Seeded text of the documents, by section: plain, fictitious, and some with characters a PDF
/// string must escape.
const FINDINGS: &[&str] = &[
    "Admitted for observation after a fall at home (no fracture found).",
    "Presented with shortness of breath and a productive cough for three days.",
    "Chest pain on exertion; ECG showed no acute changes.",
    "Elective admission for a planned procedure (see operative report).",
    "Fever and dysuria; urine culture grew a sensitive organism.",
    "Known type 2 diabetes, glucose levels within target during the stay.",
    "Mild dehydration corrected with intravenous fluids.",
    "Blood pressure well controlled (home readings reviewed).",
    "Wound inspected: clean, dry, no signs of infection.",
    "Laboratory results within normal limits apart from a mild anaemia.",
];
const ASSESSMENT: &[&str] = &[
    "Condition stable, afebrile, mobilising independently.",
    "Symptoms improved steadily with treatment.",
    "Pain well controlled with oral analgesia.",
    "No complications observed during the stay.",
    "Patient and family informed and in agreement with the plan.",
];
const PLAN: &[&str] = &[
    "Discharge home; follow-up with the general practitioner in two weeks.",
    "Continue current medication; review in the outpatient clinic.",
    "Repeat blood tests in one week (full blood count, creatinine).",
    "Physiotherapy referral sent.",
    "Return if symptoms worsen: fever, chest pain or breathlessness.",
    "Dressing change every second day by the district nurse.",
];

/// The `mdm` profile.
pub struct Mdm {
    seed: u64,
    patients: u64,
    version: Vec<u8>,
    rng: Rng,
    time: Time,
    /// Messages written so far.
    n: u64,
    /// The size PDFs are padded to (0: none).
    attachment_size: usize,
    /// The seeded filler of the padding, made once.
    filler: Vec<u8>,
}

impl Mdm {
    pub fn new(cfg: &Config) -> Self {
        Mdm {
            seed: cfg.seed,
            patients: u64::from(cfg.patients.max(1)),
            version: cfg
                .version
                .as_deref()
                .unwrap_or("2.5.1")
                .as_bytes()
                .to_vec(),
            rng: Rng::new(cfg.seed, 0x4d44_4d5f_5432),
            time: cfg.start,
            n: 0,
            attachment_size: cfg.attachment_size,
            filler: filler(cfg.seed, cfg.attachment_size),
        }
    }
}

/// Appends 16 upper-case hex digits of `v`.
fn push_hex16(out: &mut Vec<u8>, v: u64) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for i in (0..16).rev() {
        out.push(HEX[((v >> (i * 4)) & 15) as usize]);
    }
}

/// `YYYY-MM-DD HH:MM`.
fn human_time(t: Time) -> String {
    let (y, m, d, h, mi, _) = t.parts();
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}")
}

/// `Dr. GIVEN FAMILY` from an XCN like `1001^WELBY^MARCUS^^^DR`.
fn physician_name(xcn: &str) -> String {
    let mut parts = xcn.split('^');
    let _id = parts.next();
    let family = parts.next().unwrap_or("");
    let given = parts.next().unwrap_or("");
    format!("Dr. {given} {family}")
}

impl Generator for Mdm {
    fn next(&mut self, out: &mut Vec<u8>) {
        let n = self.n;
        self.n += 1;
        let r = &mut self.rng;
        if n > 0 {
            self.time = self.time.plus(r.range(60, 20 * 60));
        }
        let time = self.time;
        let activity = time.plus(-r.range(10, 180) * 60);
        let k = r.below(self.patients);
        let patient = Patient::nth(self.seed, k);
        let (code, name, loinc, loinc_name) = *r.pick(DOC_TYPES);
        let physician = *r.pick(PHYSICIANS);
        let doc_number = mix64(n ^ mix64(self.seed ^ 0x0054_5841_3132));

        // the ward of the patient: the same at every document
        let mut ward_rng = Rng::new(self.seed, 0x4d44_4d5f_5741_5244 ^ k);
        let ward = *ward_rng.pick(WARDS);
        let room = ward_rng.range(101, 340) as u64;
        let bed = ward_rng.range(1, 2) as u64;

        // MSH
        out.extend_from_slice(b"MSH|^~\\&|SIM_TRANSCR|SIMHOSP|EMR|SIMHOSP|");
        time.write_ts(out);
        out.extend_from_slice(b"||MDM^T02^MDM_T02|");
        push_control_id(out, self.seed, n);
        out.extend_from_slice(b"|P|");
        out.extend_from_slice(&self.version);
        out.extend_from_slice(b"|||AL|NE||UNICODE UTF-8\r");
        // EVN
        out.extend_from_slice(b"EVN|T02|");
        time.write_ts(out);
        out.push(b'\r');
        patient.write_pid(out);
        // PV1: class, location, attending doctor (PV1-7), visit number (PV1-19)
        out.extend_from_slice(b"PV1|1|I|");
        out.extend_from_slice(ward.as_bytes());
        out.push(b'^');
        push_u64(out, room);
        out.push(b'^');
        push_u64(out, bed);
        out.extend_from_slice(b"^SIMHOSP||||");
        out.extend_from_slice(physician.as_bytes());
        out.extend_from_slice(b"||||||||||||");
        out.extend_from_slice(patient.visit.as_bytes());
        out.push(b'\r');
        // TXA: type, presentation, activity time, provider, origination and transcription
        // times, originator, unique document number, completion and availability status
        out.extend_from_slice(b"TXA|1|");
        out.extend_from_slice(code.as_bytes());
        out.push(b'^');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"^HL70270|AP|");
        activity.write_ts(out);
        out.push(b'|');
        out.extend_from_slice(physician.as_bytes());
        out.push(b'|');
        activity.write_ts(out);
        out.push(b'|');
        time.write_ts(out);
        out.extend_from_slice(b"||");
        out.extend_from_slice(physician.as_bytes());
        out.extend_from_slice(b"|||DOC-");
        push_hex16(out, doc_number);
        out.extend_from_slice(b"^SIMHOSP|||||AU||AV\r");

        // the document
        let mut doc_id = Vec::with_capacity(20);
        doc_id.extend_from_slice(b"DOC-");
        push_hex16(&mut doc_id, doc_number);
        let (by, bm, bd, ..) = Time {
            local: patient.birth_days * 86_400,
            offset_min: None,
        }
        .parts();
        let mut lines = vec![
            format!(
                "Patient: {}, {}    MRN: {}    Born: {by:04}-{bm:02}-{bd:02}    Sex: {}",
                patient.family, patient.given, patient.id, patient.sex
            ),
            format!("Visit: {}    Ward: {ward} {room}-{bed}", patient.visit),
            format!(
                "Date: {}    Author: {}",
                human_time(activity),
                physician_name(physician)
            ),
            format!("Document: {}", String::from_utf8_lossy(&doc_id)),
            String::new(),
            "Findings".to_string(),
        ];
        let rr = &mut self.rng;
        for (title, pool, lo, hi) in [
            ("", FINDINGS, 2, 4),
            ("Assessment", ASSESSMENT, 1, 2),
            ("Plan", PLAN, 1, 3),
        ] {
            if !title.is_empty() {
                lines.push(String::new());
                lines.push(title.to_string());
            }
            let count = rr.range(lo, hi);
            let first = rr.below(pool.len() as u64) as usize;
            for i in 0..count as usize {
                lines.push(format!("- {}", pool[(first + i) % pool.len()]));
            }
        }
        lines.push(String::new());
        lines.push("Simulated test data: this document describes no real person.".to_string());
        let title = format!("Simulated {}", name.to_ascii_lowercase());
        let author = physician_name(physician);
        let mut pdf = build_pdf(&title, &author, &lines, activity);
        if self.attachment_size > pdf.len() {
            pdf = pad_pdf(pdf, self.attachment_size, &self.filler);
        }

        // OBX-5 ED: ^application^pdf^Base64^data (base64 has no HL7 delimiters)
        out.extend_from_slice(b"OBX|1|ED|");
        out.extend_from_slice(loinc.as_bytes());
        out.push(b'^');
        out.extend_from_slice(loinc_name.as_bytes());
        out.extend_from_slice(b"^LN||^application^pdf^Base64^");
        let at = out.len();
        let len = base64::encoded_len(pdf.len(), true).unwrap_or(0);
        out.resize(at + len, 0);
        let written = STANDARD.encode_slice(&pdf, &mut out[at..]).unwrap_or(0);
        out.truncate(at + written);
        out.extend_from_slice(b"||||||F\r");
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal PDF writer

/// Seeded high-entropy bytes (as compressed image data would be), `size` of them.
fn filler(seed: u64, size: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed, 0x4649_4c4c);
    let mut v = Vec::with_capacity(size + 8);
    while v.len() < size {
        v.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    v.truncate(size);
    v
}

/// Pads a PDF made by [`build_pdf`] to `size` bytes: an unreferenced stream object of `filler` bytes goes before the
/// cross-reference table, which is rewritten, so the file stays valid.
fn pad_pdf(pdf: Vec<u8>, size: usize, filler: &[u8]) -> Vec<u8> {
    let Some(xref) = memchr::memmem::rfind(&pdf, b"xref\n0 ") else {
        return pdf;
    };
    // The offsets of objects 1..=7, from the table.
    let table = &pdf[xref..];
    let offsets: Vec<u64> = table
        .split(|&b| b == b'\n')
        .skip(3) // "xref", "0 N", the free entry
        .take_while(|l| l.ends_with(b" 00000 n "))
        .filter_map(|l| std::str::from_utf8(&l[..10]).ok()?.parse().ok())
        .collect();
    let n = offsets.len() as u64 + 1;
    let build = |len: usize| {
        let mut out = Vec::with_capacity(size + 256);
        out.extend_from_slice(&pdf[..xref]);
        let at = out.len();
        push_u64(&mut out, n);
        out.extend_from_slice(b" 0 obj\n<< /Length ");
        push_u64(&mut out, len as u64);
        out.extend_from_slice(b" >>\nstream\n");
        out.extend_from_slice(&filler[..len]);
        out.extend_from_slice(b"\nendstream\nendobj\n");
        let xref_at = out.len();
        out.extend_from_slice(b"xref\n0 ");
        push_u64(&mut out, n + 1);
        out.extend_from_slice(b"\n0000000000 65535 f \n");
        for off in offsets.iter().copied().chain([at as u64]) {
            super::push_padded(&mut out, off, 10);
            out.extend_from_slice(b" 00000 n \n");
        }
        out.extend_from_slice(b"trailer\n<< /Size ");
        push_u64(&mut out, n + 1);
        out.extend_from_slice(b" /Root 1 0 R /Info 7 0 R >>\nstartxref\n");
        push_u64(&mut out, xref_at as u64);
        out.extend_from_slice(b"\n%%EOF\n");
        out
    };
    // The padding object's own size depends on the digits of its length: two tries at most
    // land on `size` exactly (or a byte over, when a length gains a digit).
    let mut len = size.saturating_sub(pdf.len() + 100).min(filler.len());
    let mut out = build(len);
    for _ in 0..3 {
        if out.len() == size {
            break;
        }
        len = (len + size).saturating_sub(out.len()).min(filler.len());
        out = build(len);
    }
    out
}

/// Appends `s` as the inside of a PDF literal string: `(`, `)` and `\` escaped, anything that is
/// not printable ASCII replaced (the fonts use WinAnsiEncoding; our texts are ASCII).
fn push_pdf_string(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'(' | b')' | b'\\' => {
                out.push(b'\\');
                out.push(b);
            }
            b' '..=b'~' => out.push(b),
            _ => out.push(b'?'),
        }
    }
}

/// A PDF date: `D:YYYYMMDDHHmmSS` and the offset as `+HH'mm'` (or nothing when unknown).
fn pdf_date(t: Time) -> String {
    let (y, m, d, h, mi, s) = t.parts();
    let mut v = format!("D:{y:04}{m:02}{d:02}{h:02}{mi:02}{s:02}");
    match t.offset_min {
        Some(0) => v.push('Z'),
        Some(off) => {
            let a = off.unsigned_abs();
            v.push_str(&format!(
                "{}{:02}'{:02}'",
                if off < 0 { '-' } else { '+' },
                a / 60,
                a % 60
            ));
        }
        None => {}
    }
    v
}

/// A one-page PDF 1.4: a bold title and the lines below it, in Helvetica on A4.
fn build_pdf(title: &str, author: &str, lines: &[String], created: Time) -> Vec<u8> {
    // the page content
    let mut content = Vec::with_capacity(1600);
    content.extend_from_slice(b"BT\n/F2 16 Tf\n72 770 Td\n(");
    push_pdf_string(&mut content, title);
    content.extend_from_slice(b") Tj\n/F1 9 Tf\n0 -18 Td\n(");
    push_pdf_string(&mut content, "SIMHOSP - fictitious hospital for testing");
    content.extend_from_slice(b") Tj\n/F1 11 Tf\n15 TL\n0 -12 Td\n");
    for line in lines {
        content.extend_from_slice(b"T* (");
        push_pdf_string(&mut content, line);
        content.extend_from_slice(b") Tj\n");
    }
    content.extend_from_slice(b"ET\n");

    let mut pdf = Vec::with_capacity(content.len() + 1200);
    pdf.extend_from_slice(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
    let mut offsets = Vec::with_capacity(7);
    let mut object = |pdf: &mut Vec<u8>, body: &[u8]| {
        offsets.push(pdf.len());
        push_u64(pdf, offsets.len() as u64);
        pdf.extend_from_slice(b" 0 obj\n");
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    };
    object(&mut pdf, b"<< /Type /Catalog /Pages 2 0 R >>");
    object(&mut pdf, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    object(
        &mut pdf,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
          /Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>",
    );
    object(
        &mut pdf,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    );
    object(
        &mut pdf,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    );
    let mut stream = Vec::with_capacity(content.len() + 48);
    stream.extend_from_slice(b"<< /Length ");
    push_u64(&mut stream, content.len() as u64);
    stream.extend_from_slice(b" >>\nstream\n");
    stream.extend_from_slice(&content);
    stream.extend_from_slice(b"\nendstream");
    object(&mut pdf, &stream);
    let mut info = Vec::with_capacity(200);
    info.extend_from_slice(b"<< /Title (");
    push_pdf_string(&mut info, title);
    info.extend_from_slice(b") /Author (");
    push_pdf_string(&mut info, author);
    info.extend_from_slice(b") /Producer (hl7 simulate) /CreationDate (");
    push_pdf_string(&mut info, &pdf_date(created));
    info.extend_from_slice(b") >>");
    object(&mut pdf, &info);

    // the cross-reference table: entries of exactly 20 bytes
    let xref = pdf.len();
    pdf.extend_from_slice(b"xref\n0 ");
    push_u64(&mut pdf, offsets.len() as u64 + 1);
    pdf.extend_from_slice(b"\n0000000000 65535 f \n");
    for off in &offsets {
        let mut entry = Vec::with_capacity(20);
        super::push_padded(&mut entry, *off as u64, 10);
        entry.extend_from_slice(b" 00000 n \n");
        pdf.extend_from_slice(&entry);
    }
    pdf.extend_from_slice(b"trailer\n<< /Size ");
    push_u64(&mut pdf, offsets.len() as u64 + 1);
    pdf.extend_from_slice(b" /Root 1 0 R /Info 7 0 R >>\nstartxref\n");
    push_u64(&mut pdf, xref as u64);
    pdf.extend_from_slice(b"\n%%EOF\n");
    pdf
}

#[cfg(test)]
mod tests {
    use super::super::adt::tests::{run as take, text};
    use super::*;
    use crate::model::message::Message;
    use crate::simulate::Profile;
    use std::collections::HashSet;

    fn config(seed: u64) -> Config {
        let mut cfg = Config::new(
            Profile::Mdm,
            seed,
            Time::parse("2024-03-15T10:15:00+01:00").unwrap(),
        );
        cfg.patients = 20;
        cfg
    }

    fn run(cfg: &Config, count: usize) -> Vec<Vec<u8>> {
        take(&mut Mdm::new(cfg), count)
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    /// Checks the structure a PDF reader relies on, and returns the page content.
    fn check_pdf(pdf: &[u8]) -> Vec<u8> {
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        let end = pdf.strip_suffix(b"\n").unwrap_or(pdf);
        assert!(end.ends_with(b"%%EOF"));
        let sx = find(pdf, b"startxref\n").expect("startxref") + 10;
        let xref: usize = std::str::from_utf8(&pdf[sx..])
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(pdf[xref..].starts_with(b"xref\n0 "));
        let head = find(&pdf[xref + 7..], b"\n").unwrap();
        let size: usize = std::str::from_utf8(&pdf[xref + 7..xref + 7 + head])
            .unwrap()
            .parse()
            .unwrap();
        let table = &pdf[xref + 8 + head..];
        assert_eq!(&table[..20], b"0000000000 65535 f \n");
        for i in 1..size {
            let entry = &table[i * 20..i * 20 + 20];
            assert!(entry.ends_with(b" 00000 n \n"));
            let off: usize = std::str::from_utf8(&entry[..10]).unwrap().parse().unwrap();
            assert!(
                pdf[off..].starts_with(format!("{i} 0 obj\n").as_bytes()),
                "object {i}"
            );
        }
        let trailer = format!("trailer\n<< /Size {size} /Root 1 0 R");
        assert!(find(&table[size * 20..], trailer.as_bytes()).is_some());
        // the stream is as long as /Length says
        let l = find(pdf, b"/Length ").unwrap() + 8;
        let len: usize = std::str::from_utf8(&pdf[l..l + 10])
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let s = find(pdf, b"stream\n").unwrap() + 7;
        assert_eq!(&pdf[s + len..s + len + 10], b"\nendstream");
        pdf[s..s + len].to_vec()
    }

    #[test]
    fn messages_are_valid_mdm_t02_with_a_pdf() {
        let msgs = run(&config(7), 300);
        let mut ids = HashSet::new();
        let mut docs = HashSet::new();
        let mut last = String::new();
        for raw in &msgs {
            assert!(raw.ends_with(b"\r") && !raw.contains(&b'\n'));
            let m = Message::parse(raw).unwrap();
            m.validate().unwrap();
            assert!(ids.insert(m.control_id()));
            assert_eq!(m.message_type(), "MDM^T02^MDM_T02");
            assert_eq!(m.version(), "2.5.1");
            let order: Vec<_> = m.segments().map(|s| s.id_str().into_owned()).collect();
            assert_eq!(order, ["MSH", "EVN", "PID", "PV1", "TXA", "OBX"]);
            let ts = text(&m, "MSH-7");
            assert!(ts > last);
            last = ts.clone();
            assert_eq!(text(&m, "EVN-2"), ts);
            assert_eq!(text(&m, "TXA-3"), "AP");
            assert!(text(&m, "TXA-4") < ts);
            assert_eq!(text(&m, "TXA-17"), "AU");
            assert_eq!(text(&m, "TXA-19"), "AV");
            assert!(docs.insert(text(&m, "TXA-12")));
            assert!(text(&m, "PV1-19").starts_with('V'));
            let code = text(&m, "TXA-2.1");
            let t = DOC_TYPES.iter().find(|t| t.0 == code).unwrap();
            assert_eq!(text(&m, "OBX-3.1"), t.2);
            assert_eq!(text(&m, "OBX-2"), "ED");
            assert_eq!(text(&m, "OBX-11"), "F");
            assert_eq!(
                [2, 3, 4].map(|c| text(&m, &format!("OBX-5.{c}"))),
                ["application", "pdf", "Base64"]
            );
            let pdf = STANDARD.decode(text(&m, "OBX-5.5")).unwrap();
            assert!(pdf.len() < 4096, "{} bytes", pdf.len());
            let content = check_pdf(&pdf);
            let name = format!("{}, {}", text(&m, "PID-5.1"), text(&m, "PID-5.2"));
            assert!(find(&content, name.as_bytes()).is_some());
            assert!(find(&content, text(&m, "PID-3.1").as_bytes()).is_some());
            assert!(find(&content, text(&m, "TXA-12.1").as_bytes()).is_some());
            assert!(find(&content, b"(Simulated ").is_some());
        }
    }

    #[test]
    fn same_seed_same_bytes() {
        assert_eq!(run(&config(3), 50), run(&config(3), 50));
        assert_ne!(run(&config(3), 50), run(&config(4), 50));
    }

    #[test]
    fn first_message_at_the_start_and_version_override() {
        let mut cfg = config(1);
        cfg.version = Some("2.6".into());
        cfg.patients = 1;
        let msgs = run(&cfg, 5);
        let m = Message::parse(&msgs[0]).unwrap();
        assert_eq!(text(&m, "MSH-7"), "20240315101500+0100");
        assert_eq!(m.version(), "2.6");
        let ids: HashSet<_> = msgs
            .iter()
            .map(|raw| text(&Message::parse(raw).unwrap(), "PID-3.1"))
            .collect();
        assert_eq!(ids.len(), 1);
    }

    #[test]
    fn padded_pdfs_keep_a_valid_table() {
        let pdf = build_pdf("T", "Dr. A", &[], Time::parse("20240101").unwrap());
        let natural = pdf.len();
        let padded = pad_pdf(pdf, 100_000, &filler(1, 100_000));
        assert_eq!(padded.len(), 100_000);
        check_pdf(&padded);
        assert!(find(&padded, b"/Size 9 ").is_some());
        assert!(natural < 4000);
    }

    #[test]
    fn pdf_strings_are_escaped() {
        let mut out = Vec::new();
        push_pdf_string(&mut out, "a(b)c\\d\u{e9}");
        assert_eq!(out, b"a\\(b\\)c\\\\d??");
        let pdf = build_pdf(
            "T (x)",
            "Dr. A",
            &["back\\slash (paren)".to_string()],
            Time::parse("20240101").unwrap(),
        );
        let content = check_pdf(&pdf);
        assert!(find(&content, b"(back\\\\slash \\(paren\\)) Tj").is_some());
        assert!(find(&pdf, b"/CreationDate (D:20240101000000)").is_some());
    }
}
