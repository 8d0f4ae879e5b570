//! The exit-less warm path: calls posted through the guest's mailbox while
//! the sandbox's thread serves it (`LoadedJSSandbox::serve_warm`), from
//! another thread (`WarmPath`). Every test runs a real micro-VM.

mod common;

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use hyperlight_js::{
    CallStats, CpuTimeMonitor, Error, LoadedJSSandbox, Result, SandboxBuilder, WallClockMonitor,
    WarmCall, WarmHostCall, WarmOutcome, WarmPath,
};
use serde_json::{json, Value};

type Job = Box<dyn FnOnce(&mut LoadedJSSandbox) + Send>;

/// A sandbox owned by its own thread, which serves warm calls between jobs
/// (as the Node binding's sandbox thread does).
struct Served {
    jobs: Sender<Option<Job>>,
    handed: Receiver<Result<String>>,
    warm: WarmPath,
    interrupt: hyperlight_js::InterruptHandle,
    thread: Option<JoinHandle<()>>,
}

impl Served {
    fn new(loaded: LoadedJSSandbox) -> Self {
        let (jobs, rx) = mpsc::channel::<Option<Job>>();
        let (handed_tx, handed) = mpsc::channel();
        let warm = loaded.warm_path();
        let interrupt = loaded.interrupt_handle();
        let thread = std::thread::spawn(move || {
            let mut loaded = loaded;
            loop {
                while let Some(r) = loaded.serve_warm(Duration::from_millis(20)) {
                    handed_tx.send(r).unwrap();
                }
                match rx.recv_timeout(Duration::from_millis(1)) {
                    Ok(Some(job)) => job(&mut loaded),
                    Ok(None) | Err(RecvTimeoutError::Disconnected) => return,
                    Err(RecvTimeoutError::Timeout) => {}
                }
            }
        });
        Self {
            jobs,
            handed,
            warm,
            interrupt,
            thread: Some(thread),
        }
    }

    /// Runs `f` on the sandbox's thread and returns its result.
    fn on_thread<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut LoadedJSSandbox) -> R + Send + 'static,
    ) -> R {
        let (tx, rx) = mpsc::channel();
        self.warm.release();
        self.jobs
            .send(Some(Box::new(move |l| tx.send(f(l)).unwrap())))
            .unwrap();
        rx.recv().unwrap()
    }

    /// Posts a call as soon as the guest polls (waiting up to 10 s for it).
    fn post(&self, name: &str, event: &str, monitor: Option<&dyn Fn() -> Monitors>) -> WarmCall {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let posted = match monitor.map(|m| m()) {
                None => self.warm.call::<WallClockMonitor>(name, event, true, None),
                Some(Monitors::Wall(m)) => self.warm.call(name, event, true, Some(&m)),
                Some(Monitors::Cpu(m)) => self.warm.call(name, event, true, Some(&m)),
            };
            if let Some(c) = posted.expect("post") {
                return c;
            }
            assert!(Instant::now() < deadline, "the guest never polled");
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    /// A warm call to its end: spins `spin`, else takes the answer the
    /// sandbox's thread delivers.
    fn call(&self, name: &str, event: &str, spin: Duration) -> (Result<String>, bool) {
        let c = self.post(name, event, None);
        self.finish(c, spin)
    }

    fn finish(&self, c: WarmCall, spin: Duration) -> (Result<String>, bool) {
        let (r, stats) = self.outcome(self.warm.wait(c, spin));
        (r, stats.is_none())
    }

    /// The result of a wait, and its statistics when it was not handed
    /// over (the sandbox's thread answered otherwise).
    fn outcome(&self, o: WarmOutcome) -> (Result<String>, Option<CallStats>) {
        match o {
            WarmOutcome::Done(r, stats) => (r, Some(stats)),
            WarmOutcome::Handed(h) => {
                let r = self.handed.recv_timeout(Duration::from_secs(30)).unwrap();
                (self.warm.complete(h, r).0, None)
            }
        }
    }
}

enum Monitors {
    Wall(WallClockMonitor),
    Cpu(CpuTimeMonitor),
}

impl Drop for Served {
    fn drop(&mut self) {
        self.warm.release();
        let _ = self.jobs.send(None);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn json(r: Result<String>) -> Value {
    serde_json::from_str(&r.expect("call")).unwrap()
}

const COUNTER: &str =
    "let n = 0; function handler(e) { n += 1; return { n, echo: e, t: Date.now() }; }";

#[test]
fn warm_calls_are_answered_through_the_mailbox_and_keep_state() {
    let s = Served::new(loaded_with(COUNTER));
    let mut through_memory = 0;
    for i in 1..=300 {
        let (r, handed) = s.call("h", &format!("{{\"i\":{i}}}"), Duration::from_secs(1));
        let v = json(r);
        assert_eq!(v["n"], json!(i));
        assert_eq!(v["echo"], json!({ "i": i }));
        if !handed {
            through_memory += 1;
        }
    }
    // Spinning for up to a second, the answer of a trivial handler is
    // taken from memory unless the machine descheduled a thread; at least
    // most of them must be.
    assert!(
        through_memory > 150,
        "only {through_memory} of 300 calls were exit-less"
    );
}

#[test]
fn a_poster_that_stops_spinning_gets_the_answer_from_the_sandbox_thread() {
    let s = Served::new(loaded_with(
        "function handler(e) { const end = Date.now() + 30; while (Date.now() < end) {} return e; }",
    ));
    let (r, handed) = s.call("h", r#"{"late":true}"#, Duration::ZERO);
    assert_eq!(json(r), json!({ "late": true }));
    assert!(handed, "a zero spin must hand the answer over");
    // The sandbox keeps serving afterwards.
    let (r, _) = s.call("h", "[1]", Duration::from_secs(1));
    assert_eq!(json(r), json!([1]));
}

#[test]
fn prints_of_warm_calls_reach_the_sink_in_order() {
    let (b, lines) = capturing_builder();
    let mut sb = b.build().unwrap().load_runtime().unwrap();
    sb.add_handler(
        "h",
        "function handler(e) { console.log('a' + e.i); print('b' + e.i); return e.i; }",
    )
    .unwrap();
    let s = Served::new(sb.get_loaded_sandbox().unwrap());
    for i in 0..20 {
        let (r, _) = s.call("h", &format!("{{\"i\":{i}}}"), Duration::from_secs(1));
        assert_eq!(json(r), json!(i));
    }
    let got: Vec<String> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|(_, t)| t.trim_end().to_string())
        .collect();
    let want: Vec<String> = (0..20)
        .flat_map(|i| [format!("a{i}"), format!("b{i}")])
        .collect();
    assert_eq!(got, want);
}

/// A sandbox whose handler `h` calls `math.add` (`e.n` times, default 1)
/// and `math.fail` when `e.fail` is set, catching its error.
fn with_host_functions() -> LoadedJSSandbox {
    kvm();
    let mut proto = SandboxBuilder::new().build().unwrap();
    proto
        .register("math", "add", |(a, b): (i64, i64)| Ok::<_, String>(a + b))
        .unwrap();
    proto
        .register("math", "fail", |(): ()| Err::<i64, _>("no such luck"))
        .unwrap();
    let mut sb = proto.load_runtime().unwrap();
    sb.add_handler(
        "h",
        r#"import { add, fail } from "host:math";
        function handler(e) {
            if (e.fail) { try { fail(); } catch (err) { return { caught: err.message }; } }
            let s = 0;
            for (let i = 0; i < (e.n ?? 1); i++) s = add(s, i);
            return { s, a: add(e.a ?? 0, 1) };
        }"#,
    )
    .unwrap();
    sb.get_loaded_sandbox().unwrap()
}

#[test]
fn host_calls_of_warm_calls_are_answered_without_an_exit() {
    let s = Served::new(with_host_functions());
    // 21 host calls and the answer, all through memory, unless the machine
    // descheduled a thread (the guest then stops spinning and exits): call
    // until ten calls needed no exit at all.
    let (mut exitless, mut calls) = (0, 0);
    while exitless < 10 && calls < 2000 {
        let i = calls;
        calls += 1;
        let c = s.post("h", &format!(r#"{{"a":{i},"n":20}}"#), None);
        let (r, stats) = s.outcome(s.warm.wait(c, Duration::from_secs(1)));
        assert_eq!(json(r), json!({ "s": 190, "a": i + 1 }));
        if stats.is_some_and(|st| st.exits == 0) {
            exitless += 1;
        }
    }
    assert_eq!(exitless, 10, "{calls} calls");
    // A call through the sandbox's thread still exits once per host call.
    let stats = s.on_thread(|l| {
        l.handle_event("h", r#"{"n":3}"#, None).unwrap();
        l.last_call_stats().cloned().unwrap()
    });
    assert!(stats.exits >= 4, "{stats:?}");
}

#[test]
fn prints_around_host_calls_answered_in_memory_keep_their_order() {
    let (b, lines) = capturing_builder();
    let mut proto = b.build().unwrap();
    proto
        .register("math", "add", |(a, b): (i64, i64)| Ok::<_, String>(a + b))
        .unwrap();
    let mut sb = proto.load_runtime().unwrap();
    sb.add_handler(
        "h",
        r#"import { add } from "host:math";
        function handler(e) {
            for (let j = 0; j < 3; j++) { console.log(`${e.i}.${j}`); add(j, 1); }
            print(`${e.i}.end`);
            return e.i;
        }"#,
    )
    .unwrap();
    let s = Served::new(sb.get_loaded_sandbox().unwrap());
    for i in 0..20 {
        let (r, _) = s.call("h", &format!("{{\"i\":{i}}}"), Duration::from_secs(1));
        assert_eq!(json(r), json!(i));
    }
    let got: Vec<String> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|(_, t)| t.trim_end().to_string())
        .collect();
    let want: Vec<String> = (0..20)
        .flat_map(|i| {
            [
                format!("{i}.0"),
                format!("{i}.1"),
                format!("{i}.2"),
                format!("{i}.end"),
            ]
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn host_function_errors_reach_the_guest_through_memory() {
    let s = Served::new(with_host_functions());
    for _ in 0..5 {
        let (r, _) = s.call("h", r#"{"fail":true}"#, Duration::from_secs(1));
        assert_eq!(json(r), json!({ "caught": "no such luck" }));
    }
    // A declined host call runs through the sandbox's thread, the same way.
    let c = s.post("h", r#"{"fail":true}"#, None);
    let (r, _) = s.outcome(s.warm.wait_with_host(
        c,
        Duration::from_secs(1),
        &mut |hc: WarmHostCall| hc.decline(),
    ));
    assert_eq!(json(r), json!({ "caught": "no such luck" }));
}

#[test]
fn host_calls_fall_back_to_exits_when_the_poster_does_not_spin() {
    let s = Served::new(with_host_functions());
    for i in 0..5 {
        let c = s.post("h", &format!(r#"{{"a":{i},"n":3}}"#), None);
        let (r, stats) = s.outcome(s.warm.wait(c, Duration::ZERO));
        assert_eq!(json(r), json!({ "s": 3, "a": i + 1 }));
        assert!(stats.is_none(), "a zero spin hands the answer over");
    }
    // Declined host calls: the sandbox's thread runs the registered
    // functions by exit. (A guest descheduled while it waits gives its host
    // call up by itself: call until one was declined.)
    let mut seen = 0;
    for i in 0..500 {
        let c = s.post("h", &format!(r#"{{"a":{i},"n":3}}"#), None);
        let (r, _) = s.outcome(s.warm.wait_with_host(
            c,
            Duration::from_secs(1),
            &mut |hc: WarmHostCall| {
                seen += 1;
                assert_eq!((hc.module(), hc.function()), ("math", "add"));
                hc.decline()
            },
        ));
        assert_eq!(json(r), json!({ "s": 3, "a": i + 1 }));
        if seen > 0 {
            break;
        }
    }
    assert!(seen >= 1);
}

#[test]
fn host_calls_answered_later_from_another_thread() {
    let s = Served::new(with_host_functions());
    for i in 0..3 {
        let c = s.post("h", &format!(r#"{{"a":{i},"n":2}}"#), None);
        let (tx, rx) = mpsc::channel::<WarmHostCall>();
        // An answer that comes later (as from a Promise): the guest waits
        // for it in an exit, and the request's answer comes by exit.
        let answerer = std::thread::spawn(move || {
            while let Ok(hc) = rx.recv() {
                std::thread::sleep(Duration::from_millis(2));
                let args: Vec<i64> = serde_json::from_str(hc.args()).unwrap();
                hc.answer(Ok((args[0] + args[1]).to_string()));
            }
        });
        let o = s
            .warm
            .wait_with_host(c, Duration::from_secs(1), &mut |hc: WarmHostCall| {
                tx.send(hc).unwrap();
            });
        drop(tx);
        let handed = matches!(o, WarmOutcome::Handed(_));
        let (r, _) = s.outcome(o);
        answerer.join().unwrap();
        assert_eq!(json(r), json!({ "s": 1, "a": i + 1 }));
        assert!(handed, "an answer given later hands the call over");
    }
    // The sandbox keeps serving exit-less calls afterwards.
    let (r, _) = s.call("h", r#"{"a":5}"#, Duration::from_secs(1));
    assert_eq!(json(r), json!({ "s": 0, "a": 6 }));
}

#[test]
fn a_warm_call_killed_while_it_waits_for_a_host_answer() {
    let mut loaded = with_host_functions();
    let snap = loaded.snapshot().unwrap();
    let s = Served::new(loaded);
    // Both places the guest waits: spinning (the answer is kept until after
    // the kill) and in an exit (the host call is kept past the window).
    for hold in [Duration::from_micros(20), Duration::from_millis(50)] {
        // A guest descheduled before its host call was taken gives it up
        // and exits (the call then ends normally): try until one was taken.
        let mut killed = false;
        for _ in 0..200 {
            let c = s.post("h", r#"{"n":1}"#, None);
            let (tx, rx) = mpsc::channel::<WarmHostCall>();
            let interrupt = s.interrupt.clone();
            let holder = std::thread::spawn(move || {
                let Ok(hc) = rx.recv() else { return false };
                std::thread::sleep(hold);
                assert!(interrupt.kill(), "the call is running while it waits");
                assert!(hc.cancel_token().is_cancelled());
                // Too late: ignored.
                hc.answer(Ok("1".into()));
                true
            });
            let o = s
                .warm
                .wait_with_host(c, Duration::from_secs(1), &mut |hc: WarmHostCall| {
                    tx.send(hc).unwrap();
                });
            drop(tx);
            let (r, _) = s.outcome(o);
            if !holder.join().unwrap() {
                assert_eq!(json(r), json!({ "s": 0, "a": 1 }));
                continue;
            }
            killed = true;
            assert_cancelled(&r.unwrap_err(), None);
            assert!(s.on_thread(|l| l.poisoned()));
            let snap = snap.clone();
            s.on_thread(move |l| l.restore(&snap)).unwrap();
            let (r, _) = s.call("h", r#"{"a":1}"#, Duration::from_secs(1));
            assert_eq!(
                json(r),
                json!({ "s": 0, "a": 2 }),
                "usable after the restore"
            );
            break;
        }
        assert!(killed, "no host call was ever taken from memory");
    }
}

#[test]
fn a_killed_warm_call_is_cancelled_poisons_and_a_restore_recovers() {
    let mut loaded =
        loaded_with("let n = 0; function handler(e) { n += 1; if (e.spin) for (;;) {} return n; }");
    let snap = loaded.snapshot().unwrap();
    let s = Served::new(loaded);
    let c = s.post("h", r#"{"spin":true}"#, None);
    let killer = kill_when_running(s.interrupt.clone(), Duration::from_millis(20));
    let (r, handed) = s.finish(c, Duration::from_millis(5));
    killer.join().unwrap();
    assert!(handed);
    assert_cancelled(&r.unwrap_err(), None);
    assert!(s.on_thread(|l| l.poisoned()));
    match s.warm.call::<WallClockMonitor>("h", "{}", true, None) {
        Err(Error::Poisoned(_)) => {}
        other => panic!(
            "a poisoned sandbox must refuse warm calls, got {:?}",
            other.map(|c| c.is_some())
        ),
    }
    s.on_thread(move |l| l.restore(&snap)).unwrap();
    let (r, _) = s.call("h", "{}", Duration::from_secs(1));
    assert_eq!(
        json(r),
        json!(1),
        "the restore brought back the snapshot's state"
    );
}

#[test]
fn monitors_bound_warm_calls_and_name_the_one_that_fired() {
    let s = Served::new(loaded_with(
        "function handler(e) { if (e.spin) for (;;) {} return 1; }",
    ));
    let wall = || Monitors::Wall(WallClockMonitor::new(Duration::from_millis(30)).unwrap());
    let c = s.post("h", r#"{"spin":true}"#, Some(&wall));
    let (r, _) = s.finish(c, Duration::from_millis(1));
    assert_cancelled(&r.unwrap_err(), Some("wall-clock"));

    let s = Served::new(loaded_with(
        "function handler(e) { if (e.spin) for (;;) {} return 1; }",
    ));
    let cpu = || Monitors::Cpu(CpuTimeMonitor::new(Duration::from_millis(30)).unwrap());
    let c = s.post("h", r#"{"spin":true}"#, Some(&cpu));
    let (r, _) = s.finish(c, Duration::from_millis(1));
    assert_cancelled(&r.unwrap_err(), Some("cpu-time"));

    // A monitor that does not fire leaves the call alone.
    let s = Served::new(loaded_with("function handler(e) { return e; }"));
    let cpu = || Monitors::Cpu(CpuTimeMonitor::new(Duration::from_secs(5)).unwrap());
    let c = s.post("h", "7", Some(&cpu));
    let (r, _) = s.finish(c, Duration::from_secs(1));
    assert_eq!(json(r), json!(7));
}

#[test]
fn snapshots_and_restores_interleave_with_warm_calls() {
    let s = Served::new(loaded_with(COUNTER));
    for _ in 0..3 {
        s.call("h", "0", Duration::from_secs(1)).0.unwrap();
    }
    let snap = s.on_thread(|l| l.snapshot()).unwrap();
    for _ in 0..5 {
        s.call("h", "0", Duration::from_secs(1)).0.unwrap();
    }
    s.on_thread(move |l| l.restore(&snap)).unwrap();
    let (r, _) = s.call("h", "0", Duration::from_secs(1));
    assert_eq!(json(r)["n"], json!(4));
    // A call through the sandbox's thread sees the same state.
    let v: Value =
        serde_json::from_str(&s.on_thread(|l| l.handle_event("h", "0", None)).unwrap()).unwrap();
    assert_eq!(v["n"], json!(5));
}

#[test]
fn warm_calls_validate_like_handle_event() {
    let s = Served::new(loaded_with(COUNTER));
    // An invalid name is refused before anything is posted; an unknown one
    // by the guest, without running anything.
    let e = s
        .warm
        .call::<WallClockMonitor>("", "{}", true, None)
        .err()
        .expect("empty handler name");
    assert_eq!(e.code(), hyperlight_js::ErrorCode::InvalidArg);
    let (r, _) = s.call("nope", "{}", Duration::from_secs(1));
    assert_eq!(r.unwrap_err().code(), hyperlight_js::ErrorCode::InvalidArg);
    let (r, _) = s.call("h", "{}", Duration::from_secs(1));
    assert_eq!(
        json(r)["n"],
        json!(1),
        "nothing ran for the unknown handler"
    );
    // A thrown error is ERR_HANDLER and the sandbox stays usable.
    let s = Served::new(loaded_with(
        "function handler(e) { if (e.t) throw new TypeError('no'); return 2; }",
    ));
    let (r, _) = s.call("h", r#"{"t":true}"#, Duration::from_secs(1));
    assert_eq!(r.unwrap_err().code(), hyperlight_js::ErrorCode::Handler);
    let (r, _) = s.call("h", "{}", Duration::from_secs(1));
    assert_eq!(json(r), json!(2));
}
