//! Black-box tests of `hl7 ack`: one reply per input message, in the shape docs/conformance.md "ACKs"
//! asks for, over the corpus.

use assert_cmd::Command;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/corpus/");

fn ack(args: &[&str], file: &str) -> (i32, Vec<String>, String) {
    let out = Command::cargo_bin("hl7")
        .unwrap()
        .arg("ack")
        .args(args)
        .arg(format!("{CORPUS}{file}"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let replies = text.lines().map(str::to_string).collect();
    (
        out.status.code().unwrap(),
        replies,
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Field `n` (1-based, MSH numbering for MSH) of segment `id` of a reply.
fn field(reply: &str, id: &str, n: usize) -> String {
    let seg = reply
        .split('\r')
        .find(|s| s.starts_with(id))
        .unwrap_or_else(|| panic!("no {id} in {reply:?}"));
    let fs = seg.as_bytes()[3] as char;
    let parts: Vec<&str> = seg.split(fs).collect();
    let i = if id == "MSH" { n - 1 } else { n };
    parts.get(i).unwrap_or(&"").to_string()
}

#[test]
fn original_mode_swaps_and_echoes() {
    let (code, replies, err) = ack(&[], "pyhl7__oru_r01_v24_glucose.hl7");
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(replies.len(), 1);
    let r = &replies[0];
    assert_eq!(field(r, "MSH", 3), "GHH OE");
    assert_eq!(field(r, "MSH", 5), "GHH LAB");
    assert_eq!(field(r, "MSH", 9), "ACK^R01^ACK");
    assert_ne!(field(r, "MSH", 10), "CNTRL-3456", "a new control id");
    assert_eq!(field(r, "MSH", 12), "2.4");
    assert_eq!(field(r, "MSA", 1), "AA");
    assert_eq!(field(r, "MSA", 2), "CNTRL-3456");
}

#[test]
fn modes_from_msh15_and_msh16() {
    // AL/NE: a commit ACK
    assert_eq!(
        field(&ack(&[], "nodehl7c__athena_oru_lf_only.hl7").1[0], "MSA", 1),
        "CA"
    );
    // NE/AL: an application ACK
    assert_eq!(
        field(
            &ack(&[], "synthetic__oru_r01_pcd01_monitor_vent_many_obx.hl7").1[0],
            "MSA",
            1
        ),
        "AA"
    );
    // forced
    assert_eq!(
        field(
            &ack(&["--mode", "enhanced"], "pyhl7__oru_r01_v24_glucose.hl7").1[0],
            "MSA",
            1
        ),
        "CA"
    );
}

#[test]
fn delimiters_are_copied() {
    let r = &ack(&[], "synthetic__custom_encoding_chars_all_changed.hl7").1[0];
    assert!(r.starts_with("MSH!@%$?!"), "{r}");
    let r = &ack(&[], "hapi__segmentfinder_a24_caret_field_sep.hl7").1[0];
    assert!(r.starts_with("MSH^~|\\&^"), "{r}");
    assert_eq!(field(r, "MSH", 9), "ACK~A24~ACK");
    let r = &ack(&[], "hl7apy__rsp_k22_v27_truncation_char.hl7").1[0];
    assert!(r.starts_with("MSH|^~\\&#|"), "{r}");
}

#[test]
fn err_shape_follows_the_version() {
    let args = [
        "--code",
        "AE",
        "--error-code",
        "207",
        "--text",
        "database down",
    ];
    let v25 = &ack(&args, "hl7apy__rsp_k22_v25_pdq.hl7").1[0];
    assert_eq!(field(v25, "ERR", 1), "");
    assert_eq!(
        field(v25, "ERR", 3),
        "207^Application internal error^HL70357"
    );
    assert_eq!(field(v25, "ERR", 4), "E");
    assert_eq!(field(v25, "MSA", 3), "database down");
    let v23 = &ack(&args, "pyhl7__adt_a01_v23_quoted_nulls_in1_in2.hl7").1[0];
    assert_eq!(
        field(v23, "ERR", 1),
        "^^^207&Application internal error&HL70357"
    );
    let v27 = &ack(&args, "synthetic__v27_truncation_char_and_escapes.hl7").1[0];
    assert_eq!(field(v27, "MSA", 3), "", "no MSA-3 from 2.7");
    assert_eq!(
        field(v27, "ERR", 3),
        "207^Application internal error^HL70357"
    );
    // --error-code needs an error code
    Command::cargo_bin("hl7")
        .unwrap()
        .args(["ack", "--error-code", "207"])
        .write_stdin("")
        .assert()
        .code(2);
}

#[test]
fn invalid_input_gets_a_nak_and_exit_1() {
    let (code, replies, err) = ack(&[], "bad__msh_missing_control_id_and_version.hl7");
    assert_eq!(code, 1);
    assert!(err.contains("message 1") && err.contains("MSH-10"), "{err}");
    let r = &replies[0];
    assert_eq!(field(r, "MSA", 1), "AE");
    assert_eq!(field(r, "MSA", 2), "", "MSA-2 empty: there is no MSH-10");
    assert_eq!(field(r, "ERR", 2), "MSH^1^10");
    assert!(field(r, "ERR", 3).starts_with("101^"));
    for file in [
        "bad__not_hl7_at_all.txt",
        "bad__pid_without_msh.hl7",
        "bad__duplicate_encoding_chars.hl7",
    ] {
        let (code, replies, _) = ack(&[], file);
        assert_eq!(code, 1, "{file}");
        assert_eq!(replies.len(), 1, "{file}");
        assert_eq!(field(&replies[0], "MSA", 1), "AR", "{file}");
    }
}

#[test]
fn one_reply_per_message_and_framing() {
    let (code, replies, _) = ack(&[], "hapi__oml_o21_v251.hl7");
    assert_eq!(code, 1, "two of its messages have no MSH-10");
    // 13 messages; one (LAB562901) asks for an application ACK only on error (MSH-16 ER)
    assert_eq!(replies.len(), 12);
    assert!(replies.iter().all(|r| field(r, "MSA", 2) != "LAB562901"));
    let out = Command::cargo_bin("hl7")
        .unwrap()
        .args(["ack", "--to", "mllp"])
        .arg(format!("{CORPUS}mllp__two_frames_back_to_back.bin"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.iter().filter(|&&b| b == 0x0b).count(), 2);
    assert!(out.stdout.ends_with(b"\x1c\r"));
    // an ACK is never acknowledged
    let acked = Command::cargo_bin("hl7")
        .unwrap()
        .arg("ack")
        .arg(format!("{CORPUS}pyhl7__oru_r01_v24_glucose.hl7"))
        .output()
        .unwrap()
        .stdout;
    let twice = Command::cargo_bin("hl7")
        .unwrap()
        .arg("ack")
        .write_stdin(acked)
        .output()
        .unwrap();
    assert!(twice.status.success());
    assert!(twice.stdout.is_empty());
}
