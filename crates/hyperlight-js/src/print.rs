//! Where guest `console.*` and `print` output goes, without ever letting
//! the guest's output block the thread that runs it.
//!
//! The VM layer hands each record to the sandbox's [`PrintOut`] on the
//! sandbox thread, at the exit that follows it. From there:
//!
//! * **The default sink** ([`SandboxBuilder::new`](crate::SandboxBuilder::new))
//!   neutralises the text ([`neutralise`]) and writes it to stdout (warnings
//!   and errors to stderr) *only as far as the descriptor takes it without
//!   blocking* (`poll` before every write of at most `PIPE_BUF` bytes). What
//!   it does not take waits in a per-descriptor queue of at most
//!   [`STDIO_QUEUE_BYTES`], written by a background thread. A stdout pipe
//!   nobody reads therefore stalls only that thread.
//! * **A sink you supply** ([`SandboxBuilder::with_print_sink`](crate::SandboxBuilder::with_print_sink))
//!   is called on the crate's printer thread, fed by a queue bounded to
//!   [`QUEUE_BYTES`] / [`QUEUE_RECORDS`] in all and [`SANDBOX_QUEUE_BYTES`]
//!   per sandbox. It gets the raw text. A sink that blocks delays other
//!   sandboxes' output (and makes records drop once the queue is full), but
//!   never a guest.
//!
//! **When a queue is full** the record is dropped and counted; as soon as
//! there is room again the sink receives one line at level
//! [`PrintLevel::Warn`], `[hyperlight-js: N lines of guest output were
//! dropped: the output queue was full]` (`1 line` for one), where the records were lost. No
//! record is ever cut silently: a line longer than the print region arrives
//! whole (the guest splits it, the host joins it) up to [`MAX_LINE_BYTES`];
//! a longer one arrives in pieces of that size, each but the last ending
//! with [`CONTINUED_MARKER`].

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hyperlight_abi::print_level;

/// Severity of a line printed by the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrintLevel {
    /// `print(...)` (also `io.print`): the text exactly as printed, with
    /// no newline added, as in upstream hyperlight-js (`print('a');
    /// print('b\n')` prints one line `ab`). A sink that writes whole lines
    /// adds its own.
    Print,
    /// `console.debug`.
    Debug,
    /// `console.log` and `console.info`.
    Info,
    /// `console.warn`.
    Warn,
    /// `console.error`.
    Error,
}

impl PrintLevel {
    pub(crate) fn from_abi(level: u32) -> Self {
        match level & !print_level::CONTINUES {
            print_level::DEBUG => PrintLevel::Debug,
            print_level::INFO => PrintLevel::Info,
            print_level::WARN => PrintLevel::Warn,
            print_level::ERROR => PrintLevel::Error,
            _ => PrintLevel::Print,
        }
    }
}

/// Receives every line the guest prints (one call per `console.log`),
/// on the crate's printer thread. It should return quickly: while it
/// runs, other sandboxes' output waits (the guests do not).
pub type PrintSink = Arc<dyn Fn(PrintLevel, &str) + Send + Sync>;

/// Longest line delivered whole: 4 MiB. A longer line is delivered in
/// pieces of this size, each but the last ending with [`CONTINUED_MARKER`].
pub const MAX_LINE_BYTES: usize = 4 << 20;
/// Appended to each piece of a line longer than [`MAX_LINE_BYTES`] but the
/// last.
pub const CONTINUED_MARKER: &str = " [hyperlight-js: line continues in the next record]";
/// Bytes of output waiting for user sinks, all sandboxes together: 32 MiB.
pub const QUEUE_BYTES: usize = 32 << 20;
/// Records waiting for user sinks, all sandboxes together.
pub const QUEUE_RECORDS: usize = 65_536;
/// Bytes of one sandbox's output waiting for its user sink: 8 MiB.
pub const SANDBOX_QUEUE_BYTES: usize = 8 << 20;
/// Bytes waiting for stdout (and, separately, stderr) when the descriptor
/// does not take them at once: 8 MiB each.
pub const STDIO_QUEUE_BYTES: usize = 8 << 20;

/// The default sink as a [`PrintSink`]: [`neutralise`]s each line and
/// writes it to stdout (warnings and errors to stderr) without blocking
/// (see the module documentation). [`SandboxBuilder::new`](crate::SandboxBuilder::new)
/// uses it.
pub fn stdio_sink() -> PrintSink {
    Arc::new(write_stdio)
}

fn write_stdio(level: PrintLevel, text: &str) {
    let line = if level == PrintLevel::Print {
        neutralise(text).replace("\n| ", "\n")
    } else {
        let mut l = neutralise(text);
        l.push('\n');
        l
    };
    let fd = if level >= PrintLevel::Warn {
        stderr()
    } else {
        stdout()
    };
    fd.write(line.as_bytes());
}

/// Makes guest text safe to write to a terminal or a log file: every
/// control character but tab (C0, DEL, C1: ESC, CSI, OSC, CR, BEL...) and
/// every bidirectional override becomes a visible escape (`\x1b`,
/// `\u{202e}`), and each embedded newline is followed by `| `, so that a
/// guest can neither drive the terminal nor start a line that looks like
/// one of the host's.
pub fn neutralise(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\n| "),
            '\t' => out.push('\t'),
            c if (c as u32) < 0x100 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn dropped_line(n: u64) -> String {
    let lines = if n == 1 { "line" } else { "lines" };
    format!("[hyperlight-js: {n} {lines} of guest output were dropped: the output queue was full]")
}

// ---------------------------------------------------------------------------
// Per sandbox.

/// One sandbox's end of the print path: joins split records and hands
/// whole lines to the sink's queue. Owned by the sandbox thread.
pub(crate) struct PrintOut {
    shared: Arc<OutShared>,
    /// Pieces of a line the guest split (`CONTINUES`), not yet complete.
    partial: Option<(PrintLevel, String)>,
}

struct OutShared {
    sink: Sink,
    /// Bytes of this sandbox's lines queued for a user sink.
    queued: AtomicUsize,
    /// Lines dropped and not yet reported.
    dropped: AtomicU64,
}

enum Sink {
    Stdio,
    Custom(PrintSink),
}

impl PrintOut {
    /// The default: neutralised, non-blocking stdout/stderr.
    pub(crate) fn stdio() -> Self {
        Self::with(Sink::Stdio)
    }

    /// A user sink, called on the printer thread.
    pub(crate) fn custom(sink: PrintSink) -> Self {
        Self::with(Sink::Custom(sink))
    }

    /// Output that goes nowhere (warm-up runs).
    pub(crate) fn discard() -> Self {
        Self::with(Sink::Custom(Arc::new(|_, _| {})))
    }

    fn with(sink: Sink) -> Self {
        Self {
            shared: Arc::new(OutShared {
                sink,
                queued: AtomicUsize::new(0),
                dropped: AtomicU64::new(0),
            }),
            partial: None,
        }
    }

    /// Another end of the same sandbox's output (same sink, queue and drop
    /// count), for a second drainer of the print buffer (the warm path's
    /// poster); it joins split lines on its own.
    pub(crate) fn share(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            partial: None,
        }
    }

    /// One record from the guest (`level` as in the ABI, with its
    /// `CONTINUES` flag).
    pub(crate) fn record(&mut self, level: u32, text: &str) {
        let continues = level & print_level::CONTINUES != 0;
        let lv = PrintLevel::from_abi(level);
        if self.partial.is_none() && !continues {
            self.deliver(lv, text.to_string());
            return;
        }
        let (plv, mut line) = self.partial.take().unwrap_or((lv, String::new()));
        let mut rest = text;
        while line.len() + rest.len() > MAX_LINE_BYTES {
            let cut = floor_char_boundary(rest, MAX_LINE_BYTES - line.len());
            line.push_str(&rest[..cut]);
            rest = &rest[cut..];
            line.push_str(CONTINUED_MARKER);
            self.deliver(plv, std::mem::take(&mut line));
        }
        line.push_str(rest);
        if continues {
            self.partial = Some((plv, line));
        } else {
            self.deliver(plv, line);
        }
    }

    /// The request ended: a line left unfinished (the call was killed
    /// while the guest was printing it) is delivered as it is, and dropped
    /// lines are reported if there is room.
    pub(crate) fn end_of_request(&mut self) {
        if let Some((lv, mut line)) = self.partial.take() {
            line.push_str(" [hyperlight-js: the rest of this line was lost: the call ended]");
            self.deliver(lv, line);
        }
        self.report_drops();
    }

    fn report_drops(&self) {
        let n = self.shared.dropped.swap(0, Ordering::AcqRel);
        if n == 0 {
            return;
        }
        if !self.push(PrintLevel::Warn, dropped_line(n)) {
            self.shared.dropped.fetch_add(n, Ordering::AcqRel);
        }
    }

    fn deliver(&self, level: PrintLevel, line: String) {
        if self.shared.dropped.load(Ordering::Acquire) > 0 {
            self.report_drops();
        }
        if !self.push(level, line) {
            self.shared.dropped.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Queues one line; `false` when a queue is full.
    fn push(&self, level: PrintLevel, line: String) -> bool {
        match &self.shared.sink {
            Sink::Stdio => {
                // `print` text goes out as it is (no newline added, as
                // upstream QuickJS prints it), control characters escaped.
                let text = if level == PrintLevel::Print {
                    neutralise(&line).replace("\n| ", "\n")
                } else {
                    let mut t = neutralise(&line);
                    t.push('\n');
                    t
                };
                let fd = if level >= PrintLevel::Warn {
                    stderr()
                } else {
                    stdout()
                };
                fd.write(text.as_bytes())
            }
            Sink::Custom(_) => printer().push(&self.shared, level, line),
        }
    }
}

fn floor_char_boundary(s: &str, mut n: usize) -> usize {
    n = n.min(s.len());
    while n > 0 && !s.is_char_boundary(n) {
        n -= 1;
    }
    n
}

// ---------------------------------------------------------------------------
// The printer thread for user sinks.

struct Item {
    out: Arc<OutShared>,
    level: PrintLevel,
    line: String,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Item>,
    bytes: usize,
    /// Lines handed to a sink so far, and lines queued so far.
    delivered: u64,
    queued: u64,
}

struct Printer {
    queue: Mutex<Queue>,
    wake: Condvar,
    done: Condvar,
}

fn printer() -> &'static Printer {
    static PRINTER: OnceLock<&'static Printer> = OnceLock::new();
    PRINTER.get_or_init(|| {
        let p: &'static Printer = Box::leak(Box::new(Printer {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            done: Condvar::new(),
        }));
        let spawned = std::thread::Builder::new()
            .name("hyperlight-printer".into())
            .spawn(move || p.run());
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the guest output thread");
        }
        p
    })
}

impl Printer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, out: &Arc<OutShared>, level: PrintLevel, line: String) -> bool {
        let len = line.len();
        let mut q = self.lock();
        if q.items.len() >= QUEUE_RECORDS
            || q.bytes + len > QUEUE_BYTES
            || out.queued.load(Ordering::Acquire) + len > SANDBOX_QUEUE_BYTES
        {
            return false;
        }
        q.bytes += len;
        q.queued += 1;
        out.queued.fetch_add(len, Ordering::AcqRel);
        q.items.push_back(Item {
            out: out.clone(),
            level,
            line,
        });
        drop(q);
        self.wake.notify_one();
        true
    }

    fn run(&self) {
        loop {
            let item = {
                let mut q = self.lock();
                loop {
                    if let Some(item) = q.items.pop_front() {
                        break item;
                    }
                    q = self.wake.wait(q).unwrap_or_else(|e| e.into_inner());
                }
            };
            if let Sink::Custom(sink) = &item.out.sink {
                let sink = sink.clone();
                let (level, line) = (item.level, &item.line);
                // A panicking sink loses its line, nothing else.
                let _ =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(level, line)));
            }
            let len = item.line.len();
            let left = item.out.queued.fetch_sub(len, Ordering::AcqRel) - len;
            if left == 0 {
                // The sandbox's queue ran dry: report what it dropped since
                // it filled up (the sandbox reports it itself when it next
                // prints, whichever comes first).
                let n = item.out.dropped.swap(0, Ordering::AcqRel);
                if let (true, Sink::Custom(sink)) = (n > 0, &item.out.sink) {
                    let line = dropped_line(n);
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        sink(PrintLevel::Warn, &line)
                    }));
                }
            }
            let mut q = self.lock();
            q.bytes -= len;
            q.delivered += 1;
            drop(q);
            self.done.notify_all();
        }
    }
}

/// Waits until every line printed so far has been handed to its sink (user
/// sinks) or written (the default sink), for at most `timeout`. Returns
/// whether everything was delivered. Call it before exiting a program whose
/// guests' output matters: output still queued when the process exits is
/// lost.
pub fn flush_prints(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let p = printer();
    let mut q = p.lock();
    let target = q.queued;
    while q.delivered < target {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        q = p
            .done
            .wait_timeout(q, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    drop(q);
    stdout().flush(deadline) && stderr().flush(deadline)
}

// ---------------------------------------------------------------------------
// Non-blocking stdout and stderr.

struct FdWriter {
    fd: libc::c_int,
    state: Mutex<FdState>,
    wake: Condvar,
    done: Condvar,
}

#[derive(Default)]
struct FdState {
    pending: VecDeque<u8>,
    /// The writer thread holds bytes taken from `pending`.
    writing: bool,
    started: bool,
    dropped: u64,
}

fn stdout() -> &'static FdWriter {
    static W: OnceLock<FdWriter> = OnceLock::new();
    W.get_or_init(|| FdWriter::new(libc::STDOUT_FILENO))
}

fn stderr() -> &'static FdWriter {
    static W: OnceLock<FdWriter> = OnceLock::new();
    W.get_or_init(|| FdWriter::new(libc::STDERR_FILENO))
}

/// `PIPE_BUF`: a pipe that polls writable takes this many bytes without
/// blocking.
const CHUNK: usize = 4096;

impl FdWriter {
    fn new(fd: libc::c_int) -> Self {
        Self {
            fd,
            state: Mutex::new(FdState::default()),
            wake: Condvar::new(),
            done: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FdState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `bytes` as far as the descriptor takes them now and queues
    /// the rest; `false` (nothing written or queued) when the queue is full.
    fn write(&'static self, bytes: &[u8]) -> bool {
        let mut st = self.lock();
        let mut rest = bytes;
        if st.pending.is_empty() && !st.writing {
            if st.dropped > 0 {
                let line = format!("{}\n", dropped_line(st.dropped));
                if self.write_now(line.as_bytes()) == line.len() {
                    st.dropped = 0;
                }
            }
            if st.dropped == 0 {
                let n = self.write_now(rest);
                rest = &rest[n..];
            }
            if rest.is_empty() {
                return true;
            }
        }
        if st.pending.len() + rest.len() > STDIO_QUEUE_BYTES {
            st.dropped += 1;
            return false;
        }
        if st.dropped > 0 {
            let line = format!("{}\n", dropped_line(st.dropped));
            st.pending.extend(line.as_bytes());
            st.dropped = 0;
        }
        st.pending.extend(rest);
        if !st.started {
            st.started = true;
            let spawned = std::thread::Builder::new()
                .name(format!("hyperlight-stdio-{}", self.fd))
                .spawn(move || self.run());
            if spawned.is_err() {
                st.started = false;
            }
        }
        drop(st);
        self.wake.notify_one();
        true
    }

    /// Writes as much of `bytes` as the descriptor takes without blocking;
    /// returns how much it wrote.
    fn write_now(&self, bytes: &[u8]) -> usize {
        let mut written = 0;
        while written < bytes.len() {
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: one valid pollfd, no timeout.
            let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
            if ready != 1 || pfd.revents & libc::POLLOUT == 0 {
                break;
            }
            let n = (bytes.len() - written).min(CHUNK);
            // SAFETY: writes `n` bytes from a live slice.
            let r = unsafe { libc::write(self.fd, bytes[written..].as_ptr().cast(), n) };
            if r <= 0 {
                let e = std::io::Error::last_os_error();
                if r < 0 && e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                if r < 0 && e.kind() != std::io::ErrorKind::WouldBlock {
                    // A closed or broken descriptor: the output is gone.
                    return bytes.len();
                }
                break;
            }
            written += r as usize;
        }
        written
    }

    /// The background writer: may block on the descriptor, never a guest.
    fn run(&self) {
        loop {
            let chunk: Vec<u8> = {
                let mut st = self.lock();
                while st.pending.is_empty() {
                    st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                let n = st.pending.len().min(64 << 10);
                st.writing = true;
                st.pending.drain(..n).collect()
            };
            let mut off = 0;
            while off < chunk.len() {
                // SAFETY: writes from a live slice; blocking is fine here.
                let r = unsafe {
                    libc::write(self.fd, chunk[off..].as_ptr().cast(), chunk.len() - off)
                };
                if r < 0 {
                    let e = std::io::Error::last_os_error();
                    match e.kind() {
                        std::io::ErrorKind::Interrupted => continue,
                        std::io::ErrorKind::WouldBlock => {
                            let mut pfd = libc::pollfd {
                                fd: self.fd,
                                events: libc::POLLOUT,
                                revents: 0,
                            };
                            // SAFETY: one valid pollfd.
                            unsafe { libc::poll(&mut pfd, 1, 1000) };
                            continue;
                        }
                        _ => break,
                    }
                }
                off += r.max(0) as usize;
            }
            let mut st = self.lock();
            st.writing = false;
            if st.pending.is_empty() && st.dropped > 0 {
                let line = format!("{}\n", dropped_line(st.dropped));
                st.pending.extend(line.as_bytes());
                st.dropped = 0;
            }
            drop(st);
            self.done.notify_all();
        }
    }

    fn flush(&self, deadline: Instant) -> bool {
        let mut st = self.lock();
        while !st.pending.is_empty() || st.writing {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .done
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let _ = std::io::stdout().flush();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralise_escapes_controls_and_marks_newlines() {
        assert_eq!(
            neutralise("a\x1b[31mb\rc\x07d\u{9b}e\u{202e}f\tg\nh"),
            "a\\x1b[31mb\\x0dc\\x07d\\x9be\\u{202e}f\tg\n| h"
        );
    }

    #[test]
    fn split_records_are_joined() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        let mut out = PrintOut::custom(Arc::new(move |l, t: &str| {
            g.lock().unwrap().push((l, t.to_string()))
        }));
        out.record(print_level::INFO | print_level::CONTINUES, "ab");
        out.record(print_level::INFO | print_level::CONTINUES, "cd");
        out.record(print_level::INFO, "e");
        out.record(print_level::WARN, "w");
        assert!(flush_prints(Duration::from_secs(5)));
        assert_eq!(
            *got.lock().unwrap(),
            vec![
                (PrintLevel::Info, "abcde".to_string()),
                (PrintLevel::Warn, "w".to_string())
            ]
        );
    }
}
