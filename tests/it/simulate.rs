//! Black-box tests of `hl7 simulate`: every profile is read back by our own parser and by
//! python-hl7, the same seed gives the same bytes, and the output formats and options work.
//!
//! python-hl7 is the one `util::python` finds (`HL7_PYTHON`, or the venv of `.ci/run`).

use assert_cmd::Command;

use crate::util::{
    Feed, TempDir, close_stdout_after_a_line, count, hl7, ndjson, output, py_script, python,
    sample, simulate,
};

const PROFILES: [&str; 8] = [
    "vent", "monitor", "lab", "adt", "orm", "pacs", "mdm", "cycle",
];
const START: &str = "2024-08-14T11:46:36+02:00";

/// `hl7 simulate --profile PROFILE --count COUNT --seed SEED --start START EXTRA...`.
fn seeded(profile: &str, count: &str, seed: &str, extra: &[&str]) -> Vec<u8> {
    let args = [
        "--profile",
        profile,
        "--count",
        count,
        "--seed",
        seed,
        "--start",
        START,
    ];
    simulate(&[&args[..], extra].concat())
}

/// Parses `hl7 parse --select` NDJSON rows.
fn select(input: &[u8], paths: &str) -> Vec<serde_json::Value> {
    let out = hl7()
        .args(["parse", "--select", paths])
        .write_stdin(input.to_vec())
        .assert()
        .success()
        .get_output()
        .clone();
    ndjson(&out.stdout)
}

#[test]
fn every_profile_is_read_by_our_parser_and_python_hl7() {
    for profile in PROFILES {
        let out = seeded(profile, "40", "5", &["--devices", "2"]);
        assert_eq!(count(&out, b'\n'), 40, "{profile}");
        // our parser: every message valid, nothing on stderr
        let parsed = hl7()
            .arg("parse")
            .write_stdin(out.clone())
            .assert()
            .success()
            .get_output()
            .clone();
        assert!(
            parsed.stderr.is_empty(),
            "{profile}: {}",
            String::from_utf8_lossy(&parsed.stderr)
        );
        assert_eq!(count(&parsed.stdout, b'\n'), 40, "{profile}");
        // python-hl7
        let res = output(
            Command::new(python())
                .arg(py_script("pyhl7_read.py"))
                .write_stdin(out.clone()),
        );
        assert_eq!(res.code, 0, "{profile}: {}", res.stderr);
        assert_eq!(res.text().trim(), "40 messages", "{profile}");
        // control ids are unique
        let ids = select(&out, "MSH-10");
        let unique: std::collections::HashSet<String> =
            ids.iter().map(|r| r["MSH-10"].to_string()).collect();
        assert_eq!(unique.len(), 40, "{profile}");
    }
}

#[test]
fn same_seed_same_bytes_whatever_the_rate() {
    for profile in PROFILES {
        let run = |seed: &str, extra: &[&str]| seeded(profile, "25", seed, extra);
        let a = run("11", &[]);
        let b = run("11", &["--rate", "5000/s"]);
        assert_eq!(a, b, "{profile}");
        let c = run("12", &[]);
        assert_ne!(a, c, "{profile}");
    }
}

#[test]
fn vent_has_the_structure_of_the_real_capture() {
    let capture = std::fs::read(sample("oru_r01_vent.hl7")).unwrap();
    let ids = |raw: &[u8]| -> Vec<String> {
        select(raw, "OBX-3")
            .iter()
            .map(|r| r["OBX-3"].as_str().unwrap().to_string())
            .collect()
    };
    let out = simulate(&[
        "--profile",
        "vent",
        "--count",
        "1",
        "--seed",
        "1",
        "--start",
        "20240814114636",
    ]);
    let mut want = ids(&capture);
    want.insert(8, "1131101".into()); // the turbine filter hours the simulator adds
    assert_eq!(ids(&out), want);
    let head = &select(&out, "MSH-3,MSH-9,MSH-12,MSH-18,MSH-7,OBR-7,OBR-10.2,PV1-3")[0];
    assert_eq!(head["MSH-3"], "DATACAPTOR");
    assert_eq!(head["MSH-9"], "ORU^R01");
    assert_eq!(head["MSH-12"], "2.3");
    assert_eq!(head["MSH-18"], "8859/1");
    assert_eq!(
        head["MSH-7"], "20240814114636",
        "device local time, no offset"
    );
    assert_eq!(head["OBR-7"], "20240814114636");
    assert_eq!(head["OBR-10.2"], "Elisa 800");
    // unit codes, SETTING rows, status words and the serial, row by row like the capture
    let rows = |raw: &[u8]| select(raw, "OBX-3,OBX-6,OBX-13");
    let (got, cap) = (rows(&out), rows(&capture));
    for r in &cap {
        let g = got.iter().find(|g| g["OBX-3"] == r["OBX-3"]).unwrap();
        assert_eq!(g["OBX-6"], r["OBX-6"], "{}", r["OBX-3"]);
        assert_eq!(g["OBX-13"], r["OBX-13"], "{}", r["OBX-3"]);
    }
    assert_eq!(got.iter().filter(|g| g["OBX-13"] == "SETTING").count(), 22);
    let value = |id: &str| {
        got.iter()
            .position(|g| g["OBX-3"] == id)
            .map(|i| select(&out, "OBX-5")[i]["OBX-5"].clone())
            .unwrap()
    };
    for word in ["801", "802", "803", "804"] {
        assert!(
            value(word).as_str().unwrap().parse::<u32>().is_ok(),
            "status word {word}"
        );
    }
    assert_eq!(value("1913").as_str().unwrap().len(), 15, "serial");
}

#[test]
fn vent_devices_interleave_with_their_own_identity() {
    let out = seeded("vent", "6", "2", &["--devices", "3"]);
    let rows = select(&out, "OBR-10.1,PV1-3");
    let guid = |i: usize| rows[i]["OBR-10.1"].as_str().unwrap().to_string();
    assert_eq!(guid(0), guid(3));
    assert_eq!(guid(1), guid(4));
    assert_ne!(guid(0), guid(1));
    assert_ne!(guid(1), guid(2));
    assert_ne!(rows[0]["PV1-3"], rows[1]["PV1-3"]);
}

#[test]
fn output_formats() {
    let adt = |to: &[&str]| seeded("adt", "3", "4", to);
    let hl7_out = adt(&[]);
    let mllp = adt(&["--to", "mllp"]);
    assert_eq!(count(&mllp, 0x0b), 3);
    assert!(mllp.starts_with(b"\x0bMSH|") && mllp.ends_with(b"\x1c\r"));
    let ndjson = adt(&["--to", "ndjson"]);
    // all three read back to the same messages
    let back = |input: &[u8]| {
        hl7()
            .args(["parse", "--to", "hl7"])
            .write_stdin(input.to_vec())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    assert_eq!(back(&mllp), back(&hl7_out));
    assert_eq!(back(&ndjson), back(&hl7_out));
    assert_eq!(back(&hl7_out), hl7_out);
}

#[test]
fn counts_rates_and_defaults() {
    let out = simulate(&["--profile", "lab", "--seed", "1"]);
    assert_eq!(count(&out, b'\n'), 100, "100 messages by default");
    // a rate with a count ends after the count (the pacing itself is unit-tested on its schedule)
    let out = simulate(&["--profile", "cycle", "--count", "5", "--rate", "1000/s"]);
    assert_eq!(count(&out, b'\n'), 5);
    for bad in [
        vec!["--rate", "fast"],
        vec!["--rate", "0/s"],
        vec!["--start", "yesterday"],
        vec!["--devices", "0"],
        vec!["--profile", "adt", "--from-file", "x.hl7"],
    ] {
        let o = hl7()
            .arg("simulate")
            .args(&bad)
            .assert()
            .code(2)
            .get_output()
            .clone();
        assert!(o.stdout.is_empty(), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).starts_with("hl7 simulate: "),
            "{bad:?}"
        );
    }
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let (first, status, err) = close_stdout_after_a_line(
        &["simulate", "--profile", "vent", "--count", "1000000"],
        Feed::Nothing,
    );
    assert!(first.starts_with("MSH"), "{first:?}");
    assert!(status.success());
    assert!(err.is_empty(), "{err}");
}

#[test]
fn mdm_attachment_is_a_pdf() {
    use base64::Engine;
    let mdm = |extra: &[&str]| seeded("mdm", "2", "9", extra);
    let out = mdm(&[]);
    for row in select(&out, "OBX-2,OBX-5.2,OBX-5.3,OBX-5.4,OBX-5.5") {
        assert_eq!(row["OBX-2"], "ED");
        assert_eq!(row["OBX-5.4"], "Base64");
        let pdf = base64::engine::general_purpose::STANDARD
            .decode(row["OBX-5.5"].as_str().unwrap())
            .unwrap();
        assert!(pdf.starts_with(b"%PDF-"), "decodes to a PDF");
        assert!(pdf.windows(5).any(|w| w == b"%%EOF"));
    }
    // Padded to a size, for benchmarks of big attachments: the same messages otherwise.
    let big = mdm(&["--attachment-size", "200kB"]);
    let small_rows = select(&out, "MSH-10,TXA-12");
    assert_eq!(select(&big, "MSH-10,TXA-12"), small_rows);
    for row in select(&big, "OBX-5.5") {
        let pdf = base64::engine::general_purpose::STANDARD
            .decode(row["OBX-5.5"].as_str().unwrap())
            .unwrap();
        assert_eq!(pdf.len(), 200_000);
        assert!(pdf.starts_with(b"%PDF-") && pdf.ends_with(b"%%EOF\n"));
    }
    for bad in [["--profile", "adt"], ["--profile", "mdm"]] {
        let size = if bad[1] == "adt" { "1MB" } else { "1GB" };
        hl7()
            .args(["simulate", bad[0], bad[1], "--attachment-size", size])
            .assert()
            .code(2);
    }
}

#[test]
fn cycle_reads_a_file_and_refreshes_ids_and_times() {
    let dir = TempDir::new("simulate-cycle");
    let file = dir.write("two.hl7", b"MSH|^~\\&|A|B|C|D|20200101000000||ADT^A01|ORIG1|P|2.5\nPID|1||X\n\nMSH|^~\\&|A|B|C|D|20200101000000||ORU^R01|ORIG2|P|2.5\nOBX|1|NM|X||1\n");
    let out = seeded("cycle", "5", "1", &["--from-file", &file]);
    let rows = select(&out, "MSH-9,MSH-10,MSH-7");
    let types: Vec<&str> = rows.iter().map(|r| r["MSH-9"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["ADT^A01", "ORU^R01", "ADT^A01", "ORU^R01", "ADT^A01"]
    );
    assert!(
        rows.iter()
            .all(|r| r["MSH-10"] != "ORIG1" && r["MSH-10"] != "ORIG2")
    );
    assert!(
        rows.iter()
            .all(|r| r["MSH-7"].as_str().unwrap().starts_with("20240814"))
    );
    let bad = dir.write("bad.hl7", b"PID|1||X\n");
    hl7()
        .args(["simulate", "--profile", "cycle", "--from-file", &bad])
        .assert()
        .code(2);
}
