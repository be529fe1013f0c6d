//! Black-box tests of `hl7 ilp`: the ILP text it writes (`--dry-run`), the DDL, and rows sent
//! over TCP and HTTP into a real database, VictoriaMetrics (Debian's `victoria-metrics`, which
//! reads ILP over both), started per test on free loopback ports with a temporary data
//! directory and read back through its export API. Also the database down at the start (it
//! comes up once ilp has said it waits) and stopped and started again mid-stream (every row
//! arrives), `--give-up-after`, answers that refuse rows or say the server is in trouble (an
//! in-test HTTP peer), and the receipts of delivery marks (an in-test receipts port).
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
pub(crate) struct Vm {
    child: Child,
    bin: &'static std::path::Path,
    pub(crate) http: u16,
    influx: u16,
    /// The data directory, removed after the server is killed.
    dir: TempDir,
}

impl Vm {
    /// Starts a server, or returns None (after saying so loudly) when none is installed and
    /// `HL7_REQUIRE_VM` is unset.
    pub(crate) fn start(test: &str) -> Option<Vm> {
        let vm = victoria_metrics(test)?;
        // A port picked free may be taken again before the server binds it: try a few times.
        for _ in 0..5 {
            if let Some(vm) = Vm::launch(vm, test, free_port(), free_port()) {
                return Some(vm);
            }
        }
        panic!("victoria-metrics did not start");
    }

    /// Starts a server on these ports; None if it exited (a port was taken).
    fn launch(bin: &'static std::path::Path, test: &str, http: u16, influx: u16) -> Option<Vm> {
        let dir = TempDir::new(&format!("vm-{test}"));
        let child = Vm::spawn(bin, &dir, http, influx);
        let mut vm = Vm {
            child,
            bin,
            http,
            influx,
            dir,
        };
        vm.wait_ready().then_some(vm)
    }

    fn spawn(bin: &std::path::Path, dir: &TempDir, http: u16, influx: u16) -> Child {
        Std::new(bin)
            .arg(format!("-storageDataPath={}", dir.path().display()))
            .arg(format!("-httpListenAddr=127.0.0.1:{http}"))
            .arg(format!("-influxListenAddr=127.0.0.1:{influx}"))
            .arg("-retentionPeriod=100y")
            .arg("-search.latencyOffset=0s")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start victoria-metrics")
    }

    /// Starts the killed server again, on its ports and data.
    pub(crate) fn restart(&mut self) {
        self.kill();
        self.child = Vm::spawn(self.bin, &self.dir, self.http, self.influx);
        assert!(self.wait_ready(), "victoria-metrics did not start again");
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

    /// Stops the server with SIGTERM, as a service manager does, and waits for it to exit.
    /// (A SIGKILL also loses what VictoriaMetrics itself has not written to disk yet: up to
    /// `-inmemoryDataFlushInterval`, 5 s, of rows it had confirmed. That is the database's own
    /// durability, which no client can make up for.)
    pub(crate) fn stop(&mut self) {
        let status = Std::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
        let _ = self.child.wait();
    }

    /// Every sample of the series matching `selector`: metric name and labels -> (ms, value).
    pub(crate) fn export(&self, selector: &str) -> BTreeMap<String, Vec<(i64, f64)>> {
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

/// Lines of a running `hl7 ilp`'s stderr, as they come.
struct Stderr {
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Stderr {
    fn of(child: &mut Child) -> Stderr {
        Stderr {
            lines: lines_of(child.stderr.take().unwrap()),
            seen: Vec::new(),
        }
    }

    /// Waits for a line holding `needle`.
    fn wait_for(&mut self, needle: &str) {
        loop {
            let line = self
                .lines
                .recv_timeout(DEADLINE)
                .unwrap_or_else(|_| panic!("no {needle:?} on stderr: {:?}", self.seen));
            self.seen.push(line.clone());
            if line.contains(needle) {
                return;
            }
        }
    }

    /// Every line, once the process has closed stderr.
    fn all(mut self) -> String {
        self.seen.extend(self.lines.iter());
        self.seen.concat()
    }
}

/// How many lines of `text` hold `needle`.
fn count_lines(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// `hl7 ilp ADDR` into table `vent`, in batches of `batch` rows, with its streams piped.
fn ilp_into_vent(addr: &str, batch: &str, more: &[&str]) -> Child {
    let mut args = vec![
        "ilp",
        addr,
        "--table",
        "vent",
        "--symbols",
        "device_serial,variable_id",
        "--batch-rows",
        batch,
    ];
    args.extend_from_slice(more);
    spawn(&args)
}

#[test]
fn a_database_down_at_the_start_gets_every_row_once_it_is_up() {
    let Some(bin) = victoria_metrics("down-at-start") else {
        return;
    };
    let (http, influx) = (free_port(), free_port());
    let mut child = ilp_into_vent(&format!("http://127.0.0.1:{http}"), "40", &[]);
    let mut err = Stderr::of(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(stdin_of(&rows(100, 0)).as_bytes()).unwrap();
    drop(stdin);
    // The database comes up only once ilp has said that it cannot reach it.
    err.wait_for("cannot be reached");
    let vm = Vm::launch(bin, "down-at-start", http, influx).expect("victoria-metrics started");
    let status = child.wait().unwrap();
    let err = err.all();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(count_lines(&err, "cannot be reached"), 1, "{err}");
    assert_eq!(count_lines(&err, "resumed"), 1, "{err}");
    assert!(
        err.contains(&format!(
            "the database at 127.0.0.1:{http} cannot be reached"
        )),
        "{err}"
    );
    assert!(err.contains("(not reading input meanwhile)"), "{err}");
    assert!(err.contains("100 rows sent"), "{err}");
    assert!(err.contains("0 not delivered"), "{err}");
    check_rows(&vm, "vent", 100, 0);
}

#[test]
fn a_database_stopped_mid_stream_and_restarted_gets_every_row() {
    let Some(mut vm) = Vm::start("restarted") else {
        return;
    };
    let mut child = ilp_into_vent(&format!("http://127.0.0.1:{}", vm.http), "10", &[]);
    let mut err = Stderr::of(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    let all = rows(120, 0);
    stdin.write_all(stdin_of(&all[..50]).as_bytes()).unwrap();
    stdin.flush().unwrap();
    // The first rows are in: take the database away, and send more while it is gone.
    check_rows(&vm, "vent", 50, 0);
    vm.stop();
    stdin.write_all(stdin_of(&all[50..]).as_bytes()).unwrap();
    stdin.flush().unwrap();
    err.wait_for("cannot be reached");
    vm.restart();
    drop(stdin);
    let status = child.wait().unwrap();
    let err = err.all();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(count_lines(&err, "cannot be reached"), 1, "{err}");
    assert_eq!(count_lines(&err, "resumed"), 1, "{err}");
    assert!(err.contains("120 rows sent"), "{err}");
    check_rows(&vm, "vent", 120, 0);
}

#[test]
fn give_up_after_ends_the_wait_and_says_where_the_rows_start() {
    // Nothing listens there, over either transport.
    let port = free_port();
    for addr in [
        format!("http://127.0.0.1:{port}"),
        format!("127.0.0.1:{port}"),
    ] {
        let dir = TempDir::new("ilp-give-up");
        let file = dir.write("rows.ndjson", stdin_of(&rows(5, 0)));
        let out = run(
            &["ilp", &addr, "--give-up-after", "1", "--input", &file],
            b"",
        );
        let err = out.stderr;
        assert_eq!(out.code, 1, "{addr}: {err}");
        assert_eq!(count_lines(&err, "cannot be reached"), 1, "{addr}: {err}");
        assert!(
            err.contains("could not be reached for 1 s"),
            "{addr}: {err}"
        );
        assert!(
            err.contains("5 rows from ")
                && err.contains("rows.ndjson line 1 on were not delivered"),
            "{addr}: {err}"
        );
        assert!(err.contains("0 rows sent in 0 flushes"), "{addr}: {err}");
        assert!(err.contains("5 not delivered"), "{addr}: {err}");
    }
}

#[test]
fn over_tcp_a_database_gone_mid_stream_is_waited_for_and_given_up_on() {
    let Some(mut vm) = Vm::start("away-tcp") else {
        return;
    };
    let mut child = ilp_into_vent(
        &format!("127.0.0.1:{}", vm.influx),
        "10",
        &["--give-up-after", "1"],
    );
    let all = rows(250, 0);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(stdin_of(&all[..50]).as_bytes()).unwrap();
    stdin.flush().unwrap();
    check_rows(&vm, "vent", 50, 0);
    vm.kill();
    // TCP cannot tell at once that the peer is gone (a write into a closed connection may
    // still succeed): many batches, so that one fails.
    let _ = stdin.write_all(stdin_of(&all[50..]).as_bytes());
    drop(stdin);
    let (status, err) = wait_with_stderr(child);
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(count_lines(&err, "cannot be reached"), 1, "{err}");
    assert!(
        err.contains("not delivered, and no input after them"),
        "{err}"
    );
    assert!(!err.contains("250 rows sent"), "{err}");
}

/// An HTTP peer standing in for the database: answers the first requests from `answers`
/// (status line, content type, body), then 204; hands each request's body to the receiver.
fn scripted_peer(
    answers: Vec<(&'static str, &'static str, &'static str)>,
) -> (u16, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answers = std::sync::Arc::new(std::sync::Mutex::new(answers.into_iter()));
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let (answers, tx) = (answers.clone(), tx.clone());
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
                    let answer = answers.lock().unwrap().next();
                    let resp = match answer {
                        Some((status, ty, msg)) => format!(
                            "HTTP/1.1 {status}\r\nContent-Type: {ty}\r\nContent-Length: {}\r\n\r\n{msg}",
                            msg.len()
                        ),
                        None => {
                            let _ = tx.send(String::from_utf8(body).unwrap());
                            "HTTP/1.1 204 No Content\r\n\r\n".to_string()
                        }
                    };
                    if r.get_mut().write_all(resp.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}

/// QuestDB's answer to a row it cannot take.
const QUESTDB_400: (&str, &str, &str) = (
    "400 Bad Request",
    "application/json",
    r#"{"code":"invalid","message":"failed to parse line protocol:errors encountered on line(s):\nerror in line 1: table: vent, column: value; cast error","line":1,"errorId":"x-1"}"#,
);

#[test]
fn refused_rows_are_reported_with_their_lines_and_skipped() {
    let (port, bodies) = scripted_peer(vec![QUESTDB_400]);
    let out = run(
        &[
            "ilp",
            &format!("http://127.0.0.1:{port}"),
            "--batch-rows",
            "4",
            "--input",
            "-",
        ],
        stdin_of(&rows(10, 0)).as_bytes(),
    );
    let err = out.stderr;
    assert_eq!(out.code, 3, "{err}");
    assert!(
        err.contains(
            "the database refused a batch of 4 rows (lines 1-4): failed to parse line protocol"
        ),
        "{err}"
    );
    assert_eq!(count_lines(&err, "refused a batch"), 1, "{err}");
    assert!(!err.contains("cannot be reached"), "{err}");
    assert!(err.contains("6 rows sent in 2 flushes"), "{err}");
    assert!(err.contains("4 refused by the database"), "{err}");
    // The later rows went, each once.
    let got: String = bodies.try_iter().collect();
    assert_eq!(got.lines().count(), 6, "{got}");
}

#[test]
fn answers_of_a_server_in_trouble_are_waited_out() {
    // 5xx answers (QuestDB's own, and a proxy's in front of it) keep the batch: nothing is
    // refused, every row arrives once, and the wait is said once each way.
    let (port, bodies) = scripted_peer(vec![
        (
            "500 Internal Server Error",
            "application/json",
            r#"{"code":"internal error","message":"commit error for table: vent, errno: 28","errorId":"x-2"}"#,
        ),
        (
            "502 Bad Gateway",
            "text/html",
            "<html><title>502 Bad Gateway</title></html>",
        ),
        ("503 Service Unavailable", "text/plain", ""),
    ]);
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
    assert_eq!(out.code, 0, "{err}");
    assert_eq!(count_lines(&err, "cannot be reached"), 1, "{err}");
    assert_eq!(count_lines(&err, "resumed"), 1, "{err}");
    assert!(err.contains("10 rows sent in 3 flushes"), "{err}");
    let got: String = bodies.try_iter().collect();
    assert_eq!(got.lines().count(), 10, "{got}");
}

/// A stand-in for `hl7 listen`'s receipts port: every receipt line it gets, on a channel.
fn receipts_port() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let tx = tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(conn).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, rx)
}

/// A delivery mark as `hl7 listen --ack-after delivered` writes it.
fn mark(seq: u64, to: &str) -> String {
    format!("\x1Ehl7-mark 00000000000000c7 {seq} {to}\n")
}

/// The sequence number of a receipt line of session c7.
fn receipt_seq(line: &str) -> u64 {
    let seq = line
        .strip_prefix("hl7-receipt 00000000000000c7 ")
        .unwrap_or_else(|| panic!("not a receipt of this session: {line:?}"));
    seq.parse().unwrap()
}

/// Feeds `child` rows 0-2, marks 1 and 2, rows 3-5 and mark 3 (marks naming `to`), waiting
/// for the receipts as they come; after each receipt `check(seq)` runs before anything more is
/// written. Returns the receipts.
fn feed_with_marks(
    child: &mut Child,
    to: &str,
    receipts: &std::sync::mpsc::Receiver<String>,
    mut check: impl FnMut(u64),
) -> Vec<u64> {
    let all = rows(6, 0);
    let mut stdin = child.stdin.take().unwrap();
    let mut got = Vec::new();
    for (part, last) in [
        (
            format!("{}{}{}", stdin_of(&all[..3]), mark(1, to), mark(2, to)),
            2,
        ),
        (format!("{}{}", stdin_of(&all[3..]), mark(3, to)), 3),
    ] {
        stdin.write_all(part.as_bytes()).unwrap();
        stdin.flush().unwrap();
        // Receipts are cumulative: wait for the one of the last mark written.
        loop {
            let line = receipts
                .recv_timeout(DEADLINE)
                .expect("a receipt while stdin stays open");
            let seq = receipt_seq(&line);
            got.push(seq);
            check(seq);
            if seq == last {
                break;
            }
        }
    }
    drop(stdin);
    got
}

#[test]
fn receipts_follow_committed_rows() {
    let Some(vm) = Vm::start("receipts") else {
        return;
    };
    let (to, receipts) = receipts_port();
    let mut child = ilp_into_vent(&format!("http://127.0.0.1:{}", vm.http), "1000", &[]);
    let got = feed_with_marks(&mut child, &to, &receipts, |seq| {
        // The rows before mark `seq` are in the database when its receipt comes.
        let want = if seq <= 2 { 3 } else { 6 };
        let have: usize = vm
            .export(r#"{__name__="vent_value"}"#)
            .values()
            .map(Vec::len)
            .sum();
        assert!(have >= want, "receipt {seq} came with {have} rows stored");
    });
    let (status, err) = wait_with_stderr(child);
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(got.last(), Some(&3), "{got:?}");
    assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    assert!(err.contains("6 rows sent"), "{err}");
    check_rows(&vm, "vent", 6, 0);
}

#[test]
fn receipts_with_dry_run_and_a_fixed_address() {
    // The marks name a port where nothing listens; --receipts wins.
    let (to, receipts) = receipts_port();
    let nowhere = format!("127.0.0.1:{}", free_port());
    let mut child = spawn(&["ilp", "--dry-run", "--receipts", &to]);
    let out = lines_of(child.stdout.take().unwrap());
    let mut seen = 0;
    let got = feed_with_marks(&mut child, &nowhere, &receipts, |seq| {
        // The rows before the mark are on stdout when its receipt comes.
        let want = if seq <= 2 { 3 } else { 6 };
        while seen < want {
            out.recv_timeout(DEADLINE).expect("a row on stdout");
            seen += 1;
        }
    });
    let (status, err) = wait_with_stderr(child);
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(got.last(), Some(&3), "{got:?}");
    assert!(err.contains("6 rows written"), "{err}");
}

#[test]
fn marks_over_tcp_are_a_usage_error() {
    let to = format!("127.0.0.1:{}", free_port());
    let input = format!("{}{}", stdin_of(&rows(2, 0)), mark(1, &to));
    let out = run(
        &["ilp", &format!("127.0.0.1:{}", free_port())],
        input.as_bytes(),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "--ack-after delivered needs ILP over HTTP: the database confirms nothing over TCP"
        ),
        "{}",
        out.stderr
    );
}
