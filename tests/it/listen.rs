//! Black-box tests of `hl7 listen` over real sockets on 127.0.0.1 (port 0): ACKs, durability
//! (stdout before AA), NAKs for bad frames, the corpus MLLP streams, options, signals, and
//! python-hl7's `mllp_send` as a peer.

use assert_cmd::Command;
use std::thread;

use crate::util::{
    Listener, Mllp, Out, TempDir, corpus_path, count, msa, ndjson, output, python, python_bin,
    read_corpus, run, sample, send, tls,
};

fn msg(id: &str) -> Vec<u8> {
    format!("MSH|^~\\&|SND|SF|RCV|RF|20240101120000||ORU^R01^ORU_R01|{id}|P|2.5.1\rPID|1||{id}^^^H^MR||DOE^JANE\rOBX|1|NM|8867-4^HR^LN||72|/min|||||F\r").into_bytes()
}

#[test]
fn acks_after_writing_and_stdout_holds_the_exact_bytes() {
    let l = Listener::start(&["127.0.0.1:0", "--count", "3"]);
    let mut s = l.connect();
    let mut want = Vec::new();
    for id in ["A1", "A2", "A3"] {
        s.send(&msg(id)).unwrap();
        let ack = s.recv().unwrap();
        assert_eq!(msa(&ack), ("AA".to_string(), id.to_string()));
        let text = String::from_utf8(ack).unwrap();
        assert!(text.starts_with("MSH|^~\\&|RCV|RF|SND|SF|"), "{text}");
        assert!(text.contains("|ACK^R01^ACK|"), "{text}");
        want.extend_from_slice(&msg(id));
        want.push(b'\n');
    }
    let (code, out, err) = l.finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, want);
    assert!(!err.contains("DOE"), "no message contents in logs: {err}");
}

#[test]
fn bad_frames_get_naks_and_the_connection_stays_usable() {
    let l = Listener::start(&["127.0.0.1:0", "--count", "1", "--max-message-size", "2000"]);
    let mut s = l.connect();
    // not HL7
    s.send(b"hello world\r").unwrap();
    let (code, id) = msa(&s.recv().unwrap());
    assert_eq!((code.as_str(), id.as_str()), ("AR", ""));
    // a header without MSH-10: AE with ERR at MSH-10
    s.send(&read_corpus("bad__msh_missing_control_id_and_version.hl7"))
        .unwrap();
    let nak = String::from_utf8(s.recv().unwrap()).unwrap();
    assert_eq!(msa(nak.as_bytes()).0, "AE");
    assert!(nak.contains("ERR||MSH^1^10|101^"), "{nak}");
    // too large: discarded with a NAK
    let mut big = msg("BIG");
    big.extend(std::iter::repeat_n(b'X', 5000));
    s.send(&big).unwrap();
    assert_eq!(msa(&s.recv().unwrap()).0, "AR");
    // and a good one still works
    s.send(&msg("OK1")).unwrap();
    assert_eq!(msa(&s.recv().unwrap()), ("AA".into(), "OK1".into()));
    let (code, out, err) = l.finish();
    assert_eq!(code, 0);
    assert_eq!(
        out,
        [msg("OK1"), b"\n".to_vec()].concat(),
        "only the accepted message is written"
    );
    assert!(err.contains("larger than --max-message-size"), "{err}");
    assert!(!err.contains("hello"), "no contents in logs: {err}");
}

#[test]
fn corpus_streams_split_anywhere() {
    // 500 frames on one connection, fed in odd-sized writes
    let data = read_corpus("mllp__keepalive_500_frames.bin");
    let l = Listener::start(&["127.0.0.1:0", "--count", "500"]);
    let mut s = l.connect();
    let mut reader = s.try_clone();
    let acks = thread::spawn(move || {
        (0..500)
            .map(|_| msa(&reader.recv().unwrap()))
            .collect::<Vec<_>>()
    });
    for chunk in data.chunks(7) {
        s.write_bytes(chunk).unwrap();
    }
    let acks = acks.join().unwrap();
    assert!(acks.iter().all(|(c, _)| c == "AA"));
    assert_eq!(
        acks.iter().map(|(_, id)| id.as_str()).collect::<Vec<_>>()[..3],
        ["KA-0", "KA-1", "KA-2"]
    );
    let (code, out, _) = l.finish();
    assert_eq!(code, 0);
    assert_eq!(count(&out, b'\n'), 500);

    // junk before and between frames, FS without CR, a restarted frame
    for (file, frames) in [
        ("mllp__junk_before_and_between_frames.bin", 2),
        ("mllp__fs_without_cr_then_next_frame.bin", 2),
        ("mllp__second_vt_inside_unterminated_frame.bin", 1),
        ("mllp__two_frames_back_to_back.bin", 2),
    ] {
        let l = Listener::start(&["127.0.0.1:0", "--count", &frames.to_string()]);
        let mut s = l.connect();
        s.write_bytes(&read_corpus(file)).unwrap();
        for _ in 0..frames {
            assert_eq!(msa(&s.recv().unwrap()).0, "AA", "{file}");
        }
        let (code, out, _) = l.finish();
        assert_eq!(code, 0, "{file}");
        assert_eq!(count(&out, b'\n'), frames, "{file}");
    }
}

#[test]
fn many_connections_at_once() {
    // Enough messages over enough connections that group commits overlap (leaders, followers
    // woken by another's batch, hand-overs): every message must get its AA. (Stdout is read
    // only at the end: 320 messages stay within a pipe's buffer.)
    let l = Listener::start(&["127.0.0.1:0", "--count", "320"]);
    let addr = l.addr.clone();
    let senders: Vec<_> = (0..8)
        .map(|c| {
            let addr = addr.clone();
            thread::spawn(move || {
                let mut s = Mllp::connect(&addr);
                for i in 0..40 {
                    let id = format!("C{c}-{i}");
                    s.send(&msg(&id)).unwrap();
                    assert_eq!(msa(&s.recv().unwrap()), ("AA".to_string(), id));
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let (code, out, _) = l.finish();
    assert_eq!(code, 0);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 320);
    for c in 0..8 {
        // each connection's messages in order
        let ids: Vec<usize> = (0..40)
            .map(|i| text.find(&format!("|C{c}-{i}|")).unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}

#[test]
fn ndjson_meta_and_archive() {
    let scratch = TempDir::new("listen-archive");
    // made by the listener
    let dir = scratch.join("archive");
    let l = Listener::start(&[
        "127.0.0.1:0",
        "--count",
        "2",
        "--to",
        "ndjson",
        "--meta",
        "--archive",
        dir.to_str().unwrap(),
        "--archive-layout",
        "{MSH-9.1}/{MSH-10}.hl7",
        "--channel",
        "icu=127.0.0.1:0",
    ]);
    let mut s = l.connect();
    for id in ["M1", "M2"] {
        s.send(&msg(id)).unwrap();
        assert_eq!(msa(&s.recv().unwrap()).0, "AA");
        // acknowledged means on disk
        assert_eq!(
            std::fs::read(dir.join(format!("ORU/{id}.hl7"))).unwrap(),
            [msg(id), b"\n".to_vec()].concat()
        );
    }
    let addr = l.addr.clone();
    let (code, out, err) = l.finish();
    assert_eq!(code, 0, "{err}");
    let lines = ndjson(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["control_id"], "M1");
    assert_eq!(lines[0]["ack"], "AA");
    assert_eq!(lines[0]["raw"], String::from_utf8(msg("M1")).unwrap());
    assert!(lines[0]["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    // the first address was given without a name, so the channel is the address itself
    assert_eq!(lines[0]["channel"], addr.as_str());
    assert!(lines[0]["received"].as_str().unwrap().ends_with('Z'));
    // the envelope goes back to the same HL7
    let back = run(
        &["parse", "--to", "hl7"],
        serde_json::to_string(&lines[1]).unwrap().as_bytes(),
    );
    assert_eq!(back.stdout, [msg("M2"), b"\n".to_vec()].concat());
}

#[test]
fn no_aa_when_stdout_is_closed() {
    let mut l = Listener::start(&["127.0.0.1:0"]);
    drop(l.child.stdout.take()); // the consumer is gone
    let mut s = l.connect();
    s.send(&msg("LOST1")).unwrap();
    // closing without an ACK would also be correct: the sender keeps the message
    if let Some(reply) = s.recv() {
        assert_ne!(
            msa(&reply).0,
            "AA",
            "a message that was not written must not get AA"
        );
    }
    let (code, _, err) = l.finish();
    // listen can no longer do its job: exit 1, so that a supervisor restarts the pipeline
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("stdout closed"), "{err}");
}

#[test]
fn sigterm_stops_cleanly_after_acking() {
    let l = Listener::start(&["127.0.0.1:0"]);
    let mut s = l.connect();
    s.send(&msg("T1")).unwrap();
    assert_eq!(msa(&s.recv().unwrap()).0, "AA");
    std::process::Command::new("kill")
        .args(["-TERM", &l.child.id().to_string()])
        .status()
        .unwrap();
    let (code, out, _) = l.finish();
    assert_eq!(code, 0);
    assert_eq!(out, [msg("T1"), b"\n".to_vec()].concat());
}

#[test]
fn allow_refuses_other_networks_and_idle_connections_close() {
    let l = Listener::start(&["127.0.0.1:0", "--allow", "10.0.0.0/8", "--count", "1"]);
    let mut s = l.connect();
    let _ = s.send(&msg("X"));
    assert!(s.recv().is_none(), "refused: closed without a reply");
    let err = l.kill();
    assert!(err.contains("refused: not in --allow"), "{err}");

    let l = Listener::start(&["127.0.0.1:0", "--idle-timeout", "1", "--count", "1"]);
    let mut idle = l.connect();
    assert!(
        idle.closed_by_peer(),
        "closed by the listener after the idle timeout"
    );
    let mut s = l.connect();
    s.send(&msg("AFTER")).unwrap();
    assert_eq!(msa(&s.recv().unwrap()).0, "AA");
    let (code, _, err) = l.finish();
    assert_eq!(code, 0);
    assert!(err.contains("idle"), "{err}");
}

#[test]
fn usage_errors() {
    for args in [
        vec!["--allow", "nope"],
        vec!["--archive", "/tmp/x", "--archive-layout", "%Q"],
        vec!["not an address"],
        vec!["--channel", "nameonly"],
    ] {
        usage_error(&args);
    }
}

/// `hl7 listen ARGS` is a usage error: exit 2.
fn usage_error(args: &[&str]) {
    let out = run(&[&["listen"], args].concat(), b"");
    assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
}

#[test]
fn python_hl7_mllp_send_is_answered() {
    let l = Listener::start(&["127.0.0.1:0", "--count", "2"]);
    let out = output(Command::new(python_bin("mllp_send")).args([
        "-p",
        &l.port(),
        "--file",
        &corpus_path("mllp__two_frames_back_to_back.bin"),
        "127.0.0.1",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let acks: Vec<(String, String)> = out
        .text()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| msa(l.as_bytes()))
        .collect();
    assert_eq!(
        acks,
        [
            ("AA".to_string(), "MLLP-1".to_string()),
            ("AA".to_string(), "MLLP-2".to_string())
        ]
    );
    let (code, out, _) = l.finish();
    assert_eq!(code, 0);
    let data = read_corpus("mllp__two_frames_back_to_back.bin");
    // stdout holds the exact bytes mllp_send framed: the file's messages, which it strips of
    // their final CR (python-hl7 `read_stream` yields `m.strip(SB + CR)`)
    let mut want = Vec::new();
    for part in data.split(|&b| b == 0x0b).skip(1) {
        let end = part.iter().position(|&b| b == 0x1c).unwrap();
        want.extend_from_slice(part[..end].strip_suffix(b"\r").unwrap_or(&part[..end]));
        want.push(b'\n');
    }
    assert_eq!(out, want);
}

#[test]
fn hl7_send_to_hl7_listen() {
    let l = Listener::start(&["127.0.0.1:0", "--count", "3"]);
    let batch = &sample("batch.hl7");
    let sent = send(&l.addr, &[batch], b"");
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    let results = sent.json();
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|r| r["ack"] == "AA"));
    let (code, out, _) = l.finish();
    assert_eq!(code, 0);
    // what arrived is what hl7 parse --to hl7 makes of the file
    let want = run(&["parse", "--to", "hl7", batch], b"").stdout;
    assert_eq!(out, want);
}

// ---------------------------------------------------------------------------------------------
// MLLP over TLS (certificates: tests/fixtures/tls/, made by tools/gen_test_certs.sh)

/// `hl7 listen` on 127.0.0.1:0 over TLS with the test server certificate, and `args`.
fn tls_listener(args: &[&str]) -> Listener {
    let (cert, key) = (tls("server.pem"), tls("server.key"));
    let mut all = vec!["127.0.0.1:0", "--tls-cert", &cert, "--tls-key", &key];
    all.extend_from_slice(args);
    Listener::start(&all)
}

#[test]
fn tls_send_to_listen() {
    let l = tls_listener(&["--count", "3"]);
    let port = l.port();
    let batch = std::fs::read(sample("batch.hl7")).unwrap();
    // By name, as users do: the certificate is for localhost.
    let Out {
        code,
        stdout,
        stderr,
    } = send(
        &format!("localhost:{port}"),
        &["--tls", "--ca", &tls("ca.pem")],
        &batch,
    );
    assert_eq!(code, 0, "{stderr}");
    let acks = String::from_utf8(stdout).unwrap();
    assert_eq!(acks.matches("\"ack\":\"AA\"").count(), 3, "{acks}");
    let (code, out, _) = l.finish();
    assert_eq!(code, 0);
    let want = run(&["parse", "--to", "hl7"], &batch).stdout;
    assert_eq!(out, want);
}

#[test]
fn mutual_tls_refuses_strangers_and_plain_clients() {
    let ca = tls("ca.pem");
    let l = tls_listener(&["--tls-client-ca", &ca, "--count", "1"]);
    let one = msg("TLS-1");
    // No client certificate, then one from another CA: refused, nothing delivered, exit 1.
    let (stranger, stranger_key) = (tls("other-client.pem"), tls("other-client.key"));
    for extra in [
        vec![],
        vec!["--cert", stranger.as_str(), "--key", stranger_key.as_str()],
    ] {
        let mut args = vec!["--tls", "--ca", &ca, "--retries", "1"];
        args.extend(extra.iter().copied());
        let Out {
            code,
            stdout,
            stderr,
        } = send(&l.addr, &args, &one);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(String::from_utf8_lossy(&stdout).contains("\"ack\":null"));
    }
    // Plain MLLP on the TLS port: no ACK, the connection is closed.
    let mut plain = l.connect();
    plain.send(&one).unwrap();
    assert_eq!(plain.recv(), None);
    // The listener is still there for a client with the right certificate.
    let (client, client_key) = (tls("client.pem"), tls("client.key"));
    let Out {
        code,
        stdout,
        stderr,
    } = send(
        &l.addr,
        &[
            "--tls",
            "--ca",
            &ca,
            "--cert",
            &client,
            "--key",
            &client_key,
        ],
        &one,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(String::from_utf8_lossy(&stdout).contains("\"ack\":\"AA\""));
    let (code, out, err) = l.finish();
    assert_eq!(code, 0);
    assert_eq!(out, [&one[..], b"\n"].concat());
    // Each refusal is logged with its peer (and no message contents).
    assert!(err.matches("TLS handshake failed").count() >= 3, "{err}");
    assert!(!err.contains("DOE"), "{err}");
}

#[test]
fn python_openssl_client_to_tls_listen() {
    let l = tls_listener(&["--count", "1"]);
    let port = l.port();
    // python-hl7's asyncio client over Python's ssl module (OpenSSL).
    let script = r#"
import asyncio, ssl, sys
import hl7
from hl7.mllp import open_hl7_connection
async def main():
    ctx = ssl.create_default_context(cafile=sys.argv[2])
    reader, writer = await open_hl7_connection("localhost", int(sys.argv[1]), ssl=ctx)
    writer.writemessage(hl7.parse(sys.argv[3]))
    await writer.drain()
    ack = await reader.readmessage()
    print(str(ack.segment("MSA")))
    writer.close()
asyncio.run(main())
"#;
    let text = String::from_utf8(msg("PY-TLS-1")).unwrap();
    let out = output(Command::new(python()).args(["-c", script, &port, &tls("ca.pem"), &text]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let reply = out.text();
    assert!(reply.starts_with("MSA|AA|PY-TLS-1"), "{reply}");
    let (code, out, _) = l.finish();
    assert_eq!(code, 0);
    // The bytes python-hl7 sent (it keeps the final CR of what it parsed), and a newline.
    assert_eq!(out, [text.as_bytes(), b"\n"].concat());
}

#[test]
fn tls_usage_errors() {
    let (cert, key, ca) = (tls("server.pem"), tls("server.key"), tls("ca.pem"));
    let client_key = tls("client.key");
    for args in [
        vec!["--tls-cert", "/nonexistent.pem", "--tls-key", &key],
        vec!["--tls-cert", &cert, "--tls-key", &client_key],
        vec!["--tls-cert", &cert],
        vec![
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            &key,
        ],
    ] {
        usage_error(&[&["127.0.0.1:0"], &args[..]].concat());
    }
    for args in [
        vec!["--ca", ca.as_str()],
        vec!["--tls", "--ca", "/nonexistent.pem"],
        vec!["--tls", "--ca", &key],
        vec!["--tls", "--cert", &cert, "--key", &client_key],
    ] {
        let Out { code, stderr, .. } = send("127.0.0.1:9", &args, b"");
        assert_eq!(code, 2, "{args:?}: {stderr}");
    }
}

#[test]
fn tls_no_ack_over_two_connections_loses_nothing() {
    let l = tls_listener(&["--count", "20"]);
    let input: Vec<u8> = (0..20).flat_map(|i| msg(&format!("NA-{i}"))).collect();
    let Out { code, stderr, .. } = send(
        &l.addr,
        &[
            "--tls",
            "--ca",
            &tls("ca.pem"),
            "--tls-server-name",
            "localhost",
            "--no-ack",
            "--connections",
            "2",
        ],
        &input,
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, out, _) = l.finish();
    assert_eq!(code, 0);
    let text = String::from_utf8(out).unwrap();
    let mut ids: Vec<&str> = text.lines().map(|m| m.split('|').nth(9).unwrap()).collect();
    ids.sort_by_key(|id| id[3..].parse::<u32>().unwrap());
    let want: Vec<String> = (0..20).map(|i| format!("NA-{i}")).collect();
    assert_eq!(ids, want);
}
