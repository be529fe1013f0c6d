//! What the test modules share, one copy each: running the binary, the fixtures, scratch
//! directories, MLLP framing (the library's), a running `hl7 listen` and its address, reading
//! lines from a running process, and the environment the peers come from (python-hl7,
//! VictoriaMetrics).
//!
//! The tests go through the binary. Where they reach into the library they do it through
//! [`api`], so that when a library path moves only a line there changes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command as Std, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::{Map, Value};

/// The library paths the tests use directly, in one place: when one moves, only its line here
/// changes. The library serves the MLLP framing and the reference ACKs of the in-test peers,
/// convert's field checks, the ILP timestamps of the ilp pipeline check, and the tests of the
/// library itself (no_panic, convert's random templates).
pub mod api {
    pub use hl7::ack;
    pub use hl7::model::message::Message;
    pub use hl7::model::path::{DotStyle, Path};
    pub use hl7::time::parse_rfc3339;
    pub use hl7::transform::json;
    pub use hl7::transform::split::{Format, Item, Splitter};
    pub use hl7::transform::template;
    pub use hl7::wire::mllp;
}

/// How long a wait on the binary or a peer may take before the test fails instead of hanging.
/// A safety net only: nothing waits for it to pass, every wait ends on an event.
pub const DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// the binary

/// The `hl7` binary under test.
pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("hl7")
}

/// `hl7`, to be given its arguments.
pub fn hl7() -> Command {
    Command::cargo_bin("hl7").expect("the hl7 binary")
}

/// `hl7` run from the corpus directory, so that corpus files are named by their bare names (and
/// error messages name them as given).
pub fn hl7_in_corpus() -> Command {
    let mut c = hl7();
    c.current_dir(corpus());
    c
}

/// What a run of the binary did. Its stderr must be UTF-8.
pub struct Out {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Out {
    /// stdout, which must be UTF-8.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.stdout).expect("stdout is UTF-8")
    }

    /// stdout as NDJSON: one JSON value a line.
    pub fn json(&self) -> Vec<Value> {
        ndjson(&self.stdout)
    }

    /// stdout as NDJSON of objects: one row a line.
    pub fn rows(&self) -> Vec<Map<String, Value>> {
        self.json()
            .into_iter()
            .map(|v| match v {
                Value::Object(m) => m,
                other => panic!("not a JSON object: {other}"),
            })
            .collect()
    }

    /// stderr lines that are not warnings.
    pub fn errors(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.contains("warning:"))
            .collect()
    }
}

/// Runs a command to its end.
pub fn output(cmd: &mut Command) -> Out {
    let o = cmd.output().expect("run hl7");
    Out {
        code: o.status.code().expect("exit code (not killed by a signal)"),
        stdout: o.stdout,
        stderr: String::from_utf8(o.stderr).unwrap_or_else(|e| panic!("stderr is not UTF-8: {e}")),
    }
}

/// `hl7 ARGS` with `stdin` on its standard input (empty: none), run to its end.
pub fn run(args: &[&str], stdin: &[u8]) -> Out {
    output(hl7().args(args).write_stdin(stdin))
}

/// `hl7 send ADDR ARGS` with `stdin` on its standard input (empty: none).
pub fn send(addr: &str, args: &[&str], stdin: &[u8]) -> Out {
    output(hl7().args(["send", addr]).args(args).write_stdin(stdin))
}

/// `hl7 simulate ARGS`: its output, which must come with exit 0 and nothing on stderr.
pub fn simulate(args: &[&str]) -> Vec<u8> {
    let o = run(&[&["simulate"], args].concat(), b"");
    assert_eq!(o.code, 0, "simulate {args:?}: {}", o.stderr);
    assert!(o.stderr.is_empty(), "simulate {args:?}: {}", o.stderr);
    o.stdout
}

/// NDJSON: one JSON value a line.
pub fn ndjson(text: &[u8]) -> Vec<Value> {
    std::str::from_utf8(text)
        .expect("NDJSON is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// The messages of HL7 output (`parse --to hl7`, `convert`, `send --pass`): each ends with
/// `\r\n`, the `\n` left out here.
pub fn messages(out: &[u8]) -> Vec<Vec<u8>> {
    assert!(
        out.is_empty() || out.ends_with(b"\r\n"),
        "{:?}",
        String::from_utf8_lossy(out)
    );
    out.split(|&b| b == b'\n')
        .filter(|m| !m.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// How many times `byte` occurs in `bytes`.
pub fn count(bytes: &[u8], byte: u8) -> usize {
    bytes.iter().filter(|&&b| b == byte).count()
}

/// Field `n` of the first segment `id` of an HL7 message, split by hand (no parser in between)
/// and numbered as HL7 numbers them (MSH-1 is the field separator); empty when absent.
pub fn seg_field(msg: &[u8], id: &str, n: usize) -> String {
    let text = String::from_utf8_lossy(msg);
    let seg = text
        .split('\r')
        .find(|s| s.starts_with(id))
        .unwrap_or_else(|| panic!("no {id} in {text:?}"));
    let fs = seg[3..].chars().next().unwrap_or('|');
    let parts: Vec<&str> = seg.split(fs).collect();
    let i = if id == "MSH" { n - 1 } else { n };
    parts.get(i).unwrap_or(&"").to_string()
}

/// MSA-1 and MSA-2 of an ACK.
pub fn msa(ack: &[u8]) -> (String, String) {
    (seg_field(ack, "MSA", 1), seg_field(ack, "MSA", 2))
}

/// Starts `hl7 ARGS` with its three streams piped, for a test that talks to it while it runs.
pub fn spawn(args: &[&str]) -> Child {
    Std::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hl7")
}

/// The lines (each with its `\n`) that `from` yields, as they come, on a channel: a test waits
/// for each with `recv_timeout(DEADLINE)`.
pub fn lines_of(from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut r = BufReader::new(from);
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 || tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// What a test feeds a process whose stdout it closes early.
pub enum Feed {
    /// Nothing: stdin is closed at once.
    Nothing,
    /// These bytes, once, from a thread.
    Once(Vec<u8>),
    /// These bytes again and again, until the process is gone and the pipe breaks.
    Forever(Vec<u8>),
}

/// Starts `hl7 ARGS`, feeds it, reads the first line of its stdout and closes stdout (like
/// `| head -1`) while it still has much to write; returns that line, how it ended and its stderr.
pub fn close_stdout_after_a_line(args: &[&str], feed: Feed) -> (String, ExitStatus, String) {
    let mut child = spawn(args);
    let mut stdin = child.stdin.take().unwrap();
    let feeder = thread::spawn(move || match feed {
        Feed::Nothing => {}
        Feed::Once(bytes) => {
            let _ = stdin.write_all(&bytes);
        }
        Feed::Forever(bytes) => while stdin.write_all(&bytes).is_ok() {},
    });
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // stdout is closed here: the reader is dropped
    let (status, err) = wait_with_stderr(child);
    feeder.join().unwrap();
    (first, status, err)
}

/// Reads the stderr of a process to its end, then waits for the process: how it ended, and
/// its stderr.
pub fn wait_with_stderr(mut child: Child) -> (ExitStatus, String) {
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (child.wait().unwrap(), err)
}

// ---------------------------------------------------------------------------------------------
// fixtures

/// The repository.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The conformance corpus: `tests/fixtures/corpus/` (see its MANIFEST.tsv).
pub fn corpus() -> PathBuf {
    root().join("tests/fixtures/corpus")
}

/// The path of a corpus file.
pub fn corpus_path(name: &str) -> String {
    corpus().join(name).display().to_string()
}

/// The bytes of a corpus file.
pub fn read_corpus(name: &str) -> Vec<u8> {
    std::fs::read(corpus().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every input of the corpus (HL7, text and MLLP captures), by name, sorted.
pub fn corpus_inputs() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(corpus())
        .expect("fixtures")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".hl7") || n.ends_with(".txt") || n.ends_with(".bin"))
        .collect();
    v.sort();
    assert!(v.len() >= 76, "fixtures missing: {}", v.len());
    v
}

/// The path of a shipped sample: `samples/NAME` (maps, templates, messages).
pub fn sample(name: &str) -> String {
    root().join("samples").join(name).display().to_string()
}

/// The path of a test certificate or key: `tests/fixtures/tls/NAME` (made by
/// tools/gen_test_certs.sh).
pub fn tls(name: &str) -> String {
    root()
        .join("tests/fixtures/tls")
        .join(name)
        .display()
        .to_string()
}

/// The path of a python helper of the tests: `tests/py/NAME`.
pub fn py_script(name: &str) -> PathBuf {
    root().join("tests/py").join(name)
}

/// A scratch directory of a test, its own (unique in the process, whose tests share a pid),
/// removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("hl7-it-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }

    /// Writes a file in the directory; returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, contents).unwrap();
        p.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// sockets and MLLP

/// A loopback port that was free a moment ago (bound, noted, closed).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One MLLP block around `payload`, framed by the library.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    api::mllp::encode(payload, &mut out);
    out
}

/// An MLLP connection: framed writes, and frames read with the library's decoder.
pub struct Mllp {
    stream: TcpStream,
    decoder: api::mllp::Decoder,
}

impl Mllp {
    /// Connects to `addr`; a read waits at most [`DEADLINE`].
    pub fn connect(addr: &str) -> Mllp {
        Mllp::over(TcpStream::connect(addr).unwrap())
    }

    /// The MLLP side of an accepted connection.
    pub fn over(stream: TcpStream) -> Mllp {
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        Mllp {
            stream,
            decoder: api::mllp::Decoder::new(16 << 20),
        }
    }

    /// A second handle on the connection, with a decoder of its own: one handle writes, the
    /// other reads, on different threads.
    pub fn try_clone(&self) -> Mllp {
        Mllp::over(self.stream.try_clone().unwrap())
    }

    /// How long a read waits (for both handles of a connection: the option is the socket's).
    pub fn set_read_timeout(&mut self, wait: Duration) {
        self.stream.set_read_timeout(Some(wait)).unwrap();
    }

    /// Writes `payload` in one MLLP block.
    pub fn send(&mut self, payload: &[u8]) -> std::io::Result<()> {
        self.write_bytes(&frame(payload))
    }

    /// Writes bytes as they are.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The payload of the next block; None once the connection is closed or fails (bytes
    /// outside blocks, empty blocks and a block cut short are passed over).
    pub fn recv(&mut self) -> Option<Vec<u8>> {
        let mut buf = [0u8; 64 * 1024];
        loop {
            while let Some(ev) = self.decoder.next_event() {
                if let api::mllp::Event::Frame { payload, .. } = ev {
                    return Some(payload.to_vec());
                }
            }
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.decoder.feed(&buf[..n]),
            }
        }
    }

    /// True once the peer has closed the connection (or it failed): the next read gives no
    /// byte. For a connection that has read nothing yet.
    pub fn closed_by_peer(&mut self) -> bool {
        let mut b = [0u8; 1];
        self.stream.read(&mut b).unwrap_or(0) == 0
    }
}

/// A running `hl7 listen`: its address from the first line of its stderr, the rest of its stderr
/// collected as it comes.
pub struct Listener {
    pub child: Child,
    pub addr: String,
    stderr: Arc<Mutex<String>>,
    /// The thread reading stderr: it ends at the end of the pipe, once the process is gone.
    drainer: thread::JoinHandle<()>,
}

impl Listener {
    /// `hl7 listen ARGS`, stdout piped.
    pub fn start(args: &[&str]) -> Listener {
        let mut child = Std::new(bin())
            .arg("listen")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        err.read_line(&mut first).unwrap();
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line: {first:?}"))
            .to_string();
        let stderr = Arc::new(Mutex::new(String::new()));
        let drainer = drain(err, Arc::clone(&stderr));
        Listener {
            child,
            addr,
            stderr,
            drainer,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> String {
        self.addr.rsplit(':').next().unwrap().to_string()
    }

    /// An MLLP connection to it.
    pub fn connect(&self) -> Mllp {
        Mllp::connect(&self.addr)
    }

    /// Waits for the process; returns exit code, stdout, stderr.
    pub fn finish(mut self) -> (i32, Vec<u8>, String) {
        let mut out = Vec::new();
        if let Some(mut o) = self.child.stdout.take() {
            o.read_to_end(&mut out).unwrap();
        }
        let status = self.child.wait().unwrap();
        // everything it wrote to stderr has been read once the pipe ends
        self.drainer.join().unwrap();
        let err = self.stderr.lock().unwrap().clone();
        (status.code().unwrap_or(-1), out, err)
    }

    /// Kills the process; returns all it wrote to stderr.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.drainer.join().unwrap();
        self.stderr.lock().unwrap().clone()
    }
}

fn drain(err: BufReader<ChildStderr>, into: Arc<Mutex<String>>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            let mut s = into.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    })
}

/// The ACK the library builds for `payload` with `code` (fixed time and control id): what an
/// in-test peer answers.
pub fn ack_for(payload: &[u8], code: api::ack::Code) -> Vec<u8> {
    use api::ack::{Mode, Options, Outcome};
    let msg = api::Message::parse(payload).unwrap();
    let opts = Options {
        now: "20260101000000",
        control_id: "ACK1",
        app: None,
        facility: None,
        mode: Mode::Original,
        code: Some(code),
        text: None,
    };
    api::ack::build(&msg, Outcome::Accept, None, &opts).unwrap()
}

/// MSH-10 of a message, as the library reads it.
pub fn control_id(msg: &[u8]) -> String {
    api::Message::parse(msg).unwrap().control_id()
}

// ---------------------------------------------------------------------------------------------
// the environment: python-hl7 and VictoriaMetrics

/// The python named by `HL7_PYTHON`, if any.
pub fn hl7_python() -> Option<PathBuf> {
    std::env::var_os("HL7_PYTHON").map(PathBuf::from)
}

/// The python with python-hl7: `HL7_PYTHON`, else the venv that `.ci/run` makes under
/// `target/pyhl7`.
pub fn python() -> PathBuf {
    let python = hl7_python().unwrap_or_else(|| root().join("target/pyhl7/bin/python"));
    assert!(
        python.exists(),
        "python-hl7 is missing: run `bash .ci/run`, which installs it into target/pyhl7"
    );
    python
}

/// A program of that python's environment (`mllp_send`, ...).
pub fn python_bin(name: &str) -> PathBuf {
    python().parent().unwrap().join(name)
}

/// Debian's `victoria-metrics`, the database of the ilp tests.
const VM: &str = "/usr/bin/victoria-metrics";

/// The VictoriaMetrics binary; None, after saying so loudly, when it is not installed and
/// `HL7_REQUIRE_VM` is unset (`.ci/run` sets it: then a missing binary fails the test).
pub fn victoria_metrics(test: &str) -> Option<&'static Path> {
    if Path::new(VM).exists() {
        return Some(Path::new(VM));
    }
    if std::env::var_os("HL7_REQUIRE_VM").is_some() {
        panic!("{VM} is missing and HL7_REQUIRE_VM is set: apt-get install victoria-metrics");
    }
    eprintln!(
        "\n*** SKIPPED {test}: {VM} is not installed (apt-get install victoria-metrics; \
         set HL7_REQUIRE_VM=1 to make this a failure) ***\n"
    );
    None
}
