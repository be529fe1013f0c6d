//! The headline pipeline end to end, with things killed: `hl7 listen --ack-after delivered |
//! hl7 flatten | hl7 ilp http://DB`, each stage a process of its own, a real database
//! (VictoriaMetrics over ILP/HTTP), and a sender that behaves like an integration engine: it
//! sends one message at a time, and sends a message again (on a new connection) until it gets
//! an AA for it. Every message carries a unique control id, which reaches the database as a
//! label. After each run: every message that got an AA must be in the database.
//!
//! Each test prints its figures: messages AA'd, AA'd but missing from the database (must be
//! 0), and messages sent more than once.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command as Std, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::ilp::Vm;
use crate::util::{DEADLINE, Mllp, bin, msa, simulate};

/// One pipeline: three processes, their stderr gathered as it comes.
struct Pipeline {
    listen: Child,
    flatten: Child,
    ilp: Child,
    addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Pipeline {
    fn start(vm: &Vm) -> Pipeline {
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut listen = Std::new(bin())
            .args(["listen", "127.0.0.1:0", "--ack-after", "delivered"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(listen.stderr.take().unwrap());
        let mut first = String::new();
        err.read_line(&mut first).unwrap();
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{first:?}"))
            .to_string();
        gather("listen", err, &stderr);
        let mut flatten = Std::new(bin())
            .arg("flatten")
            .stdin(Stdio::from(listen.stdout.take().unwrap()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        gather(
            "flatten",
            BufReader::new(flatten.stderr.take().unwrap()),
            &stderr,
        );
        let mut ilp = Std::new(bin())
            .args([
                "ilp",
                "--table",
                "obs",
                "--symbols",
                "control_id,sub_id",
                "--timestamp",
                "ts",
                &format!("http://127.0.0.1:{}", vm.http),
            ])
            .stdin(Stdio::from(flatten.stdout.take().unwrap()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        gather("ilp", BufReader::new(ilp.stderr.take().unwrap()), &stderr);
        Pipeline {
            listen,
            flatten,
            ilp,
            addr,
            stderr,
        }
    }

    /// Waits until every stage has exited.
    fn wait(&mut self) {
        for c in [&mut self.listen, &mut self.flatten, &mut self.ilp] {
            let _ = c.wait();
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until the gathered stderr holds `what`.
    fn wait_for_stderr(&self, what: &str) {
        let start = Instant::now();
        while !self.stderr().contains(what) {
            assert!(
                start.elapsed() < DEADLINE,
                "waited for {what:?}: {}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        for c in [&mut self.listen, &mut self.flatten, &mut self.ilp] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn gather(name: &'static str, from: impl BufRead + Send + 'static, into: &Arc<Mutex<String>>) {
    let into = Arc::clone(into);
    thread::spawn(move || {
        for line in from.lines().map_while(Result::ok) {
            let mut s = into.lock().unwrap();
            s.push_str(&format!("[{name}] {line}\n"));
        }
    });
}

fn kill(c: &mut Child) {
    let _ = c.kill();
    let _ = c.wait();
}

/// What the sender saw.
#[derive(Default)]
struct Seen {
    /// Control ids that got an AA.
    acked: BTreeSet<String>,
    /// The same, in the order the AAs came.
    order: Vec<String>,
    /// Messages sent more than once.
    resent: usize,
    /// AAs that arrived while the database was down, for messages sent after `ilp` had said
    /// so: there must be none.
    acked_while_down: usize,
}

/// A sender like an integration engine: one message at a time, each sent again on a new
/// connection (to whatever address the pipeline has now) until it gets an AA.
struct Sender {
    seen: Arc<Mutex<Seen>>,
    acks: Arc<AtomicUsize>,
    handle: thread::JoinHandle<()>,
}

/// Shared with the sender: where the pipeline listens now, and whether the database is down
/// (set once `ilp` has said it cannot reach it, cleared before it is started again).
#[derive(Clone)]
struct World {
    addr: Arc<Mutex<String>>,
    db_down: Arc<AtomicBool>,
}

impl Sender {
    fn start(messages: Vec<Vec<u8>>, world: World) -> Sender {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let acks = Arc::new(AtomicUsize::new(0));
        let (s, a) = (Arc::clone(&seen), Arc::clone(&acks));
        let handle = thread::spawn(move || {
            let mut conn: Option<Mllp> = None;
            for m in messages {
                let id = crate::util::control_id(&m);
                let mut tries = 0;
                loop {
                    let down_when_sent = world.db_down.load(Ordering::SeqCst);
                    let c = match conn.as_mut() {
                        Some(c) => c,
                        None => {
                            let addr = world.addr.lock().unwrap().clone();
                            match TcpStream::connect(&addr) {
                                Ok(t) => {
                                    let mut c = Mllp::over(t);
                                    c.set_read_timeout(Duration::from_secs(5));
                                    conn.insert(c)
                                }
                                Err(_) => {
                                    thread::sleep(Duration::from_millis(50));
                                    continue;
                                }
                            }
                        }
                    };
                    tries += 1;
                    if tries == 2 {
                        s.lock().unwrap().resent += 1;
                    }
                    let reply = c.send(&m).ok().and_then(|_| c.recv());
                    match reply.map(|r| msa(&r)) {
                        Some((code, acked)) if code == "AA" && acked == id => {
                            let mut seen = s.lock().unwrap();
                            if down_when_sent && world.db_down.load(Ordering::SeqCst) {
                                seen.acked_while_down += 1;
                            }
                            seen.acked.insert(id.clone());
                            seen.order.push(id.clone());
                            a.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        // no ACK (timeout, closed), or not AA: a new connection, and again
                        _ => conn = None,
                    }
                }
            }
        });
        Sender { seen, acks, handle }
    }

    /// Waits until `n` messages in all have got their AA.
    fn wait_acks(&self, n: usize) {
        let start = Instant::now();
        while self.acks.load(Ordering::SeqCst) < n {
            assert!(start.elapsed() < DEADLINE * 3, "waited for {n} AAs");
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn finish(self) -> Seen {
        self.handle.join().unwrap();
        Arc::try_unwrap(self.seen)
            .ok()
            .unwrap()
            .into_inner()
            .unwrap()
    }
}

/// Monitor ORUs (a few OBX each) with unique control ids.
fn orus(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let text = simulate(&[
        "--profile",
        "monitor",
        "--count",
        &n.to_string(),
        "--seed",
        &seed.to_string(),
        // in the past: the database's export ends at now
        "--start",
        "2024-08-14T00:00:00Z",
    ]);
    crate::util::messages(&text)
}

/// The control ids the database holds, and how many samples there are beyond one per row.
fn in_db(vm: &Vm) -> (BTreeSet<String>, usize) {
    let got = vm.export(r#"{__name__="obs_set_id"}"#);
    let mut ids = BTreeSet::new();
    let mut extra = 0;
    for (key, samples) in &got {
        if let Some(id) = key.split(',').find_map(|kv| kv.strip_prefix("control_id=")) {
            ids.insert(id.to_string());
        }
        extra += samples.len().saturating_sub(1);
    }
    (ids, extra)
}

/// Checks that every AA'd message is in the database (waiting for ingestion) and prints the
/// figures.
fn check(test: &str, vm: &Vm, seen: &Seen) {
    let start = Instant::now();
    let (missing, extra) = loop {
        let (ids, extra) = in_db(vm);
        let missing: Vec<String> = seen.acked.difference(&ids).cloned().collect();
        // ingestion is asynchronous: wait for it (the database's own deadline)
        if missing.is_empty() || start.elapsed() > DEADLINE {
            break (missing, extra);
        }
        thread::sleep(Duration::from_millis(100));
    };
    let order: Vec<usize> = missing
        .iter()
        .filter_map(|id| seen.order.iter().position(|o| o == id))
        .collect();
    let missing = missing.len();
    eprintln!(
        "{test}: {} messages AA'd, {missing} AA'd but missing from the database, {} sent more than once, {extra} rows stored more than once",
        seen.acked.len(),
        seen.resent
    );
    assert_eq!(
        missing, 0,
        "AA'd messages missing from the database, at these places in the order of AAs: {order:?}"
    );
}

fn world(addr: &str) -> World {
    World {
        addr: Arc::new(Mutex::new(addr.to_string())),
        db_down: Arc::new(AtomicBool::new(false)),
    }
}

#[test]
fn database_down_30_s_mid_stream_loses_nothing_acked() {
    let Some(mut vm) = Vm::start("pipeline_db_down") else {
        return;
    };
    let p = Pipeline::start(&vm);
    let w = world(&p.addr);
    let sender = Sender::start(orus(120, 11), w.clone());
    sender.wait_acks(30);
    vm.stop();
    p.wait_for_stderr("cannot be reached");
    // From here no row can be committed: a message sent now must get no AA until the restart.
    w.db_down.store(true, Ordering::SeqCst);
    thread::sleep(Duration::from_secs(30));
    w.db_down.store(false, Ordering::SeqCst);
    vm.restart();
    let seen = sender.finish();
    assert_eq!(seen.acked.len(), 120);
    assert_eq!(
        seen.acked_while_down,
        0,
        "AA while the database was down: {}",
        p.stderr()
    );
    check("database down 30 s", &vm, &seen);
}

#[test]
fn ilp_killed_then_the_pipeline_restarted_loses_nothing_acked() {
    let Some(vm) = Vm::start("pipeline_ilp_killed") else {
        return;
    };
    let mut p = Pipeline::start(&vm);
    let w = world(&p.addr);
    let sender = Sender::start(orus(100, 12), w.clone());
    sender.wait_acks(25);
    kill(&mut p.ilp);
    // listen sees the end of the pipeline gone and exits 1; the others follow
    p.wait();
    let status = p.listen.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{}", p.stderr());
    assert!(p.stderr().contains("the end of the pipeline is gone"));
    let p2 = Pipeline::start(&vm);
    *w.addr.lock().unwrap() = p2.addr.clone();
    let seen = sender.finish();
    assert_eq!(seen.acked.len(), 100);
    check("ilp killed", &vm, &seen);
}

#[test]
fn flatten_killed_then_listen_killed_loses_nothing_acked() {
    let Some(vm) = Vm::start("pipeline_flatten_killed") else {
        return;
    };
    let mut p = Pipeline::start(&vm);
    let w = world(&p.addr);
    let sender = Sender::start(orus(100, 13), w.clone());
    sender.wait_acks(25);
    kill(&mut p.flatten);
    kill(&mut p.listen);
    p.wait();
    let p2 = Pipeline::start(&vm);
    *w.addr.lock().unwrap() = p2.addr.clone();
    sender.wait_acks(60);
    drop(p2);
    let p3 = Pipeline::start(&vm);
    *w.addr.lock().unwrap() = p3.addr.clone();
    let seen = sender.finish();
    assert_eq!(seen.acked.len(), 100);
    check("flatten killed, then listen killed", &vm, &seen);
}

#[test]
fn a_message_that_makes_no_rows_holds_no_ack_back() {
    let Some(vm) = Vm::start("pipeline_no_rows") else {
        return;
    };
    let p = Pipeline::start(&vm);
    let adts = simulate(&[
        "--profile",
        "adt",
        "--count",
        "3",
        "--seed",
        "14",
        "--start",
        "2024-08-14T00:00:00Z",
    ]);
    let adts = crate::util::messages(&adts);
    let orus = orus(3, 15);
    // ORU, ADT, ORU, ADT, ...: one at a time, each must get its AA (an ADT makes no rows)
    let mut c = Mllp::connect(&p.addr);
    for (oru, adt) in orus.iter().zip(&adts) {
        for m in [oru, adt] {
            c.send(m).unwrap();
            let (code, id) = msa(&c.recv().expect("an ACK"));
            assert_eq!(code, "AA");
            assert_eq!(id, crate::util::control_id(m));
        }
    }
    let seen = Seen {
        acked: orus.iter().map(|m| crate::util::control_id(m)).collect(),
        ..Seen::default()
    };
    check("a message without rows", &vm, &seen);
}
