//! A custom execution monitor composed with both built-in monitors.
//!
//! `HostCallBudget` kills a handler that calls host functions more than a
//! given number of times. It is raced in a tuple with the wall-clock and
//! CPU-time monitors; whichever fires first terminates the call.
//!
//! Run with `cargo run -p hyperlight-js --example custom_monitor`.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyperlight_js::{CpuTimeMonitor, ExecutionMonitor, SandboxBuilder, WallClockMonitor};

/// Fires once `calls` exceeds `budget`.
struct HostCallBudget {
    calls: Arc<AtomicU64>,
    budget: u64,
}

impl ExecutionMonitor for HostCallBudget {
    fn get_monitor(&self) -> hyperlight_js::Result<impl Future<Output = ()> + Send + 'static> {
        // Each call gets a fresh budget.
        self.calls.store(0, Ordering::SeqCst);
        let calls = self.calls.clone();
        let budget = self.budget;
        Ok(async move {
            while calls.load(Ordering::SeqCst) <= budget {
                hyperlight_js::monitor::sleep(Duration::from_millis(1)).await;
            }
        })
    }

    fn name(&self) -> &'static str {
        "host-call-budget"
    }
}

fn main() -> hyperlight_js::Result<()> {
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    let mut proto = SandboxBuilder::new().build()?;
    proto.register("db", "get", move |(key,): (String,)| {
        counter.fetch_add(1, Ordering::SeqCst);
        // A slow lookup: a greedy handler burns the budget, not the CPU.
        std::thread::sleep(Duration::from_millis(2));
        Ok::<_, String>(format!("value of {key}"))
    })?;
    let mut sandbox = proto.load_runtime()?;
    sandbox.add_handler(
        "handler",
        r#"import * as db from "host:db";
           function handler(event) {
               const out = [];
               for (let i = 0; i < event.n; i++) out.push(db.get("k" + i));
               return out.length;
           }"#,
    )?;
    let mut loaded = sandbox.get_loaded_sandbox()?;
    let snapshot = loaded.snapshot()?;

    let monitor = (
        WallClockMonitor::new(Duration::from_secs(5))?,
        CpuTimeMonitor::new(Duration::from_millis(500))?,
        HostCallBudget {
            calls: calls.clone(),
            budget: 100,
        },
    );

    let ok = loaded.handle_event_with_monitor("handler", r#"{"n":10}"#, &monitor, None)?;
    println!(
        "10 lookups: result {ok}, stats {:?}",
        loaded.last_call_stats()
    );

    match loaded.handle_event_with_monitor("handler", r#"{"n":100000}"#, &monitor, None) {
        Err(e) => println!("100000 lookups: {e} (code {})", e.code()),
        Ok(r) => panic!("100000 lookups finished although the budget is 100: {r}"),
    }
    let by = loaded.last_call_stats().and_then(|s| s.terminated_by);
    println!("terminated by: {by:?}");
    assert_eq!(
        by,
        Some("host-call-budget"),
        "the custom monitor should have fired first"
    );
    loaded.restore(&snapshot)?;
    println!("restored; poisoned = {}", loaded.poisoned());
    Ok(())
}
