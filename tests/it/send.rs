//! Black-box tests of `hl7 send` against peers on real sockets (127.0.0.1, port 0): an
//! in-test MLLP peer on a thread, scripted per frame (ACK codes, a wrong MSA-2, an ACK written
//! byte by byte, silence, a close), and the python-hl7 asyncio listener of
//! `tests/py/pyhl7_listener.py`. Nothing asserts on timing: timeouts and backoffs only make a
//! test take longer.
//!
//! python-hl7 is the one `util::python` finds (`HL7_PYTHON`, or the venv of `.ci/run`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command as Std, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::util::api::ack::Code;
use crate::util::{
    DEADLINE, Feed, Listener, Mllp, Out, TempDir, ack_for, api, close_stdout_after_a_line,
    control_id, corpus_path, frame, free_port, messages, msa, ndjson, py_script, python, run,
    sample, send, simulate, tls,
};

/// What the peer does with one frame.
#[derive(Clone, Debug)]
enum Act {
    /// The library's ACK with this code (`util::ack_for`).
    Ack(Code),
    /// The same, written one byte per write.
    AckByteByByte(Code),
    /// An ACK whose MSA-2 is not the message's MSH-10.
    WrongId,
    /// These bytes, as they are.
    Raw(Vec<u8>),
    /// Close the connection without answering.
    Close,
    /// Answer, then close the connection.
    AckThenClose(Code),
    /// Never answer.
    Silent,
    /// Two ACKs for the message: a commit ACK, then the application ACK (enhanced mode).
    Twice(Code, Code),
}

/// What the peer is told about a frame: its number over all connections (from 0).
struct Ctx {
    total: usize,
}

type Script = Arc<dyn Fn(&Ctx) -> Act + Send + Sync>;
/// How a peer serves one connection: the stream, its number (from 0), where the frames it
/// receives are recorded, and the count of frames over all connections.
type Serve = Arc<dyn Fn(TcpStream, usize, &Received, &AtomicUsize) + Send + Sync>;
/// Frames as the peer received them: (connection number from 0, payload), in arrival order.
type Frames = Vec<(usize, Vec<u8>)>;
type Received = Mutex<Frames>;

/// An MLLP peer: accepts connections until stopped, records every frame with its connection.
struct Peer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    frames: Arc<Received>,
    accept: Option<JoinHandle<()>>,
}

impl Peer {
    /// A peer that answers each frame as `script` says.
    fn new(script: impl Fn(&Ctx) -> Act + Send + Sync + 'static) -> Peer {
        let script: Script = Arc::new(script);
        Peer::serving(move |stream, conn, frames, total| {
            serve(stream, conn, frames, total, &script)
        })
    }

    /// A peer that serves each connection with `serve`.
    fn serving(
        serve: impl Fn(TcpStream, usize, &Received, &AtomicUsize) + Send + Sync + 'static,
    ) -> Peer {
        let serve: Serve = Arc::new(serve);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let frames = Arc::new(Mutex::new(Vec::new()));
        let total = Arc::new(AtomicUsize::new(0));
        let (s, f) = (stop.clone(), frames.clone());
        let accept = thread::spawn(move || {
            let mut conns = Vec::new();
            let mut n = 0;
            let mut serve_next = |stream: TcpStream| {
                let (f, t, serve) = (f.clone(), total.clone(), serve.clone());
                let id = n;
                n += 1;
                conns.push(thread::spawn(move || serve(stream, id, &f, &t)));
            };
            for stream in listener.incoming() {
                if let Ok(stream) = stream {
                    serve_next(stream);
                }
                if s.load(Ordering::SeqCst) {
                    // stop() connected to wake this loop: the connections of the run it
                    // stopped were queued before that one. Take those still queued.
                    listener.set_nonblocking(true).unwrap();
                    while let Ok((stream, _)) = listener.accept() {
                        stream.set_nonblocking(false).unwrap();
                        serve_next(stream);
                    }
                    break;
                }
            }
            for c in conns {
                c.join().unwrap();
            }
        });
        Peer {
            addr,
            stop,
            frames,
            accept: Some(accept),
        }
    }

    /// Answers every frame with `code`.
    fn acking(code: Code) -> Peer {
        Peer::new(move |_| Act::Ack(code))
    }

    fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Runs `hl7 send PEER ARGS` against the peer, `stdin` on its standard input, then stops
    /// the peer: the run's exit code, stdout and stderr, and the frames the peer received.
    fn exchange(self, args: &[&str], stdin: &[u8]) -> (i32, Vec<u8>, String, Frames) {
        let Out {
            code,
            stdout,
            stderr,
        } = send(&self.addr(), args, stdin);
        (code, stdout, stderr, self.stop())
    }

    /// Stops the peer once the client is gone and returns what it received: (connection,
    /// frame) in arrival order. Every connection of the client is served to its end.
    fn stop(mut self) -> Frames {
        self.stop.store(true, Ordering::SeqCst);
        // wakes the accept loop; the connection itself is served as one without frames
        drop(TcpStream::connect(self.addr));
        self.accept.take().unwrap().join().unwrap();
        std::mem::take(&mut *self.frames.lock().unwrap())
    }
}

/// Serves one connection until the client closes it (or the script closes it).
fn serve(stream: TcpStream, conn: usize, frames: &Received, total: &AtomicUsize, script: &Script) {
    stream.set_nodelay(true).unwrap();
    let mut c = Mllp::over(stream);
    while let Some(payload) = c.recv() {
        frames.lock().unwrap().push((conn, payload.clone()));
        let ctx = Ctx {
            total: total.fetch_add(1, Ordering::SeqCst),
        };
        let written = match script(&ctx) {
            Act::Ack(code) => c.send(&ack_for(&payload, code)),
            Act::AckThenClose(code) => {
                let _ = c.send(&ack_for(&payload, code));
                return;
            }
            Act::AckByteByByte(code) => {
                for b in frame(&ack_for(&payload, code)) {
                    if c.write_bytes(&[b]).is_err() {
                        return;
                    }
                    // spreads the bytes over many reads of the client; any pace passes
                    thread::sleep(Duration::from_micros(200));
                }
                Ok(())
            }
            Act::WrongId => {
                c.send(b"MSH|^~\\&|R|F|S|F|20260101||ACK^A01^ACK|A1|P|2.5\rMSA|AA|SOMETHING-ELSE\r")
            }
            Act::Raw(bytes) => c.write_bytes(&bytes),
            // both in one write
            Act::Twice(first, then) => c.write_bytes(
                &[
                    frame(&ack_for(&payload, first)),
                    frame(&ack_for(&payload, then)),
                ]
                .concat(),
            ),
            Act::Close => return,
            Act::Silent => Ok(()),
        };
        if written.is_err() {
            return;
        }
    }
}

/// The messages of a file as `hl7 parse --to hl7` normalizes them (segments ended by \r).
fn normalized(path: &str) -> Vec<Vec<u8>> {
    messages(&run(&["parse", "--to", "hl7", path], b"").stdout)
}

fn payloads(frames: &[(usize, Vec<u8>)]) -> Vec<Vec<u8>> {
    frames.iter().map(|(_, f)| f.clone()).collect()
}

#[test]
fn every_message_is_acked_and_sent_normalized() {
    // LF endings and a blank line; an FHS/BHS file of two batches.
    let lf = corpus_path("nodehl7c__dft_p03_two_msgs_blank_line.hl7");
    let batches = corpus_path("pyhl7__file_fhs_2batches_fts.hl7");
    let mut expected = normalized(&lf);
    expected.extend(normalized(&batches));
    assert_eq!(expected.len(), 5);
    assert!(
        expected
            .iter()
            .all(|m| !m.contains(&b'\n') && m.ends_with(b"\r"))
    );
    let (code, stdout, stderr, got) = Peer::acking(Code::AA).exchange(&[&lf, &batches], b"");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(payloads(&got), expected, "the exact normalized bytes");
    assert!(got.iter().all(|(c, _)| *c == 0), "one connection");
    let rows = ndjson(&stdout);
    assert_eq!(rows.len(), expected.len());
    for (i, (row, msg)) in rows.iter().zip(&expected).enumerate() {
        assert_eq!(row["n"], i as u64 + 1);
        assert_eq!(row["control_id"], control_id(msg).as_str());
        assert_eq!(row["ack"], "AA");
        assert!(row["latency_ms"].as_f64().unwrap() >= 0.0);
        assert!(row["error"].is_null());
        let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 5, "{row}");
    }
    assert!(
        stderr.contains(&format!("{} messages", expected.len())),
        "{stderr}"
    );
    assert!(stderr.contains("accepted"), "{stderr}");
}

#[test]
fn mllp_captures_go_frame_by_frame_and_ndjson_back_to_hl7() {
    let file = corpus_path("mllp__two_frames_back_to_back.bin");
    let (code, _, stderr, got) = Peer::acking(Code::AA).exchange(&[&file], b"");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(payloads(&got), normalized(&file));
    assert_eq!(got.len(), 2);

    // NDJSON from parse is turned back into the same HL7.
    let lab = sample("oru_r01_lab.hl7");
    let ndjson = run(&["parse", &lab], b"").stdout;
    let (code, _, stderr, got) = Peer::acking(Code::AA).exchange(&[], &ndjson);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(payloads(&got), normalized(&lab));
}

#[test]
fn application_error_exits_3() {
    let (code, stdout, stderr, got) =
        Peer::acking(Code::AE).exchange(&["--retries", "2", &sample("adt_a01.hl7")], b"");
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(got.len(), 1, "AE is never retried");
    let rows = ndjson(&stdout);
    assert_eq!(rows[0]["ack"], "AE");
    assert!(rows[0]["error"].as_str().unwrap().contains("AE"));
    assert!(stderr.contains("MSH-10 'ADT20260114083012001'"), "{stderr}");
    assert!(stderr.contains("rejected"), "{stderr}");
}

#[test]
fn reject_is_retried_only_when_asked() {
    let file = sample("adt_a01.hl7");
    let (code, _, stderr, got) = Peer::acking(Code::AR).exchange(&["--retries", "2", &file], b"");
    assert_eq!(got.len(), 1, "AR is not retried by default");
    assert_eq!(code, 3, "{stderr}");

    let (code, stdout, stderr, got) =
        Peer::acking(Code::AR).exchange(&["--retries", "2", "--retry-rejected", &file], b"");
    assert_eq!(got.len(), 3, "one try and two retries");
    assert!(
        got.iter().all(|(c, _)| *c == 0),
        "a reject does not need a new connection"
    );
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(ndjson(&stdout)[0]["ack"], "AR");
    assert!(stderr.contains("3 tries"), "{stderr}");
}

#[test]
fn a_peer_that_closes_without_replying_is_retried_then_fails() {
    let (code, stdout, stderr, got) =
        Peer::new(|_| Act::Close).exchange(&["--retries", "2", &sample("adt_a01.hl7")], b"");
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(got.len(), 3, "one try and two retries");
    let conns: std::collections::BTreeSet<usize> = got.iter().map(|(c, _)| *c).collect();
    assert_eq!(conns.len(), 3, "each retry on a new connection");
    let rows = ndjson(&stdout);
    assert!(rows[0]["ack"].is_null());
    assert!(
        rows[0]["error"].as_str().unwrap().contains("closed"),
        "{}",
        rows[0]
    );
    assert!(stderr.contains("closed"), "{stderr}");
}

#[test]
fn a_dropped_connection_is_reopened() {
    // Like a receiver that serves one message per connection, without --connection-per-message.
    let file = sample("batch.hl7");
    let (code, stdout, stderr, got) =
        Peer::new(|_| Act::AckThenClose(Code::AA)).exchange(&["--retries", "1", &file], b"");
    assert_eq!(code, 0, "{stderr}");
    let ids: Vec<String> = ndjson(&stdout)
        .iter()
        .map(|r| r["control_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    // Every message arrived (some twice: sent into a connection the peer had just closed).
    let received: Vec<String> = got.iter().map(|(_, f)| control_id(f)).collect();
    for id in &ids {
        assert!(received.contains(id), "{id} never arrived");
    }
}

#[test]
fn a_reply_for_another_message_is_an_error() {
    let (code, stdout, stderr, got) =
        Peer::new(|_| Act::WrongId).exchange(&[&sample("adt_a01.hl7")], b"");
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(got.len(), 1, "a mismatch is not retried");
    let row = &ndjson(&stdout)[0];
    let error = row["error"].as_str().unwrap();
    assert!(
        error.contains("mismatch") && error.contains("SOMETHING-ELSE"),
        "{error}"
    );
    assert!(stderr.contains("mismatch"), "{stderr}");
}

#[test]
fn an_ack_split_byte_by_byte_is_read_whole() {
    let file = sample("batch.hl7");
    let (code, stdout, stderr, got) =
        Peer::new(|_| Act::AckByteByByte(Code::AA)).exchange(&["--to", "hl7", &file], b"");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(got.len(), 3);
    let acks: Vec<&[u8]> = stdout
        .split(|&b| b == b'\n')
        .filter(|a| !a.is_empty())
        .collect();
    assert_eq!(acks.len(), 3);
    for (a, (_, m)) in acks.iter().zip(&got) {
        assert_eq!(*a, ack_for(m, Code::AA).as_slice());
    }
}

#[test]
fn r2_commit_blocks_count_as_accept_and_reject() {
    // (the peer's block, exit code, the result's "ack")
    for (block, exit, ack) in [(0x06, 0, "ACK"), (0x15, 3, "NAK")] {
        let (code, stdout, stderr, _) = Peer::new(move |_| Act::Raw(vec![0x0B, block, 0x1C, 0x0D]))
            .exchange(&[&sample("adt_a01.hl7")], b"");
        assert_eq!(code, exit, "{ack}: {stderr}");
        assert_eq!(ndjson(&stdout)[0]["ack"], ack);
    }
}

#[test]
fn a_second_ack_for_the_message_before_is_skipped() {
    let file = sample("batch.hl7");
    let (code, stdout, stderr, got) =
        Peer::new(|_| Act::Twice(Code::CA, Code::AA)).exchange(&[&file], b"");
    assert_eq!(got.len(), 3);
    assert_eq!(code, 0, "{stderr}");
    let rows = ndjson(&stdout);
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r["ack"] == "CA" && r["error"].is_null()),
        "{rows:?}"
    );
}

#[test]
fn connection_per_message() {
    let file = sample("batch.hl7");
    let (code, _, stderr, got) =
        Peer::acking(Code::AA).exchange(&["--connection-per-message", &file], b"");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(payloads(&got), normalized(&file));
    let conns: Vec<usize> = got.iter().map(|(c, _)| *c).collect();
    assert_eq!(conns, [0, 1, 2], "one message per connection");
}

#[test]
fn several_connections_keep_their_order() {
    let input = simulate(&["--profile", "adt", "--count", "30", "--seed", "5"]);
    let (code, stdout, stderr, got) =
        Peer::acking(Code::AA).exchange(&["--connections", "3"], &input);
    assert_eq!(code, 0, "{stderr}");
    let sent: Vec<String> = ndjson(&stdout)
        .iter()
        .map(|r| r["control_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sent.len(), 30);
    // Results come in input order.
    let ns: Vec<u64> = ndjson(&stdout)
        .iter()
        .map(|r| r["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, (1..=30).collect::<Vec<u64>>());
    let position = |f: &[u8]| sent.iter().position(|id| *id == control_id(f)).unwrap();
    let mut all: Vec<usize> = got.iter().map(|(_, f)| position(f)).collect();
    all.sort();
    assert_eq!(
        all,
        (0..30).collect::<Vec<usize>>(),
        "every message arrived once"
    );
    let conns: std::collections::BTreeSet<usize> = got.iter().map(|(c, _)| *c).collect();
    assert_eq!(conns.len(), 3);
    for c in conns {
        let order: Vec<usize> = got
            .iter()
            .filter(|(k, _)| *k == c)
            .map(|(_, f)| position(f))
            .collect();
        assert_eq!(order.len(), 10, "dealt round-robin");
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "connection {c}: {order:?}"
        );
        assert!(
            order.iter().all(|p| p % 3 == order[0] % 3),
            "round-robin: {order:?}"
        );
    }
}

#[test]
fn no_ack_writes_and_does_not_wait() {
    // A peer that never answers: without --no-ack this would time out.
    let file = sample("batch.hl7");
    let (code, stdout, stderr, got) =
        Peer::new(|_| Act::Silent).exchange(&["--no-ack", "--timeout", "5", &file], b"");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(payloads(&got), normalized(&file));
    let rows = ndjson(&stdout);
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r["ack"].is_null() && r["error"].is_null())
    );

    // A peer that answers anyway: its ACKs are read and dropped.
    let (code, _, stderr, got) = Peer::acking(Code::AA).exchange(&["--no-ack", &file], b"");
    assert_eq!(got.len(), 3);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn pass_writes_exactly_the_accepted_messages() {
    let file = sample("batch.hl7");
    let messages = normalized(&file);
    let (code, stdout, stderr, _) =
        Peer::new(|c| Act::Ack(if c.total == 1 { Code::AE } else { Code::AA }))
            .exchange(&["--pass", &file], b"");
    assert_eq!(code, 3, "{stderr}");
    let mut expected = Vec::new();
    for m in [&messages[0], &messages[2]] {
        expected.extend_from_slice(m);
        expected.push(b'\n');
    }
    assert_eq!(stdout, expected);
    assert!(
        stderr.contains(&format!("MSH-10 '{}'", control_id(&messages[1]))),
        "{stderr}"
    );
}

#[test]
fn to_hl7_writes_the_acks() {
    let file = sample("batch.hl7");
    let (code, stdout, stderr, got) = Peer::acking(Code::AA).exchange(&["--to", "hl7", &file], b"");
    assert_eq!(code, 0, "{stderr}");
    let mut expected = Vec::new();
    for (_, m) in &got {
        expected.extend_from_slice(&ack_for(m, Code::AA));
        expected.push(b'\n');
    }
    assert_eq!(stdout, expected);

    let (code, stdout, _, _) = Peer::acking(Code::AA).exchange(&["--to", "none", &file], b"");
    assert_eq!((code, stdout.len()), (0, 0));
}

#[test]
fn no_ack_within_the_timeout_fails() {
    let (code, stdout, stderr, got) = Peer::new(|_| Act::Silent).exchange(
        &["--timeout", "0.3", "--retries", "0", &sample("adt_a01.hl7")],
        b"",
    );
    assert_eq!(got.len(), 1);
    assert_eq!(code, 1, "{stderr}");
    let row = &ndjson(&stdout)[0];
    assert!(row["ack"].is_null());
    assert!(
        row["error"]
            .as_str()
            .unwrap()
            .contains("no ACK within 0.3 s"),
        "{row}"
    );
}

#[test]
fn an_unreachable_receiver_is_a_clear_failure() {
    // A port nobody listens on: bind one, note it, close it.
    let port = free_port();
    let Out { code, stderr, .. } = send(
        &format!("127.0.0.1:{port}"),
        &["--retries", "0", &sample("batch.hl7")],
        b"",
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert!(stderr.contains("stopped"), "the run stops: {stderr}");
}

#[test]
fn loop_with_count() {
    let file = corpus_path("nodehl7c__dft_p03_two_msgs_blank_line.hl7");
    let messages = normalized(&file);
    assert_eq!(messages.len(), 2);
    let (code, stdout, stderr, got) =
        Peer::acking(Code::AA).exchange(&["--loop", "--count", "5", &file], b"");
    assert_eq!(code, 0, "{stderr}");
    let (a, b) = (&messages[0], &messages[1]);
    assert_eq!(payloads(&got), [a, b, a, b, a].map(|m| m.clone()));
    let ns: Vec<u64> = ndjson(&stdout)
        .iter()
        .map(|r| r["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, [1, 2, 3, 4, 5]);

    // stdin is kept for the next passes.
    let input = std::fs::read(&file).unwrap();
    let (code, _, stderr, got) =
        Peer::acking(Code::AA).exchange(&["--loop", "--count", "3"], &input);
    assert_eq!(payloads(&got), [a, b, a].map(|m| m.clone()));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn loop_needs_a_bound_or_a_pace() {
    let Out { code, stderr, .. } = send("127.0.0.1:9", &["--loop", &sample("adt_a01.hl7")], b"");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--rate"), "{stderr}");
    let Out { code, .. } = send("nohost", &[], b"");
    assert_eq!(code, 2);
}

#[test]
fn rate_paces_and_completes() {
    let input = simulate(&["--profile", "lab", "--count", "5", "--seed", "1"]);
    let (code, stdout, stderr, got) =
        Peer::acking(Code::AA).exchange(&["--rate", "1000/s"], &input);
    assert_eq!(got.len(), 5);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(ndjson(&stdout).len(), 5);
}

#[test]
fn invalid_input_is_reported_and_skipped() {
    let mut input = std::fs::read(sample("adt_a01.hl7")).unwrap();
    input.extend_from_slice(b"\nPID|1||123\r");
    input.extend_from_slice(
        &std::fs::read(corpus_path("bad__msh_missing_control_id_and_version.hl7")).unwrap(),
    );
    input.extend_from_slice(&std::fs::read(sample("oru_r01_lab.hl7")).unwrap());
    let (code, stdout, stderr, got) = Peer::acking(Code::AA).exchange(&[], &input);
    assert_eq!(got.len(), 2);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(ndjson(&stdout).len(), 2);
    assert!(stderr.contains("MSH-10"), "{stderr}");

    let (code, _, _, got) = Peer::acking(Code::AA).exchange(&["--strict"], &input);
    assert_eq!(got.len(), 1, "--strict stops at the first invalid input");
    assert_eq!(code, 1);
}

#[test]
fn each_message_is_checked_before_it_is_framed() {
    // A hard-wrapped line, an MLLP start block inside a field, a control id in ISO-8859-1
    // (byte 0xC4, not UTF-8, nothing declared), and a plain message.
    let input = b"MSH|^~\\&|A|B|C|D|20260101||ADT^A01|WRAP1|P|2.5\rPID|1||123\rwrapped text\r\n\
MSH|^~\\&|A|B|C|D|20260101||ADT^A01|SB1|P|2.5\rPID|1||1\x0b23\r\n\
MSH|^~\\&|A|B|C|D|20260101||ADT^A01|\xc4X1|P|2.5\rPID|1||1\r\n\
MSH|^~\\&|A|B|C|D|20260101||ADT^A01|OK1|P|2.5\rPID|1||1\r\n";
    let (code, stdout, stderr, got) = Peer::acking(Code::AA).exchange(&[], input);
    let got = payloads(&got);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(got.len(), 2, "{stderr}");
    assert!(got[0].ends_with(b"|\xc4X1|P|2.5\rPID|1||1\r"));
    let rows = ndjson(&stdout);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["control_id"], "\u{c4}X1", "decoded as ISO-8859-1");
    assert_eq!(rows[1]["control_id"], "OK1");
    assert!(
        stderr.contains("message 1 (byte ")
            && stderr.contains("line 3 does not start with a segment id"),
        "{stderr}"
    );
    // the offset named is that of the byte itself in the input
    let at = input.iter().position(|&b| b == 0x0b).unwrap();
    assert!(
        stderr.contains(&format!(
            "message 2 (byte {at}): byte 0x0B (an MLLP frame delimiter)"
        )),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// python-hl7

/// Sends `file` to the python-hl7 listener answering `code`; returns (exit, stdout, stderr,
/// the control ids the listener got).
fn send_to_python(code: &str, file: &str, count: usize) -> (i32, Vec<u8>, String, Vec<String>) {
    send_to_python_with(code, &[file], count, &[])
}

/// As [`send_to_python`], with more `hl7 send` arguments and more listener arguments.
fn send_to_python_with(
    code: &str,
    send_args: &[&str],
    count: usize,
    listener_args: &[&str],
) -> (i32, Vec<u8>, String, Vec<String>) {
    let mut child = Std::new(python())
        .arg(py_script("pyhl7_listener.py"))
        .args([code, &count.to_string()])
        .args(listener_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = lines.next().unwrap().unwrap();
    let Out {
        code: exit,
        stdout,
        stderr,
    } = send(&format!("localhost:{}", port.trim()), send_args, b"");
    // It exits after `count` messages; closing its stdin makes sure of it.
    drop(child.stdin.take());
    let got: Vec<String> = lines
        .map_while(|l| l.ok())
        .filter_map(|l| l.strip_prefix("got ").map(str::to_string))
        .collect();
    child.wait().unwrap();
    (exit, stdout, stderr, got)
}

#[test]
fn python_hl7_listener_accepts() {
    let file = sample("batch.hl7");
    let (code, stdout, stderr, got) = send_to_python("AA", &file, 3);
    assert_eq!(code, 0, "{stderr}");
    let rows = ndjson(&stdout);
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["control_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, got);
    assert!(rows.iter().all(|r| r["ack"] == "AA"));
}

#[test]
fn python_hl7_listener_errors_exit_3() {
    let file = corpus_path("pyhl7__oru_r01_v24_glucose.hl7");
    let (code, stdout, stderr, got) = send_to_python("AE", &file, 1);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(got, ["CNTRL-3456"]);
    assert_eq!(ndjson(&stdout)[0]["ack"], "AE");
}

#[test]
fn closed_stdout_is_quiet_success() {
    let input = simulate(&["--profile", "adt", "--count", "2000", "--seed", "3"]);
    let peer = Peer::acking(Code::AA);
    // Read a line, then close our end of its stdout.
    let (first, status, err) =
        close_stdout_after_a_line(&["send", &peer.addr(), "--pass"], Feed::Once(input));
    peer.stop();
    assert!(first.starts_with("MSH|"), "{first:?}");
    assert_eq!(status.code(), Some(0));
    assert!(err.is_empty(), "{err}");
}

#[test]
fn tls_to_a_python_openssl_listener() {
    let file = sample("batch.hl7");
    let (ca, cert, key) = (tls("ca.pem"), tls("server.pem"), tls("server.key"));
    let (code, stdout, stderr, got) =
        send_to_python_with("AA", &[&file, "--tls", "--ca", &ca], 3, &[&cert, &key]);
    assert_eq!(code, 0, "{stderr}");
    let rows = ndjson(&stdout);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["ack"] == "AA"));
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["control_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, got);

    // Trusting another CA: the certificate is refused, nothing is delivered, exit 1.
    let other = tls("other-ca.pem");
    let (code, stdout, stderr, got) =
        send_to_python_with("AA", &[&file, "--tls", "--ca", &other], 3, &[&cert, &key]);
    assert_eq!(code, 1, "{stderr}");
    assert!(got.is_empty());
    assert!(stderr.contains("TLS handshake"), "{stderr}");
    assert!(ndjson(&stdout).iter().all(|r| r["ack"].is_null()));
}

// ---------------------------------------------------------------------------------------------
// --window: several messages in flight on one connection

/// How a holding peer answers ([`serve_holding`]).
#[derive(Clone, Copy)]
struct Hold {
    /// Answer once this many frames are outstanding (received, not answered)...
    frames: usize,
    /// ... or once this many have come on the connection (the sender's last ones).
    per_connection: usize,
    /// Answer the last received first.
    reverse: bool,
}

/// The most frames each connection had outstanding (by connection number, connections with
/// frames only).
type Most = Arc<Mutex<std::collections::BTreeMap<usize, usize>>>;

/// A peer that holds its ACKs as `hold` says, and records the most frames each connection
/// had outstanding.
fn holding_peer(hold: Hold) -> (Peer, Most) {
    let most = Most::default();
    let m = most.clone();
    let peer =
        Peer::serving(move |stream, conn, frames, _| serve_holding(stream, conn, frames, hold, &m));
    (peer, most)
}

/// Serves one connection holding its ACKs: it reads frames as they come and answers only when
/// `hold.frames` are outstanding or `hold.per_connection` have come, then all of them in one
/// write (AA each). It decides after each read, on all the frames that read brought, so frames
/// a sender wrote beyond its window are counted when they come together. It never waits for
/// time: a sender that does not write enough ahead makes it wait for [`DEADLINE`] and fail.
fn serve_holding(mut stream: TcpStream, conn: usize, frames: &Received, hold: Hold, most: &Most) {
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut decoder = api::mllp::Decoder::new(16 << 20);
    let mut buf = vec![0u8; 64 * 1024];
    let (mut outstanding, mut seen, mut max) = (Vec::new(), 0, 0);
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        decoder.feed(&buf[..n]);
        while let Some(ev) = decoder.next_event() {
            if let api::mllp::Event::Frame { payload, .. } = ev {
                frames.lock().unwrap().push((conn, payload.to_vec()));
                outstanding.push(payload.to_vec());
                seen += 1;
            }
        }
        max = max.max(outstanding.len());
        let due = outstanding.len() >= hold.frames || seen >= hold.per_connection;
        if !due || outstanding.is_empty() {
            continue;
        }
        if hold.reverse {
            outstanding.reverse();
        }
        let acks: Vec<u8> = outstanding
            .drain(..)
            .flat_map(|m| frame(&ack_for(&m, Code::AA)))
            .collect();
        if stream.write_all(&acks).is_err() {
            break;
        }
    }
    if seen > 0 {
        most.lock().unwrap().insert(conn, max);
    }
}

/// The control ids of the results, in the order written.
fn result_ids(stdout: &[u8]) -> Vec<String> {
    ndjson(stdout)
        .iter()
        .map(|r| r["control_id"].as_str().unwrap().to_string())
        .collect()
}

/// The control ids of messages, in order.
fn ids_of(messages: &[Vec<u8>]) -> Vec<String> {
    messages.iter().map(|m| control_id(m)).collect()
}

/// `count` simulated ADT messages (seeded), and the same normalized as send sends them.
fn simulated(count: usize, seed: u64) -> (Vec<u8>, Vec<Vec<u8>>) {
    let input = simulate(&[
        "--profile",
        "adt",
        "--count",
        &count.to_string(),
        "--seed",
        &seed.to_string(),
    ]);
    let normalized = messages(&run(&["parse", "--to", "hl7"], &input).stdout);
    assert_eq!(normalized.len(), count);
    (input, normalized)
}

#[test]
fn window_matches_acks_answered_in_reverse_order() {
    // The peer reads 4 frames before it answers any, then answers them last first.
    let (input, sent) = simulated(12, 21);
    let hold = Hold {
        frames: 4,
        per_connection: 12,
        reverse: true,
    };
    let (peer, most) = holding_peer(hold);
    let (code, stdout, stderr, got) = peer.exchange(&["--window", "4"], &input);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(payloads(&got), sent, "each message once, in input order");
    let rows = ndjson(&stdout);
    assert_eq!(result_ids(&stdout), ids_of(&sent), "results in input order");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["n"], i as u64 + 1);
        assert_eq!(row["ack"], "AA", "{row}");
        assert!(row["error"].is_null(), "{row}");
    }
    assert_eq!(*most.lock().unwrap(), [(0, 4)].into());

    // --to hl7: the ACKs in input order too.
    let (peer, _) = holding_peer(hold);
    let (code, stdout, stderr, _) = peer.exchange(&["--window", "4", "--to", "hl7"], &input);
    assert_eq!(code, 0, "{stderr}");
    let acks: Vec<String> = stdout
        .split(|&b| b == b'\n')
        .filter(|a| !a.is_empty())
        .map(|a| msa(a).1)
        .collect();
    assert_eq!(acks, ids_of(&sent));
}

#[test]
fn window_1_never_has_two_frames_outstanding() {
    // The peer answers after each read, whatever that read brought: one frame, unless the
    // sender wrote the next before it had the ACK of the last.
    let (input, sent) = simulated(20, 22);
    let hold = Hold {
        frames: 1,
        per_connection: 20,
        reverse: false,
    };
    for args in [&[][..], &["--window", "1"]] {
        let (peer, most) = holding_peer(hold);
        let (code, _, stderr, got) = peer.exchange(args, &input);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(payloads(&got), sent);
        assert_eq!(*most.lock().unwrap(), [(0, 1)].into(), "{args:?}");
    }
}

#[test]
fn window_bounds_the_frames_outstanding() {
    // The peer holds its ACKs until 8 frames are outstanding (or all 100 have come): a
    // window of 8 fills it every time, and never overflows it.
    let (input, sent) = simulated(100, 23);
    let hold = Hold {
        frames: 8,
        per_connection: 100,
        reverse: false,
    };
    let (peer, most) = holding_peer(hold);
    let (code, stdout, stderr, got) = peer.exchange(&["--window", "8"], &input);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(payloads(&got), sent);
    assert_eq!(result_ids(&stdout), ids_of(&sent));
    let most = most.lock().unwrap()[&0];
    assert!(most <= 8, "{most} frames outstanding with a window of 8");
    assert!(most > 1, "the window was never used: {most}");
    assert_eq!(most, 8);
}

#[test]
fn window_per_connection_with_several_connections() {
    // 40 messages dealt to 2 connections, 20 each; the peer holds 4 on each.
    let (input, sent) = simulated(40, 24);
    let hold = Hold {
        frames: 4,
        per_connection: 20,
        reverse: true,
    };
    let (peer, most) = holding_peer(hold);
    let (code, stdout, stderr, got) =
        peer.exchange(&["--window", "4", "--connections", "2"], &input);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(result_ids(&stdout), ids_of(&sent), "results in input order");
    assert!(ndjson(&stdout).iter().all(|r| r["ack"] == "AA"));
    assert_eq!(got.len(), 40);
    assert_eq!(*most.lock().unwrap(), [(0, 4), (1, 4)].into());
}

#[test]
fn window_resends_a_message_whose_ack_timed_out() {
    // The peer answers every frame at once, but for the third frame it receives: the first
    // try of message 3. Its timeout closes the connection; it is sent again on a new one.
    let (input, sent) = simulated(10, 25);
    let (code, stdout, stderr, got) = Peer::new(|c| {
        if c.total == 2 {
            Act::Silent
        } else {
            Act::Ack(Code::AA)
        }
    })
    .exchange(
        &["--timeout", "1", "--retries", "2", "--window", "4"],
        &input,
    );
    assert_eq!(code, 0, "{stderr}");
    let rows = ndjson(&stdout);
    assert_eq!(result_ids(&stdout), ids_of(&sent), "results in input order");
    assert!(
        rows.iter()
            .all(|r| r["ack"] == "AA" && r["error"].is_null()),
        "{rows:?}"
    );
    let dropped = &sent[2];
    let tries: Vec<usize> = got
        .iter()
        .filter(|(_, f)| f == dropped)
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(tries.len(), 2, "message 3 sent twice: {tries:?}");
    assert_ne!(tries[0], tries[1], "the second time on a new connection");
    for m in &sent {
        assert!(
            got.iter().any(|(_, f)| f == m),
            "{} never arrived",
            control_id(m)
        );
    }
}

#[test]
fn window_retries_a_rejection_on_the_same_connection() {
    let file = sample("batch.hl7");
    let (code, stdout, stderr, got) = Peer::acking(Code::AR).exchange(
        &["--window", "4", "--retries", "2", "--retry-rejected", &file],
        b"",
    );
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(got.len(), 9, "three tries of each of three messages");
    assert!(got.iter().all(|(c, _)| *c == 0), "one connection");
    let rows = ndjson(&stdout);
    assert_eq!(result_ids(&stdout), ids_of(&normalized(&file)));
    assert!(
        rows.iter()
            .all(|r| r["ack"] == "AR" && r["error"].as_str().unwrap().contains("(3 tries)")),
        "{rows:?}"
    );
}

#[test]
fn window_reports_replies_that_match_no_message() {
    // Every reply names a control id that was never sent: none is taken for any message's,
    // each is reported, and the messages time out.
    let file = sample("batch.hl7");
    let (code, stdout, stderr, got) = Peer::new(|_| Act::WrongId).exchange(
        &["--window", "4", "--timeout", "0.5", "--retries", "0", &file],
        b"",
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(got.len(), 3);
    let rows = ndjson(&stdout);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["ack"].is_null()), "{rows:?}");
    assert!(
        rows[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("no ACK within 0.5 s"),
        "{}",
        rows[0]
    );
    let mismatches = stderr
        .lines()
        .filter(|l| l.contains("ACK mismatch: MSA-2 is 'SOMETHING-ELSE'"))
        .count();
    assert_eq!(mismatches, 3, "{stderr}");
    assert!(stderr.contains("3 replies matched no message"), "{stderr}");
}

#[test]
fn window_to_hl7_listen_keeps_every_message_in_order() {
    let (input, sent) = simulated(500, 26);
    let mut listener = Listener::start(&["127.0.0.1:0", "--count", "500"]);
    // Read as it comes: listen writes each message before its ACK, and a full pipe would
    // hold the ACKs back.
    let mut out = listener.child.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        let mut received = Vec::new();
        out.read_to_end(&mut received).unwrap();
        received
    });
    let Out {
        code,
        stdout,
        stderr,
    } = send(&listener.addr, &["--window", "16"], &input);
    let (listen_code, _, listen_err) = listener.finish();
    let received = reader.join().unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(listen_code, 0, "{listen_err}");
    let rows = ndjson(&stdout);
    assert_eq!(result_ids(&stdout), ids_of(&sent));
    assert!(rows.iter().all(|r| r["ack"] == "AA"));
    assert_eq!(
        messages(&received),
        sent,
        "listen wrote every message, in order"
    );
}

#[test]
fn window_to_the_python_hl7_listener() {
    // python-hl7 reads a message, writes its ACK, then reads the next: the frames written
    // ahead wait in TCP's buffers.
    let dir = TempDir::new("window-python");
    let (input, sent) = simulated(40, 27);
    let file = dir.write("in.hl7", &input);
    let (code, stdout, stderr, got) = send_to_python_with("AA", &[&file, "--window", "8"], 40, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(got, ids_of(&sent));
    assert_eq!(result_ids(&stdout), ids_of(&sent));
    assert!(ndjson(&stdout).iter().all(|r| r["ack"] == "AA"));
}

#[test]
fn window_over_tls_to_a_python_openssl_listener() {
    let dir = TempDir::new("window-tls");
    let (input, sent) = simulated(30, 28);
    let file = dir.write("in.hl7", &input);
    let (ca, cert, key) = (tls("ca.pem"), tls("server.pem"), tls("server.key"));
    let (code, stdout, stderr, got) = send_to_python_with(
        "AA",
        &[&file, "--tls", "--ca", &ca, "--window", "8"],
        30,
        &[&cert, &key],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(got, ids_of(&sent));
    assert_eq!(result_ids(&stdout), ids_of(&sent));
    assert!(ndjson(&stdout).iter().all(|r| r["ack"] == "AA"));
}

#[test]
fn window_with_a_rate_and_without_acks() {
    let (input, sent) = simulated(20, 29);
    let (code, stdout, stderr, got) =
        Peer::acking(Code::AA).exchange(&["--window", "4", "--rate", "2000/s"], &input);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(payloads(&got), sent);
    assert_eq!(result_ids(&stdout), ids_of(&sent));

    // --no-ack waits for no ACK: the window does not apply.
    let (code, stdout, stderr, got) =
        Peer::new(|_| Act::Silent).exchange(&["--window", "4", "--no-ack"], &input);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(payloads(&got), sent);
    assert_eq!(ndjson(&stdout).len(), 20);
}

#[test]
fn window_usage_errors_exit_2() {
    let file = sample("adt_a01.hl7");
    for (args, says) in [
        (&["--window", "0"][..], "--window must be from 1 to 4096"),
        (&["--window", "4097"], "--window must be from 1 to 4096"),
        (
            &["--window", "2", "--connection-per-message"],
            "--connection-per-message",
        ),
    ] {
        // Refused before any connection: the address is never tried.
        let Out { code, stderr, .. } = send("127.0.0.1:9", &[args, &[&file]].concat(), b"");
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let Out { code, .. } = send("127.0.0.1:9", &["--window", "-1", &file], b"");
    assert_eq!(code, 2);
}
