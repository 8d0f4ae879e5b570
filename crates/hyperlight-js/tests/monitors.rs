//! Execution monitors, call statistics and the termination metric.

mod common;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hyperlight_js::{
    CpuTimeMonitor, Error, ErrorCode, ExecutionMonitor, LoadedJSSandbox, SandboxBuilder,
    WallClockMonitor,
};

const SPIN: &str = "function handler(e) { if (e.spin) for (;;) {} return 'done'; }";

fn spin(l: &mut LoadedJSSandbox, m: &impl hyperlight_js::MonitorSet) -> Error {
    l.handle_event_with_monitor("h", r#"{"spin":true}"#, m, None)
        .unwrap_err()
}

#[test]
fn a_fast_handler_completes_under_both_monitors() {
    let mut l = loaded_with(SPIN);
    let m = (
        WallClockMonitor::new(Duration::from_secs(5)).unwrap(),
        CpuTimeMonitor::new(Duration::from_secs(1)).unwrap(),
    );
    assert_eq!(
        l.handle_event_with_monitor("h", "{}", &m, None).unwrap(),
        "\"done\""
    );
    let stats = l.last_call_stats().unwrap();
    assert_eq!(stats.terminated_by, None);
    assert!(stats.cpu_time.is_some());
}

#[test]
fn wall_clock_kills_an_infinite_loop() {
    let mut l = loaded_with(SPIN);
    let snap = l.snapshot().unwrap();
    let err = spin(
        &mut l,
        &WallClockMonitor::new(Duration::from_millis(100)).unwrap(),
    );
    assert_cancelled(&err, Some("wall-clock"));
    assert_eq!(
        l.last_call_stats().unwrap().terminated_by,
        Some("wall-clock")
    );
    assert!(l.last_call_stats().unwrap().wall_clock >= Duration::from_millis(100));
    assert!(l.poisoned());
    // The refusal names the limit that ended the previous call.
    let refused = l.handle_event("h", "{}", None).unwrap_err();
    assert_eq!(refused.code(), hyperlight_js::ErrorCode::Poisoned);
    assert!(
        refused.to_string().contains("wall-clock monitor"),
        "{refused}"
    );
    l.restore(&snap).unwrap();
    assert_eq!(l.handle_event("h", "{}", None).unwrap(), "\"done\"");
}

#[test]
fn cpu_time_kills_an_infinite_loop() {
    let mut l = loaded_with(SPIN);
    let err = spin(
        &mut l,
        &CpuTimeMonitor::new(Duration::from_millis(100)).unwrap(),
    );
    assert_cancelled(&err, Some("cpu-time"));
    let stats = l.last_call_stats().unwrap();
    assert!(
        stats.cpu_time.unwrap() >= Duration::from_millis(100),
        "{stats:?}"
    );
}

#[test]
fn both_monitors_report_the_one_that_fired() {
    let mut l = loaded_with(SPIN);
    let snap = l.snapshot().unwrap();
    let m = (
        WallClockMonitor::new(Duration::from_secs(30)).unwrap(),
        CpuTimeMonitor::new(Duration::from_millis(100)).unwrap(),
    );
    assert!(matches!(
        spin(&mut l, &m),
        Error::Cancelled {
            terminated_by: Some("cpu-time")
        }
    ));
    l.restore(&snap).unwrap();
    let m = (
        WallClockMonitor::new(Duration::from_millis(100)).unwrap(),
        CpuTimeMonitor::new(Duration::from_secs(30)).unwrap(),
    );
    assert!(matches!(
        spin(&mut l, &m),
        Error::Cancelled {
            terminated_by: Some("wall-clock")
        }
    ));
}

/// CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out pointer for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[test]
fn a_host_function_that_waits_is_charged_wall_clock_and_one_that_spins_cpu_time() {
    kvm();
    let mut proto = SandboxBuilder::new().build().unwrap();
    proto
        .register("slow", "sleep", |(ms,): (u64,)| {
            std::thread::sleep(Duration::from_millis(ms));
            Ok::<_, String>(ms)
        })
        .unwrap();
    // Burns `ms` of its own thread's CPU time, however busy the machine.
    proto
        .register("slow", "spin", |(ms,): (u64,)| {
            let until = thread_cpu_time() + Duration::from_millis(ms);
            while thread_cpu_time() < until {}
            Ok::<_, String>(ms)
        })
        .unwrap();
    let mut sb = proto.load_runtime().unwrap();
    sb.add_handler(
        "sleep",
        r#"import { sleep } from "host:slow"; function handler(e) { return sleep(e.ms); }"#,
    )
    .unwrap();
    sb.add_handler(
        "spin",
        r#"import { spin } from "host:slow"; function handler(e) { return spin(e.ms); }"#,
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let snap = l.snapshot().unwrap();
    let cpu = || CpuTimeMonitor::new(Duration::from_millis(100)).unwrap();
    // Blocked for four times the CPU budget: the call completes.
    assert_eq!(
        l.handle_event_with_monitor("sleep", r#"{"ms":400}"#, &cpu(), None)
            .unwrap(),
        "400"
    );
    assert_eq!(l.last_call_stats().unwrap().terminated_by, None);
    // Spinning on the guest's thread for that long: the CPU budget fires (the
    // kill lands when the host function returns), not the long wall clock.
    let cpu_first = (
        cpu(),
        WallClockMonitor::new(Duration::from_secs(60)).unwrap(),
    );
    let err = l
        .handle_event_with_monitor("spin", r#"{"ms":400}"#, &cpu_first, None)
        .unwrap_err();
    assert_cancelled(&err, Some("cpu-time"));
    l.restore(&snap).unwrap();
    // Blocked under both: the wall clock fires, never the CPU budget.
    let both = (
        cpu(),
        WallClockMonitor::new(Duration::from_millis(100)).unwrap(),
    );
    let err = l
        .handle_event_with_monitor("sleep", r#"{"ms":400}"#, &both, None)
        .unwrap_err();
    assert_cancelled(&err, Some("wall-clock"));
    l.restore(&snap).unwrap();
    assert_eq!(l.handle_event("sleep", r#"{"ms":1}"#, None).unwrap(), "1");
}

struct FailsToStart;
impl ExecutionMonitor for FailsToStart {
    fn get_monitor(&self) -> hyperlight_js::Result<impl Future<Output = ()> + Send + 'static> {
        Err::<std::future::Pending<()>, _>(Error::Internal("no budget service".into()))
    }
    fn name(&self) -> &'static str {
        "fails-to-start"
    }
}

#[test]
fn a_monitor_that_fails_to_start_keeps_the_handler_from_running() {
    kvm();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let mut proto = SandboxBuilder::new().build().unwrap();
    proto
        .register("probe", "ran", move |(): ()| {
            r.store(true, Ordering::SeqCst);
            Ok::<_, String>(())
        })
        .unwrap();
    let mut sb = proto.load_runtime().unwrap();
    sb.add_handler(
        "h",
        r#"import { ran } from "host:probe"; function handler() { ran(); return 1; }"#,
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    let m = (
        WallClockMonitor::new(Duration::from_secs(1)).unwrap(),
        FailsToStart,
    );
    let err = l
        .handle_event_with_monitor("h", "{}", &m, None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::MonitorStart {
                monitor: "fails-to-start",
                ..
            }
        ),
        "{err}"
    );
    // Fail closed with the documented code: a monitor that cannot start is ERR_INTERNAL.
    assert_eq!(err.code(), ErrorCode::Internal, "{err}");
    assert!(
        !ran.load(Ordering::SeqCst),
        "the handler ran although its monitor failed"
    );
    assert!(!l.poisoned());
    assert_eq!(l.handle_event("h", "{}", None).unwrap(), "1");
}

/// Fires after a fixed number of polls; used to fill a 5-tuple.
struct Never;
impl ExecutionMonitor for Never {
    fn get_monitor(&self) -> hyperlight_js::Result<impl Future<Output = ()> + Send + 'static> {
        Ok(std::future::pending())
    }
    fn name(&self) -> &'static str {
        "never"
    }
}

#[test]
fn a_five_tuple_works() {
    let mut l = loaded_with(SPIN);
    let m = (
        Never,
        Never,
        CpuTimeMonitor::new(Duration::from_secs(60)).unwrap(),
        Never,
        WallClockMonitor::new(Duration::from_millis(50)).unwrap(),
    );
    assert!(matches!(
        spin(&mut l, &m),
        Error::Cancelled {
            terminated_by: Some("wall-clock")
        }
    ));
}

#[test]
fn zero_durations_are_rejected() {
    assert_eq!(
        WallClockMonitor::new(Duration::ZERO).unwrap_err().code(),
        ErrorCode::InvalidArg
    );
    assert_eq!(
        CpuTimeMonitor::new(Duration::ZERO).unwrap_err().code(),
        ErrorCode::InvalidArg
    );
}

#[test]
fn stats_are_none_before_the_first_call_and_replaced_after_each() {
    let mut l = loaded_with(SPIN);
    assert!(l.last_call_stats().is_none());
    l.handle_event("h", "{}", None).unwrap();
    let first = l.last_call_stats().unwrap().clone();
    assert_eq!(first.terminated_by, None);
    let _ = spin(
        &mut l,
        &WallClockMonitor::new(Duration::from_millis(20)).unwrap(),
    );
    assert_eq!(
        l.last_call_stats().unwrap().terminated_by,
        Some("wall-clock")
    );
}

#[test]
fn the_termination_metric_is_labelled_with_the_monitor_that_fired() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // The monitor task runs on the shared runtime's threads, so the recorder
    // must be global.
    recorder
        .install()
        .expect("no other recorder in this test binary");
    let mut l = loaded_with(SPIN);
    let m = (
        WallClockMonitor::new(Duration::from_secs(30)).unwrap(),
        CpuTimeMonitor::new(Duration::from_millis(50)).unwrap(),
    );
    let _ = spin(&mut l, &m);
    let snap = snapshotter.snapshot().into_vec();
    let found = snap.iter().any(|(key, _, _, value)| {
        key.key().name() == "monitor_terminations_total"
            && key
                .key()
                .labels()
                .any(|l| l.key() == "monitor_type" && l.value() == "cpu-time")
            && matches!(value, DebugValue::Counter(n) if *n >= 1)
    });
    assert!(
        found,
        "metric not recorded: {:?}",
        snap.iter()
            .map(|(k, ..)| k.key().clone())
            .collect::<Vec<_>>()
    );
}

#[test]
fn the_monitors_report_their_limit_and_refuse_zero() {
    let wall = WallClockMonitor::new(Duration::from_millis(1500)).unwrap();
    assert_eq!(wall.limit(), Duration::from_millis(1500));
    assert_eq!(wall.name(), "wall-clock");
    let cpu = CpuTimeMonitor::new(Duration::from_micros(250)).unwrap();
    assert_eq!(cpu.limit(), Duration::from_micros(250));
    assert_eq!(cpu.name(), "cpu-time");
    // A clone keeps the limit.
    assert_eq!(cpu.clone().limit(), cpu.limit());
    for err in [
        WallClockMonitor::new(Duration::ZERO).unwrap_err(),
        CpuTimeMonitor::new(Duration::ZERO).unwrap_err(),
    ] {
        assert_eq!(err.code(), ErrorCode::InvalidArg, "{err}");
        assert!(err.to_string().contains("greater than zero"), "{err}");
    }
}

/// Set in the child processes of the `monitor_threads()` test: the worker
/// count the child must find.
const THREADS_CHILD: &str = "HYPERLIGHT_JS_TEST_MONITOR_THREADS_CHILD";

/// Threads of this process whose name is the monitor runtime's
/// (`hyperlight-monitor`, cut to the kernel's 15 characters).
fn monitor_worker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter(|t| {
            let comm = t.as_ref().unwrap().path().join("comm");
            std::fs::read_to_string(comm).is_ok_and(|c| c.trim_end() == "hyperlight-moni")
        })
        .count()
}

#[test]
fn monitor_threads_is_the_configured_worker_count_and_that_many_run() {
    if let Some(want) = std::env::var_os(THREADS_CHILD) {
        let want: usize = want.to_str().unwrap().parse().unwrap();
        assert_eq!(hyperlight_js::monitor::monitor_threads(), want);
        // The runtime starts with the first monitor armed.
        let mut l = loaded_with(SPIN);
        let m = WallClockMonitor::new(Duration::from_secs(60)).unwrap();
        assert_eq!(
            l.handle_event_with_monitor("h", "{}", &m, None).unwrap(),
            "\"done\""
        );
        // A worker takes its name when it first runs, which a busy machine
        // may delay: give the names up to 10 s to appear, then exactly
        // `want` workers must exist.
        for _ in 0..10_000 {
            if monitor_worker_threads() >= want {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(monitor_worker_threads(), want);
        println!("child: ok");
        return;
    }
    kvm();
    let exe = std::env::current_exe().unwrap();
    // Unset: the default, 2; a valid value; an invalid one falls back to 2.
    for (value, want) in [(None, 2), (Some("3"), 3), (Some("zero"), 2)] {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args([
            "--exact",
            "monitor_threads_is_the_configured_worker_count_and_that_many_run",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(THREADS_CHILD, want.to_string());
        match value {
            Some(v) => cmd.env("HYPERLIGHT_MONITOR_THREADS", v),
            None => cmd.env_remove("HYPERLIGHT_MONITOR_THREADS"),
        };
        let guard = hang_guard("the monitor_threads() child", HANG_AFTER);
        let out = cmd.output().unwrap();
        drop(guard);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{value:?}: the child failed:\n{text}");
        assert!(text.contains("child: ok"), "{value:?}: {text}");
    }
}
