//! Black-box tests of `hl7 ilp`: the ILP text it writes (`--dry-run`), the DDL, and rows sent
//! over TCP and HTTP into a real database, VictoriaMetrics (Debian's `victoria-metrics`, which
//! reads ILP over both), started per test on free loopback ports with a temporary data
//! directory and read back through its export API. Also the database down at the start and
//! going away mid-stream, and a database that refuses a batch (an in-test HTTP peer).
//!
//! Without `/usr/bin/victoria-metrics` the database tests are skipped with a loud message,
//! unless `HL7_REQUIRE_VM` is set (`.ci/run` sets it), when they fail. Nothing asserts on
//! timing: waits poll for a state, with a generous cap that only turns a hang into a failure.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command as Std, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::api::parse_rfc3339;
use crate::util::{
    DEADLINE, Feed, TempDir, bin, close_stdout_after_a_line, free_port, hl7, lines_of, run, sample,
    simulate, spawn, victoria_metrics, wait_with_stderr,
};

/// A VictoriaMetrics server of its own; killed and its data removed on drop.
struct Vm {
    child: Child,
    http: u16,
    influx: u16,
    /// The data directory, removed after the server is killed.
    _dir: TempDir,
}

impl Vm {
    /// Starts a server, or returns None (after saying so loudly) when none is installed and
    /// `HL7_REQUIRE_VM` is unset.
    fn start(test: &str) -> Option<Vm> {
        let vm = victoria_metrics(test)?;
        // A port picked free may be taken again before the server binds it: try a few times.
        for _ in 0..5 {
            let dir = TempDir::new(&format!("vm-{test}"));
            let (http, influx) = (free_port(), free_port());
            let child = Std::new(vm)
                .arg(format!("-storageDataPath={}", dir.path().display()))
                .arg(format!("-httpListenAddr=127.0.0.1:{http}"))
                .arg(format!("-influxListenAddr=127.0.0.1:{influx}"))
                .arg("-retentionPeriod=100y")
                .arg("-search.latencyOffset=0s")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start victoria-metrics");
            let mut vm = Vm {
                child,
                http,
                influx,
                _dir: dir,
            };
            if vm.wait_ready() {
                return Some(vm);
            }
        }
        panic!("victoria-metrics did not start");
    }

    /// Polls /health and the ILP/TCP port until both answer; false if the server exited.
    fn wait_ready(&mut self) -> bool {
        let start = Instant::now();
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let healthy = http(self.http, "GET", "/health", "")
                .is_ok_and(|(status, body)| status == 200 && body.trim() == "OK");
            if healthy && TcpStream::connect(("127.0.0.1", self.influx)).is_ok() {
                return true;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "victoria-metrics never became ready"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Every sample of the series matching `selector`: metric name and labels -> (ms, value).
    fn export(&self, selector: &str) -> BTreeMap<String, Vec<(i64, f64)>> {
        let (status, _) = http(self.http, "POST", "/internal/force_flush", "").unwrap();
        assert_eq!(status, 200);
        let body = format!("match[]={}", form_encode(selector));
        let (status, text) = http(self.http, "POST", "/api/v1/export", &body).unwrap();
        assert_eq!(status, 200, "{text}");
        let mut out = BTreeMap::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let metric = v["metric"].as_object().unwrap();
            let mut key = metric["__name__"].as_str().unwrap().to_string();
            let mut labels: Vec<_> = metric
                .iter()
                .filter(|(k, _)| *k != "__name__")
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
                .collect();
            labels.sort();
            for l in labels {
                key.push(',');
                key.push_str(&l);
            }
            let ts = v["timestamps"].as_array().unwrap();
            let vals = v["values"].as_array().unwrap();
            let mut samples: Vec<(i64, f64)> = ts
                .iter()
                .zip(vals)
                .map(|(t, v)| (t.as_i64().unwrap(), v.as_f64().unwrap()))
                .collect();
            samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
            out.insert(key, samples);
        }
        out
    }

    /// Polls the export until it holds `n` samples in all (ingestion is asynchronous).
    fn wait_samples(&self, selector: &str, n: usize) -> BTreeMap<String, Vec<(i64, f64)>> {
        let start = Instant::now();
        loop {
            let got = self.export(selector);
            let count: usize = got.values().map(Vec::len).sum();
            if count >= n || start.elapsed() > DEADLINE {
                return got;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `application/x-www-form-urlencoded`: everything but unreserved characters percent-encoded
/// (so a space is %20 and a `+` is %2B: in a form body a bare `+` means space).
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A minimal HTTP/1.0 client (no chunked bodies to decode): status and body.
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(DEADLINE))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// A ventilator-like stream: `n` rows over two devices, with a measured float, an integer
/// (sent as a double), a boolean and a text column, milliseconds apart.
fn rows(n: usize, start_ms: i64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let ms = start_ms + i as i64;
            let secs = ms / 1000;
            let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
            let day = 14 + secs / 86_400;
            format!(
                r#"{{"ts":"2024-08-{day:02}T{h:02}:{m:02}:{s:02}.{:03}Z","device_serial":"00000000820452{}","variable_id":"{}","label":"PEEP","value":{}.25,"count":{},"setting":{},"unit":"cm H2O"}}"#,
                ms % 1000,
                i % 2,
                2104 + i % 3,
                i,
                i * 7,
                i % 2 == 0
            )
        })
        .collect()
}

/// Epoch milliseconds of 2024-08-14T00:00:00Z.
const DAY0_MS: i64 = 1_723_593_600_000;

/// Checks that the database holds exactly what `rows(n, start_ms)` sent to table `t`.
fn check_rows(vm: &Vm, t: &str, n: usize, start_ms: i64) {
    // value, count and setting per row (label and unit are text, which VictoriaMetrics
    // stores as 0-valued samples; they are not compared).
    let got = vm.wait_samples(
        &format!(r#"{{__name__=~"{t}_(value|count|setting)"}}"#),
        3 * n,
    );
    let mut want: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for i in 0..n {
        let ms = DAY0_MS + start_ms + i as i64;
        let labels = format!(
            ",device_serial=00000000820452{},variable_id={}",
            i % 2,
            2104 + i % 3
        );
        for (field, v) in [
            ("value", i as f64 + 0.25),
            ("count", (i * 7) as f64),
            ("setting", if i % 2 == 0 { 1.0 } else { 0.0 }),
        ] {
            want.entry(format!("{t}_{field}{labels}"))
                .or_default()
                .push((ms, v));
        }
    }
    for v in want.values_mut() {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    }
    assert_eq!(got, want);
}

fn stdin_of(rows: &[String]) -> String {
    rows.iter().map(|r| format!("{r}\n")).collect()
}

#[test]
fn dry_run_prints_the_exact_ilp_text() {
    let input = concat!(
        r#"{"ts":"2024-08-14T09:46:36Z","device_serial":"000000008204526","variable_id":"2104","label":"PEEP","value":5.0,"unit":"cmH2O","setting":true}"#,
        "\n",
        r#"{"ts":"2024-08-14T11:46:36.5+02:00","device_serial":"000000008204526","variable_id":"1414-UpperAlarmLimit","label":"say \"hi\"\nnow","value":3,"setting":false,"1414-UpperAlarmLimit":40}"#,
        "\n",
        r#"{"ts":1723628796000000001,"device_serial":null,"value":-1e-3}"#,
        "\n"
    );
    let out = hl7()
        .args([
            "ilp",
            "--dry-run",
            "--table",
            "pdm_medical_device",
            "--symbols",
            "device_serial,variable_id",
        ])
        .write_stdin(input)
        .assert()
        .code(0)
        .get_output()
        .clone();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "pdm_medical_device,device_serial=000000008204526,variable_id=2104 label=\"PEEP\",value=5.0,unit=\"cmH2O\",setting=t 1723628796000000000\n\
         pdm_medical_device,device_serial=000000008204526,variable_id=1414-UpperAlarmLimit label=\"say \\\"hi\\\" now\",value=3.0,setting=f,1414_UpperAlarmLimit=40.0 1723628796500000000\n\
         pdm_medical_device value=-0.001 1723628796000000001\n"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("3 rows written in 1 flushes"), "{err}");
}

#[test]
fn bad_rows_are_reported_by_line_and_skipped() {
    let input = "{\"ts\":\"2024-08-14T09:46:36Z\",\"v\":1}\n\
                 {\"ts\":\"2024-08-14T09:46:36\",\"v\":2}\n\
                 \n\
                 {\"v\":\"secret text\"}\n\
                 {\"v\":[1,2]}\n\
                 not json at all\n\
                 {\"ts\":\"2024-08-14T09:46:37Z\",\"v\":3}\n";
    let out = hl7()
        .args(["ilp", "--dry-run"])
        .write_stdin(input)
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "observations v=1.0 1723628796000000000\nobservations v=3.0 1723628797000000000\n"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    for line in [
        "line 2: column \"ts\"",
        "line 4: column \"v\"",
        "line 5:",
        "line 6:",
    ] {
        assert!(err.contains(line), "{line} missing in {err}");
    }
    assert!(!err.contains("secret"), "values must not be quoted: {err}");
    assert!(err.contains("4 rows skipped"), "{err}");
}

#[test]
fn csv_input_is_typed_by_column() {
    let input = "ts,device,value,alarm,note\n\
                 2024-08-14T09:46:36Z,A1,5,true,ok\n\
                 2024-08-14T09:46:37Z,A1,5.5,false,\"two\nlines\"\n\
                 2024-08-14T09:46:38Z,A2,,true,12\n";
    hl7()
        .args(["ilp", "--dry-run", "--symbols", "device", "--from", "csv"])
        .write_stdin(input)
        .assert()
        .code(0)
        .stdout(
            "observations,device=A1 value=5.0,alarm=t,note=\"ok\" 1723628796000000000\n\
             observations,device=A1 value=5.5,alarm=f,note=\"two lines\" 1723628797000000000\n\
             observations,device=A2 alarm=t,note=\"12\" 1723628798000000000\n",
        );
}

#[test]
fn print_ddl_names_the_dedup_keys() {
    hl7()
        .args([
            "ilp",
            "--print-ddl",
            "--table",
            "pdm_medical_device",
            "--symbols",
            "device_serial,variable-id",
            "--timestamp",
            "time",
        ])
        .assert()
        .code(0)
        .stdout(
            "CREATE TABLE IF NOT EXISTS pdm_medical_device (\n  time TIMESTAMP,\n  device_serial SYMBOL,\n  variable_id SYMBOL\n) TIMESTAMP(time) PARTITION BY DAY WAL\nDEDUP UPSERT KEYS(time, device_serial, variable_id);\n",
        );
}

#[test]
fn usage_errors_exit_2_before_reading() {
    for args in [
        vec!["ilp", "--table", "a/b", "--dry-run"],
        vec!["ilp", "--symbols", "a-b,a.b", "--dry-run"],
        vec!["ilp", "--symbols", "ts", "--dry-run"],
        vec!["ilp", "--map", "elisa.toml", "--dry-run"],
        vec!["ilp", "ftp://localhost:9009"],
        vec!["ilp", "http::addr=localhost:9000;protocol_version=7;"],
        vec!["ilp", "--batch-rows", "0", "--dry-run"],
        vec!["ilp", "--from", "xml", "--dry-run"],
    ] {
        let out = hl7()
            .args(&args)
            .write_stdin("{\"v\":1}\n")
            .assert()
            .code(2)
            .get_output()
            .clone();
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn a_quiet_live_pipe_is_flushed_after_batch_ms() {
    // stdin stays open: the row must come out because it waited --batch-ms, not because the
    // input ended.
    let mut child = spawn(&["ilp", "--dry-run", "--batch-ms", "50"]);
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"{\"ts\":\"2024-08-14T09:46:36Z\",\"v\":1}\n")
        .unwrap();
    stdin.flush().unwrap();
    let line = lines_of(child.stdout.take().unwrap()).recv_timeout(DEADLINE);
    drop(stdin);
    let _ = child.wait();
    assert_eq!(
        line.expect("the row was held back while stdin stayed open"),
        "observations v=1.0 1723628796000000000\n"
    );
}

#[test]
fn a_trickling_live_pipe_is_flushed_after_batch_ms() {
    // Rows keep coming, one every 30 ms or so, never pausing long enough to count as idle: the
    // waiting rows must still come out once the first has waited --batch-ms, long before
    // --batch-rows (10000 by default) is reached. The rows go on until one comes out.
    let mut child = spawn(&["ilp", "--dry-run", "--batch-ms", "200"]);
    let mut stdin = child.stdin.take().unwrap();
    let lines = lines_of(child.stdout.take().unwrap());
    let start = Instant::now();
    let mut got = None;
    for i in 0..10_000 {
        stdin
            .write_all(format!("{{\"ts\":{i},\"v\":1}}\n").as_bytes())
            .unwrap();
        stdin.flush().unwrap();
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(30)) {
            got = Some((i, line));
            break;
        }
        if start.elapsed() > DEADLINE {
            break;
        }
    }
    drop(stdin);
    let _ = child.wait();
    let (i, line) = got.expect("no row came out while rows kept trickling in");
    assert!(i < 9_999, "flushed by --batch-rows, not --batch-ms");
    assert_eq!(line, "observations v=1.0 0\n");
}

#[test]
fn a_closed_downstream_pipe_is_success() {
    let (first, status, err) = close_stdout_after_a_line(
        &["ilp", "--dry-run", "--batch-rows", "100"],
        // Until hl7 ilp is gone and the pipe breaks.
        Feed::Forever(stdin_of(&rows(1000, 0)).into_bytes()),
    );
    assert!(first.starts_with("observations "), "{first}");
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(err, "");
}

#[test]
fn several_inputs_and_one_missing() {
    let dir = TempDir::new("ilp-inputs");
    let a = dir.write("a.ndjson", "{\"ts\":1,\"v\":1}\n{\"ts\":2,\"v\":\"x\"}\n");
    let b = dir.write("b.csv", "ts,w\n3,true\n");
    let missing = dir.join("missing.ndjson").display().to_string();
    let out = run(
        &[
            "ilp",
            "--dry-run",
            "--input",
            &a,
            "--input",
            &missing,
            "--input",
            &b,
        ],
        b"",
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.text(), "observations v=1.0 1\nobservations w=t 3\n");
    assert!(
        out.stderr.contains("a.ndjson: line 2: column \"v\""),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("missing.ndjson: cannot open"),
        "{}",
        out.stderr
    );
}

/// Where a transport reaches a database.
type Address = fn(&Vm) -> String;

/// The rows of [`rows`] over each transport into a database of its own: (transport, rows,
/// --batch-rows, the flushes that makes, the address).
const TRANSPORTS: &[(&str, usize, &str, usize, Address)] = &[
    ("tcp", 5000, "700", 8, |vm| {
        format!("127.0.0.1:{}", vm.influx)
    }),
    ("http", 3000, "1000", 3, |vm| {
        format!("http://127.0.0.1:{}", vm.http)
    }),
];

#[test]
fn rows_arrive_with_their_values_and_timestamps() {
    for (transport, n, batch, flushes, addr) in TRANSPORTS {
        let Some(vm) = Vm::start(transport) else {
            return;
        };
        let out = run(
            &[
                "ilp",
                &addr(&vm),
                "--table",
                "vent",
                "--symbols",
                "device_serial,variable_id",
                "--batch-rows",
                batch,
            ],
            stdin_of(&rows(*n, 0)).as_bytes(),
        );
        assert_eq!(out.code, 0, "{transport}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("{n} rows sent in {flushes} flushes")),
            "{transport}: {}",
            out.stderr
        );
        check_rows(&vm, "vent", *n, 0);
    }
}

#[test]
fn csv_over_a_configuration_string() {
    let Some(vm) = Vm::start("csv") else { return };
    let csv = "time,dev,temp,on\n\
               1723628796000000000,A,36.6,true\n\
               1723628797000000000,A,-1.5e2,false\n\
               1723628798000000000,B,40,true\n";
    hl7()
        .args([
            "ilp",
            &format!("http::addr=127.0.0.1:{};protocol_version=1;", vm.http),
            "--table",
            "t",
            "--symbols",
            "dev",
            "--timestamp",
            "time",
            "--input",
            "-",
        ])
        .write_stdin(csv)
        .assert()
        .code(0);
    let got = vm.wait_samples(r#"{__name__=~"t_.*"}"#, 6);
    let mut want = BTreeMap::new();
    want.insert(
        "t_temp,dev=A".to_string(),
        vec![(1_723_628_796_000, 36.6), (1_723_628_797_000, -150.0)],
    );
    want.insert("t_temp,dev=B".to_string(), vec![(1_723_628_798_000, 40.0)]);
    want.insert(
        "t_on,dev=A".to_string(),
        vec![(1_723_628_796_000, 1.0), (1_723_628_797_000, 0.0)],
    );
    want.insert("t_on,dev=B".to_string(), vec![(1_723_628_798_000, 1.0)]);
    assert_eq!(got, want);
}

/// The issue's pipeline, `hl7 simulate --profile vent | hl7 flatten --map samples/elisa.toml |
/// hl7 ilp --map samples/elisa.toml`, into the database: long rows over TCP, wide rows over
/// HTTP. Every number and boolean of every row flatten wrote must come back with its
/// timestamp, under the map's table and symbols.
#[test]
fn simulate_flatten_ilp_pipeline() {
    let Some(vm) = Vm::start("pipeline") else {
        return;
    };
    let map = &sample("elisa.toml");
    let dir = TempDir::new("ilp-pipeline");
    let sim = simulate(&["--profile", "vent", "--count", "20", "--seed", "7"]);
    let traffic = dir.write("vent.hl7", &sim);
    let tags = [
        "sending_app",
        "device_guid",
        "device_model",
        "device_serial",
    ];
    for (shape, addr, symbols) in [
        (
            "--long",
            format!("127.0.0.1:{}", vm.influx),
            [&tags[..], &["variable", "variable_id"]].concat(),
        ),
        (
            "--wide",
            format!("http://127.0.0.1:{}", vm.http),
            tags.to_vec(),
        ),
    ] {
        let rows = run(&["flatten", "--map", map, shape, &traffic], b"");
        assert_eq!(rows.code, 0, "{}", rows.stderr);
        let rows = rows.text();
        // A real pipeline, as a user types it.
        let wide = if shape == "--wide" { "--wide" } else { "" };
        let status = Std::new("sh")
            .arg("-c")
            .arg(format!(
                "\"$0\" flatten --map \"$1\" {shape} \"$2\" | \"$0\" ilp {addr} --map \"$1\" {wide} -q"
            ))
            .arg(bin())
            .arg(map)
            .arg(&traffic)
            .status()
            .unwrap();
        assert!(status.success(), "{shape}");
        let mut want: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
        for line in rows.lines() {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            let row = row.as_object().unwrap();
            let ts = parse_rfc3339(row["ts"].as_str().unwrap()).unwrap() / 1_000_000;
            let mut labels: Vec<String> = symbols
                .iter()
                .map(|s| format!("{s}={}", row[*s].as_str().unwrap()))
                .collect();
            labels.sort();
            let labels: String = labels.iter().map(|l| format!(",{l}")).collect();
            for (k, v) in row {
                let v = match v {
                    serde_json::Value::Bool(b) => f64::from(u8::from(*b)),
                    serde_json::Value::Number(n) => n.as_f64().unwrap(),
                    _ => continue,
                };
                want.entry(format!("pdm_medical_device_{k}{labels}"))
                    .or_default()
                    .push((ts, v));
            }
        }
        for v in want.values_mut() {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        }
        let n = want.values().map(Vec::len).sum();
        assert!(n > 500, "{shape}: {n} samples");
        // Only this shape's series: long rows carry the label `variable`, wide ones do not.
        let selector = if shape == "--long" {
            r#"{__name__=~"pdm_medical_device_.*",variable!=""}"#
        } else {
            r#"{__name__=~"pdm_medical_device_.*",variable=""}"#
        };
        let mut got = vm.wait_samples(selector, n);
        // Text columns are stored by VictoriaMetrics as 0-valued samples: not compared.
        got.retain(|k, _| want.contains_key(k));
        let count: usize = got.values().map(Vec::len).sum();
        assert_eq!(count, n, "{shape}");
        assert_eq!(got, want, "{shape}");
    }
}

#[test]
fn print_ddl_from_the_map() {
    let map = &sample("elisa.toml");
    let long = run(&["ilp", "--print-ddl", "--map", map], b"");
    assert_eq!(long.code, 0, "{}", long.stderr);
    let long = long.text();
    assert!(
        long.starts_with("CREATE TABLE IF NOT EXISTS pdm_medical_device (\n  ts TIMESTAMP,\n"),
        "{long}"
    );
    for col in [
        "device_serial SYMBOL",
        "variable SYMBOL",
        "value DOUBLE",
        "setting BOOLEAN",
    ] {
        assert!(long.contains(col), "{col}: {long}");
    }
    assert!(long.ends_with(
        "DEDUP UPSERT KEYS(ts, sending_app, device_guid, device_model, device_serial, variable);\n"
    ), "{long}");
    let wide = run(&["ilp", "--print-ddl", "--map", map, "--wide"], b"");
    let wide = wide.text();
    assert!(!wide.contains("variable SYMBOL"), "{wide}");
    assert!(wide.contains("gas_supplies_ok BOOLEAN"), "{wide}");
    assert!(
        wide.ends_with(
            "DEDUP UPSERT KEYS(ts, sending_app, device_guid, device_model, device_serial);\n"
        ),
        "{wide}"
    );
    // Flags override the map.
    let mine = run(
        &[
            "ilp",
            "--print-ddl",
            "--map",
            map,
            "--table",
            "t",
            "--symbols",
            "device_serial",
        ],
        b"",
    );
    let mine = mine.text();
    assert!(mine.starts_with("CREATE TABLE IF NOT EXISTS t ("), "{mine}");
    assert!(
        mine.ends_with("DEDUP UPSERT KEYS(ts, device_serial);\n"),
        "{mine}"
    );
    assert!(
        mine.contains("variable VARCHAR") || !mine.contains("variable SYMBOL"),
        "{mine}"
    );
    // A map error is a usage error naming the file.
    let out = hl7()
        .args(["ilp", "--print-ddl", "--map", "/nonexistent/elisa.toml"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("elisa.toml")
    );
}

#[test]
fn database_down_at_the_start() {
    let port = free_port();
    // HTTP: the rows are read, the flush fails after the client's retries.
    let out = run(
        &[
            "ilp",
            &format!("http::addr=127.0.0.1:{port};protocol_version=1;retry_timeout=300;"),
        ],
        stdin_of(&rows(5, 0)).as_bytes(),
    );
    let err = out.stderr;
    assert_eq!(out.code, 1, "{err}");
    assert!(err.contains("could not be reached"), "{err}");
    assert!(
        err.contains("5 rows from line 1 on were not delivered"),
        "{err}"
    );
    assert!(err.contains("0 rows sent in 0 flushes"), "{err}");
    assert!(err.contains("5 not delivered"), "{err}");
    // TCP: the connection is made before any input is read.
    let out = run(
        &["ilp", &format!("127.0.0.1:{port}")],
        stdin_of(&rows(5, 0)).as_bytes(),
    );
    let err = out.stderr;
    assert_eq!(out.code, 1, "{err}");
    assert!(err.contains("cannot connect"), "{err}");
    assert!(err.contains("no rows were read"), "{err}");
}

/// Sends `total` rows to `addr` in batches of ten; once the first 50 are in the database, kills
/// it and sends the rest. Returns how ilp ended and its stderr.
fn send_and_kill_midway(
    vm: &mut Vm,
    addr: &str,
    total: usize,
) -> (std::process::ExitStatus, String) {
    let mut child = spawn(&[
        "ilp",
        addr,
        "--table",
        "vent",
        "--symbols",
        "device_serial,variable_id",
        "--batch-rows",
        "10",
    ]);
    let all = rows(total, 0);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(stdin_of(&all[..50]).as_bytes()).unwrap();
    stdin.flush().unwrap();
    // Five batches of ten: wait until the database holds them, then take it away.
    check_rows(vm, "vent", 50, 0);
    vm.kill();
    let _ = stdin.write_all(stdin_of(&all[50..]).as_bytes());
    drop(stdin);
    wait_with_stderr(child)
}

/// Texts looked for in stderr.
type Needles = &'static [&'static str];

/// The database taken away mid-stream, per transport: (transport, rows sent, the address,
/// what stderr must say, what it must not).
#[rustfmt::skip]
const GOING_AWAY: &[(&str, usize, Address, Needles, Needles)] = &[
    (
        "http", 80,
        |vm| format!("http::addr=127.0.0.1:{};protocol_version=1;retry_timeout=500;", vm.http),
        &[
            "could not be reached",
            "10 rows from line 51 on were not delivered",
            "50 rows sent in 5 flushes",
            "10 not delivered",
        ],
        &[],
    ),
    // TCP cannot tell at once that the peer is gone (a write into a closed connection may
    // still succeed), so send many batches: one of them fails, the reconnects are refused
    // for 10 s, and the run ends as undelivered.
    (
        "tcp", 250,
        |vm| format!("127.0.0.1:{}", vm.influx),
        &["could not be reached", "10 not delivered"],
        &["250 rows sent"],
    ),
];

#[test]
fn database_going_away_mid_stream() {
    for (transport, total, addr, must, must_not) in GOING_AWAY {
        let Some(mut vm) = Vm::start(&format!("away-{transport}")) else {
            return;
        };
        let addr = addr(&vm);
        let (status, err) = send_and_kill_midway(&mut vm, &addr, *total);
        assert_eq!(status.code(), Some(1), "{transport}: {err}");
        for m in *must {
            assert!(err.contains(m), "{transport}: no {m:?} in {err}");
        }
        for m in *must_not {
            assert!(!err.contains(m), "{transport}: {m:?} in {err}");
        }
    }
}

/// An HTTP peer that answers every ILP request with 400 and a QuestDB-style JSON error.
fn refusing_peer() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            thread::spawn(move || {
                let mut r = BufReader::new(conn);
                loop {
                    let mut len = 0usize;
                    let mut first = true;
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if first && line.trim().is_empty() {
                            continue;
                        }
                        first = false;
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    let msg = r#"{"code":"invalid","message":"failed to parse line protocol: invalid field format","line":1,"errorId":"x-1"}"#;
                    let resp = format!(
                        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{msg}",
                        msg.len()
                    );
                    if r.get_mut().write_all(resp.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn refused_batches_are_counted_and_exit_3() {
    let port = refusing_peer();
    let out = run(
        &[
            "ilp",
            &format!("http://127.0.0.1:{port}"),
            "--batch-rows",
            "4",
        ],
        stdin_of(&rows(10, 0)).as_bytes(),
    );
    let err = out.stderr;
    assert_eq!(out.code, 3, "{err}");
    assert!(
        err.contains("refused a batch of 4 rows (from line 1)"),
        "{err}"
    );
    assert!(
        err.contains("refused a batch of 4 rows (from line 5)"),
        "{err}"
    );
    assert!(
        err.contains("refused a batch of 2 rows (from line 9)"),
        "{err}"
    );
    assert!(err.contains("0 rows sent"), "{err}");
    assert!(err.contains("10 refused by the database"), "{err}");
}
