//! Black-box tests of `hl7 convert` (the real binary, through assert_cmd): the round trips
//! over the whole corpus, every shipped sample template field by field, the template
//! language, escaping, --strict, --output files and bad input.

use std::fs;
use std::path::Path;

use base64::Engine;
use serde_json::{Value, json};

use crate::util::api::Message;
use crate::util::{
    Feed, Out, TempDir, close_stdout_after_a_line, corpus, corpus_inputs, hl7_in_corpus, messages,
    output, root, sample,
};

// ---------------------------------------------------------------------------------------------
// helpers

/// A shipped sample template (or its input): `samples/templates/NAME`.
fn shipped(name: &str) -> String {
    sample(&format!("templates/{name}"))
}

/// `hl7 CMD ARGS` from the corpus directory with TZ=UTC, `stdin` on its standard input.
fn hl7_utc(cmd: &str, args: &[&str], stdin: Option<&[u8]>) -> Out {
    output(
        hl7_in_corpus()
            .env("TZ", "UTC")
            .arg(cmd)
            .args(args)
            .write_stdin(stdin.unwrap_or_default()),
    )
}

fn convert(args: &[&str], stdin: Option<&[u8]>) -> Out {
    hl7_utc("convert", args, stdin)
}

/// Renders an inline template over stdin; the file name picks the escaping.
fn render(name: &str, text: &str, input: &[u8], extra: &[&str]) -> Out {
    let dir = TempDir::new("template");
    let t = dir.write(name, text);
    let mut args = vec!["--template", t.as_str()];
    args.extend_from_slice(extra);
    convert(&args, Some(input))
}

fn field(msg: &[u8], path: &str) -> String {
    let m =
        Message::parse(msg).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(msg)));
    m.text(&path.parse().unwrap())
        .map(|c| c.into_owned())
        .unwrap_or_else(|| panic!("{path} absent in {:?}", String::from_utf8_lossy(msg)))
}

/// A field, empty when absent.
fn field_or_empty(msg: &[u8], path: &str) -> String {
    let m = Message::parse(msg).unwrap();
    m.text(&path.parse().unwrap())
        .map(|c| c.into_owned())
        .unwrap_or_default()
}

const ORU: &[u8] = b"MSH|^~\\&|LAB|HOSP|EMR|HOSP|20240514132030||ORU^R01|C1|P|2.5\r\
PID|1||111^^^HOSP^MR~222^^^NAT^NI||DOE^JANE^Q||19800102|F\r\
OBR|1|A1||CBC^Blood count\r\
OBX|1|NM|WBC^Leukocytes||6.1|10*9/L|4-10|N|||F\r\
NTE|1||first note\r\
OBX|2|NM|RBC^Erythrocytes||4.2|10*12/L|4-5|N|||F\r\
OBR|2|A2||GLU^Glucose\r\
OBX|1|NM|GLU^Glucose||5.5|mmol/L|3.9-5.5|N|||F\r";

// ---------------------------------------------------------------------------------------------
// --to hl7 and --to ndjson over the whole corpus

#[test]
fn parse_then_convert_to_hl7_gives_the_same_bytes_for_every_corpus_file() {
    let mut exact = 0;
    for file in corpus_inputs() {
        let ndjson = hl7_utc("parse", &[&file], None);
        let direct = hl7_utc("parse", &["--to", "hl7", &file], None);
        let back = convert(&["--to", "hl7"], Some(&ndjson.stdout));
        assert_eq!(back.code, 0, "{file}: {}", back.stderr);
        assert_eq!(back.stderr, "", "{file}");
        assert_eq!(
            back.stdout, direct.stdout,
            "{file}: not what parse --to hl7 writes"
        );
        let raw = fs::read(corpus().join(&file)).unwrap();
        let well_formed = direct.code == 0
            && raw.starts_with(b"MSH")
            && raw.ends_with(b"\r")
            && !raw.contains(&b'\n')
            && !raw.windows(2).any(|w| w == b"\r\r")
            && ndjson.json().len() == 1;
        if well_formed {
            assert_eq!(
                back.stdout,
                [&raw[..], b"\n"].concat(),
                "{file}: not byte-identical"
            );
            exact += 1;
        }
        // --to ndjson is parse's output, from HL7 and from NDJSON
        let nd = convert(&["--to", "ndjson", &file], None);
        assert_eq!(nd.stdout, ndjson.stdout, "{file}: --to ndjson");
        assert_eq!(nd.code, ndjson.code, "{file}: --to ndjson exit code");
        let again = convert(&["--to", "ndjson"], Some(&ndjson.stdout));
        assert_eq!(again.stdout, ndjson.stdout, "{file}: NDJSON -> NDJSON");
    }
    assert!(exact >= 25, "only {exact} byte-identical files");
}

#[test]
fn to_hl7_refuses_json_that_is_not_a_message() {
    let o = convert(&["--to", "hl7"], Some(b"{\"order\":{\"id\":1}}\n"));
    assert_eq!(o.code, 1);
    assert!(o.stdout.is_empty());
    assert!(
        o.stderr.contains("message 1") && o.stderr.contains("segments"),
        "{}",
        o.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// the shipped samples, field by field

#[test]
fn sample_pacs_json_order_to_orm() {
    let o = convert(
        &[
            "--template",
            &shipped("pacs_order_to_orm.hl7"),
            &shipped("pacs_order.json"),
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let msgs = messages(&o.stdout);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert!(
        !m[..m.len() - 2].contains(&b'\n'),
        "segments are joined with \\r only"
    );
    let ids: Vec<&[u8]> = m
        .split(|&b| b == b'\r')
        .filter(|s| s.len() > 3)
        .map(|s| &s[..3])
        .collect();
    assert_eq!(ids, [&b"MSH"[..], b"PID", b"PV1", b"ORC", b"OBR", b"ZDS"]);
    let expect = [
        ("MSH-3", "HIS_APP"),
        ("MSH-4", "HIS_FACILITY"),
        ("MSH-5", "PACS_APP"),
        ("MSH-6", "PACS_FACILITY"),
        ("MSH-9", "ORM^O01"),
        ("MSH-11", "P"),
        ("MSH-12", "2.3"),
        ("PID-3.1", "PatientID"),
        ("PID-5.1", "O'Brien & Sons"),
        ("PID-5.2", "Mary"),
        ("PID-7.1", "20000514"),
        ("PID-8.1", "F"),
        ("PID-18.1", "AdmID"),
        ("PV1-8.2", "Ref Phy"),
        ("PV1-20.1", "50"),
        ("ORC-1", "NW"),
        ("ORC-12.2", "Req Phy"),
        ("ORC-17.2", "Institution Name"),
        ("OBR-2.1", "ACC.NO.01"),
        ("OBR-4.1", "SPSID"),
        ("OBR-4.2", "SPSDesc"),
        ("OBR-5.1", "ROUTINE"),
        ("OBR-15.1", "RPDesc"),
        ("OBR-18.1", "SSName"),
        ("OBR-19.1", "RPID"),
        ("OBR-20.1", "SPSLocation"),
        ("OBR-21.1", "SSAETitle"),
        ("OBR-24.1", "CT"),
        ("OBR-31.1", "R51"),
        ("OBR-31.2", "Headache | 3 days"),
        ("OBR-34.1", "SchPerPhyName"),
        ("OBR-36.1", "20130614132030"),
        ("ZDS-1.1", "1.2.826.0.1.3680043.10.1234.1"),
    ];
    for (path, want) in expect {
        assert_eq!(field(m, path), want, "{path}");
    }
    // escaped on the way in, not lost
    let text = String::from_utf8_lossy(m);
    assert!(text.contains("O'Brien \\T\\ Sons^Mary"), "{text}");
    assert!(text.contains("Headache \\F\\ 3 days"), "{text}");
    // MSH-7 is now, MSH-10 a fresh control id
    let ts = field(m, "MSH-7");
    assert!(
        ts.len() == 19 && ts.ends_with("+0000") && ts[..14].bytes().all(|b| b.is_ascii_digit()),
        "{ts}"
    );
    let id = field(m, "MSH-10");
    assert!(
        id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );

    // a cancel, as one NDJSON line: ORC-1 CA; no priority: the default
    let mut order: Value =
        serde_json::from_slice(&fs::read(shipped("pacs_order.json")).unwrap()).unwrap();
    order["order"]["status"] = json!("cancelled");
    order["order"]["priority"] = Value::Null;
    let mut second = order.clone();
    second["order"]["status"] = json!("completed");
    let input = format!("{order}\n{second}\n");
    let o = convert(
        &["--template", &shipped("pacs_order_to_orm.hl7")],
        Some(input.as_bytes()),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let msgs = messages(&o.stdout);
    assert_eq!(msgs.len(), 2);
    assert_eq!(field(&msgs[0], "ORC-1"), "CA");
    assert_eq!(field(&msgs[0], "OBR-5"), "ROUTINE");
    assert_eq!(field(&msgs[1], "ORC-1"), "CM");
    assert_ne!(
        field(&msgs[0], "MSH-10"),
        field(&msgs[1], "MSH-10"),
        "fresh control ids"
    );
    // filed by the rendering's fields: a JSON document has none of its own
    let dir = TempDir::new("orders");
    let pattern = format!("{}/orders/{{OBR-2.1}}_{{ORC-1}}.hl7", dir.path().display());
    let o = convert(
        &[
            "--template",
            &shipped("pacs_order_to_orm.hl7"),
            "--output",
            &pattern,
        ],
        Some(input.as_bytes()),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    for (status, m) in ["CA", "CM"].iter().zip(&msgs) {
        let f = fs::read(dir.join(format!("orders/ACC.NO.01_{status}.hl7"))).unwrap();
        assert_eq!(messages(&f).len(), 1);
        for path in ["ORC-1", "OBR-2", "OBR-36", "PID-5"] {
            assert_eq!(field(&f, path), field(m, path), "{path}");
        }
    }
}

#[test]
fn sample_pacs_oru_to_json_report() {
    let o = convert(
        &[
            "--template",
            &shipped("pacs_oru_to_report.json"),
            &shipped("pacs_report.hl7"),
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.text().lines().count(), 1, "one JSON document a line");
    let doc = o.json().remove(0);
    let want = json!({
        "accession": "ACC.NO.01",
        "control_id": "MsgCtrlId_ORU",
        "patient": {"id": "PatientID", "family": "Patient", "given": "Name",
                    "birth_date": "2000-05-14", "sex": "F", "admission_id": "AdmID"},
        "procedure": {"id": "SPSID", "description": "SPSDesc", "priority": "ROUTINE"},
        "modality": "CT",
        "station": {"name": "SSName", "ae_title": "SSAETitle"},
        "scheduled": "2013-06-14T13:20:30+02:00",
        "study": {"id": "STUDY01", "description": "CT HEAD"},
        "report": {
            "status": "final",
            "format": "TX",
            "date": "2013-06-14T14:10:00+02:00",
            "reader": {"id": "RAD01", "name": "Reader Name"},
            "text": "FINDINGS:\r\nNo acute bleed & no mass; \"quoted\" | piped.\r\nIMPRESSION: Normal CT head."
        }
    });
    assert_eq!(doc, want);
    // the broker's mixed stream: one document per ORU, nothing for ORM and ADT
    let pacs = hl7_utc(
        "simulate",
        &["--profile", "pacs", "--count", "60", "--seed", "5"],
        None,
    );
    let o = convert(
        &["--template", &shipped("pacs_oru_to_report.json")],
        Some(&pacs.stdout),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let orus: Vec<Vec<u8>> = messages(&pacs.stdout)
        .into_iter()
        .filter(|m| field(m, "MSH-9.1") == "ORU")
        .collect();
    let docs = o.json();
    assert!(orus.len() >= 3, "{}", orus.len());
    assert_eq!(docs.len(), orus.len());
    for (d, m) in docs.iter().zip(&orus) {
        assert_eq!(d["accession"], field(m, "OBR-2.1").as_str());
        assert_eq!(d["report"]["text"], field_or_empty(m, "OBX-5.1").as_str());
        assert_eq!(
            d["report"]["reader"]["name"],
            field_or_empty(m, "OBX-16.2").as_str()
        );
    }
}

#[test]
fn sample_observation_records_one_file_per_patient_appended() {
    let dir = TempDir::new("records");
    let lab = hl7_utc(
        "simulate",
        &["--profile", "lab", "--count", "6", "--seed", "7"],
        None,
    );
    assert_eq!(lab.code, 0);
    let input = dir.join("lab.hl7");
    fs::write(&input, &lab.stdout).unwrap();
    let pattern = format!("{}/patients/patient_{{PID-3.1}}.json", dir.path().display());
    for _ in 0..2 {
        let o = convert(
            &[
                "--template",
                &shipped("observation_record.json"),
                "--output",
                &pattern,
                "--append",
                input.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(o.stdout.is_empty(), "--output writes files, not stdout");
    }
    let msgs = messages(&lab.stdout);
    let mut seen = 0;
    for m in &msgs {
        let pid = field(m, "PID-3.1");
        let file = dir.join(format!("patients/patient_{pid}.json"));
        let text = fs::read_to_string(&file).unwrap();
        let records: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let control = field(m, "MSH-10");
        let mine: Vec<&Value> = records
            .iter()
            .filter(|r| r["control_id"] == control.as_str())
            .collect();
        assert_eq!(
            mine.len(),
            2,
            "each run appended one record for message {control}"
        );
        let r = mine[0];
        assert_eq!(r["patient"], pid.as_str());
        assert_eq!(
            r["name"],
            format!("{}, {}", field(m, "PID-5.1"), field(m, "PID-5.2")).as_str()
        );
        let parsed = Message::parse(m).unwrap();
        let obx: Vec<_> = parsed.segments().filter(|s| s.id() == b"OBX").collect();
        let obs = r["observations"].as_array().unwrap();
        assert_eq!(obs.len(), obx.len());
        for (o, s) in obs.iter().zip(&obx) {
            let f = |p: &str| {
                s.get(&format!("OBX-{p}").parse().unwrap())
                    .map(|v| v.text().into_owned())
                    .unwrap_or_default()
            };
            assert_eq!(o["id"], f("3.1").as_str());
            assert_eq!(o["text"], f("3.2").as_str());
            assert_eq!(o["type"], f("2").as_str());
            assert_eq!(o["value"], f("5").as_str());
            assert_eq!(o["units"], f("6.1").as_str());
            assert_eq!(o["range"], f("7").as_str());
            assert_eq!(o["flags"], f("8").as_str());
            assert_eq!(o["status"], f("11").as_str());
        }
        seen += 1;
    }
    assert_eq!(seen, 6);
}

#[test]
fn sample_pdf_attachments_are_written_as_bytes() {
    let dir = TempDir::new("pdf");
    let pattern = format!("{}/docs/{{PID-3.1}}_{{MSH-10}}.pdf", dir.path().display());
    let o = convert(
        &[
            "--template",
            &shipped("pdf_attachment.tmpl"),
            "--output",
            &pattern,
            "synthetic__mdm_t02_v251_obx5_ed_base64_pdf.hl7",
            "synthetic__mdm_t02_base64_split_over_obx.hl7",
            &shipped("pacs_report.hl7"),
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let one = fs::read(dir.join("docs/P123456_MDM000123.pdf")).unwrap();
    let split = fs::read(dir.join("docs/P123456_MDM000124.pdf")).unwrap();
    assert!(one.starts_with(b"%PDF-"), "a PDF");
    assert!(
        one.trim_ascii_end().ends_with(b"%%EOF"),
        "the whole PDF, nothing added"
    );
    assert_eq!(
        one, split,
        "15 OBX segments concatenate to the same document"
    );
    // exactly the base64 of OBX-5.5
    let raw = fs::read(corpus().join("synthetic__mdm_t02_v251_obx5_ed_base64_pdf.hl7")).unwrap();
    let b64 = field(&raw, "OBX-5.5");
    assert_eq!(
        one,
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    );
    // the report without an attachment wrote no file
    assert_eq!(fs::read_dir(dir.join("docs")).unwrap().count(), 2);
}

#[test]
fn sample_ack() {
    let o = convert(
        &[
            "--template",
            &shipped("ack.hl7"),
            &shipped("pacs_report.hl7"),
            "synthetic__mdm_t02_v251_obx5_ed_base64_pdf.hl7",
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let acks = messages(&o.stdout);
    assert_eq!(acks.len(), 2);
    let a = &acks[0];
    for (path, want) in [
        ("MSH-3", "PACS_APP"),
        ("MSH-4", "PACS_FACILITY"),
        ("MSH-5", "RIS_APP"),
        ("MSH-6", "RIS_FACILITY"),
        ("MSH-9", "ACK^R01^ACK"),
        ("MSH-11", "P"),
        ("MSH-12", "2.3"),
        ("MSA-1", "AA"),
        ("MSA-2", "MsgCtrlId_ORU"),
    ] {
        assert_eq!(field(a, path), want, "{path}");
    }
    assert!(
        a.starts_with(b"MSH|") && a.ends_with(b"|MsgCtrlId_ORU\r"),
        "no trailing delimiters"
    );
    assert!(
        Message::parse(a)
            .unwrap()
            .get(&"MSH-18".parse().unwrap())
            .is_none()
    );
    let b = &acks[1];
    assert_eq!(field(b, "MSH-9"), "ACK^T02^ACK");
    assert_eq!(field(b, "MSH-12"), "2.5.1");
    assert_eq!(
        field(b, "MSH-18"),
        "UNICODE UTF-8",
        "the charset is mirrored"
    );
    assert_eq!(field(b, "MSA-2"), "MDM000123");
    // the ACK is valid for our own parser
    let check = hl7_utc("parse", &[], Some(&o.stdout));
    assert_eq!(check.code, 0, "{}", check.stderr);
}

#[test]
fn sample_adt_between_vendor_layouts() {
    let o = convert(
        &[
            "--template",
            &shipped("adt_vendor_a_to_b.hl7"),
            &shipped("adt_vendor_a.hl7"),
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let msgs = messages(&o.stdout);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    let ids: Vec<&[u8]> = m
        .split(|&b| b == b'\r')
        .filter(|s| s.len() > 3)
        .map(|s| &s[..3])
        .collect();
    assert_eq!(
        ids,
        [&b"MSH"[..], b"EVN", b"PID", b"PV1", b"NK1", b"NK1"],
        "ZA1 dropped"
    );
    for (path, want) in [
        ("MSH-3", "VENDOR_B_GW"),
        ("MSH-4", "NORTH"),
        ("MSH-7", "20240514132030"),
        ("MSH-9", "ADT^A01"),
        ("MSH-10", "A0001"),
        ("MSH-12", "2.5"),
        ("EVN-1", "A01"),
        ("EVN-2", "20240514132000"),
        ("PID-2", "100234"),
        ("PID-3[1].1", "556677"),
        ("PID-3[1].4", "NORTH&1.2.3&ISO"),
        ("PID-3[1].4.2", "1.2.3"),
        ("PID-3[1].5", "PI"),
        ("PID-3[2].1", "100234"),
        ("PID-3[2].5", "MR"),
        ("PID-5.1", "LEFÈVRE"),
        ("PID-5.2", "ZOË"),
        ("PID-7", "19700102"),
        ("PID-8", "F"),
        ("PID-11.3", "Paris"),
        ("PID-11.6", "FR"),
        ("PID-13", "0142685300"),
        ("PV1-2", "I"),
        ("PV1-3", "W3^312^B"),
        ("NK1[1]-1", "1"),
        ("NK1[1]-2.1", "LEFÈVRE"),
        ("NK1[2]-1", "2"),
        ("NK1[2]-2", "MARTIN^EVE"),
        ("NK1[2]-3", "SIS"),
    ] {
        assert_eq!(field(m, path), want, "{path}");
    }
}

#[test]
fn man_page_shows_the_samples() {
    let man = fs::read_to_string(root().join("man/hl7-convert.1")).unwrap();
    for s in [
        "pacs_order_to_orm.hl7",
        "pacs_oru_to_report.json",
        "observation_record.json",
        "pdf_attachment.tmpl",
        "ack.hl7",
        "adt_vendor_a_to_b.hl7",
    ] {
        assert!(man.contains(s), "man/hl7-convert.1 lacks the sample {s}");
        assert!(Path::new(&shipped(s)).exists(), "{s}");
    }
}

// ---------------------------------------------------------------------------------------------
// the template language

#[test]
fn paths_filters_and_builtins() {
    let t = "\
a={{ PID-5.1 }}|{{ PID-5.2 | lower }}|{{ PID-5 }}|{{ OBX[2]-5 }}|{{ MSH-9.2 }}
b={{ PID-3 | first }}|{{ PID-3 | last }}|{{ PID-3[2].1 }}|{{ PID-3(2).4 }}|{{ OBX[*]-5 | join(\"+\") }}
c={{ PID-19 | default(\"none\") }}|{{ PID-19 | default(PID-8) }}|{{ \"  x  \" | trim }}|{{ PID-5.1 | replace(\"O\", \"0\") }}|{{ PID-7 | re_replace(\"^(\\d{4})(\\d\\d)(\\d\\d)$\", \"$3.$2.$1\") }}
d={{ PID-7 | date(\"%A %d %B %Y\") }}|{{ MSH-7 | date(\"%H:%M %Z\", \"Europe/Berlin\") }}|{{ MSH-7 | date(\"%s\") }}
e={{ PID-5.1 | base64encode }}|{{ \"SGVsbG8=\" | base64decode }}|{{ counter }}|{{ \"{{\" }}
";
    let o = render("t.txt", t, ORU, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<String> = o.text().lines().map(String::from).collect();
    assert_eq!(lines[0], "a=DOE|jane|DOE^JANE^Q|4.2|R01");
    assert_eq!(lines[1], "b=111^^^HOSP^MR|222^^^NAT^NI|222|NAT|6.1+4.2+5.5");
    assert_eq!(lines[2], "c=none|F|x|D0E|02.01.1980");
    assert_eq!(
        lines[3],
        "d=Wednesday 02 January 1980|15:20 CEST|1715692830"
    );
    assert_eq!(lines[4], "e=RE9F|Hello|1|{{");
    assert_eq!(lines.len(), 5);
}

#[test]
fn loops_follow_groups_and_repetitions() {
    let t = "\
{% for OBR %}
OBR {{ loop.index }}/{{ loop.length }} {{ -4.1 }}:
{% for OBX %}
  {{ loop.index }} {{ -3.1 }}={{ OBX-5 }} {{ -6 }} note={{ NTE-3 | default(\"-\") }} order={{ OBR-2 }}{% if loop.last %} (last){% endif %}
{% endfor %}
{% endfor %}
ids:{% for PID-3 %} {{ .1 }}@{{ .4 }}{% if PID-3.5 == \"MR\" %}*{% endif %}{% endfor %}
all:{% for OBX %} {{ -5 }}{% endfor %}
none:{% for ZZZ %}x{% endfor %}{% for PID-20 %}y{% endfor %}
";
    let o = render("loops.txt", t, ORU, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.text(),
        "OBR 1/2 CBC:\n  1 WBC=6.1 10*9/L note=first note order=A1\n  2 RBC=4.2 10*12/L note=- order=A1 (last)\n\
OBR 2/2 GLU:\n  1 GLU=5.5 mmol/L note=- order=A2 (last)\n\
ids: 111@HOSP* 222@NAT\nall: 6.1 4.2 5.5\nnone:\n"
    );
}

#[test]
fn conditionals() {
    let t = "{% if PID-8 == \"F\" and not PID-19 %}f{% elif PID-8 %}other{% else %}none{% endif %}\
{% if MSH-9.1 != \"ADT\" or PID-8 == \"M\" %}!{% endif %}";
    let o = render("c.txt", t, ORU, &[]);
    assert_eq!(o.text(), "f!\n");
    let male = String::from_utf8_lossy(ORU).replace("|F\r", "|M\r");
    let o = render("c.txt", t, male.as_bytes(), &[]);
    assert_eq!(o.text(), "other!\n");
}

#[test]
fn an_empty_rendering_writes_nothing() {
    // a filter: only ORU messages
    let t = "{% if MSH-9.1 == \"ORU\" %}{{ MSH-10 }}{% endif %}\n";
    let adt = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5\rPID|1\r";
    let input = [ORU, b"\n", adt, b"\n", ORU].concat();
    let o = render("f.txt", t, &input, &[]);
    assert_eq!(o.code, 0);
    assert_eq!(o.text(), "C1\nC1\n");
}

#[test]
fn json_input_plain_documents_and_parse_lines() {
    let t = "{{ order.id }};{{ items[0].code }};{% for it in items %}{{ loop.index }}:{{ it.code }}x{{ it.qty }}{% if not loop.last %},{% endif %}{% endfor %};{{ $.PID }};{{ missing.key }};{{ flag }}\n";
    let docs = "{\"order\":{\"id\":\"O-1\"},\"items\":[{\"code\":\"A\",\"qty\":2},{\"code\":\"B\",\"qty\":1.5}],\"PID\":\"json key\",\"flag\":true}\n\
{\"order\":{\"id\":\"O-2\"},\"items\":[]}\n";
    let o = render("j.txt", t, docs.as_bytes(), &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.text(), "O-1;A;1:Ax2,2:Bx1.5;json key;;true\nO-2;;;;;\n");
    // an NDJSON line of hl7 parse: HL7 paths, and JSON paths into the line
    let nd = hl7_utc("parse", &[], Some(ORU));
    let o = render(
        "p.txt",
        "{{ PID-5.1 }} {{ OBX[3]-5 }} {{ control_id }} {{ type }}",
        &nd.stdout,
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let text = o.text();
    let parts: Vec<&str> = text.trim_end().split(' ').collect();
    assert_eq!(parts[0], "DOE");
    assert_eq!(parts[1], "5.5");
    assert_eq!(parts[3], "ORU^R01", "JSON paths read the parse line");
    // a JSON document over several lines, and one cut short
    let o = render(
        "m.txt",
        "{{ a.b }}",
        b"{\n  \"a\": {\n    \"b\": 1\n  }\n}\n{\"a\":{\"b\":2}}\n{\n \"a\": 3\n",
        &[],
    );
    assert_eq!(o.text(), "1\n2\n");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("message 3") && o.stderr.contains("not complete"),
        "{}",
        o.stderr
    );
}

#[test]
fn legacy_placeholders() {
    let t = "id={0-9} type={0-8} pid={1-3} obx={3-5} none={9-9} {{ PID-5.1 }}";
    let o = render("l.txt", t, ORU, &["--legacy-placeholders"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.text(),
        "id=C1 type=ORU^R01 pid=111^^^HOSP^MR~222^^^NAT^NI obx=6.1 none= DOE\n"
    );
    // without the flag they are text
    let o = render("l.txt", t, ORU, &[]);
    assert!(o.text().starts_with("id={0-9} "), "{}", o.text());
    // in an HL7 template, raw HL7 text goes in as written
    let o = render(
        "l.hl7",
        "MSH|^~\\&|X||||||ACK|{0-9}|P|2.5\nZPI|{1-3}\n",
        ORU,
        &["--legacy-placeholders"],
    );
    assert!(
        o.text().contains("\rZPI|111^^^HOSP^MR~222^^^NAT^NI\r"),
        "{:?}",
        o.text()
    );
}

#[test]
fn now_control_id_and_counter() {
    let input = [ORU, b"\n", ORU, b"\n", ORU].concat();
    let o = render(
        "n.txt",
        "{{ counter }} {{ control_id }} {{ control_id }} {{ now }} {{ now(\"%Y-%m-%d\") }}",
        &input,
        &[],
    );
    let lines: Vec<Vec<String>> = o
        .text()
        .lines()
        .map(|l| l.split(' ').map(String::from).collect())
        .collect();
    assert_eq!(lines.len(), 3);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l[0], (i + 1).to_string());
        assert_eq!(l[1], l[2], "one control id per rendering");
        assert_eq!(l[1].len(), 16);
        assert_eq!(l[3].len(), 19, "YYYYMMDDHHMMSS+ZZZZ");
        assert_eq!(&l[4][..4], &l[3][..4]);
    }
    assert!(lines[0][1] != lines[1][1] && lines[1][1] != lines[2][1]);
}

// ---------------------------------------------------------------------------------------------
// escaping and output shapes

#[test]
fn values_are_escaped_for_the_output() {
    let doc = b"{\"v\":\"a|b^c~d\\\\e&f\\r\\ng \\\"q\\\"\",\"obj\":{\"k\":[1,2]}}\n";
    // HL7: escaped
    let o = render(
        "e.hl7",
        "MSH|^~\\&|A||||||ADT^A08|1|P|2.5\nZZZ|{{ v }}|{{ v | raw }}\n",
        doc,
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let m = &messages(&o.stdout)[0];
    let text = String::from_utf8_lossy(m);
    assert!(
        text.contains("ZZZ|a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f\\X0D\\\\X0A\\g \"q\"|a|b"),
        "{text:?}"
    );
    assert_eq!(field(m, "ZZZ-1"), "a|b^c~d\\e&f\r\ng \"q\"");
    // JSON: string escapes; an object goes in as JSON
    let o = render(
        "e.json",
        "{\"v\": \"{{ v }}\", \"o\": {{ obj }}, \"h\": \"{{ v | hl7 }}\"}",
        doc,
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v = o.json().remove(0);
    assert_eq!(v["v"], "a|b^c~d\\e&f\r\ng \"q\"");
    assert_eq!(v["o"], json!({"k": [1, 2]}));
    assert_eq!(
        v["h"],
        "a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f\\X0D\\\\X0A\\g \"q\""
    );
    // none: as is; --escape overrides the extension
    let o = render("e.txt", "{{ v }}", doc, &[]);
    assert_eq!(o.stdout, b"a|b^c~d\\e&f\r\ng \"q\"\n");
    let o = render("e.txt", "\"{{ v }}\"", doc, &["--escape", "json"]);
    assert_eq!(o.json()[0], "a|b^c~d\\e&f\r\ng \"q\"");
    // a structured HL7 field goes into HL7 output as written, into JSON as text
    let o = render(
        "s.hl7",
        "MSH|^~\\&|A||||||ADT^A08|1|P|2.5\nPID|1||{{ PID-3 }}||{{ PID-5 | upper }}\n",
        ORU,
        &[],
    );
    let m = &messages(&o.stdout)[0];
    assert_eq!(field(m, "PID-3[2].4"), "NAT");
    assert_eq!(field(m, "PID-5.2"), "JANE");
    let o = render("s.json", "[\"{{ PID-3 }}\"]", ORU, &[]);
    assert_eq!(o.json()[0][0], "111^^^HOSP^MR~222^^^NAT^NI");
}

#[test]
fn fields_copied_from_messages_with_other_delimiters_keep_their_structure() {
    let t = "MSH|^~\\&|A||||1||ADT^A08|1|P|2.5\nPID|1||{{ PID-3 }}||{{ PID-5 }}|{{ PID-5.1 }}\n";
    let dir = TempDir::new("seps");
    let t = dir.write("t.hl7", t);
    let o = convert(
        &[
            "--template",
            &t,
            "synthetic__nonstandard_field_sep_star.hl7",
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let m = &messages(&o.stdout)[0];
    assert!(
        m.ends_with(b"\rPID|1||ID1^^^FAC^MR~ID2^^^FAC^PI||STAR^WALTER^J|STAR\r"),
        "{:?}",
        String::from_utf8_lossy(m)
    );
    // MSH|*~\&| declares * as the component separator
    let raw = b"MSH|*~\\&|A||||1||ADT*A08|1|P|2.5\rPID|1||X1*^*x&y***MR||DOE*JO\\F\\HN\r";
    let o = convert(&["--template", &t], Some(raw));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let m = &messages(&o.stdout)[0];
    assert_eq!(field(m, "PID-3.1"), "X1");
    assert_eq!(
        field(m, "PID-3.2"),
        "^",
        "a caret that was data is escaped now"
    );
    assert_eq!(field(m, "PID-3.3.2"), "y");
    assert_eq!(field(m, "PID-3.6"), "MR");
    assert_eq!(field(m, "PID-5.2"), "JO|HN");
}

#[test]
fn hl7_output_segments_end_with_cr_whatever_the_template_line_ends() {
    let t = "MSH|^~\\&|A||||||ACK|{{ MSH-10 }}|P|2.5\r\n\r\n{% if PID-19 %}\r\nZZZ|never\r\n{% endif %}\r\nMSA|AA|{{ MSH-10 }}\r\n";
    let input = [ORU, b"\n", ORU].concat();
    let o = render("crlf.hl7", t, &input, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let one = b"MSH|^~\\&|A||||||ACK|C1|P|2.5\rMSA|AA|C1\r\n";
    assert_eq!(o.stdout, [&one[..], one].concat());
    // as hl7 parse --to hl7 separates messages
    let p = hl7_utc("parse", &["--to", "hl7"], Some(&o.stdout));
    assert_eq!(p.stdout, o.stdout);
}

#[test]
fn json_output_that_is_not_json_is_an_error() {
    let o = render("bad.json", "{\"a\": {{ PID-5.1 }}}", ORU, &[]);
    assert_eq!(o.code, 1);
    assert!(o.stdout.is_empty());
    assert!(
        o.stderr.contains("message 1") && o.stderr.contains("not valid JSON"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("DOE"), "no patient data in errors");
}

// ---------------------------------------------------------------------------------------------
// errors

#[test]
fn a_bad_template_is_a_usage_error_naming_line_and_column() {
    for (text, line, col, what) in [
        ("MSH|{{ MSH-10 }}\nPID|{{ PID-x }}\n", 2, 12, "field number"),
        ("a\n\n  {{ PID-5 | shout }}", 3, 14, "unknown filter"),
        ("{% for OBX %}\n{{ -5 }}\n", 1, 1, "endfor"),
        ("x {{ PID-5\n", 1, 3, "not closed"),
        ("{{ -5 }}", 1, 4, "only inside"),
        ("{% if PID-8 %}a{% endfor %}", 1, 16, "endif"),
        (
            "{{ PID-7 | date(\"%Y\", \"Nowhere/City\") }}",
            1,
            24,
            "time zone",
        ),
        (
            "{{ PID-7 | re_replace(\"[\", \"\") }}",
            1,
            24,
            "regular expression",
        ),
        ("{{ PID.1.5.1 }}", 1, 4, "ambiguous"),
    ] {
        let dir = TempDir::new("bad");
        let t = dir.write("t.hl7", text);
        // the input does not exist: the template is checked first
        let o = convert(&["--template", &t, "/nonexistent/input.hl7"], None);
        assert_eq!(o.code, 2, "{text:?}: {}", o.stderr);
        assert!(
            o.stderr.contains(&format!("line {line}, column {col}:")) && o.stderr.contains(what),
            "{text:?}: {}",
            o.stderr
        );
        assert!(
            !o.stderr.contains("nonexistent"),
            "input not opened: {}",
            o.stderr
        );
        assert!(o.stdout.is_empty());
    }
    let o = convert(&["--template", "/nonexistent/t.hl7"], Some(ORU));
    assert_eq!(o.code, 2);
    let o = convert(&["--to", "hl7", "--output", "{PID-x}"], Some(ORU));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("--output"), "{}", o.stderr);
    let o = convert(&["--to", "hl7", "--escape", "json"], Some(ORU));
    assert_eq!(o.code, 2, "--escape needs a template");
}

#[test]
fn strict_makes_missing_values_errors_and_skips_that_rendering() {
    let t = "{{ MSH-10 }} {{ PID-19 }} {{ PID-20 | default(\"\") }}\n";
    let full = String::from_utf8_lossy(ORU).replace("|19800102|F\r", "|19800102|F|||||||||||123\r");
    let input = [ORU, b"\n", full.as_bytes()].concat();
    let o = render("s.txt", t, &input, &[]);
    assert_eq!(o.code, 0, "missing renders empty: {}", o.stderr);
    assert_eq!(o.text(), "C1  \nC1 123 \n");
    let o = render("s.txt", t, &input, &["--strict"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.text(),
        "C1 123 \n",
        "the other message is still converted"
    );
    assert!(
        o.stderr.contains("message 1") && o.stderr.contains("PID-19"),
        "{}",
        o.stderr
    );
    assert!(
        !o.stderr.contains("PID-20"),
        "default() makes a value optional"
    );
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
}

#[test]
fn failing_filters_are_reported_and_render_empty() {
    let t = "[{{ PID-5.1 | date(\"%Y\") }}][{{ PID-5.1 | base64decode }}][{{ PID-7 | date(\"%Y\") }}]\n";
    let o = render("f.txt", t, ORU, &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.text(), "[][][1980]\n");
    assert!(
        o.stderr.contains("message 1") && o.stderr.contains("PID-5.1 | date"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("base64"), "{}", o.stderr);
    assert!(
        !o.stderr.contains("DOE"),
        "no patient data in errors: {}",
        o.stderr
    ); // --strict: that rendering is not written
    let input = [ORU, b"\n", ORU].concat();
    let good = render("g.txt", "{{ PID-7 | date(\"%Y\") }}", &input, &["--strict"]);
    assert_eq!((good.code, good.text()), (0, "1980\n1980\n"));
    let o = render("f.txt", t, &input, &["--strict"]);
    assert_eq!(o.code, 1);
    assert!(o.stdout.is_empty(), "{}", o.text());
}

#[test]
fn bad_input_is_reported_and_the_rest_converted() {
    let garbage = [
        &b"\x00\xff\xfe garbage \x01\n"[..],
        ORU,
        b"\n",
        b"MSH|^~\\&|A\r",
        b"\n",
        ORU,
    ]
    .concat();
    let o = render("g.txt", "{{ MSH-10 }}", &garbage, &[]);
    assert_eq!(o.code, 1);
    assert_eq!(o.text(), "C1\nC1\n");
    assert!(
        o.stderr.contains("MSH-9") || o.stderr.contains("message 2"),
        "{}",
        o.stderr
    );
    for file in corpus_inputs() {
        let dir = TempDir::new("any");
        let t = dir.write("t.hl7",
            "MSH|^~\\&|{{ MSH-3 }}|||||||{{ MSH-10 }}\n{% for OBX %}\nOBX|{{ loop.index }}|{{ -5 | first }}\n{% endfor %}\n",
        );
        let o = convert(&["--template", &t, &file], None);
        assert!(o.code == 0 || o.code == 1, "{file}: {}", o.stderr);
        assert!(!o.stderr.contains("panicked"), "{file}: {}", o.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// --output

#[test]
fn output_files_are_sanitized_and_not_silently_replaced() {
    let dir = TempDir::new("out");
    let evil = String::from_utf8_lossy(ORU).replace("111^^^HOSP", "../../etc/x^^^HOSP");
    let input = [evil.as_bytes(), b"\n", ORU, b"\n", ORU].concat();
    let pattern = format!("{}/deep/er/{{PID-3.1}}.txt", dir.path().display());
    let t = dir.write("t.txt", "{{ MSH-10 }}");
    let o = convert(&["--template", &t, "--output", &pattern], Some(&input));
    assert_eq!(o.code, 1, "the third rendering would replace the second");
    assert!(
        o.stderr.contains("message 3") && o.stderr.contains("--append"),
        "{}",
        o.stderr
    );
    assert!(
        !o.stderr.contains("111"),
        "file names hold patient data: {}",
        o.stderr
    );
    let mut names: Vec<String> = fs::read_dir(dir.join("deep/er"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".._.._etc_x.txt", "111.txt"]);
    assert_eq!(fs::read(dir.join("deep/er/111.txt")).unwrap(), b"C1\n");
    // --append: one line per rendering
    let o = convert(
        &["--template", &t, "--output", &pattern, "--append"],
        Some(&input),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        fs::read(dir.join("deep/er/111.txt")).unwrap(),
        b"C1\nC1\nC1\n"
    );
    // --to hl7 splits NDJSON into files
    let nd = hl7_utc("parse", &[], Some(&input));
    let pattern = format!(
        "{}/split/%Y/{{MSH-10}}_{{PID-3.1}}.hl7",
        dir.path().display()
    );
    let o = convert(
        &["--to", "hl7", "--output", &pattern, "--append"],
        Some(&nd.stdout),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let year = fs::read_dir(dir.join("split"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        fs::read(year.join("C1_111.hl7")).unwrap(),
        [ORU, b"\n", ORU, b"\n"].concat()
    );
}

// ---------------------------------------------------------------------------------------------
// robustness

#[test]
fn a_closed_downstream_pipe_is_success() {
    let dir = TempDir::new("pipe");
    let input = dir.join("many.hl7");
    let many = hl7_utc(
        "simulate",
        &["--profile", "adt", "--count", "20000", "--seed", "1"],
        None,
    );
    fs::write(&input, &many.stdout).unwrap();
    let t = dir.write("t.txt", "{{ MSH-10 }},{{ PID-5.1 }}");
    let (first, status, err) = close_stdout_after_a_line(
        &["convert", "--template", &t, input.to_str().unwrap()],
        Feed::Nothing,
    );
    assert!(first.len() > 16, "{first:?}");
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(err, "");
}

/// Random templates made of the language's pieces, rendered over corpus messages and JSON
/// documents: parsing either fails with a line and column inside the text or succeeds, and
/// rendering never panics (fixed seed, so every run sees the same inputs).
#[test]
fn random_templates_never_panic() {
    use crate::util::api::template::{Env, Escape, Input, Options, Renderer, Template};
    use rand::rngs::StdRng;
    use rand::seq::IndexedRandom;
    use rand::{RngExt, SeedableRng};
    const PIECES: &[&str] = &[
        "{{",
        "}}",
        "{%",
        "%}",
        "{#",
        "#}",
        " for ",
        " OBX ",
        " PID-3 ",
        " in ",
        " items ",
        " if ",
        " elif ",
        " else ",
        " endif ",
        " endfor ",
        " not ",
        " and ",
        " or ",
        "==",
        "!=",
        "|",
        " upper",
        " date(\"%Y-%m-%d\")",
        " date(\"%H\", \"UTC\")",
        " default(\"x\")",
        " default(PID-8)",
        " join(\",\")",
        " first",
        " last",
        " base64decode",
        " hl7",
        " json",
        " raw",
        " re_replace(\"[0-9]\", \"#\")",
        " replace(\"A\", \"B\")",
        " PID-5.1 ",
        " OBX[2]-5 ",
        " OBX[*]-5 ",
        " -5 ",
        " .1 ",
        " . ",
        " loop.index ",
        " loop.last ",
        " now ",
        " control_id ",
        " counter ",
        " order.id ",
        " items[0].code ",
        " $.PID ",
        "\"str\"",
        "'s'",
        "(",
        ")",
        ",",
        "\n",
        "\r\n",
        "\r",
        "MSH|^~\\&|",
        "{0-9}",
        "{1-3}",
        "x",
        " ",
        "é",
        "\"",
        "{",
        "}",
        "%",
        "#",
        "-",
        ".",
        "[",
        "]",
        "\\",
    ];
    let mut rng = StdRng::seed_from_u64(6);
    let msgs: Vec<Vec<u8>> = [
        "pyhl7__oru_r01_v24_glucose.hl7",
        "synthetic__escape_sequences_torture_v25.hl7",
    ]
    .iter()
    .map(|f| fs::read(corpus().join(f)).unwrap())
    .collect();
    let doc = json!({"order": {"id": 1}, "items": [{"code": "A"}, 2, null], "PID": true});
    let mut parsed = 0;
    for i in 0..4000 {
        let n = rng.random_range(1..24);
        let text: String = (0..n).map(|_| *PIECES.choose(&mut rng).unwrap()).collect();
        let escape = [Escape::Hl7, Escape::Json, Escape::None][i % 3];
        let opts = Options {
            escape,
            legacy_placeholders: i % 2 == 0,
        };
        match Template::parse(&text, opts) {
            Err(e) => {
                let lines = text.split('\n').count() + text.matches('\r').count();
                assert!(e.line >= 1 && e.line <= lines + 1, "{text:?}: {e}");
                assert!(e.column >= 1, "{text:?}: {e}");
            }
            Ok(t) => {
                parsed += 1;
                let mut r = Renderer::new(Env {
                    local: jiff::tz::TimeZone::UTC,
                    id_seed: 1,
                    collect_missing: true,
                });
                let mut out = Vec::new();
                for m in &msgs {
                    let msg = Message::parse(m).unwrap();
                    r.render(
                        &t,
                        Input {
                            message: Some(msg),
                            json: Some(&doc),
                        },
                        &mut out,
                    );
                }
                r.render(
                    &t,
                    Input {
                        message: None,
                        json: Some(&doc),
                    },
                    &mut out,
                );
                r.render(&t, Input::default(), &mut out);
            }
        }
    }
    assert!(parsed > 400, "only {parsed} random templates parsed");
}
