//! Black-box tests of `hl7 ack`: one reply per input message, in the shape docs/conformance.md "ACKs"
//! asks for, over the corpus.

use crate::util::{Out, corpus_path, count, hl7, output, run, seg_field};

/// `hl7 ack ARGS FILE` on a corpus file: exit code, replies (one a line), stderr.
fn ack(args: &[&str], file: &str) -> (i32, Vec<String>, String) {
    let Out {
        code,
        stdout,
        stderr,
    } = output(hl7().arg("ack").args(args).arg(corpus_path(file)));
    let text = String::from_utf8(stdout).unwrap();
    (code, text.lines().map(str::to_string).collect(), stderr)
}

/// Field `n` of segment `id` of a reply (MSH numbering for MSH).
fn field(reply: &str, id: &str, n: usize) -> String {
    seg_field(reply.as_bytes(), id, n)
}

#[test]
fn original_mode_swaps_and_echoes() {
    let (code, replies, err) = ack(&[], "pyhl7__oru_r01_v24_glucose.hl7");
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(replies.len(), 1);
    let r = &replies[0];
    for (id, n, want) in [
        ("MSH", 3, "GHH OE"),
        ("MSH", 5, "GHH LAB"),
        ("MSH", 9, "ACK^R01^ACK"),
        ("MSH", 12, "2.4"),
        ("MSA", 1, "AA"),
        ("MSA", 2, "CNTRL-3456"),
    ] {
        assert_eq!(field(r, id, n), want, "{id}-{n}");
    }
    assert_ne!(field(r, "MSH", 10), "CNTRL-3456", "a new control id");
}

/// (segment, field number, value)
type Fields = &'static [(&'static str, usize, &'static str)];

/// A reply's fields, per message and options: (options, corpus file, how the reply starts,
/// fields).
#[rustfmt::skip]
const REPLIES: &[(&[&str], &str, &str, Fields)] = &[
    // the mode from MSH-15 and MSH-16: AL/NE, a commit ACK
    (&[], "nodehl7c__athena_oru_lf_only.hl7", "MSH|", &[("MSA", 1, "CA")]),
    // NE/AL: an application ACK
    (&[], "synthetic__oru_r01_pcd01_monitor_vent_many_obx.hl7", "MSH|", &[("MSA", 1, "AA")]),
    // forced
    (&["--mode", "enhanced"], "pyhl7__oru_r01_v24_glucose.hl7", "MSH|", &[("MSA", 1, "CA")]),
    // delimiters are copied
    (&[], "synthetic__custom_encoding_chars_all_changed.hl7", "MSH!@%$?!", &[]),
    (&[], "hapi__segmentfinder_a24_caret_field_sep.hl7", "MSH^~|\\&^", &[("MSH", 9, "ACK~A24~ACK")]),
    (&[], "hl7apy__rsp_k22_v27_truncation_char.hl7", "MSH|^~\\&#|", &[]),
    // the ERR shape follows the version
    (ERROR, "hl7apy__rsp_k22_v25_pdq.hl7", "MSH|", &[
        ("ERR", 1, ""),
        ("ERR", 3, "207^Application internal error^HL70357"),
        ("ERR", 4, "E"),
        ("MSA", 3, "database down"),
    ]),
    (ERROR, "pyhl7__adt_a01_v23_quoted_nulls_in1_in2.hl7", "MSH|", &[
        ("ERR", 1, "^^^207&Application internal error&HL70357"),
    ]),
    // no MSA-3 from 2.7
    (ERROR, "synthetic__v27_truncation_char_and_escapes.hl7", "MSH|", &[
        ("MSA", 3, ""),
        ("ERR", 3, "207^Application internal error^HL70357"),
    ]),
];

const ERROR: &[&str] = &[
    "--code",
    "AE",
    "--error-code",
    "207",
    "--text",
    "database down",
];

#[test]
fn reply_fields_follow_the_message_and_the_options() {
    for (args, file, start, fields) in REPLIES {
        let (code, replies, err) = ack(args, file);
        assert_eq!(code, 0, "{file} {args:?}: {err}");
        let r = &replies[0];
        assert!(r.starts_with(start), "{file} {args:?}: {r}");
        for (id, n, want) in *fields {
            assert_eq!(field(r, id, *n), *want, "{file} {args:?}: {id}-{n}");
        }
    }
    // --error-code needs an error code
    assert_eq!(run(&["ack", "--error-code", "207"], b"").code, 2);
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
    let out = output(
        hl7()
            .args(["ack", "--to", "mllp"])
            .arg(corpus_path("mllp__two_frames_back_to_back.bin")),
    );
    assert_eq!(out.code, 0);
    assert_eq!(count(&out.stdout, 0x0b), 2);
    assert!(out.stdout.ends_with(b"\x1c\r"));
    // an ACK is never acknowledged
    let acked = output(
        hl7()
            .arg("ack")
            .arg(corpus_path("pyhl7__oru_r01_v24_glucose.hl7")),
    )
    .stdout;
    let twice = run(&["ack"], &acked);
    assert_eq!(twice.code, 0);
    assert!(twice.stdout.is_empty());
}
