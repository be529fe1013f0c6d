//! Black-box tests of `hl7 flatten` (the real binary, through assert_cmd): the issue's
//! acceptance checks against the real elisa 800 capture with samples/elisa.toml, the simulator's
//! vent traffic, rows without a map, every map feature, and map errors.

use serde_json::{Map, Value};

use crate::util::{Out, TempDir, corpus, corpus_path, hl7_python, root, run, sample, simulate};

/// The real capture, as stored (segments separated by `\n`).
fn capture() -> String {
    corpus_path("capsule_elisa800_oru_r01.hl7")
}

fn elisa() -> String {
    sample("elisa.toml")
}

fn flatten(args: &[&str], stdin: &[u8]) -> Out {
    run(&[&["flatten"], args].concat(), stdin)
}

/// A map written to a scratch directory (kept while the directory lives): its path.
fn write_map(name: &str, toml: &str) -> (TempDir, String) {
    let dir = TempDir::new("map");
    let path = dir.write(name, toml);
    (dir, path)
}

fn row_of<'a>(rows: &'a [Map<String, Value>], id: &str) -> &'a Map<String, Value> {
    rows.iter()
        .find(|r| r["variable_id"] == id)
        .unwrap_or_else(|| panic!("no row for {id}"))
}

// ---------------------------------------------------------------------------------------------
// the issue's acceptance checks, on the real capture

#[test]
fn capture_status_word_801_unpacks_into_named_bits() {
    let out = flatten(&["--map", &elisa(), &capture()], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = out.rows();
    let r = row_of(&rows, "801");
    assert_eq!(r["value"], 46);
    for bit in [
        "gas_supplies_ok",
        "ac_mains_power_ok",
        "battery_charge_ok",
        "vent_circuit_leak_ok",
    ] {
        assert_eq!(r[bit], true, "{bit}");
    }
    for bit in ["manual_circuit_leak_ok", "flow_controls_ok"] {
        assert_eq!(r[bit], false, "{bit}");
    }
    // the bits of another word are not on 801's row
    assert!(!r.contains_key("vent_delivery_ok"));
    // 802 = 18 = bits 1 and 4
    let r = row_of(&rows, "802");
    assert_eq!(r["vent_delivery_ok"], true);
    assert_eq!(r["circuit_o2_cell_checked"], true);
    // wide: the same bits in the one row
    let wide = flatten(&["--map", &elisa(), "--wide", &capture()], b"");
    assert_eq!(wide.code, 0, "{}", wide.stderr);
    let w = &wide.rows()[0];
    assert_eq!(w["generic_device_status"], 46);
    assert_eq!(w["gas_supplies_ok"], true);
    assert_eq!(w["flow_controls_ok"], false);
    assert_eq!(w["manual_circuit_leak_ok"], false);
    // 803 = 121 = 0b1111001: bits 0, 3, 4, 5, 6
    assert_eq!(w["airway_pressure_sensor_ok"], true);
    assert_eq!(w["barometric_pressure_ok"], false);
    assert_eq!(w["safety_valve_ok"], false);
    assert_eq!(w["air_flow_sensor_ok"], true);
}

#[test]
fn capture_ventilation_mode_keeps_code_and_meaning() {
    let out = flatten(&["--map", &elisa(), &capture()], b"");
    let rows = out.rows();
    let r = row_of(&rows, "584");
    assert_eq!(r["text"], "kk");
    assert_eq!(r["meaning"], "Volume adaptive BiLevel");
    assert_eq!(row_of(&rows, "538")["meaning"], "Norwegian");
    let wide = flatten(&["--map", &elisa(), "--wide", &capture()], b"");
    let w = &wide.rows()[0];
    assert_eq!(w["ventilation_mode"], "kk");
    assert_eq!(w["ventilation_mode_meaning"], "Volume adaptive BiLevel");
}

#[test]
fn capture_rows_are_tagged_with_the_serial_from_observation_1913() {
    let out = flatten(&["--map", &elisa(), &capture()], b"");
    let rows = out.rows();
    assert_eq!(rows.len(), 195, "every OBX, unmapped ones kept");
    for r in &rows {
        assert_eq!(r["device_serial"], "000000008204526");
        assert_eq!(r["sending_app"], "DATACAPTOR");
        assert_eq!(r["device_model"], "Elisa 800");
        assert_eq!(
            r["device_guid"], "66382EAA-6ED3-4736-8F27-EF40944540F9",
            "braces removed by the regex"
        );
    }
}

#[test]
fn capture_local_time_in_europe_oslo_becomes_utc() {
    let out = flatten(&["--map", &elisa(), &capture()], b"");
    let rows = out.rows();
    assert!(rows.iter().all(|r| r["ts"] == "2024-08-14T09:46:36Z"));
    // --tz overrides the map
    let utc = flatten(&["--map", &elisa(), "--tz", "UTC", &capture()], b"");
    assert!(utc.rows().iter().all(|r| r["ts"] == "2024-08-14T11:46:36Z"));
    // and works without a map
    let plain = flatten(&["--tz", "Europe/Oslo", &capture()], b"");
    assert_eq!(plain.rows()[0]["ts"], "2024-08-14T09:46:36Z");
    // an unknown zone is a usage error
    let bad = flatten(&["--tz", "Europe/Atlantis", &capture()], b"");
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("Europe/Atlantis"), "{}", bad.stderr);
}

#[test]
fn capture_settings_are_told_from_measurements_by_obx_13() {
    let out = flatten(&["--map", &elisa(), &capture()], b"");
    let rows = out.rows();
    assert_eq!(row_of(&rows, "1320")["setting"], true);
    assert_eq!(row_of(&rows, "2104")["setting"], true);
    assert_eq!(row_of(&rows, "1414")["setting"], false);
    assert_eq!(rows.iter().filter(|r| r["setting"] == true).count(), 22);
}

#[test]
fn capture_units_alarm_limits_and_types() {
    let out = flatten(&["--map", &elisa(), &capture()], b"");
    let rows = out.rows();
    let r = row_of(&rows, "1414");
    assert_eq!(r["variable"], "peak_airway_pressure");
    assert_eq!(r["label"], "Peak Airway Pressure");
    assert_eq!(r["value"], 25);
    assert_eq!(r["unit"], "cmH2O");
    assert_eq!(r["unit_code"], "39");
    let l = row_of(&rows, "1414-UpperAlarmLimit");
    assert_eq!(l["variable"], "peak_airway_pressure_upper_alarm_limit");
    assert_eq!(l["value"], 38);
    assert_eq!(row_of(&rows, "2326")["value"], 3.6);
    assert_eq!(
        row_of(&rows, "2879")["text"],
        "0213",
        "a revision stays text, leading zero kept"
    );
    assert_eq!(row_of(&rows, "2117")["meaning"], "Alarm OFF");
    // unmapped observations are kept with their code
    assert_eq!(row_of(&rows, "754")["variable"], "obx_754");
    assert_eq!(row_of(&rows, "Tag")["text"], "elisa 800");
    // wide: the limits sit next to their variable
    let wide = flatten(
        &["--map", &elisa(), "--wide", "--to", "csv", &capture()],
        b"",
    );
    assert_eq!(wide.code, 0, "{}", wide.stderr);
    let header: Vec<&str> = wide.text().lines().next().unwrap().split(',').collect();
    let at = |c: &str| {
        header
            .iter()
            .position(|h| *h == c)
            .unwrap_or_else(|| panic!("no {c}"))
    };
    assert_eq!(
        at("peak_airway_pressure_upper_alarm_limit"),
        at("peak_airway_pressure") + 1
    );
    assert_eq!(
        at("expired_tidal_volume_lower_alarm_limit"),
        at("expired_tidal_volume") + 2
    );
    assert!(
        header.iter().all(|h| !h.contains('-') && !h.contains('.')),
        "QuestDB-safe names"
    );
    assert_eq!(wide.text().lines().count(), 2);
}

// ---------------------------------------------------------------------------------------------
// the simulator's vent traffic

#[test]
fn simulated_vent_traffic_flattens_with_the_same_map() {
    let sim = simulate(&[
        "--profile",
        "vent",
        "--count",
        "4",
        "--seed",
        "7",
        "--devices",
        "2",
    ]);
    let out = flatten(&["--map", &elisa()], &sim);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let rows = out.rows();
    assert_eq!(rows.len(), 4 * 196);
    let serials: std::collections::BTreeSet<_> = rows
        .iter()
        .map(|r| r["device_serial"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(serials.len(), 2, "{serials:?}");
    let filter = row_of(&rows, "1131101");
    assert_eq!(
        filter["variable"],
        "turbine_filter_replacement_remaining_time"
    );
    assert_eq!(filter["unit"], "h");
    assert!(
        rows.iter()
            .filter(|r| r["variable_id"] == "1320")
            .all(|r| r["setting"] == true)
    );
    let wide = flatten(&["--map", &elisa(), "--wide"], &sim);
    assert_eq!(wide.code, 0, "{}", wide.stderr);
    let w = wide.rows();
    assert_eq!(w.len(), 4);
    for r in &w {
        assert!(r["turbine_filter_replacement_remaining_time"].is_number());
        assert!(r["gas_supplies_ok"].is_boolean());
        assert!(r["ts"].as_str().unwrap().ends_with('Z'));
    }
}

// ---------------------------------------------------------------------------------------------
// without a map

const LAB: &[u8] = b"MSH|^~\\&|LAB|HOSP|||20240102030405+0100||ORU^R01|C42|P|2.5\r\
PID|1||P123^^^HOSP^MR||Doe^Jane\r\
OBR|1|||CBC|||20240102020000\r\
OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL|12-16|N|||F|||20240102021500\r\
OBX|2|ST|5902-2^PT^LN|1|see note \\T\\ comment||||||F|||||||EQ1\r\
OBX|3|NM|777-3^Platelets^LN||<10|10*3/uL||L|||F\r";

#[test]
fn without_a_map_one_long_row_per_obx() {
    let out = flatten(&[], LAB);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = out.rows();
    assert_eq!(rows.len(), 3);
    let r = &rows[0];
    assert_eq!(r["ts"], "2024-01-02T02:15:00Z", "OBX-14 read as UTC");
    assert_eq!(r["control_id"], "C42");
    assert_eq!(r["sending_app"], "LAB");
    assert_eq!(r["patient_id"], "P123");
    assert_eq!(r["set_id"], 1);
    assert_eq!(r["observation_id"], "718-7");
    assert_eq!(r["observation_text"], "Hemoglobin");
    assert_eq!(r["coding_system"], "LN");
    assert_eq!(r["value_type"], "NM");
    assert_eq!(r["value"], 13.5);
    assert_eq!(r["units"], "g/dL");
    assert_eq!(r["reference_range"], "12-16");
    assert_eq!(r["abnormal_flags"], "N");
    assert_eq!(r["status"], "F");
    let r = &rows[1];
    assert_eq!(r["ts"], "2024-01-02T02:00:00Z", "no OBX-14: OBR-7");
    assert_eq!(r["text"], "see note & comment", "escapes decoded");
    assert_eq!(r["sub_id"], "1");
    assert_eq!(r["equipment_id"], "EQ1");
    assert!(!r.contains_key("value"));
    assert_eq!(
        rows[2]["text"], "<10",
        "a number that is not one stays text"
    );
}

#[test]
fn without_a_map_csv_has_a_fixed_header() {
    let out = flatten(&["--to", "csv"], LAB);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.text().lines().collect();
    assert_eq!(
        lines[0],
        "ts,control_id,sending_app,patient_id,set_id,observation_id,observation_text,coding_system,sub_id,value_type,value,text,units,reference_range,abnormal_flags,status,equipment_id"
    );
    assert_eq!(lines.len(), 4);
    assert!(lines[1].starts_with(
        "2024-01-02T02:15:00Z,C42,LAB,P123,1,718-7,Hemoglobin,LN,,NM,13.5,,g/dL,12-16,N,F,"
    ));
}

#[test]
fn without_a_map_wide_has_a_column_per_observation() {
    let out = flatten(&["--wide"], LAB);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = out.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["obx_718_7"], 13.5);
    assert_eq!(rows[0]["obx_5902_2_1"], "see note & comment");
    assert_eq!(
        rows[0]["ts"], "2024-01-02T02:15:00Z",
        "wide: OBX-14 of the first OBX"
    );
}

#[test]
fn ndjson_from_parse_is_input_too() {
    let parsed = run(&["parse"], LAB);
    assert_eq!(parsed.code, 0);
    let a = flatten(&[], &parsed.stdout);
    let b = flatten(&[], LAB);
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn garbage_is_reported_and_the_rest_still_flattened() {
    let mut input = b"this is not HL7\n\x00\xff\n".to_vec();
    input.extend_from_slice(LAB);
    let out = flatten(&[], &input);
    assert_eq!(out.code, 1);
    assert_eq!(out.rows().len(), 3);
    assert!(out.stderr.starts_with("hl7 flatten: "), "{}", out.stderr);
    assert!(!out.stderr.contains("Doe"), "no patient data in errors");
}

// ---------------------------------------------------------------------------------------------
// map features

const DEVICE: &[u8] = b"MSH|^~\\&|GW|WARD|||20240301120000||ORU^R01|M1|P|2.5\r\
PID|1||77^^^H^MR||Nordmann^Kari^Ola\r\
PV1||I|ICU^^12\r\
OBR|1||||||20240301115900|||{ABC}^Model X\r\
OBX|1|NM|100||215||||||F|||20240301115930\r\
OBX|2|NM|200||13||||||F|||20240301115930\r\
OBX|3|NM|300|2|abc||||||F|||20240301115930\r\
OBX|4|ST|SER||SN-9||||||F\r\
OBX|5|NM|999||1||||||F\r";

const DEVICE_MAP: &str = r#"
table = "dev"
timezone = "UTC"
unmapped = "drop"

[[filter]]
path = "OBR-10.2"
matches = "^Model"

[tags]
serial = { observation = "SER" }
guid = { path = "OBR-10.1", regex = '[{}]', replace = "" }

[columns]
patient_name = { paths = ["PID-5.2", "PID-5.3", "PID-5.1"], separator = " " }
bed = { path = "PV1-3.2", default = "none" }
code = "OBX-3.1"

[[variable]]
code = "100"
name = "temp"
type = "float"
scale = 0.1
offset = 0.5
unit = "Cel"

[[variable]]
code = "200"
name = "status"
type = "int"
raw = false
bits = { ready = 0, fault = 1, level = "2-3" }

[[variable]]
code = "300"
sub_id = "2"
name = "count"
type = "int"

[[variable]]
code = "SER"
name = "serial_no"
type = "string"
"#;

#[test]
fn map_scale_offset_bit_ranges_derived_columns_and_tags() {
    let (_map_dir, map) = write_map("device.toml", DEVICE_MAP);
    let out = flatten(&["--map", &map, "--wide"], DEVICE);
    assert_eq!(out.code, 1, "the misfit makes it 1: {}", out.stderr);
    let rows = out.rows();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r["temp"], 22.0, "215 * 0.1 + 0.5");
    assert!(!r.contains_key("status"), "raw = false");
    // 13 = 0b1101: bit 0 set, bit 1 clear, bits 2-3 = 3
    assert_eq!(r["ready"], true);
    assert_eq!(r["fault"], false);
    assert_eq!(r["level"], 3);
    assert_eq!(r["serial"], "SN-9");
    assert_eq!(r["guid"], "ABC");
    assert_eq!(r["patient_name"], "Kari Ola Nordmann");
    assert_eq!(r["bed"], "none", "PV1-3.2 is empty: the default");
    assert_eq!(
        r["ts"], "2024-03-01T11:59:30Z",
        "wide: OBX-14 of the first OBX"
    );
    assert!(!r.contains_key("count"), "the misfit is left out");
    assert!(!r.contains_key("obx_999"), "unmapped = drop");
    assert!(
        out.stderr.contains("message 1") && out.stderr.contains("OBX[3]-5"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("abc"),
        "values are not quoted: {}",
        out.stderr
    );
}

#[test]
fn map_long_rows_carry_per_observation_columns() {
    let (_map_dir, map) = write_map("device-long.toml", DEVICE_MAP);
    let out = flatten(&["--map", &map], DEVICE);
    assert_eq!(out.code, 1);
    let rows = out.rows();
    assert_eq!(rows.len(), 4, "999 dropped");
    assert_eq!(rows[0]["code"], "100");
    assert_eq!(rows[0]["variable"], "temp");
    assert_eq!(rows[0]["value"], 22.0);
    assert_eq!(rows[0]["unit"], "Cel");
    assert_eq!(rows[1]["level"], 3);
    assert!(!rows[1].contains_key("value"), "raw = false");
    assert_eq!(rows[2]["variable"], "count");
    assert_eq!(rows[2]["sub_id"], "2");
    assert!(!rows[2].contains_key("value"));
    assert_eq!(rows[3]["text"], "SN-9");
    assert_eq!(rows[3]["ts"], "2024-03-01T11:59:00Z", "no OBX-14: OBR-7");
}

#[test]
fn map_filter_skips_other_messages() {
    let (_map_dir, map) = write_map("device-filter.toml", DEVICE_MAP);
    let other = String::from_utf8_lossy(DEVICE).replace("Model X", "Other");
    let out = flatten(&["--map", &map], other.as_bytes());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn map_unmapped_warn_and_keep() {
    let (_warn_dir, warn) = write_map(
        "warn.toml",
        &DEVICE_MAP.replace("unmapped = \"drop\"", "unmapped = \"warn\""),
    );
    let out = flatten(&["--map", &warn], DEVICE);
    assert_eq!(out.rows().len(), 4);
    assert!(
        out.stderr.contains("warning: message 1") && out.stderr.contains("999 is not in the map"),
        "{}",
        out.stderr
    );
    let (_keep_dir, keep) = write_map(
        "keep.toml",
        &DEVICE_MAP.replace("unmapped = \"drop\"", "unmapped = \"keep\""),
    );
    let out = flatten(&["--map", &keep, "--wide"], DEVICE);
    assert_eq!(out.rows()[0]["obx_999"], 1);
}

#[test]
fn map_csv_header_is_the_maps_columns() {
    let (_map_dir, map) = write_map("device-csv.toml", DEVICE_MAP);
    let out = flatten(&["--map", &map, "--wide", "--to", "csv"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.text(),
        "ts,serial,guid,patient_name,bed,code,temp,ready,fault,level,count,serial_no\n",
        "an empty stream still gets the header"
    );
    let check = flatten(&["--map", &map, "--check"], b"");
    assert_eq!(check.code, 0);
    assert!(
        check.text().contains(
            "wide rows of table dev: timestamp ts, symbols serial,guid, dedup keys ts,serial,guid"
        ),
        "{}",
        check.text()
    );
    assert!(
        check.text().contains("  level LONG")
            && check.text().contains("  ready BOOLEAN")
            && check.text().contains("  temp DOUBLE")
    );
}

#[test]
fn map_per_observation_records_style() {
    // One JSON record per observation with the names another system used.
    let (_map_dir, map) = write_map(
        "records.toml",
        r#"
[timestamp]
column = "Timestamp"
[long]
columns = []
[columns]
ObservationID = "OBX-3.1"
ObservationValue = "OBX-5"
Units = "OBX-6.1"
ReferenceRange = "OBX-7"
AbnormalFlags = "OBX-8"
"#,
    );
    let out = flatten(&["--map", &map], LAB);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first = out.text().lines().next().unwrap();
    assert_eq!(
        first,
        r#"{"Timestamp":"2024-01-02T02:15:00Z","ObservationID":"718-7","ObservationValue":"13.5","Units":"g/dL","ReferenceRange":"12-16","AbnormalFlags":"N"}"#
    );
}

// ---------------------------------------------------------------------------------------------
// map errors: usage errors naming the line, before any input is read

fn map_error(toml: &str) -> String {
    let (_map_dir, map) = write_map("bad.toml", toml);
    // stdin is garbage: a map error must come first, and stdout stay empty
    let out = flatten(&["--map", &map], b"\x00\x01 not read");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    out.stderr
}

/// Maps with one mistake each, and what the error must say (the line, as `bad.toml:LINE:`,
/// and the culprit).
#[rustfmt::skip]
const BAD_MAPS: &[(&str, &str, &[&str])] = &[
    ("unknown key", "table = \"t\"\n\n[[variable]]\ncode = \"1\"\nname = \"a\"\ncolour = \"red\"\n", &["bad.toml:6:", "colour"]),
    ("bad path", "[tags]\nx = \"PID-3\"\ny = \"PID-0\"\n", &["bad.toml:3:", "PID-0"]),
    ("bad regex", "[tags]\nx = { path = \"PID-3\", regex = \"(unclosed\" }\n", &["bad.toml:2:", "regex"]),
    ("overlapping bits", "[[variable]]\ncode = \"1\"\nname = \"w\"\ntype = \"int\"\nbits = { a = 1, b = \"0-2\" }\n", &["bad.toml:5:", "overlap"]),
    ("unknown zone", "# zone\ntimezone = \"Mars/Olympus\"\n", &["bad.toml:2:", "Mars/Olympus"]),
    ("unsafe column name", "[[variable]]\ncode = \"1\"\nname = \"1414-UpperAlarmLimit\"\n", &["bad.toml:3:"]),
    ("duplicate column", "[[variable]]\ncode = \"1\"\nname = \"a\"\n[[variable]]\ncode = \"2\"\nname = \"a\"\n", &["used twice"]),
    ("bad type", "[[variable]]\ncode = \"1\"\nname = \"a\"\ntype = \"decimal\"\n", &["bad.toml:4:"]),
    ("bad unmapped", "unmapped = \"ignore\"\n", &["bad.toml:1:"]),
    ("ambiguous dot path shows both readings", "[tags]\nx = \"PID.1.5.1\"\n", &["PID[1]-5.1"]),
];

#[test]
fn map_errors_name_the_line() {
    for (what, toml, needles) in BAD_MAPS {
        let e = map_error(toml);
        for needle in *needles {
            assert!(e.contains(needle), "{what}: no {needle:?} in {e}");
        }
    }
}

#[test]
fn samples_elisa_toml_is_what_the_generator_writes() {
    let py = hl7_python().unwrap_or_else(|| "python3".into());
    let Ok(out) = std::process::Command::new(&py)
        .arg(root().join("tools/gen_elisa_map.py"))
        .output()
    else {
        eprintln!("no {}: generator check skipped", py.display());
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = std::fs::read(elisa()).unwrap();
    assert!(
        out.stdout == committed,
        "samples/elisa.toml drifted: run python3 tools/gen_elisa_map.py > samples/elisa.toml"
    );
    let text = String::from_utf8(committed).unwrap();
    assert_eq!(text.matches("[[variable]]").count(), 214);
}

#[test]
fn every_corpus_file_flattens_or_is_reported_never_a_panic() {
    let mut n = 0;
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let path = entry.unwrap().path();
        for args in [
            vec![],
            vec!["--wide", "--to", "csv"],
            vec!["--map", &elisa()],
        ] {
            let mut a: Vec<&str> = args.clone();
            a.push(path.to_str().unwrap());
            let out = flatten(&a, b"");
            assert!(
                out.code == 0 || out.code == 1,
                "{} {args:?}: exit {}: {}",
                path.display(),
                out.code,
                out.stderr
            );
            assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
            n += 1;
        }
    }
    assert!(n > 30);
}

#[test]
fn map_variables_can_require_the_sending_application() {
    let toml = format!(
        "{}\n[[variable]]\ncode = \"999\"\napp = \"OTHER\"\nname = \"other_999\"\n\n[[variable]]\ncode = \"999\"\napp = \"GW\"\nname = \"gw_999\"\ntype = \"bool\"\n",
        DEVICE_MAP
    );
    let (_map_dir, map) = write_map("apps.toml", &toml);
    let out = flatten(&["--map", &map], DEVICE);
    let rows = out.rows();
    let r = rows
        .iter()
        .find(|r| r["variable_id"] == "999")
        .expect("999 is mapped for GW");
    assert_eq!(r["variable"], "gw_999");
    assert_eq!(r["value"], 1, "a bool is 1 in the long rows' value column");
    let wide = flatten(&["--map", &map, "--wide"], DEVICE);
    assert_eq!(wide.rows()[0]["gw_999"], true);
    assert!(!wide.rows()[0].contains_key("other_999"));
}

/// Rows flow under load: a live pipe whose writer never pauses for 100 ms (it writes a byte
/// every 10 ms) but has nothing ready between its writes still gets the rows of each complete
/// message out at once, without waiting for a quiet moment or the end of the input.
#[test]
fn rows_flow_while_the_input_keeps_coming() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, mpsc};
    let mut child = crate::util::spawn(&["flatten"]);
    let mut stdin = child.stdin.take().unwrap();
    let rows = crate::util::lines_of(child.stdout.take().unwrap());
    let first = simulate(&["--profile", "lab", "--count", "1", "--seed", "21"]);
    let seen = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel();
    let writer = {
        let seen = Arc::clone(&seen);
        std::thread::spawn(move || {
            // the first message, then the start of a second one (which ends the first), then
            // the second one's last segment a byte at a time until the first one's rows are out
            stdin.write_all(&first).unwrap();
            stdin
                .write_all(b"MSH|^~\\&|A|B|C|D|20240101||ORU^R01|T2|P|2.5\rNTE|1||")
                .unwrap();
            while !seen.load(Ordering::SeqCst) {
                if stdin.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            done_tx.send(()).unwrap();
        })
    };
    let row = rows
        .recv_timeout(crate::util::DEADLINE)
        .expect("a row of the first message while the input keeps coming");
    seen.store(true, Ordering::SeqCst);
    assert!(row.contains("\"control_id\""), "{row}");
    done_rx.recv().unwrap();
    writer.join().unwrap();
    let _ = child.kill();
    let _ = child.wait();
}
