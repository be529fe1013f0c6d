//! Black-box tests of `hl7 send` against peers on real sockets (127.0.0.1, port 0): an
//! in-test MLLP peer on a thread, scripted per frame (ACK codes, a wrong MSA-2, an ACK written
//! byte by byte, silence, a close), and the python-hl7 asyncio listener of
//! `tests/py/pyhl7_listener.py`. Nothing asserts on timing: timeouts and backoffs only make a
//! test take longer.
//!
//! python-hl7 is the one `util::python` finds (`HL7_PYTHON`, or the venv of `.ci/run`).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command as Std, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::util::api::ack::Code;
use crate::util::{
    Feed, Mllp, Out, ack_for, close_stdout_after_a_line, control_id, corpus_path, frame, free_port,
    messages, ndjson, py_script, python, run, sample, send, simulate, tls,
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
    fn new(script: impl Fn(&Ctx) -> Act + Send + Sync + 'static) -> Peer {
        let script: Script = Arc::new(script);
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
                let (f, t, script) = (f.clone(), total.clone(), script.clone());
                let id = n;
                n += 1;
                conns.push(thread::spawn(move || serve(stream, id, &f, &t, &script)));
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
