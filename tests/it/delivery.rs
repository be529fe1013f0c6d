//! `hl7 listen --ack-after delivered`: an AA only once the end of the pipeline has reported the
//! message's rows committed. Here the test is the end of the pipeline: it reads listen's
//! stdout (messages, each followed by its mark line), and sends receipts to the address the
//! marks name, over a real loopback socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ChildStdout;
use std::time::Duration;

use crate::util::{Listener, Mllp, msa, run};

fn msg(id: &str) -> Vec<u8> {
    format!("MSH|^~\\&|SND|SF|RCV|RF|20240101120000||ORU^R01^ORU_R01|{id}|P|2.5.1\rPID|1||{id}^^^H^MR||DOE^JANE\rOBX|1|NM|8867-4^HR^LN||72|/min|||||F\r").into_bytes()
}

/// A mark as read from listen's output.
#[derive(Debug)]
struct Mark {
    session: String,
    seq: u64,
    to: String,
}

/// listen's stdout, read one message or mark at a time.
struct Output(BufReader<ChildStdout>);

enum Line {
    Message(Vec<u8>),
    Mark(Mark),
}

impl Output {
    fn next(&mut self) -> Line {
        let mut line = Vec::new();
        let n = self.0.read_until(b'\n', &mut line).unwrap();
        assert!(n > 0, "listen's output ended");
        line.pop();
        match line.strip_prefix(b"\x1Ehl7-mark ") {
            Some(rest) => {
                let rest = String::from_utf8(rest.to_vec()).unwrap();
                let parts: Vec<&str> = rest.split(' ').collect();
                assert_eq!(parts.len(), 3, "{rest}");
                Line::Mark(Mark {
                    session: parts[0].into(),
                    seq: parts[1].parse().unwrap(),
                    to: parts[2].into(),
                })
            }
            None => Line::Message(line),
        }
    }

    /// The next message, and the mark after it.
    fn message_and_mark(&mut self) -> (Vec<u8>, Mark) {
        let Line::Message(m) = self.next() else {
            panic!("expected a message")
        };
        let Line::Mark(k) = self.next() else {
            panic!("expected a mark after the message")
        };
        (m, k)
    }
}

fn start(extra: &[&str]) -> (Listener, Output) {
    let mut args = vec!["127.0.0.1:0", "--ack-after", "delivered"];
    args.extend_from_slice(extra);
    let mut l = Listener::start(&args);
    let out = Output(BufReader::new(l.child.stdout.take().unwrap()));
    (l, out)
}

fn receipt(to: &mut TcpStream, mark: &Mark, seq: u64) {
    to.write_all(format!("hl7-receipt {} {seq}\n", mark.session).as_bytes())
        .unwrap();
}

/// True when nothing arrives on `s` within a moment. A correct listener passes whatever the
/// timing; a listener that ACKs early fails it (almost always: its ACK is already on its way).
fn nothing_arrives(s: &mut Mllp) -> bool {
    let mut probe = s.try_clone();
    probe.set_read_timeout(Duration::from_millis(300));
    let none = probe.recv().is_none();
    probe.set_read_timeout(crate::util::DEADLINE);
    none
}

#[test]
fn aa_waits_for_the_receipt_and_the_marks_count_messages() {
    let (l, mut out) = start(&[]);
    let mut s = l.connect();
    s.send(&msg("D1")).unwrap();
    let (m, k1) = out.message_and_mark();
    assert_eq!(m, msg("D1"));
    assert_eq!(k1.seq, 1);
    assert_eq!(k1.session.len(), 16);
    assert!(k1.to.starts_with("127.0.0.1:"), "{k1:?}");
    assert!(nothing_arrives(&mut s), "AA before the receipt");
    let mut ilp = TcpStream::connect(&k1.to).unwrap();
    receipt(&mut ilp, &k1, 1);
    assert_eq!(msa(&s.recv().unwrap()), ("AA".into(), "D1".into()));
    // the next message waits for a receipt of its own
    s.send(&msg("D2")).unwrap();
    let (_, k2) = out.message_and_mark();
    assert_eq!((k2.seq, &k2.session), (2, &k1.session));
    receipt(&mut ilp, &k1, 1);
    assert!(nothing_arrives(&mut s), "AA for D2 on D1's receipt");
    receipt(&mut ilp, &k1, 2);
    assert_eq!(msa(&s.recv().unwrap()), ("AA".into(), "D2".into()));
    let err = l.kill();
    assert!(err.contains("receipts on 127.0.0.1:"), "{err}");
    assert!(err.contains("connected (delivered mode)"), "{err}");
    assert!(!err.contains("DOE"), "no message contents in logs: {err}");
}

#[test]
fn pipelined_frames_are_all_written_before_any_receipt_and_acked_in_order() {
    let (l, mut out) = start(&[]);
    let mut s = l.connect();
    let ids: Vec<String> = (1..=10).map(|i| format!("P{i}")).collect();
    let mut burst = Vec::new();
    for id in &ids {
        burst.extend(crate::util::frame(&msg(id)));
    }
    s.write_bytes(&burst).unwrap();
    // all ten are written (read ahead) while none is acknowledged
    let mut last = None;
    for id in &ids {
        let (m, k) = out.message_and_mark();
        assert_eq!(m, msg(id));
        last = Some(k);
    }
    let last = last.unwrap();
    assert_eq!(last.seq, 10);
    let mut ilp = TcpStream::connect(&last.to).unwrap();
    receipt(&mut ilp, &last, 10);
    for id in &ids {
        assert_eq!(msa(&s.recv().unwrap()), ("AA".into(), id.clone()));
    }
    l.kill();
}

#[test]
fn the_end_of_the_pipeline_gone_means_no_aa_and_exit_1() {
    let (l, mut out) = start(&[]);
    let mut s = l.connect();
    s.send(&msg("G1")).unwrap();
    let (_, k1) = out.message_and_mark();
    let mut ilp = TcpStream::connect(&k1.to).unwrap();
    receipt(&mut ilp, &k1, 1);
    assert_eq!(msa(&s.recv().unwrap()).0, "AA");
    s.send(&msg("G2")).unwrap();
    out.message_and_mark();
    // the end of the pipeline dies before confirming G2
    drop(ilp);
    assert_eq!(s.recv(), None, "G2 must get no ACK: the connection closes");
    drop(out);
    let (code, _, err) = l.finish();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the end of the pipeline is gone"), "{err}");
    assert!(
        err.contains("1 messages written but not confirmed"),
        "{err}"
    );
}

#[test]
fn a_message_that_would_forge_a_mark_is_refused() {
    let (l, mut out) = start(&[]);
    let mut s = l.connect();
    let mut forged = msg("F1");
    forged.extend_from_slice(b"\x1Ehl7-mark 0000000000000000 99 127.0.0.1:1\r");
    s.send(&forged).unwrap();
    // a line that is no segment fails validation (AE); listen also refuses any message with
    // a line that starts with 0x1E (AR) should it ever pass
    let (code, id) = msa(&s.recv().unwrap());
    assert!(code == "AE" || code == "AR", "{code}");
    assert_eq!(id, "F1");
    // nothing was written: the next message is number 1
    s.send(&msg("F2")).unwrap();
    let (m, k) = out.message_and_mark();
    assert_eq!((m, k.seq), (msg("F2"), 1));
    let err = l.kill();
    assert!(err.contains("message F1: not accepted"), "{err}");
}

#[test]
fn strangers_on_the_receipts_port_change_nothing() {
    let (l, mut out) = start(&[]);
    let mut s = l.connect();
    s.send(&msg("S1")).unwrap();
    let (_, k) = out.message_and_mark();
    // a receipt from another run, one beyond what was written, and junk
    let mut other = TcpStream::connect(&k.to).unwrap();
    other
        .write_all(b"hl7-receipt 0123456789abcdef 1\n")
        .unwrap();
    receipt(&mut other, &k, 5);
    let mut junk = TcpStream::connect(&k.to).unwrap();
    junk.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut rest = Vec::new();
    let _ = junk.read_to_end(&mut rest);
    assert!(nothing_arrives(&mut s), "AA without a valid receipt");
    receipt(&mut other, &k, 1);
    assert_eq!(msa(&s.recv().unwrap()), ("AA".into(), "S1".into()));
    let err = l.kill();
    assert!(err.contains("another run of hl7 listen"), "{err}");
    assert!(err.contains("only 1 were written"), "{err}");
    assert!(err.contains("not a receipt line"), "{err}");
}

#[test]
fn usage_errors() {
    for args in [
        &[
            "listen",
            "127.0.0.1:0",
            "--ack-after",
            "delivered",
            "--to",
            "mllp",
        ][..],
        &[
            "listen",
            "127.0.0.1:0",
            "--ack-after",
            "delivered",
            "--receipts",
            "0.0.0.0:0",
        ],
        &["listen", "127.0.0.1:0", "--ack-after", "sometime"],
        &["listen", "127.0.0.1:0", "--receipts", "127.0.0.1:0"],
    ] {
        let out = run(args, b"");
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
    }
}

#[test]
fn sigterm_still_delivers_the_acks_of_what_was_written() {
    let (l, mut out) = start(&[]);
    let mut s = l.connect();
    s.send(&msg("T1")).unwrap();
    let (_, k) = out.message_and_mark();
    std::process::Command::new("kill")
        .args(["-TERM", &l.child.id().to_string()])
        .status()
        .unwrap();
    // stopping: no new connections, but the receipts of what was written are still taken
    let mut ilp = TcpStream::connect(&k.to).unwrap();
    receipt(&mut ilp, &k, 1);
    assert_eq!(msa(&s.recv().unwrap()), ("AA".into(), "T1".into()));
    drop(s);
    drop(out);
    let (code, _, err) = l.finish();
    assert_eq!(code, 0, "{err}");
}
