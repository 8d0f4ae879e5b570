//! Runs one handler from the shell: a handler file and an event file in,
//! the result (stdout) and the call's statistics (stderr) out, with the
//! sandbox's sizes and the call's limits as flags. Useful for debugging a
//! handler outside the program that embeds it.
//!
//! ```text
//! cargo run -p hyperlight-js --example run_handler -- HANDLER.js [EVENT.json|-] [options]
//!
//!   EVENT.json           the event (JSON); `-` reads stdin; default `{}`
//!   --modules DIR        module directory for relative imports (default:
//!                        the handler file's directory)
//!   --timeout-ms N       wall-clock limit of the call (WallClockMonitor)
//!   --cpu-timeout-ms N   CPU-time limit of the call (CpuTimeMonitor)
//!   --heap-size BYTES    guest heap (default: the builder's)
//!   --scratch-size BYTES guest stack
//!   --input-size BYTES   input buffer (bounds the event and each source)
//!   --output-size BYTES  output buffer (bounds the result)
//!   --repeat N           call N times (state persists between calls)
//!   --no-gc              skip the garbage collection after each call
//!   --stats-json         print the statistics as one JSON line
//! ```
//!
//! Sizes accept a `k`, `m` or `g` suffix (powers of 1024). Exit status: 0
//! on success, 1 when the call or the load fails (the error code and
//! message go to stderr), 2 for a usage error. Try it on the handlers in
//! `examples/run_handler/` (`echo`, `fibonacci`, `regex`, `spin`); the test
//! `tests/examples.rs` runs them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use hyperlight_js::{
    CallStats, CpuTimeMonitor, FileSystemLoader, LoadedJSSandbox, SandboxBuilder, WallClockMonitor,
};

#[derive(Debug, Default)]
struct Args {
    handler: PathBuf,
    event: Option<PathBuf>,
    modules: Option<PathBuf>,
    timeout: Option<Duration>,
    cpu_timeout: Option<Duration>,
    heap: Option<u64>,
    scratch: Option<u64>,
    input: Option<u64>,
    output: Option<u64>,
    repeat: u32,
    gc: bool,
    stats_json: bool,
}

fn parse_args() -> Result<Args, lexopt::Error> {
    use lexopt::prelude::*;
    let mut args = Args {
        repeat: 1,
        gc: true,
        ..Args::default()
    };
    let mut handler = None;
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("modules") => args.modules = Some(parser.value()?.into()),
            Long("timeout-ms") => args.timeout = Some(millis(parser.value()?.parse()?)?),
            Long("cpu-timeout-ms") => args.cpu_timeout = Some(millis(parser.value()?.parse()?)?),
            Long("heap-size") => args.heap = Some(size(&parser.value()?.string()?)?),
            Long("scratch-size") => args.scratch = Some(size(&parser.value()?.string()?)?),
            Long("input-size") => args.input = Some(size(&parser.value()?.string()?)?),
            Long("output-size") => args.output = Some(size(&parser.value()?.string()?)?),
            Long("repeat") => args.repeat = parser.value()?.parse()?,
            Long("no-gc") => args.gc = false,
            Long("stats-json") => args.stats_json = true,
            Long("help") | Short('h') => {
                println!("usage: run_handler HANDLER.js [EVENT.json|-] [--modules DIR] [--timeout-ms N] [--cpu-timeout-ms N] [--heap-size B] [--scratch-size B] [--input-size B] [--output-size B] [--repeat N] [--no-gc] [--stats-json]");
                std::process::exit(0);
            }
            Value(v) if handler.is_none() => handler = Some(PathBuf::from(v)),
            Value(v) if args.event.is_none() => args.event = Some(PathBuf::from(v)),
            _ => return Err(arg.unexpected()),
        }
    }
    args.handler = handler.ok_or("missing the handler file")?;
    if args.repeat == 0 {
        return Err("--repeat must be at least 1".into());
    }
    Ok(args)
}

fn millis(n: u64) -> Result<Duration, lexopt::Error> {
    if n == 0 {
        return Err("a limit must be at least 1 ms".into());
    }
    Ok(Duration::from_millis(n))
}

/// `123`, `64k`, `16m`, `1g` (powers of 1024).
fn size(s: &str) -> Result<u64, lexopt::Error> {
    let s = s.trim();
    let (digits, shift) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 10),
        Some((i, 'm' | 'M')) => (&s[..i], 20),
        Some((i, 'g' | 'G')) => (&s[..i], 30),
        _ => (s, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 4096, 64k, 16m)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large").into())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("run_handler: {e} (see --help)");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("run_handler: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Sandbox(e)) => {
            eprintln!("{}: {e}", e.code());
            if let hyperlight_js::Error::Handler(g) = &e {
                if !g.stack.is_empty() {
                    eprintln!("{}", g.stack);
                }
            }
            ExitCode::from(1)
        }
    }
}

enum Failure {
    Usage(String),
    Sandbox(hyperlight_js::Error),
}

impl From<hyperlight_js::Error> for Failure {
    fn from(e: hyperlight_js::Error) -> Self {
        Failure::Sandbox(e)
    }
}

fn run(args: &Args) -> Result<(), Failure> {
    let source = std::fs::read_to_string(&args.handler)
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.handler.display())))?;
    let event = match args.event.as_deref() {
        None => "{}".to_string(),
        Some(p) if p.as_os_str() == "-" => std::io::read_to_string(std::io::stdin())
            .map_err(|e| Failure::Usage(format!("stdin: {e}")))?,
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| Failure::Usage(format!("{}: {e}", p.display())))?,
    };
    let modules = match &args.modules {
        Some(dir) => dir.clone(),
        None => match args.handler.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };

    let mut builder = SandboxBuilder::new();
    if let Some(n) = args.heap {
        builder = builder.with_heap_size(n);
    }
    if let Some(n) = args.scratch {
        builder = builder.with_scratch_size(n);
    }
    if let Some(n) = args.input {
        builder = builder.with_input_buffer_size(n);
    }
    if let Some(n) = args.output {
        builder = builder.with_output_buffer_size(n);
    }
    let mut sandbox = builder.build()?.load_runtime()?;
    sandbox.set_module_loader(None, FileSystemLoader::new(&modules)?)?;
    sandbox.add_handler("handler", &source)?;
    let mut loaded = sandbox.get_loaded_sandbox().map_err(|f| f.error)?;

    for _ in 0..args.repeat {
        let result = call(&mut loaded, args, &event);
        if let Some(stats) = loaded.last_call_stats() {
            print_stats(stats, loaded.guest_heap_used(), args.stats_json);
        }
        println!("{}", result?);
    }
    Ok(())
}

fn call(loaded: &mut LoadedJSSandbox, args: &Args, event: &str) -> hyperlight_js::Result<String> {
    let gc = Some(args.gc);
    match (args.timeout, args.cpu_timeout) {
        (None, None) => loaded.handle_event("handler", event, gc),
        (Some(w), None) => {
            loaded.handle_event_with_monitor("handler", event, &WallClockMonitor::new(w)?, gc)
        }
        (None, Some(c)) => {
            loaded.handle_event_with_monitor("handler", event, &CpuTimeMonitor::new(c)?, gc)
        }
        (Some(w), Some(c)) => {
            let both = (WallClockMonitor::new(w)?, CpuTimeMonitor::new(c)?);
            loaded.handle_event_with_monitor("handler", event, &both, gc)
        }
    }
}

fn print_stats(stats: &CallStats, heap_used: u64, json: bool) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let cpu = stats.cpu_time.map(ms);
    if json {
        eprintln!(
            "{}",
            serde_json::json!({
                "wallClockMs": ms(stats.wall_clock),
                "cpuTimeMs": cpu,
                "terminatedBy": stats.terminated_by,
                "guestHeapUsedBytes": heap_used,
            })
        );
    } else {
        eprintln!(
            "wall clock {:.3} ms, cpu {}, terminated by {}, guest heap in use {} KiB",
            ms(stats.wall_clock),
            cpu.map_or("n/a".into(), |c| format!("{c:.3} ms")),
            stats.terminated_by.unwrap_or("-"),
            heap_used / 1024
        );
    }
}
