//! Black-box tests of `hl7 parse` (the real binary, through assert_cmd).
//!
//! Every input is a fixture under `tests/fixtures/corpus/`, a conformance corpus gathered from
//! public HL7 test suites (see its MANIFEST.tsv); expectations come from
//! docs/conformance.md, the manifest and python-hl7's answers in `pyhl7-crosscheck/` where
//! python-hl7 is right.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use serde_json::{Map, Value, json};

use crate::util::{
    DEADLINE, Feed, Out, TempDir, bin, close_stdout_after_a_line, corpus, corpus_inputs,
    hl7_in_corpus, lines_of, output, read_corpus, spawn,
};

// ---------------------------------------------------------------------------------------------
// helpers

/// `hl7 parse ARGS` from the corpus directory, `stdin` on its standard input.
fn run_with(args: &[&str], stdin: Option<Vec<u8>>) -> Out {
    output(
        hl7_in_corpus()
            .arg("parse")
            .args(args)
            .write_stdin(stdin.unwrap_or_default()),
    )
}

fn run(args: &[&str]) -> Out {
    run_with(args, None)
}

/// `hl7 parse --select PATHS FILE`: one JSON object per row.
fn select(file: &str, paths: &str) -> Vec<Map<String, Value>> {
    run(&["--select", paths, file]).rows()
}

/// The single row of a one-message file.
fn select1(file: &str, paths: &str) -> Map<String, Value> {
    let mut rows = select(file, paths);
    assert_eq!(rows.len(), 1, "{file}: --select {paths}: expected one row");
    rows.remove(0)
}

/// MANIFEST.tsv rows by file name, column name -> raw text.
fn manifest() -> BTreeMap<String, HashMap<String, String>> {
    let text = String::from_utf8(read_corpus("MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .map(|l| {
            let row: HashMap<String, String> = header
                .iter()
                .zip(l.split('\t'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (row["file"].clone(), row)
        })
        .filter(|(f, _)| corpus().join(f).exists())
        .collect()
}

/// python-hl7's answers for each text corpus file it read without an error (line endings
/// normalized), with `hl7 parse --select PATHS FILE` for files that parse (python-hl7 reads
/// rejected and multi-message files as one message): (file, python-hl7's answers, our rows).
fn crosschecked(paths: &str) -> Vec<(String, Value, Vec<Value>)> {
    let mut out = Vec::new();
    for file in corpus_inputs() {
        if file.ends_with(".bin") {
            continue;
        }
        let stem = file.strip_suffix(".hl7").unwrap_or(&file);
        let p = format!("pyhl7-crosscheck/{stem}.normalized.json");
        if !corpus().join(&p).exists() {
            continue;
        }
        let mut cc: Value =
            serde_json::from_slice(&read_corpus(&p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        let py = cc["python-hl7"].take();
        if py.get("error").is_some() {
            continue;
        }
        let o = run(&["--select", paths, &file]);
        if o.code != 0 {
            continue;
        }
        out.push((file, py, o.json()));
    }
    out
}

/// Checks one error line: `hl7 parse: FILE: message N (byte B): WHAT` or
/// `hl7 parse: FILE: byte B: WHAT`, with a non-empty reason. Returns B.
fn error_byte(line: &str, file: &str) -> u64 {
    let rest = line
        .strip_prefix(&format!("hl7 parse: {file}: "))
        .unwrap_or_else(|| panic!("error line does not name {file}: {line}"));
    let rest = match rest.strip_prefix("message ") {
        Some(r) => {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            assert!(digits > 0, "no message number: {line}");
            r[digits..]
                .strip_prefix(" (")
                .unwrap_or_else(|| panic!("no byte offset: {line}"))
        }
        None => rest,
    };
    let rest = rest
        .strip_prefix("byte ")
        .unwrap_or_else(|| panic!("no byte offset: {line}"));
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    assert!(digits > 0, "no byte offset: {line}");
    let byte = rest[..digits].parse().unwrap();
    let reason = rest[digits..].trim_start_matches(')');
    let reason = reason
        .strip_prefix(": ")
        .unwrap_or_else(|| panic!("no reason: {line}"));
    assert!(reason.trim().len() > 5, "no reason: {line}");
    byte
}

/// Raw HL7 as `parse --to hl7` should write it: BOM dropped, lines split on CR, LF or CRLF,
/// blank lines and FHS/BHS/BTS/FTS envelopes dropped, a message started at each MSH, every
/// segment ended by CR and every message by LF.
fn normalized(raw: &[u8]) -> Vec<u8> {
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    let mut out = Vec::new();
    let mut started = false;
    for line in raw.split(|&b| b == b'\r' || b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if [&b"FHS"[..], b"BHS", b"BTS", b"FTS"].contains(&&line[..3.min(line.len())]) {
            continue;
        }
        if line.starts_with(b"MSH") {
            if started {
                out.push(b'\n');
            }
            started = true;
        }
        out.extend_from_slice(line);
        out.push(b'\r');
    }
    if started {
        out.push(b'\n');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 1. every corpus file: exit code, message count, rejection messages, segment counts

struct Expect {
    file: &'static str,
    code: i32,
    /// NDJSON lines on stdout (messages that parsed).
    messages: usize,
    /// Each must occur in stderr.
    stderr: &'static [&'static str],
    /// How many error (non-warning) lines stderr holds.
    errors: usize,
}

const fn ok(file: &'static str, messages: usize) -> Expect {
    Expect {
        file,
        code: 0,
        messages,
        stderr: &[],
        errors: 0,
    }
}

const fn warn(file: &'static str, messages: usize, stderr: &'static [&'static str]) -> Expect {
    Expect {
        file,
        code: 0,
        messages,
        stderr,
        errors: 0,
    }
}

const fn bad(
    file: &'static str,
    messages: usize,
    errors: usize,
    stderr: &'static [&'static str],
) -> Expect {
    Expect {
        file,
        code: 1,
        messages,
        stderr,
        errors,
    }
}

#[rustfmt::skip]
const EXPECT: &[Expect] = &[
    // bad__*: rejected, with the place (message number, byte offset, field) and a reason
    bad("bad__duplicate_encoding_chars.hl7", 0, 1, &["message 1 (byte 6): MSH-2: ", "duplicate"]),
    bad("bad__msh_missing_control_id_and_version.hl7", 0, 1, &["message 1 (byte 42): MSH-10: ", "missing"]),
    bad("bad__msh_truncated_before_encoding_chars.hl7", 0, 1, &["message 1 (byte 4): MSH-2: ", "missing"]),
    bad("bad__not_hl7_at_all.txt", 0, 1, &["byte 0: ", "MSH"]),
    bad("bad__pid_without_msh.hl7", 0, 1, &["byte 0: ", "MSH", "PID"]),
    ok("capsule_elisa800_oru_r01.hl7", 1),
    ok("derived__oru_r01_obx5_85kb_escaped_uuencode.hl7", 1),
    ok("elixirhl7__elr_oru_r01_v251_truncation_hash.hl7", 1),
    ok("elixirhl7__nist_adt_a03_syndromic.hl7", 1),
    ok("elixirhl7__nist_vxu_v04_immunization.hl7", 1),
    ok("elixirhl7__wikipedia_adt_a01_utf8_apostrophe.hl7", 1),
    ok("elixirhl7__wikipedia_alt_component_sep_star.hl7", 1),
    ok("exhl7v2__adt_a01_v27_extended_lf.hl7", 1),
    ok("exhl7v2__mdm_t02_lf.hl7", 1),
    ok("exhl7v2__oru_r01_multi_lf.hl7", 1),
    // 3 messages; the third has MSH-12 `2.4<cr>` (the second's `<cr>` texts are in MSH-15 and later)
    bad("golang-mylanconnolly__3msgs_lf_literal_cr_markers.hl7", 2, 1, &["message 3 (byte 1336): MSH-12: ", "2.4<cr>"]),
    // glued segments and an LF inside a field: the offset is the stray line's
    bad("golevel7__epic_oru_mangled_space_and_lf.hl7", 0, 1, &["message 1 (byte 382): "]),
    ok("golevel7__orm_o01.hl7", 1),
    ok("hapi__adt_a03_lf_endings.hl7", 1),
    ok("hapi__escape_nte_br_F_v23.hl7", 1),
    ok("hapi__escape_obx_ft_H_N_S_v24.hl7", 1),
    // 18 messages among /* */ and // comment lines; a comment line after a message makes that
    // message fail (11 of them); the leading comment is not part of any message
    bad("hapi__messages_multi_with_comments_odd_enc_chars.txt", 7, 12, &["byte 0: ", "message 1 (byte 1063): ", "message 18 (byte 11683): "]),
    ok("hapi__olis_erp_z99_zsegments_8859-1.hl7", 1),
    ok("hapi__omd_o03_rep.hl7", 1),
    // 13 messages, two without MSH-10
    bad("hapi__oml_o21_v251.hl7", 11, 2, &["message 11 (byte 8930): MSH-10: ", "message 12 (byte 9329): MSH-10: "]),
    ok("hapi__segmentfinder_a24_caret_field_sep.hl7", 1),
    ok("hl7apy__oml_o33_specimen_order_groups.hl7", 1),
    ok("hl7apy__rsp_k22_v25_pdq.hl7", 1),
    ok("hl7apy__rsp_k22_v27_truncation_char.hl7", 1),
    // MLLP captures (docs/conformance.md "MLLP framing")
    ok("mllp__empty_frame.bin", 0),
    ok("mllp__fs_lf_instead_of_fs_cr.bin", 1),
    ok("mllp__fs_without_cr_then_next_frame.bin", 2),
    warn("mllp__junk_before_and_between_frames.bin", 2, &["byte 0: ", "MLLP frame"]),
    ok("mllp__keepalive_500_frames.bin", 500),
    bad("mllp__missing_end_block_then_eof.bin", 0, 1, &["byte 1: ", "MLLP frame"]),
    ok("mllp__one_huge_frame_974kb_mdm.bin", 1),
    // R2 commit ACK / NAK blocks are reported as such, not parsed as HL7
    bad("mllp__r2_commit_ack_and_nak.bin", 0, 2, &["byte 1: ", "byte 5: ", "commit acknowledgement"]),
    warn("mllp__second_vt_inside_unterminated_frame.bin", 1, &["byte 0: ", "restarted"]),
    ok("mllp__two_frames_back_to_back.bin", 2),
    ok("nodehl7c__adt_one_line.hl7", 1),
    ok("nodehl7c__athena_oru_lf_only.hl7", 1),
    ok("nodehl7c__cerner_oru_cr_plus_trailing_lf.hl7", 1),
    ok("nodehl7c__dft_p03_two_msgs_blank_line.hl7", 2),
    // hard-wrapped: MSH-10 split across lines
    bad("nodehl7c__mdm_t04_mangled_linewraps.hl7", 0, 1, &["message 1 (byte 79): "]),
    ok("nodehl7c__mfn_m02_8859-1_fr.hl7", 1),
    ok("nodehl7c__nist_elr_oru_r01_tc1.hl7", 1),
    // OBR-16's phone number is wrapped: `(608)258-` LF `8866|||...`
    bad("nodehl7c__orm_o01.hl7", 0, 1, &["message 1 (byte 678): "]),
    ok("nodehl7c__realm_elr_hcv.hl7", 1),
    ok("nodehl7c__siu_s12.hl7", 1),
    ok("pyhl7__adt_a01_v23_quoted_nulls_in1_in2.hl7", 1),
    // an EVN before any MSH, and BTS-1 then counts one message too many (a warning)
    bad("pyhl7__bad_batch_no_msh.hl7", 0, 1, &["byte 65: ", "EVN", "BTS-1"]),
    ok("pyhl7__batch_bhs_bts_2msgs.hl7", 2),
    ok("pyhl7__file_fhs_2batches_fts.hl7", 3),
    ok("pyhl7__file_fhs_no_bhs.hl7", 2),
    // `MSH$%~\&$GHH LAB`: the header stops at MSH-3, so MSH-9, -10, -12 are missing
    bad("pyhl7__nonstandard_separators_dollar.hl7", 0, 1, &["message 1 (byte 16): MSH-9: "]),
    ok("pyhl7__oru_r01_v24_glucose.hl7", 1),
    ok("pyhl7__rep_subcomp.hl7", 1),
    ok("synthetic__adt_a01_msh18_unicode_utf8_multibyte.hl7", 1),
    ok("synthetic__adt_a08_msh18_8859-1_latin1_bytes.hl7", 1),
    ok("synthetic__adt_a40_merge_repeated_groups_zsegs.hl7", 1),
    ok("synthetic__batch_fhs_bhs_bts_fts_counts.hl7", 3),
    // `$APT 2@@TOWN`: a lone escape character in PID-11, kept and warned about
    warn("synthetic__custom_encoding_chars_all_changed.hl7", 1, &["message 1 (byte 0): PID[1]"]),
    warn("synthetic__escape_sequences_torture_v25.hl7", 1, &["OBX[3]", "OBX[5]", "OBX[6]", "OBX[7]"]),
    ok("synthetic__mdm_t02_base64_split_over_obx.hl7", 1),
    ok("synthetic__mdm_t02_v251_obx5_ed_base64_pdf.hl7", 1),
    ok("synthetic__mixed_terminators_cr_lf_crlf_blank.hl7", 1),
    ok("synthetic__msh18_says_ascii_but_has_utf8.hl7", 1),
    // `MSH|^~\&` alone: a valid header, but no MSH-9/10/12
    bad("synthetic__msh_minimal_encoding_only.hl7", 0, 1, &["message 1 (byte 8): MSH-9: "]),
    ok("synthetic__nonstandard_field_sep_star.hl7", 1),
    ok("synthetic__null_vs_empty_trailing_delims.hl7", 1),
    ok("synthetic__orm_o01_multi_orders_nte.hl7", 1),
    ok("synthetic__oru_r01_pcd01_monitor_vent_many_obx.hl7", 1),
    ok("synthetic__path_notation_fixture.hl7", 1),
    bad("synthetic__trailing_empty_fields_MSH_only.hl7", 0, 1, &["message 1 (byte 15): MSH-9: "]),
    ok("synthetic__utf8_bom_crlf_endings.hl7", 1),
    ok("synthetic__v27_truncation_char_and_escapes.hl7", 1),
];

#[test]
fn every_corpus_file_exit_code_and_message_count() {
    let files = corpus_inputs();
    let listed: Vec<&str> = EXPECT.iter().map(|e| e.file).collect();
    for f in &files {
        assert!(
            listed.contains(&f.as_str()),
            "no expectation for fixture {f}"
        );
    }
    for e in EXPECT {
        assert!(
            files.iter().any(|f| f == e.file),
            "fixture {} missing",
            e.file
        );
        let o = run(&[e.file]);
        let msgs = o.json();
        assert_eq!(
            o.code, e.code,
            "{}: exit code; stderr:\n{}",
            e.file, o.stderr
        );
        assert_eq!(
            msgs.len(),
            e.messages,
            "{}: messages; stderr:\n{}",
            e.file,
            o.stderr
        );
        for m in &msgs {
            let segs = m["segments"].as_array().expect("segments");
            assert_eq!(segs[0]["id"], "MSH", "{}", e.file);
            assert!(
                m["control_id"].as_str().is_some_and(|c| !c.is_empty()),
                "{}",
                e.file
            );
        }
        for needle in e.stderr {
            assert!(
                o.stderr.contains(needle),
                "{}: stderr lacks {needle:?}:\n{}",
                e.file,
                o.stderr
            );
        }
        let errors = o.errors();
        assert_eq!(
            errors.len(),
            e.errors,
            "{}: error lines:\n{}",
            e.file,
            o.stderr
        );
        for line in errors {
            error_byte(line, e.file);
        }
        for line in o.stderr.lines() {
            assert!(
                line.starts_with("hl7 parse: ") && line.contains(e.file),
                "{line}"
            );
            assert!(!line.contains("panicked"), "{line}");
        }
    }
}

#[test]
fn error_offsets_point_at_the_problem() {
    // the byte offset in an error is an offset into the file
    let cases = [
        // the second `&` of `^&&^` is the duplicate
        ("bad__duplicate_encoding_chars.hl7", &b"&^|"[..]),
        ("hapi__oml_o21_v251.hl7", b"|T|2.5\r"),
        (
            "golang-mylanconnolly__3msgs_lf_literal_cr_markers.hl7",
            b"2.4<cr>",
        ),
        ("nodehl7c__mdm_t04_mangled_linewraps.hl7", b"4563-8EBD"),
        ("golevel7__epic_oru_mangled_space_and_lf.hl7", b"PLATEL|||"),
        ("nodehl7c__orm_o01.hl7", b"8866||||"),
        (
            "hapi__messages_multi_with_comments_odd_enc_chars.txt",
            b"/*",
        ),
        ("pyhl7__bad_batch_no_msh.hl7", b"EVN|A04"),
        ("mllp__missing_end_block_then_eof.bin", b"MSH|"),
    ];
    for (file, at) in cases {
        let o = run(&[file]);
        let raw = read_corpus(file);
        let line = o.errors()[0].to_string();
        let byte = error_byte(&line, file) as usize;
        assert!(
            raw[byte..].starts_with(at),
            "{file}: byte {byte} is {:?}, not {:?}",
            String::from_utf8_lossy(&raw[byte..(byte + 10).min(raw.len())]),
            String::from_utf8_lossy(at)
        );
    }
    // every comment line in HAPI's messages.txt is named by its own offset
    let file = "hapi__messages_multi_with_comments_odd_enc_chars.txt";
    let raw = read_corpus(file);
    let o = run(&[file]);
    let mut offsets = Vec::new();
    for line in o.errors() {
        let byte = error_byte(line, file) as usize;
        assert!(byte == 0 || raw[byte - 1] == b'\n', "{line}");
        assert_eq!(raw[byte], b'/', "{line}");
        offsets.push(byte);
    }
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
}

#[test]
fn segment_counts_match_the_manifest() {
    let man = manifest();
    let mut checked = 0;
    for (file, row) in &man {
        let Ok(want) = row["segments_nonblank_after_normalize"].parse::<usize>() else {
            continue;
        };
        if file.starts_with("mllp__") {
            continue;
        }
        let o = run(&[file]);
        if o.code != 0 {
            continue;
        }
        // envelope segments (FHS/BHS/BTS/FTS) are counted by the manifest but belong to no message
        let envelope = read_corpus(file)
            .split(|&b| b == b'\r' || b == b'\n')
            .filter(|l| {
                [&b"FHS"[..], b"BHS", b"BTS", b"FTS"]
                    .iter()
                    .any(|id| l.starts_with(id))
            })
            .count();
        let msgs = o.json();
        let got: usize = msgs
            .iter()
            .map(|m| m["segments"].as_array().unwrap().len())
            .sum();
        assert_eq!(got + envelope, want, "{file}: segments");
        if msgs.len() == 1 {
            let obx = msgs[0]["segments"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["id"] == "OBX")
                .count();
            assert_eq!(obx.to_string(), row["OBX_count"], "{file}: OBX count");
        }
        checked += 1;
    }
    assert!(checked >= 45, "only {checked} files checked");
}

#[test]
fn line_endings_give_the_same_segments() {
    // docs/conformance.md "Segments and line ends": mixed CR, LF, CRLF, blank lines and no final terminator
    let o = run(&["synthetic__mixed_terminators_cr_lf_crlf_blank.hl7"]);
    let msgs = o.json();
    let ids: Vec<&str> = msgs[0]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["MSH", "PID", "OBR", "OBX", "OBX", "OBX"]);
    // the LF file gives the same JSON as its CR version
    let lf = read_corpus("exhl7v2__oru_r01_multi_lf.hl7");
    let cr: Vec<u8> = lf
        .iter()
        .map(|&b| if b == b'\n' { b'\r' } else { b })
        .collect();
    let crlf: Vec<u8> = lf
        .iter()
        .flat_map(|&b| {
            if b == b'\n' {
                vec![b'\r', b'\n']
            } else {
                vec![b]
            }
        })
        .collect();
    let a = run(&["exhl7v2__oru_r01_multi_lf.hl7"]);
    let b = run_with(&[], Some(cr));
    let c = run_with(&[], Some(crlf));
    assert_eq!(a.code, 0);
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.stdout, c.stdout);
}

#[test]
fn keepalive_frames_come_out_in_order() {
    let rows = select("mllp__keepalive_500_frames.bin", "MSH-10");
    assert_eq!(rows.len(), 500);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["MSH-10"], format!("KA-{i}"));
    }
    let rows = select("mllp__two_frames_back_to_back.bin", "MSH-10,PID-5.1");
    assert_eq!(
        rows,
        [
            json!({"MSH-10":"MLLP-1","PID-5.1":"One"}),
            json!({"MSH-10":"MLLP-2","PID-5.1":"Two"})
        ]
        .map(|v| v.as_object().unwrap().clone())
    );
    // a frame restarted by a second VT keeps only the restarted frame
    let rows = select("mllp__second_vt_inside_unterminated_frame.bin", "MSH-10");
    assert_eq!(rows[0]["MSH-10"], "MLLP-2");
    // FS not followed by CR ends the frame (lenient), the next frame is separate
    let rows = select("mllp__fs_without_cr_then_next_frame.bin", "MSH-10,PID-5");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["PID-5"], "One^A");
    assert_eq!(rows[1]["MSH-10"], "MLLP-2");
}

#[test]
fn batches_split_into_their_messages() {
    // (file, MSH-10 of each message)
    for (file, want) in [
        (
            "synthetic__batch_fhs_bhs_bts_fts_counts.hl7",
            &["B1M1", "B1M2", "B2M1"][..],
        ),
        (
            "pyhl7__file_fhs_2batches_fts.hl7",
            &["12334456778890", "12334456778891", "12334456778890"],
        ),
        (
            "pyhl7__batch_bhs_bts_2msgs.hl7",
            &["12334456778890", "12334456778891"],
        ),
        (
            "pyhl7__file_fhs_no_bhs.hl7",
            &["12334456778890", "12334456778891"],
        ),
        (
            "nodehl7c__dft_p03_two_msgs_blank_line.hl7",
            &["DSD1184185250", "DSD1184189125"],
        ),
    ] {
        let ids: Vec<String> = select(file, "MSH-10")
            .iter()
            .map(|r| r["MSH-10"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, want, "{file}");
    }
}

#[test]
fn batch_count_mismatch_is_a_warning_not_an_error() {
    // docs/conformance.md "Batches": BTS-1 / FTS-1 against actual counts: warn, never fail
    let raw =
        String::from_utf8(read_corpus("synthetic__batch_fhs_bhs_bts_fts_counts.hl7")).unwrap();
    let wrong = raw.replace("BTS|2|batch comment", "BTS|5|batch comment");
    assert_ne!(raw, wrong);
    let o = run_with(&[], Some(wrong.into_bytes()));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json().len(), 3);
    assert!(
        o.stderr.contains("warning") && o.stderr.contains("BTS-1"),
        "{}",
        o.stderr
    );
    // the right counts give no warning
    let o = run(&["synthetic__batch_fhs_bhs_bts_fts_counts.hl7"]);
    assert_eq!(o.stderr, "");
}

// ---------------------------------------------------------------------------------------------
// 2. values

#[test]
fn header_fields_match_the_manifest() {
    let man = manifest();
    let mut checked = 0;
    for (file, row) in &man {
        if row["MSH-9"].is_empty() || file.starts_with("mllp__") {
            continue;
        }
        let o = run(&["--select", "MSH-1,MSH-2,MSH-9,MSH-10,MSH-12", file]);
        if o.code != 0 && o.stdout.is_empty() {
            continue; // rejected, checked elsewhere
        }
        // the manifest describes the first message of the file
        let first = &o.json()[0];
        assert_eq!(first["MSH-1"], row["MSH-1"].as_str(), "{file}");
        assert_eq!(first["MSH-2"], row["MSH-2"].as_str(), "{file}");
        assert_eq!(first["MSH-9"], row["MSH-9"].as_str(), "{file}");
        assert_eq!(first["MSH-10"], row["MSH-10"].as_str(), "{file}");
        assert_eq!(first["MSH-12"], row["MSH-12"].as_str(), "{file}");
        // the NDJSON envelope agrees
        let m = &run(&[file]).json()[0];
        assert_eq!(m["control_id"], row["MSH-10"].as_str(), "{file}");
        assert_eq!(
            m["segments"][0]["fields"][0],
            row["MSH-1"].as_str(),
            "{file}"
        );
        assert_eq!(
            m["segments"][0]["fields"][1],
            row["MSH-2"].as_str(),
            "{file}"
        );
        checked += 1;
    }
    assert!(checked >= 45, "only {checked} files checked");
}

#[test]
fn msh1_and_msh2_are_not_split_or_unescaped() {
    let m = &run(&["pyhl7__oru_r01_v24_glucose.hl7"]).json()[0];
    assert_eq!(m["type"], "ORU^R01");
    assert_eq!(m["control_id"], "CNTRL-3456");
    assert_eq!(m["version"], "2.4");
    let msh = &m["segments"][0]["fields"];
    assert_eq!(msh[0], "|");
    assert_eq!(msh[1], "^~\\&");
    assert_eq!(msh[8], json!([["ORU", "R01"]]), "fields[8] is MSH-9");
    let m = &run(&["hl7apy__rsp_k22_v27_truncation_char.hl7"]).json()[0];
    assert_eq!(m["segments"][0]["fields"][1], "^~\\&#");
}

#[test]
fn pid_5_1_agrees_with_python_hl7() {
    let mut checked = 0;
    for (file, py, rows) in crosschecked("PID-5.1") {
        let want = py["PID-5.1 (key PID.F5.R1.C1)"].as_str().unwrap();
        let got = &rows[0]["PID-5.1"];
        match want {
            // python-hl7 could not find a PID: absent is printed empty
            "<KeyError>" => assert_eq!(got, "", "{file}"),
            "<IndexError>" => continue,
            // HL7's null: python-hl7 gives the two quote characters, we give JSON null
            "\"\"" => assert_eq!(got, &Value::Null, "{file}"),
            w => assert_eq!(got, w, "{file}"),
        }
        checked += 1;
    }
    assert!(checked >= 45, "only {checked} files checked");
}

#[test]
fn obx_values_agree_with_python_hl7() {
    let mut checked = 0;
    for (file, py, rows) in crosschecked("OBX-5") {
        let pyobx = py["OBX"].as_array().unwrap();
        if pyobx.iter().any(|x| x.get("error").is_some()) {
            continue; // python-hl7 crashed on an empty segment (docs/conformance.md "Peers")
        }
        let ours: Vec<String> = rows
            .iter()
            .map(|r| r["OBX-5"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ours.len(), pyobx.len(), "{file}: OBX count");
        let escape = py["MSH-2"].as_str().unwrap().chars().nth(2).unwrap_or('\\');
        for (i, (got, x)) in ours.iter().zip(pyobx).enumerate() {
            let raw = x["OBX-5 raw"].as_str().unwrap();
            let len = x["len"].as_u64().unwrap() as usize;
            if raw.contains(escape) {
                continue; // python-hl7's unescape is lossy (docs/conformance.md "Escapes", "Peers")
            }
            if raw.contains("...(+") {
                // the crosscheck shortened the value: compare its length and start
                assert_eq!(got.chars().count(), len, "{file} OBX[{}]", i + 1);
                let head = raw.split("...(+").next().unwrap();
                assert!(got.starts_with(head), "{file} OBX[{}]", i + 1);
            } else {
                assert_eq!(
                    got,
                    x["OBX-5 unescaped"].as_str().unwrap(),
                    "{file} OBX[{}]",
                    i + 1
                );
                assert_eq!(got.chars().count(), len, "{file} OBX[{}]", i + 1);
            }
            checked += 1;
        }
    }
    assert!(checked >= 100, "only {checked} OBX values checked");
}

#[test]
fn escape_torture_per_conformance_1_6() {
    let file = "synthetic__escape_sequences_torture_v25.hl7";
    let rows = select(file, "OBX-3.1,OBX-5");
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["OBX-3.1"].as_str().unwrap(), r["OBX-5"].as_str().unwrap()))
        .collect();
    let want = [
        // delimiter escapes decode to the declared characters
        ("DELIMS", "pipe|caret^amp&tilde~backslash\\end"),
        // formatting escapes are kept raw (not python-hl7's CRs and spaces)
        (
            "FMT",
            r"Line1\.br\Line2\.sp2\\.in+4\Indented\.ti-2\\.sk3\x\.ce\Centered\.fi\\.nf\\H\BOLD\N\normal",
        ),
        // hex: bytes (CR LF, 'A'); 00 E9 is not UTF-8, read as Latin-1; lower-case \x is not an escape
        ("HEX", "A\r\nBA\u{0}\u{e9}\\xff\\"),
        // charset switches kept raw, the hex inside decoded
        ("CHARSET", r"\C2D41\café\C2842\ and \M2442\kanji\M2842\"),
        // local \Z kept, unknown \Q\ kept, lone escape keeps the rest as written
        ("LOCAL", r"\Zvendor\ \Q\ lone\backslash and trailing \F"),
        // escape codes are case-sensitive
        ("CASE", r"\f\ \s\ \e\"),
        ("EMPTY", r"a\\b"),
    ];
    assert_eq!(got, want);
    // the segments shape keeps the bytes where decoding loses them, and only there
    let m = &run(&[file]).json()[0];
    let segs = m["segments"].as_array().unwrap();
    let obx: Vec<&Value> = segs.iter().filter(|s| s["id"] == "OBX").collect();
    assert!(obx[0].get("raw").is_none(), "delimiter escapes need no raw");
    assert_eq!(
        obx[2]["raw"],
        r"OBX|3|TX|HEX^Hex^L||A\X0D0A\B\X41\\X00e9\\xff\||||||F"
    );
    // PID-5 `O\T\Brien^Mary \S\ Ann`
    let pid = select1(file, "PID-5.1,PID-5.2,PID-11.1");
    assert_eq!(pid["PID-5.1"], "O&Brien");
    assert_eq!(pid["PID-5.2"], "Mary ^ Ann");
    assert_eq!(pid["PID-11.1"], "1 A|B St");
    // unknown / malformed escapes are warned about, per segment occurrence, the others not
    let o = run(&[file]);
    for n in [1, 2, 4] {
        assert!(
            !o.stderr.contains(&format!("OBX[{n}]")),
            "OBX[{n}]: {}",
            o.stderr
        );
    }
    assert_eq!(o.stderr.lines().count(), 4, "{}", o.stderr);
}

#[test]
fn escapes_in_other_files() {
    // HAPI FT: \H\ \N\ \.br\ kept, \S\ decoded, trailing space kept
    let r = select1("hapi__escape_obx_ft_H_N_S_v24.hl7", "OBX-5,OBX-11");
    let v = r["OBX-5"].as_str().unwrap();
    assert!(
        v.starts_with(r"Biochemistry (Whole Blood Sample) - Type Venous\.br\\.br\ Analysis Date"),
        "{v}"
    );
    assert!(v.contains(r"pH : \H\ 7.28\N\ (7.38-7.43)"), "{v}");
    assert!(v.contains("37 ^o C"), "{v}");
    assert_eq!(r["OBX-11"], "F ");
    // HAPI NTE table drawn with \F\ and \.br\: pipes decoded, line breaks kept
    let r = select1("hapi__escape_nte_br_F_v23.hl7", "NTE-3");
    let v = r["NTE-3"].as_str().unwrap();
    assert!(v.contains(r"\.br\  |  Risk   |"), "{v}");
    assert!(!v.contains(r"\F\"), "{v}");
    // 85 KB uuencoded OBX-5 with \X0D\\X0A\, \T\ and \E\
    let r = select1("derived__oru_r01_obx5_85kb_escaped_uuencode.hl7", "OBX-5");
    let v = r["OBX-5"].as_str().unwrap();
    assert!(
        v.starts_with("begin 644 WAV.DAT\r\nM)5!$1BTQ"),
        "{:?}",
        &v[..40]
    );
    assert!(!v.contains(r"\X0D\") && !v.contains(r"\T\") && !v.contains(r"\E\"));
    // 2.7 truncation character: in SELECTED
}

#[test]
fn charsets() {
    // the values: in SELECTED
    let o = run(&["synthetic__adt_a08_msh18_8859-1_latin1_bytes.hl7"]);
    assert_eq!(o.json()[0]["charset"], "ISO-8859-1");
    assert_eq!(o.stderr, "");
    assert_eq!(
        run(&["synthetic__adt_a01_msh18_unicode_utf8_multibyte.hl7"]).json()[0]["charset"],
        "UTF-8"
    );
}

#[test]
fn mislabelled_charsets_warn_decode_and_round_trip() {
    // (declared MSH-18, bytes, PID-5.1 decoded). The corpus's "ASCII but UTF-8" file has its
    // label in MSH-19, so these are built here. Policy (Message::resolve_charset): UTF-8 when
    // the bytes are valid UTF-8, else ISO-8859-1, with a warning naming MSH-18.
    let cases: [(&str, &[u8], &str); 4] = [
        // docs/conformance.md "Charsets": UTF-8 labelled ASCII
        ("ASCII", b"Gon\xc3\xa7alves", "Gonçalves"),
        // a 0xFF byte in an ASCII-declared message: every byte still has a character
        ("ASCII", b"Bad\xffByte", "Bad\u{ff}Byte"),
        // UTF-8 declared, Latin-1 bytes
        ("UNICODE UTF-8", b"Lef\xe8vre", "Lefèvre"),
        // a charset the tool does not support
        ("ISO IR87", b"Lef\xe8vre", "Lefèvre"),
    ];
    for (label, name, want) in cases {
        let msg = [
            format!("MSH|^~\\&|A||||1||ADT^A08|C1|P|2.5||||||{label}\rPID|1||||").as_bytes(),
            name,
            b"^X\r",
        ]
        .concat();
        let o = run_with(&["--select", "MSH-18,PID-5.1"], Some(msg.clone()));
        assert_eq!(o.code, 0, "{label}: {}", o.stderr);
        let row = &o.json()[0];
        assert_eq!(row["MSH-18"], label);
        assert_eq!(row["PID-5.1"], want, "{label}");
        assert!(
            o.stderr.contains("warning") && o.stderr.contains("MSH-18"),
            "{label}: {}",
            o.stderr
        );
        // whatever the charset, the bytes come back exactly
        let json = run_with(&[], Some(msg.clone()));
        let hl7 = run_with(&["--to", "hl7"], Some(json.stdout));
        assert_eq!(hl7.stdout, [&msg[..], b"\n"].concat(), "{label}");
    }
}

#[test]
fn path_notation_fixture_conformance_1_12() {
    // the paths with --select: in SELECTED; the same paths in the flat shape
    let p = &run(&["--shape", "paths", "synthetic__path_notation_fixture.hl7"]).json()[0];
    assert_eq!(p["PID-5.1"], "Doe");
    assert_eq!(p["PID-5[2].1"], "Smith");
    assert_eq!(p["PID-3[2].1"], "222");
    assert_eq!(p["PID-3.4.2"], "1.2.3");
    assert_eq!(p["OBX[2]-5"], "13.9");
    assert_eq!(p["MSH-9.2"], "R01");
    assert_eq!(p["MSH-9"], "ORU^R01^ORU_R01");
}

#[test]
fn repetitions_and_subcomponents() {
    // docs/conformance.md "Separators"; the values: in SELECTED
    let m = &run(&["pyhl7__rep_subcomp.hl7"]).json()[0];
    assert_eq!(
        m["segments"][1]["fields"][2],
        json!([[
            "Component1",
            ["Sub-Component1", "Sub-Component2"],
            "Component3"
        ]])
    );
    assert_eq!(m["segments"][1]["fields"][3], json!(["Repeat1", "Repeat2"]));
}

/// (column, value) of a `--select` row.
type Columns = &'static [(&'static str, &'static str)];

/// What `--select` finds in a one-message corpus file: (file, the paths selected, (column,
/// value)). Every path selected must parse; the columns checked are named as the output
/// names them.
#[rustfmt::skip]
const SELECTED: &[(&str, &str, Columns)] = &[
    // charsets: 8859/1 with raw Latin-1 bytes (invalid UTF-8)
    ("synthetic__adt_a08_msh18_8859-1_latin1_bytes.hl7", "PID-5.1,PID-5.2,PID-5.3,PID-11.1", &[
        ("PID-5.1", "Lefèvre"), ("PID-5.2", "Hélène"), ("PID-5.3", "Zoé"), ("PID-11.1", "12 rue de la Gaîté"),
    ]),
    // UNICODE UTF-8: CJK, Ø, a 4-byte emoji
    ("synthetic__adt_a01_msh18_unicode_utf8_multibyte.hl7", "MSH-4,PID-5.1,PID-5.2,PID-5(2).1,PID-11.3,NK1-2.1,NK1-2.2,NK1-4.3,NK1-6", &[
        ("MSH-4", "東京病院"), ("PID-5.1", "山田"), ("PID-5.2", "太郎"), ("PID-5[2].1", "ヤマダ"),
        ("PID-11.3", "東京都"), ("NK1-2.1", "Ødegård"), ("NK1-2.2", "Åse"), ("NK1-4.3", "Köln"),
        ("NK1-6", "+49-221-555\u{1F642}"),
    ]),
    // UTF-8 with no MSH-18
    ("synthetic__msh18_says_ascii_but_has_utf8.hl7", "PID-5.1,PID-5.2", &[
        ("PID-5.1", "Gonçalves"), ("PID-5.2", "José"),
    ]),
    ("elixirhl7__wikipedia_adt_a01_utf8_apostrophe.hl7", "PID-11[2].1", &[
        ("PID-11[2].1", "NICKELL\u{2019}S PICKLES"),
    ]),
    // BOM + CRLF
    ("synthetic__utf8_bom_crlf_endings.hl7", "MSH-1,MSH-10,PID-5.2,PV1-2", &[
        ("MSH-1", "|"), ("MSH-10", "BOM-1"), ("PID-5.2", "Anna"), ("PV1-2", "O"),
    ]),
    // 2.7 truncation character: `#` is data; \P\ is the truncation character
    ("synthetic__v27_truncation_char_and_escapes.hl7", "PID-5.1,OBR-4.2,OBX[1]-5,OBX[2]-5", &[
        ("PID-5.1", "Truncat#"), ("OBR-4.2", "Test with hash # inside"),
        ("OBX[1]-5", "This comment was cut at the conformance length of the fi#"),
        ("OBX[2]-5", "Room #12 and ticket #A-9"),
    ]),
    // path notation (conformance 1.12); a path naming a structure gives its HL7 text
    ("synthetic__path_notation_fixture.hl7", "PID-5.1,PID-5.2,PID-3[2].1,PID-3(2).1,PID-3.4.2,OBX[2]-5,MSH-9.2,PID.5.1,PID.5.2,PID-5", &[
        ("PID-5.1", "Doe"), ("PID-5.2", "Jane"), ("PID-3[2].1", "222"), ("PID-3.4.2", "1.2.3"),
        ("OBX[2]-5", "13.9"), ("MSH-9.2", "R01"), ("PID-5", "Doe^Jane^Q~Smith^Jane^^^^^M"),
    ]),
    // OBX[3]-5 `A\S\B` is decoded
    ("synthetic__path_notation_fixture.hl7", "OBX[3]-5", &[("OBX[3]-5", "A^B")]),
    // repetitions and subcomponents (docs/conformance.md "Separators")
    ("pyhl7__rep_subcomp.hl7", "PID-3,PID-3.2.2,PID-4[1],PID-4[2],PID-4[3]", &[
        ("PID-3", "Component1^Sub-Component1&Sub-Component2^Component3"),
        ("PID-3.2.2", "Sub-Component2"), ("PID-4[1]", "Repeat1"), ("PID-4[2]", "Repeat2"), ("PID-4[3]", ""),
    ]),
    // custom separators
    ("synthetic__nonstandard_field_sep_star.hl7", "MSH-1,MSH-9.2,PID-5.1,PID-3[2].1", &[
        ("MSH-1", "*"), ("MSH-9.2", "A01"), ("PID-5.1", "STAR"), ("PID-3[2].1", "ID2"),
    ]),
    // MSH!@%$?: field !, component @, repetition %, escape $, subcomponent ?
    ("synthetic__custom_encoding_chars_all_changed.hl7", "MSH-2,MSH-9.2,PID-3[2].1,PID-3[2].5,PID-5.1,PID-5.2,PID-5.3.1,PID-5.3.2,PID-11.3", &[
        ("MSH-2", "@%$?"), ("MSH-9.2", "A01"), ("PID-3[2].1", "B2"), ("PID-3[2].5", "PI"),
        ("PID-5.1", "DOE"), ("PID-5.2", "JOHN"), ("PID-5.3.1", "Q"), ("PID-5.3.2", "S"), ("PID-11.3", "TOWN"),
    ]),
    // VistA style: field ^, component ~, repetition |
    ("hapi__segmentfinder_a24_caret_field_sep.hl7", "MSH-1,MSH-2,MSH-9.1,MSH-9.2,MSH-10,PID-5.1,PID-5.2,PID-3.4.3,PID-3.6.2,PID[2]-1,PID[2]-3.1", &[
        ("MSH-1", "^"), ("MSH-2", "~|\\&"), ("MSH-9.1", "ADT"), ("MSH-9.2", "A24"), ("MSH-10", "2003582144"),
        ("PID-5.1", "SMITH"), ("PID-5.2", "JOHN"), ("PID-3.4.3", "0363"), ("PID-3.6.2", "200M"),
        ("PID[2]-1", "2"), ("PID[2]-3.1", "22222"),
    ]),
    // `*` as the component separator
    ("elixirhl7__wikipedia_alt_component_sep_star.hl7", "MSH-9.2,PID-5.1,PID-5.2,OBX[1]-2.2.2,OBX[2]-6.2", &[
        ("MSH-9.2", "A01"), ("PID-5.1", "KLEINSAMPLE"), ("PID-5.2", "BARRY"), ("OBX[1]-2.2.2", "M"),
        ("OBX[2]-6.2", "Kilogram"),
    ]),
];

#[test]
fn selected_values_per_file() {
    for (file, paths, want) in SELECTED {
        let r = select1(file, paths);
        for (column, value) in *want {
            assert_eq!(r[*column], *value, "{file}: {column}");
        }
    }
}

#[test]
fn null_is_distinct_from_empty() {
    let f = "synthetic__null_vs_empty_trailing_delims.hl7";
    let r = select1(
        f,
        "PID-5.1,PID-5.2,PID-5.3,PID-2,PID-4,PID-8,PID-3[2],PID-3[3].1,PID-99,ZZZ-1",
    );
    assert_eq!(r["PID-5.1"], Value::Null);
    assert_eq!(r["PID-5.2"], "Anna");
    assert_eq!(r["PID-5.3"], Value::Null);
    assert_eq!(r["PID-2"], Value::Null);
    assert_eq!(r["PID-8"], Value::Null);
    assert_eq!(r["PID-4"], "");
    assert_eq!(r["PID-3[2]"], "");
    assert_eq!(r["PID-3[3].1"], "N3");
    assert_eq!(r["PID-99"], "", "absent is empty");
    assert_eq!(r["ZZZ-1"], "", "a missing segment is empty");
    // in the segments shape: null and "" and empty repetitions in place
    let m = &run(&[f]).json()[0];
    let pid = &m["segments"][2]["fields"];
    assert_eq!(pid[1], Value::Null);
    assert_eq!(
        pid[2],
        json!([
            ["N1", "", "", "FAC", "MR"],
            "",
            ["N3", "", "", "FAC", "PI"],
            ""
        ])
    );
    assert_eq!(pid[3], "");
    assert_eq!(pid[4], json!([[null, "Anna", null, "", "", ""]]));
    // a component-level "" inside IN1 stays a null, not text
    let r = select1("pyhl7__adt_a01_v23_quoted_nulls_in1_in2.hl7", "PID-5.1");
    assert!(r["PID-5.1"].is_string());
    let p = &run(&[
        "--shape",
        "paths",
        "pyhl7__adt_a01_v23_quoted_nulls_in1_in2.hl7",
    ])
    .json()[0];
    let nulls = p
        .as_object()
        .unwrap()
        .values()
        .filter(|v| v.is_null())
        .count();
    assert!(nulls >= 10, "{nulls} nulls");
    assert!(
        !p.as_object().unwrap().values().any(|v| v == "\"\""),
        "\"\" must not be text"
    );
}

#[test]
fn base64_pdf_fields() {
    use base64::Engine;
    let r = select1(
        "synthetic__mdm_t02_v251_obx5_ed_base64_pdf.hl7",
        "OBX-2,OBX-5.2,OBX-5.3,OBX-5.4,OBX-5.5",
    );
    assert_eq!(r["OBX-2"], "ED");
    assert_eq!(r["OBX-5.2"], "application");
    assert_eq!(r["OBX-5.3"], "pdf");
    assert_eq!(r["OBX-5.4"], "Base64");
    let data = r["OBX-5.5"].as_str().unwrap();
    assert_eq!(data.len(), 973_824);
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap();
    assert_eq!(pdf.len(), 730_366);
    assert!(pdf.starts_with(b"%PDF-"));
    // the same frame over MLLP
    let r = select1("mllp__one_huge_frame_974kb_mdm.bin", "OBX-5.5");
    assert_eq!(r["OBX-5.5"].as_str().unwrap(), data);
    // split over 15 OBX: they concatenate to the same data
    let rows = select("synthetic__mdm_t02_base64_split_over_obx.hl7", "OBX-5.5");
    assert_eq!(rows.len(), 15);
    let joined: String = rows
        .iter()
        .map(|r| r["OBX-5.5"].as_str().unwrap())
        .collect();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(joined)
            .unwrap(),
        pdf
    );
}

#[test]
fn repeated_segments_keep_their_order() {
    let rows = select(
        "synthetic__oru_r01_pcd01_monitor_vent_many_obx.hl7",
        "OBX-1,OBX-5",
    );
    assert_eq!(rows.len(), 63);
    assert!(rows.iter().any(|r| r["OBX-5"] == "-99.9"));
    let rows = select("elixirhl7__nist_vxu_v04_immunization.hl7", "OBX-1");
    assert_eq!(rows.len(), 14);
    let ones = rows.iter().filter(|r| r["OBX-1"] == "1").count();
    assert!(ones >= 2, "OBX-1 restarts inside each group");
    let rows = select(
        "capsule_elisa800_oru_r01.hl7",
        "MSH-10,OBR-10.2,OBX-3,OBX-5",
    );
    assert_eq!(rows.len(), 195);
    assert!(
        rows.iter()
            .all(|r| r["MSH-10"] == "48141146362990a1" && r["OBR-10.2"] == "Elisa 800")
    );
    let r = select1(
        "synthetic__adt_a40_merge_repeated_groups_zsegs.hl7",
        "PID[2]-3.1,MRG[2]-1.1,ZPI-1,ZZZ-1",
    );
    assert!(r["PID[2]-3.1"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(r["MRG[2]-1.1"].as_str().is_some_and(|s| !s.is_empty()));
    let m = &run(&["synthetic__adt_a40_merge_repeated_groups_zsegs.hl7"]).json()[0];
    let ids: Vec<&str> = m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"ZPI") && ids.contains(&"ZZZ"), "{ids:?}");
}

// ---------------------------------------------------------------------------------------------
// 3. round trips

#[test]
fn ndjson_back_to_hl7_equals_direct_hl7_for_every_file() {
    for file in corpus_inputs() {
        let direct = run(&["--to", "hl7", &file]);
        let ndjson = run(&[&file]);
        let back = run_with(&["--to", "hl7"], Some(ndjson.stdout.clone()));
        assert_eq!(
            back.code, 0,
            "{file}: our own NDJSON must read back: {}",
            back.stderr
        );
        assert_eq!(back.stderr, "", "{file}");
        assert_eq!(
            back.stdout, direct.stdout,
            "{file}: NDJSON -> HL7 differs from HL7 -> HL7"
        );
        let messages = direct.stdout.windows(2).filter(|w| w == b"\r\n").count();
        assert_eq!(messages, ndjson.json().len(), "{file}");
        assert_eq!(direct.code, ndjson.code, "{file}");
        // and NDJSON -> NDJSON changes nothing
        let again = run_with(&[], Some(ndjson.stdout.clone()));
        assert_eq!(again.stdout, ndjson.stdout, "{file}: NDJSON -> NDJSON");
    }
}

#[test]
fn hl7_output_is_the_input_bytes() {
    let mut exact = 0;
    for file in corpus_inputs() {
        if file.ends_with(".bin") {
            continue;
        }
        let raw = read_corpus(&file);
        let o = run(&["--to", "hl7", &file]);
        if o.code != 0 {
            continue;
        }
        // every parseable file: its normalized bytes
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&normalized(&raw)),
            "{file}"
        );
        assert_eq!(o.stdout, normalized(&raw), "{file}");
        // single, well-formed, CR-terminated messages: the file itself plus a newline
        let well_formed = !raw.contains(&b'\n')
            && !raw.starts_with(b"\xEF\xBB\xBF")
            && !raw.windows(2).any(|w| w == b"\r\r")
            && raw.ends_with(b"\r")
            && raw.starts_with(b"MSH")
            && run(&[&file]).json().len() == 1;
        if well_formed {
            assert_eq!(o.stdout, [&raw[..], b"\n"].concat(), "{file}");
            exact += 1;
        }
    }
    assert!(exact >= 25, "only {exact} byte-exact files");
}

#[test]
fn paths_shape_is_one_json_object_per_message() {
    for file in corpus_inputs() {
        let segs = run(&[&file]);
        let paths = run(&["--shape", "paths", &file]);
        assert_eq!(paths.code, segs.code, "{file}");
        let p = paths.json();
        let s = segs.json();
        assert_eq!(p.len(), s.len(), "{file}");
        for (p, s) in p.iter().zip(&s) {
            let obj = p
                .as_object()
                .unwrap_or_else(|| panic!("{file}: not an object"));
            assert!(obj.values().all(|v| v.is_string() || v.is_null()), "{file}");
            assert_eq!(obj["MSH-1"], s["segments"][0]["fields"][0], "{file}");
            assert_eq!(obj["MSH-10"], s["control_id"], "{file}");
        }
        // NDJSON in, paths out: the same
        let again = run_with(&["--shape", "paths"], Some(segs.stdout.clone()));
        assert_eq!(again.stdout, paths.stdout, "{file}");
    }
}

#[test]
fn paths_shape_cannot_be_turned_back_into_hl7() {
    let p = run(&["--shape", "paths", "pyhl7__rep_subcomp.hl7"]);
    let o = run_with(&["--to", "hl7"], Some(p.stdout));
    assert_eq!(o.code, 1);
    assert!(o.stdout.is_empty());
    assert!(o.stderr.contains("paths"), "{}", o.stderr);
}

#[test]
fn edited_ndjson_wins_over_raw() {
    // change a field in the NDJSON of a segment that carries "raw": the edit comes out
    let file = "synthetic__escape_sequences_torture_v25.hl7";
    let mut m = run(&[file]).json().remove(0);
    m["segments"][5]["fields"][4] = json!("edited | value");
    let o = run_with(&["--to", "hl7"], Some(format!("{m}\n").into_bytes()));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("\rOBX|3|TX|HEX^Hex^L||edited \\F\\ value||||||F\r"),
        "{out:?}"
    );
    // the others still come back byte for byte
    assert!(out.contains(r"\C2D41\caf\XE9\\C2842\"), "{out:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. --select

#[test]
fn select_rows_per_obx_with_the_obr_before_each() {
    let o = run(&[
        "--select",
        "MSH-10,OBR-4.1,OBX-3.1,OBX-5",
        "--to",
        "csv",
        "exhl7v2__oru_r01_multi_lf.hl7",
    ]);
    assert_eq!(o.code, 0);
    let text = o.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "MSH-10,OBR-4.1,OBX-3.1,OBX-5");
    let want = [
        ("CBC", "WBC", "7.5"),
        ("CBC", "RBC", "4.8"),
        ("CBC", "HGB", "14.2"),
        ("CBC", "HCT", "42.1"),
        ("CBC", "PLT", "245"),
        ("BMP", "GLU", "95"),
        ("BMP", "BUN", "15"),
        ("BMP", "CRE", "1.0"),
        ("BMP", "NA", "140"),
        ("BMP", "K", "4.2"),
        ("BMP", "CL", "102"),
        ("BMP", "CO2", "24"),
        ("LIP", "CHOL", "210"),
        ("LIP", "TRIG", "150"),
        ("LIP", "HDL", "55"),
        ("LIP", "LDL", "125"),
    ];
    assert_eq!(lines.len(), 1 + want.len());
    for (line, (obr, id, v)) in lines[1..].iter().zip(want) {
        assert_eq!(*line, format!("MSG039,{obr},{id},{v}"));
    }
    // the same rows as NDJSON
    let rows = select("exhl7v2__oru_r01_multi_lf.hl7", "OBR-4.1,OBX-3.1");
    assert_eq!(rows.len(), 16);
    assert_eq!(rows[15]["OBR-4.1"], "LIP");
    // an explicit occurrence is not per-OBX: one row per message
    let rows = select("exhl7v2__oru_r01_multi_lf.hl7", "OBX[2]-5,OBR[3]-4.1");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["OBX[2]-5"], "4.8");
    assert_eq!(rows[0]["OBR[3]-4.1"], "LIP");
    // one row per message across messages and files
    let o = run(&[
        "--select",
        "MSH-10",
        "--to",
        "csv",
        "pyhl7__rep_subcomp.hl7",
        "mllp__two_frames_back_to_back.bin",
    ]);
    assert_eq!(o.text(), "MSH-10\nCNTRL-3456\nMLLP-1\nMLLP-2\n");
}

#[test]
fn select_csv_quoting() {
    for (paths, file, want) in [
        (
            "OBX-11,MSH-10",
            "hapi__escape_obx_ft_H_N_S_v24.hl7",
            "OBX-11,MSH-10\n\"F \",72313573\n",
        ),
        (
            "DG1-3.2,PID-5.2",
            "elixirhl7__wikipedia_adt_a01_utf8_apostrophe.hl7",
            "DG1-3.2,PID-5.2\n\"CHEST PAIN, UNSPECIFIED\",BARRY\n",
        ),
    ] {
        assert_eq!(
            run(&["--select", paths, "--to", "csv", file]).text(),
            want,
            "{file}"
        );
    }
}

#[test]
fn select_table() {
    let o = run(&[
        "--select",
        "MSH-10,PID-5.1",
        "--to",
        "table",
        "pyhl7__oru_r01_v24_glucose.hl7",
    ]);
    assert_eq!(o.code, 0);
    let t = o.text();
    assert!(
        t.contains("MSH-10")
            && t.contains("PID-5.1")
            && t.contains("CNTRL-3456")
            && t.contains("EVERYWOMAN"),
        "{t}"
    );
    let o = run(&["--to", "table", "pyhl7__oru_r01_v24_glucose.hl7"]);
    let t = o.text();
    assert!(
        t.contains("Message 1: ORU^R01 CNTRL-3456 (version 2.4)"),
        "{t}"
    );
    assert!(
        t.contains("Patient Name") && t.contains("EVERYWOMAN"),
        "{t}"
    );
}

#[test]
fn bad_path_is_a_usage_error_with_the_column() {
    let o = run(&["--select", "PID-x", "pyhl7__rep_subcomp.hl7"]);
    assert_eq!(o.code, 2);
    assert!(o.stdout.is_empty());
    assert!(
        o.stderr.contains("PID-x") && o.stderr.contains("column 5"),
        "{}",
        o.stderr
    );
    let o = run(&["--select", "MSH-10,PID-5.x", "pyhl7__rep_subcomp.hl7"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("PID-5.x") && o.stderr.contains("column 7"),
        "{}",
        o.stderr
    );
    // a usage error comes before any I/O: the missing file is not even opened
    let o = run(&["--select", "PID-x", "no_such_file.hl7"]);
    assert_eq!(o.code, 2);
    assert!(!o.stderr.contains("no_such_file"), "{}", o.stderr);
}

#[test]
fn ambiguous_dot_path_is_refused_with_both_readings() {
    let o = run(&[
        "--select",
        "PID.1.5.1",
        "synthetic__path_notation_fixture.hl7",
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stdout.is_empty());
    assert!(o.stderr.contains("PID.1.5.1"), "{}", o.stderr);
    assert!(o.stderr.contains("PID[1]-5.1"), "{}", o.stderr);
    assert!(o.stderr.contains("ambiguous"), "{}", o.stderr);
    // the user states the style: occurrence.field.component
    let o = run(&[
        "--dot-style",
        "occurrence",
        "--select",
        "PID.1.5.1",
        "synthetic__path_notation_fixture.hl7",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json(), [json!({"PID[1]-5.1": "Doe"})]);
    // two-number dot paths need no style
    let r = select1("synthetic__path_notation_fixture.hl7", "PID.5.2");
    assert_eq!(r["PID-5.2"], "Jane");
}

#[test]
fn ambiguous_dot_path_shows_the_python_hl7_reading() {
    let o = run(&[
        "--select",
        "PID.1.5.1",
        "synthetic__path_notation_fixture.hl7",
    ]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("PID-1[5].1") || o.stderr.contains("PID-1(5).1"),
        "{}",
        o.stderr
    );
}

#[test]
fn empty_select_is_a_usage_error() {
    let o = run(&["--select", "", "pyhl7__rep_subcomp.hl7"]);
    assert_eq!(o.code, 2);
    assert!(o.stdout.is_empty());
    assert!(o.stderr.contains("at least one path"), "{}", o.stderr);
}

#[test]
fn select_does_not_go_with_hl7_output_or_paths_shape() {
    let o = run(&["--select", "PID-5", "--to", "hl7", "pyhl7__rep_subcomp.hl7"]);
    assert_eq!(o.code, 2);
    assert!(o.stdout.is_empty());
    assert!(o.stderr.contains("--select"), "{}", o.stderr);
    let o = run(&[
        "--select",
        "PID-5",
        "--shape",
        "paths",
        "pyhl7__rep_subcomp.hl7",
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stdout.is_empty());
    let o = run(&["--to", "xml", "pyhl7__rep_subcomp.hl7"]);
    assert_eq!(o.code, 2);
}

// ---------------------------------------------------------------------------------------------
// 5. streams

#[test]
fn strict_stops_at_the_first_invalid_message() {
    let all = run(&["hapi__oml_o21_v251.hl7", "pyhl7__rep_subcomp.hl7"]);
    assert_eq!(all.code, 1);
    assert_eq!(all.json().len(), 12);
    assert_eq!(all.errors().len(), 2);
    let strict = run(&[
        "--strict",
        "hapi__oml_o21_v251.hl7",
        "pyhl7__rep_subcomp.hl7",
    ]);
    assert_eq!(strict.code, 1);
    assert_eq!(
        strict.json().len(),
        10,
        "the 11th message is the first invalid one"
    );
    assert_eq!(strict.errors().len(), 1);
    assert!(strict.stderr.contains("message 11"), "{}", strict.stderr);
    // a chunk that is not a message stops it too
    let input = [&b"PID|1||X\r"[..], &read_corpus("pyhl7__rep_subcomp.hl7")].concat();
    let lax = run_with(&[], Some(input.clone()));
    assert_eq!((lax.code, lax.json().len()), (1, 1));
    let strict = run_with(&["--strict"], Some(input));
    assert_eq!((strict.code, strict.json().len()), (1, 0));
    // valid input is unaffected
    let o = run(&["--strict", "mllp__keepalive_500_frames.bin"]);
    assert_eq!((o.code, o.json().len()), (0, 500));
}

#[test]
fn stdin_and_dash() {
    let file = "exhl7v2__oru_r01_multi_lf.hl7";
    let direct = run(&[file]);
    let stdin = run_with(&[], Some(read_corpus(file)));
    let dash = run_with(&["-"], Some(read_corpus(file)));
    assert_eq!(direct.code, 0);
    assert_eq!(stdin.stdout, direct.stdout);
    assert_eq!(dash.stdout, direct.stdout);
    // `-` among files, in order
    let mixed = run_with(
        &[
            "pyhl7__rep_subcomp.hl7",
            "-",
            "mllp__two_frames_back_to_back.bin",
        ],
        Some(read_corpus(file)),
    );
    let ids: Vec<Value> = mixed
        .json()
        .iter()
        .map(|m| m["control_id"].clone())
        .collect();
    assert_eq!(
        ids,
        [
            json!("CNTRL-3456"),
            json!("MSG039"),
            json!("MLLP-1"),
            json!("MLLP-2")
        ]
    );
    // MLLP on stdin is detected too
    let o = run_with(
        &["--select", "MSH-10"],
        Some(read_corpus("mllp__keepalive_500_frames.bin")),
    );
    assert_eq!(o.json().len(), 500);
    // empty input: nothing, success
    let o = run_with(&[], Some(Vec::new()));
    assert_eq!((o.code, o.stdout.len(), o.stderr.as_str()), (0, 0, ""));
}

#[test]
fn missing_file_is_named_and_the_rest_still_read() {
    let o = run(&["no_such_file.hl7", "pyhl7__rep_subcomp.hl7"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.json().len(), 1);
    assert!(
        o.stderr.starts_with("hl7 parse: no_such_file.hl7: "),
        "{}",
        o.stderr
    );
    let o = run(&["no_such_file.hl7"]);
    assert_eq!(o.code, 1);
    assert!(o.stdout.is_empty());
    assert!(o.stderr.contains("no_such_file.hl7"), "{}", o.stderr);
}

#[test]
fn closed_stdout_exits_0_silently() {
    // The output is far larger than a pipe buffer, so the process is still writing when its
    // stdout closes.
    let dir = TempDir::new("epipe");
    let one = read_corpus("synthetic__oru_r01_pcd01_monitor_vent_many_obx.hl7");
    let big = dir.write("big.hl7", one.repeat((20usize << 20).div_ceil(one.len())));
    for extra in [
        &[][..],
        &["--to", "hl7"],
        &["--select", "MSH-10,OBX-5", "--to", "csv"],
    ] {
        let args = [&["parse"], extra, &[big.as_str()]].concat();
        let (first, status, stderr) = close_stdout_after_a_line(&args, Feed::Nothing);
        assert!(first.len() > 10, "{extra:?}: {first:?}");
        assert_eq!(status.code(), Some(0), "{extra:?}: {stderr}");
        assert_eq!(stderr, "", "{extra:?}");
    }
}

#[test]
fn multi_call_binary_as_hl7_parse() {
    let dir = TempDir::new("multicall");
    let name = if cfg!(windows) {
        "hl7-parse.exe"
    } else {
        "hl7-parse"
    };
    let exe = dir.join(name);
    // a symlink, as users install it; a copy would race with processes other tests spawn
    // meanwhile (a fork holding the copy's write descriptor makes exec fail with ETXTBSY)
    #[cfg(unix)]
    std::os::unix::fs::symlink(bin(), &exe).unwrap();
    #[cfg(not(unix))]
    std::fs::copy(bin(), &exe).unwrap();
    let o = std::process::Command::new(&exe)
        .current_dir(corpus())
        .args([
            "--select",
            "MSH-10,PID-5.1",
            "pyhl7__oru_r01_v24_glucose.hl7",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        o.stdout,
        b"{\"MSH-10\":\"CNTRL-3456\",\"PID-5.1\":\"EVERYWOMAN\"}\n"
    );
    let o = std::process::Command::new(&exe)
        .current_dir(corpus())
        .arg("pyhl7__rep_subcomp.hl7")
        .output()
        .unwrap();
    assert_eq!(o.stdout, run(&["pyhl7__rep_subcomp.hl7"]).stdout);
}

#[test]
fn long_csv_without_select() {
    let o = run(&["--to", "csv", "pyhl7__rep_subcomp.hl7"]);
    assert_eq!(o.code, 0);
    let t = o.text();
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines[0], "message,control_id,path,value");
    assert!(
        lines.contains(&"1,CNTRL-3456,PID-3.2.2,Sub-Component2"),
        "{t}"
    );
    assert!(lines.contains(&"1,CNTRL-3456,MSH-9,ORU^R01"), "{t}");
    assert!(lines.contains(&"1,CNTRL-3456,PID-4[2],Repeat2"), "{t}");
    // rows follow the message: MSH-1, MSH-2, ... MSH-10, then PID
    let at = |path: &str| {
        lines
            .iter()
            .position(|l| l.split(',').nth(2) == Some(path))
            .unwrap_or_else(|| panic!("no row for {path}: {t}"))
    };
    assert_eq!(at("MSH-1"), 1);
    assert!(
        at("MSH-2") < at("MSH-9") && at("MSH-9") < at("MSH-10"),
        "{t}"
    );
    assert!(
        at("MSH-12") < at("PID-1") && at("PID-3") < at("PID-4"),
        "{t}"
    );
    // one block per message, numbered
    let o = run(&["--to", "csv", "mllp__two_frames_back_to_back.bin"]);
    let t = o.text();
    assert!(t.contains("\n1,MLLP-1,MSH-10,MLLP-1\n"), "{t}");
    assert!(t.contains("\n2,MLLP-2,PID-5.1,Two\n"), "{t}");
    assert_eq!(t.matches("message,control_id,path,value").count(), 1, "{t}");
}

#[test]
fn a_live_pipe_moves_message_by_message() {
    // The writer sends one message and then waits: the row must come out while stdin is
    // still open (raw HL7 has no end-of-message mark; a pause of the writer is the mark).
    let mut child = spawn(&["parse", "--select", "MSH-10", "--to", "csv"]);
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|LIVE-1|P|2.5\rPID|1\r\n")
        .unwrap();
    stdin.flush().unwrap();
    let rx = lines_of(child.stdout.take().unwrap());
    assert_eq!(rx.recv_timeout(DEADLINE).unwrap(), "MSH-10\n");
    assert_eq!(
        rx.recv_timeout(DEADLINE).unwrap(),
        "LIVE-1\n",
        "the row came out with stdin still open"
    );
    stdin
        .write_all(b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|LIVE-2|P|2.5\rPID|1\r\n")
        .unwrap();
    drop(stdin);
    assert_eq!(rx.recv_timeout(DEADLINE).unwrap(), "LIVE-2\n");
    assert!(child.wait().unwrap().success());
}
