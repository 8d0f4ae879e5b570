//! One OS thread per sandbox.
//!
//! The thread creates the micro-VM and owns it for its whole life (a vCPU
//! must not move between threads: the VM layer kicks it with `SIGRTMIN`
//! sent to *that* thread, and the CPU-time monitor reads *that* thread's
//! clock). JavaScript sends it jobs over a channel; they run one at a time
//! in the order they were sent, so overlapping calls on one sandbox queue
//! up and never interleave. Each job settles its Promise through the
//! [`Dispatcher`](crate::main_thread::Dispatcher): one hop to the sandbox
//! thread, one hop back.
//!
//! The libuv thread pool is not used: with four threads, four sandboxes
//! blocked on slow host functions would stall every other sandbox (and
//! Node's own file system calls).
//!
//! When the last JavaScript object of a sandbox lets go of its [`Core`],
//! the channel closes, the thread drops the VM and ends.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyperlight_js::{
    CallStats, CancelToken, JSSandbox, LoadedJSSandbox, ProtoJSSandbox, SandboxBuilder,
};
use napi::sys;

use crate::errors::Failure;
use crate::main_thread::{Deferred, EnvState, MainThreadRefs};

/// What the sandbox thread holds: the sandbox at its current stage.
pub(crate) enum Stage {
    /// Not built yet, failed, or released.
    Empty,
    /// Booted; host functions not applied yet.
    Proto(ProtoJSSandbox),
    /// Runtime loaded.
    Js(JSSandbox),
    /// Handlers loaded.
    Loaded(LoadedJSSandbox),
}

impl Stage {
    pub(crate) fn take(&mut self) -> Stage {
        std::mem::replace(self, Stage::Empty)
    }
}

type Job = Box<dyn FnOnce(&mut Stage) + Send>;

/// What the sandbox thread publishes after each job, for the synchronous
/// getters (`poisoned`, `lastCallStats`). Written before the job's Promise
/// settles, so it is current once the Promise is awaited.
#[derive(Default)]
pub(crate) struct Published {
    pub(crate) poisoned: AtomicBool,
    pub(crate) stats: Mutex<Option<CallStats>>,
    /// The VM's interrupt handle, set once the VM is built: `dispose()` of
    /// any stage stops what runs on the VM with it.
    pub(crate) handle: std::sync::OnceLock<hyperlight_js::InterruptHandle>,
    /// Calls and loads not settled yet, oldest first: what `kill()`
    /// targets (see [`Published::kill`]).
    pub(crate) calls: Mutex<Calls>,
    /// Host calls of this sandbox waiting for JavaScript.
    pub(crate) waiting: std::sync::atomic::AtomicUsize,
    /// The environment was torn down: the thread ends after its job.
    pub(crate) closed: AtomicBool,
}

/// Where a call (or load) is, from `callHandler()` until its Promise
/// settles.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum CallPhase {
    Queued,
    Running,
    /// Done on the sandbox thread; the Promise has not settled yet.
    Finished,
}

/// The calls of one sandbox that have not settled, oldest first.
#[derive(Default)]
pub(crate) struct Calls {
    next: u64,
    list: std::collections::VecDeque<(u64, CallPhase)>,
}

/// One call's entry in [`Published::calls`], removed when dropped (after
/// the call's Promise settled, or with its job if it never settles through
/// it).
pub(crate) struct CallRecord {
    pub(crate) seq: u64,
    published: Arc<Published>,
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        let mut calls = lock(&self.published.calls);
        calls.list.retain(|(s, _)| *s != self.seq);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Published {
    /// Stops what runs on the VM now or, if nothing does, the next call or
    /// load step to start (used by `dispose()`).
    pub(crate) fn kill_next(&self) -> bool {
        self.handle.get().is_some_and(|h| h.kill_next())
    }

    /// Records a new call (main thread, when `callHandler()` or a load is
    /// called).
    pub(crate) fn enqueue(self: &Arc<Self>) -> CallRecord {
        let mut calls = lock(&self.calls);
        calls.next += 1;
        let seq = calls.next;
        calls.list.push_back((seq, CallPhase::Queued));
        CallRecord {
            seq,
            published: self.clone(),
        }
    }

    /// Sandbox thread, before the call runs.
    pub(crate) fn start(&self, seq: u64) {
        let mut calls = lock(&self.calls);
        set_phase(&mut calls, seq, CallPhase::Running);
    }

    /// Sandbox thread, after the call ran: a kill that armed the VM after
    /// the call ended (it was on its way out) is withdrawn, so that it
    /// cannot reach another call.
    pub(crate) fn finish(&self, seq: u64) {
        let mut calls = lock(&self.calls);
        set_phase(&mut calls, seq, CallPhase::Finished);
        if let Some(h) = self.handle.get() {
            h.disarm();
        }
    }

    /// `InterruptHandle.kill()`: targets the oldest call whose Promise has
    /// not settled, the one the caller is waiting for. Running, queued or
    /// starting: killed (a call that has not entered the guest yet is
    /// cancelled as it starts, `InterruptHandle::kill_next`). Already
    /// finished (its result is on the way): nothing, and no later call is
    /// touched. Returns whether a call was hit.
    pub(crate) fn kill(&self) -> bool {
        let Some(handle) = self.handle.get() else {
            return false;
        };
        // Held across the kill: the call cannot be marked finished (and the
        // VM disarmed) between the decision and the arming.
        let calls = lock(&self.calls);
        match calls.list.front().copied() {
            None => {
                drop(calls);
                handle.kill()
            }
            Some((_, CallPhase::Queued | CallPhase::Running)) => {
                handle.kill_next();
                true
            }
            Some((_, CallPhase::Finished)) => false,
        }
    }
}

fn set_phase(calls: &mut Calls, seq: u64, phase: CallPhase) {
    if let Some(entry) = calls.list.iter_mut().find(|(s, _)| *s == seq) {
        entry.1 = phase;
    }
}

/// A guest's host call answered by JavaScript, or a nudge to look at the
/// cancel token again.
pub(crate) enum Reply {
    Done(u64, Result<String, String>),
    Wake,
}

/// The channel on which JavaScript answers host calls.
pub(crate) struct HostChannel {
    tx: Mutex<mpsc::Sender<Reply>>,
    rx: Mutex<mpsc::Receiver<Reply>>,
    seq: AtomicU64,
}

impl HostChannel {
    fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Self {
            tx: Mutex::new(tx),
            rx: Mutex::new(rx),
            seq: AtomicU64::new(1),
        }
    }

    fn sender(&self) -> mpsc::Sender<Reply> {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Makes a host call waiting on this channel look at its cancel token
    /// now (after a kill()).
    pub(crate) fn wake(&self) {
        let _ = self.sender().send(Reply::Wake);
    }
}

/// How often a waiting host call re-checks its cancel token when nothing
/// wakes it (a monitor's kill does not; `kill()` from JavaScript does).
const CANCEL_POLL: Duration = Duration::from_millis(5);

/// How long a sandbox thread waiting for a host function's answer stays
/// awake before it sleeps (see [`SPIN_FOR_NEXT_JOB`]).
const SPIN_FOR_REPLY: Duration = Duration::from_micros(100);

/// The JavaScript callbacks of one sandbox's host functions.
pub(crate) struct Bridge {
    pub(crate) refs: Arc<MainThreadRefs>,
    pub(crate) channel: Arc<HostChannel>,
    /// The sandbox's id (`Core::id`) and what it publishes (`waiting`).
    pub(crate) sandbox: u64,
    pub(crate) published: Arc<Published>,
}

impl Bridge {
    /// Runs on the sandbox thread: hands the call to the main thread and
    /// waits for its answer, giving up when the call is cancelled.
    fn call(&self, index: usize, args: &str, cancel: &CancelToken) -> Result<String, String> {
        let seq = self.channel.seq.fetch_add(1, Ordering::Relaxed);
        let tx = self.channel.sender();
        let refs = self.refs.clone();
        let args = args.to_string();
        let sandbox = self.sandbox;
        self.published.waiting.fetch_add(1, Ordering::SeqCst);
        struct Waiting<'a>(&'a Published);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.waiting.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _waiting = Waiting(&self.published);
        let posted = self.refs.dispatcher().post(Box::new(move |env| {
            let reply = Box::new(move |r| {
                let _ = tx.send(Reply::Done(seq, r));
            });
            match (refs.get(env, index), EnvState::get(env)) {
                (Ok(f), Ok(state)) => state.call_host(env, f, &args, sandbox, reply),
                (Err(e), _) | (_, Err(e)) => reply(Err(format!("host function unavailable: {e}"))),
            }
        }));
        if !posted {
            return Err("the Node.js environment is shutting down".into());
        }
        let rx = self.channel.rx.lock().unwrap_or_else(|p| p.into_inner());
        // A synchronous callback answers within tens of microseconds: stay
        // awake for it (yielding the CPU) before sleeping.
        let start = std::time::Instant::now();
        let spin = if crate::busy::oversubscribed() {
            Duration::ZERO
        } else {
            SPIN_FOR_REPLY
        };
        while start.elapsed() < spin {
            match rx.try_recv() {
                Ok(Reply::Done(s, result)) if s == seq => return result,
                Ok(_) | Err(mpsc::TryRecvError::Empty) => std::thread::yield_now(),
                Err(mpsc::TryRecvError::Disconnected) => {
                    return Err("the host function's channel closed".into())
                }
            }
        }
        loop {
            match rx.recv_timeout(CANCEL_POLL) {
                Ok(Reply::Done(s, result)) if s == seq => return result,
                // A late answer to a call that was cancelled, or a wake-up.
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("the host function's channel closed".into())
                }
            }
            if cancel.is_cancelled() {
                return Err("the call was cancelled".into());
            }
        }
    }
}

static NEXT_SANDBOX: AtomicU64 = AtomicU64::new(1);

/// A sandbox's thread, as the JavaScript objects see it.
/// What V8 is told a live sandbox holds outside its heap (see
/// [`ExternalMemory`]): 1.5 MiB, the resident memory a loaded sandbox with
/// default sizes adds to the process after one call (measured 2026-11-29:
/// 200 sandboxes, 1.53 MiB each), besides a thread and three descriptors.
pub(crate) const EXTERNAL_BYTES_PER_SANDBOX: i64 = 3 << 19;

/// Reports a sandbox's memory to V8 (`napi_adjust_external_memory`) for as
/// long as its [`Core`] lives, so that garbage collection runs in proportion
/// to the sandboxes dropped without `dispose()` (each holds a VM, a thread
/// and descriptors until its objects are collected).
struct ExternalMemory {
    env: usize,
    bytes: i64,
    dispatcher: Arc<crate::main_thread::Dispatcher>,
}

impl ExternalMemory {
    fn new(env: sys::napi_env, bytes: i64, state: &EnvState) -> Self {
        adjust(env, bytes);
        Self {
            env: env as usize,
            bytes,
            dispatcher: state.dispatcher.clone(),
        }
    }
}

fn adjust(env: sys::napi_env, change: i64) {
    let mut total = 0i64;
    // SAFETY: valid env on its own thread; allowed in finalizers (it takes
    // a basic env).
    unsafe { sys::napi_adjust_external_memory(env, change, &mut total) };
}

impl Drop for ExternalMemory {
    fn drop(&mut self) {
        let bytes = self.bytes;
        if self.dispatcher.on_main_thread() {
            adjust(self.env as sys::napi_env, -bytes);
        } else {
            self.dispatcher
                .post(Box::new(move |env| adjust(env, -bytes)));
        }
    }
}

pub(crate) struct Core {
    /// Unique per process; identifies the sandbox to host functions.
    pub(crate) id: u64,
    _memory: ExternalMemory,
    tx: mpsc::Sender<Job>,
    pub(crate) published: Arc<Published>,
    pub(crate) channel: Arc<HostChannel>,
    /// The exit-less warm path (see `warm`).
    pub(crate) warm: Arc<crate::warm::Warm>,
}

/// The sizes and settings (`Intl` defaults, clock, print sink) a
/// `SandboxBuilder` collected.
#[derive(Clone, Default)]
pub(crate) struct Sizes {
    pub(crate) heap: Option<u64>,
    pub(crate) scratch: Option<u64>,
    pub(crate) input: Option<u64>,
    pub(crate) output: Option<u64>,
    pub(crate) locale: Option<String>,
    pub(crate) time_zone: Option<String>,
    /// `setClockResolutionUs`, in microseconds.
    pub(crate) clock_resolution_us: Option<u64>,
    /// `setPrintSink`.
    pub(crate) print_sink: Option<Arc<crate::print::JsPrintSink>>,
}

impl Core {
    /// Starts a sandbox thread that builds the VM; `finish` makes the
    /// Promise's value on the main thread.
    pub(crate) fn spawn(
        env: sys::napi_env,
        sizes: Sizes,
        finish: impl FnOnce(sys::napi_env, Arc<Core>) -> Result<sys::napi_value, Failure>
            + Send
            + 'static,
    ) -> napi::Result<sys::napi_value> {
        let (deferred, promise) = Deferred::new(env)?;
        let state = EnvState::get(env)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let id = NEXT_SANDBOX.fetch_add(1, Ordering::Relaxed);
        let published: Arc<Published> = Arc::default();
        let warm = Arc::new(crate::warm::Warm::new(published.clone()));
        let thread_warm = warm.clone();
        let core = Arc::new(Core {
            id,
            _memory: ExternalMemory::new(env, EXTERNAL_BYTES_PER_SANDBOX, state),
            tx,
            published,
            channel: Arc::new(HostChannel::new()),
            warm,
        });
        state.add_sandbox(&core);
        let published = core.published.clone();
        let spawned = crate::threads::run(Box::new(move || {
            let mut builder = SandboxBuilder::new();
            if let Some(n) = sizes.heap {
                builder = builder.with_heap_size(n);
            }
            if let Some(n) = sizes.scratch {
                builder = builder.with_scratch_size(n);
            }
            if let Some(n) = sizes.input {
                builder = builder.with_input_buffer_size(n);
            }
            if let Some(n) = sizes.output {
                builder = builder.with_output_buffer_size(n);
            }
            if let Some(l) = sizes.locale {
                builder = builder.with_locale(l);
            }
            if let Some(tz) = sizes.time_zone {
                builder = builder.with_time_zone(tz);
            }
            if let Some(us) = sizes.clock_resolution_us {
                builder = builder.with_clock_resolution(Duration::from_micros(us));
            }
            if let Some(sink) = &sizes.print_sink {
                builder = builder.with_print_sink(sink.rust_sink());
            }
            let built = std::panic::catch_unwind(AssertUnwindSafe(|| builder.build()));
            let mut stage = match built {
                Ok(Ok(proto)) => {
                    let _ = core.published.handle.set(proto.interrupt_handle());
                    deferred.settle(Box::new(move |env| finish(env, core)));
                    Stage::Proto(proto)
                }
                Ok(Err(e)) => {
                    deferred.reject(e.into());
                    return;
                }
                Err(_) => {
                    deferred.reject(Failure::internal("building the sandbox panicked"));
                    return;
                }
            };
            run_jobs(&rx, &mut stage, &thread_warm, &published);
        }));
        if let Err(e) = spawned {
            // The closure (and its deferred) was dropped: that rejects the
            // Promise with ERR_INTERNAL.
            return Err(napi::Error::from_reason(format!(
                "could not start a sandbox thread: {e}"
            )));
        }
        Ok(promise)
    }

    /// The environment that owns this sandbox is going away: kill what
    /// runs (or the next job), cancel host-function waits, and make the
    /// thread release the VM and end after its current job.
    pub(crate) fn shut_down(&self) {
        self.published.closed.store(true, Ordering::SeqCst);
        self.published.kill_next();
        self.channel.wake();
        // Wakes a thread idle in `next_job`.
        let _ = self
            .tx
            .send(Box::new(|stage: &mut Stage| *stage = Stage::Empty));
    }

    /// Queues `work` on the sandbox thread; its result becomes the value
    /// `finish` builds on the main thread.
    pub(crate) fn submit<T: Send + 'static>(
        &self,
        env: sys::napi_env,
        work: impl FnOnce(&mut Stage) -> Result<T, Failure> + Send + 'static,
        finish: impl FnOnce(sys::napi_env, T) -> Result<sys::napi_value, Failure> + Send + 'static,
    ) -> napi::Result<sys::napi_value> {
        let (deferred, promise) = Deferred::new(env)?;
        let job: Job = Box::new(move |stage| match work(stage) {
            Ok(value) => deferred.settle(Box::new(move |env| finish(env, value))),
            Err(failure) => deferred.reject(failure),
        });
        // If the thread is gone the job is dropped, and its deferred rejects.
        self.warm.job_sent();
        let _ = self.tx.send(job);
        Ok(promise)
    }

    /// Queues `job` on the sandbox thread as it is (the job settles its own
    /// Promise, e.g. through an [`abort::Ticket`](crate::abort::Ticket)).
    /// If the thread is gone the job is dropped, which rejects its Promise.
    pub(crate) fn queue(&self, job: impl FnOnce(&mut Stage) + Send + 'static) {
        self.warm.job_sent();
        let _ = self.tx.send(Box::new(job));
    }

    /// Publishes `poisoned` from the loaded sandbox.
    pub(crate) fn publish(published: &Published, loaded: &LoadedJSSandbox) {
        published
            .poisoned
            .store(loaded.poisoned(), Ordering::Release);
        *published.stats.lock().unwrap_or_else(|p| p.into_inner()) =
            loaded.last_call_stats().cloned();
    }

    /// Publishes `poisoned`, and the statistics only if the request just
    /// made recorded new ones (`before`: the loaded sandbox's statistics
    /// before it). A request refused before it ran (poisoned, unknown
    /// handler) leaves `lastCallStats` as it was, including statistics a
    /// warm call published, which the loaded sandbox does not hold.
    pub(crate) fn publish_request(
        published: &Published,
        loaded: &LoadedJSSandbox,
        before: Option<&hyperlight_js::CallStats>,
    ) {
        published
            .poisoned
            .store(loaded.poisoned(), Ordering::Release);
        let now = loaded.last_call_stats();
        if now != before {
            *published.stats.lock().unwrap_or_else(|p| p.into_inner()) = now.cloned();
        }
    }
}

/// How long a sandbox thread keeps looking for its next job before it
/// sleeps. A program that awaits one call and makes the next sends it
/// within tens of microseconds; catching it while still awake saves the
/// thread wake-up (about 20 µs on the nested-KVM machines measured).
/// It yields the CPU while it looks, so other threads run first.
const SPIN_FOR_NEXT_JOB: Duration = Duration::from_micros(100);

fn next_job(rx: &mpsc::Receiver<Job>) -> Option<Job> {
    let start = std::time::Instant::now();
    let spin = if crate::busy::oversubscribed() {
        // Another thread wants this core more than we want to save a
        // wake-up (see `busy`).
        Duration::ZERO
    } else {
        SPIN_FOR_NEXT_JOB
    };
    while start.elapsed() < spin {
        match rx.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) => std::thread::yield_now(),
        }
    }
    rx.recv().ok()
}

fn run_jobs(
    rx: &mpsc::Receiver<Job>,
    stage: &mut Stage,
    warm: &crate::warm::Warm,
    published: &Published,
) {
    while let Some(job) = next_job(rx) {
        warm.job_started(matches!(stage, Stage::Loaded(_)));
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(stage))).is_err() {
            // The sandbox may be half-way through a transition: release it.
            *stage = Stage::Empty;
        }
        if published.closed.load(Ordering::SeqCst) {
            // The environment was torn down (`Core::shut_down`).
            break;
        }
        match stage {
            // While calls keep coming, serve them without exits.
            Stage::Loaded(loaded) => {
                if std::panic::catch_unwind(AssertUnwindSafe(|| warm.serve(loaded))).is_err() {
                    *stage = Stage::Empty;
                }
            }
            _ => warm.unloaded(),
        }
    }
    // Every JavaScript object let go: the VM is dropped here, on its thread.
    *stage = Stage::Empty;
}

/// Registers `bridge`'s functions as cancellable host functions.
pub(crate) fn register_host_functions(
    proto: &mut ProtoJSSandbox,
    names: &[(String, String)],
    bridge: Arc<Bridge>,
) -> hyperlight_js::Result<()> {
    for (index, (module, function)) in names.iter().enumerate() {
        let bridge = bridge.clone();
        proto.register_cancellable(module, function, move |args, cancel| {
            bridge.call(index, args, cancel)
        })?;
    }
    Ok(())
}

/// Releases a sandbox's VM (dispose): the thread drops it. Resolves at
/// once when there is nothing to release.
pub(crate) fn release(env: sys::napi_env, core: Option<Arc<Core>>) -> napi::Result<crate::js::Raw> {
    let promise = match core {
        Some(core) => {
            // Stop what runs on the VM (an endless load or call) so that the
            // release below, queued behind it, runs.
            core.published.kill_next();
            core.submit(
                env,
                |stage| {
                    *stage = Stage::Empty;
                    Ok(())
                },
                |env, ()| crate::js::undefined(env).map_err(Failure::internal),
            )?
        }
        None => {
            let (deferred, promise) = Deferred::new(env)?;
            deferred.settle(Box::new(|env| {
                crate::js::undefined(env).map_err(Failure::internal)
            }));
            promise
        }
    };
    Ok(crate::js::Raw(promise))
}
