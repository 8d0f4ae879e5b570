//! Warm calls without a VM exit or a thread hop (`hyperlight_js::WarmPath`).
//!
//! After each job, while no other job is queued, a loaded sandbox's thread
//! lets its guest poll the mailbox for a short window
//! (`HYPERLIGHT_JS_WARM_WINDOW_US`, default [`DEFAULT_WINDOW_US`]). A
//! `callHandler` made in that window, with no call or job of this sandbox
//! in flight and no `signal`, is posted by the JavaScript thread itself and
//! its answer taken from guest memory while it spins for at most
//! `HYPERLIGHT_JS_WARM_SPIN_US` (default [`DEFAULT_SPIN_US`]): the Promise
//! is resolved before `callHandler` returns. A host function the handler
//! calls meanwhile runs on the JavaScript thread right there and is
//! answered in guest memory (no exit either); one that returns a Promise
//! is answered when it settles, and the call then ends through the
//! sandbox's thread. A call that takes longer is answered by the
//! sandbox's thread as usual.
//! Timeouts apply the same way (monitors are armed by the poster and kill
//! the sandbox's thread). See `docs/warm-path.md`.
//!
//! `HYPERLIGHT_JS_WARM_WINDOW_US=0` turns the warm path off.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hyperlight_js::{Handed, WarmCall, WarmHostCall, WarmOutcome, WarmPath};
use napi::sys;

use crate::errors::Failure;
use crate::main_thread::{Deferred, EnvState};
use crate::worker::{Bridge, Published};

/// How long a guest polls for the next call after the last one, by default.
pub(crate) const DEFAULT_WINDOW_US: u64 = 200;
/// How long the JavaScript thread spins for a warm call's answer, by default.
pub(crate) const DEFAULT_SPIN_US: u64 = 50;
/// How long one warm call may keep the JavaScript thread running its host
/// functions in memory: later host calls of that call are declined (they
/// go through the sandbox's thread and the event loop, as without the warm
/// path), so that a handler calling host functions in a long loop does not
/// hold the event loop for longer than this.
const MAX_HOST_TIME: Duration = Duration::from_millis(5);
/// The longest back-off, in jobs, after windows in which no call came.
const MAX_SKIP: u32 = 64;
/// The largest value either variable accepts.
const MAX_US: u64 = 10_000;

fn env_us(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(us) if us <= MAX_US => us,
            _ => {
                eprintln!(
                    "hyperlight-js: {name} must be a whole number of microseconds from 0 to \
                     {MAX_US}, got {v:?}; using {default}"
                );
                default
            }
        },
        Err(_) => default,
    }
}

fn window() -> Duration {
    static W: OnceLock<Duration> = OnceLock::new();
    *W.get_or_init(|| {
        Duration::from_micros(env_us("HYPERLIGHT_JS_WARM_WINDOW_US", DEFAULT_WINDOW_US))
    })
}

fn spin() -> Duration {
    static S: OnceLock<Duration> = OnceLock::new();
    *S.get_or_init(|| Duration::from_micros(env_us("HYPERLIGHT_JS_WARM_SPIN_US", DEFAULT_SPIN_US)))
}

/// The warm call in flight, shared by the JavaScript thread (which posted
/// it) and the sandbox's thread (which may deliver its answer).
struct Slot {
    deferred: Option<Deferred>,
    handed: Option<Handed>,
    result: Option<hyperlight_js::Result<String>>,
}

/// One sandbox's warm-path state.
pub(crate) struct Warm {
    path: Mutex<Option<WarmPath>>,
    /// Jobs sent to the sandbox's thread and not started yet (a warm call
    /// must not overtake them; one that runs has the vCPU, so the guest does
    /// not poll meanwhile).
    jobs: AtomicUsize,
    /// Warm calls posted so far (to tell a serving window that paid from
    /// one that was wasted).
    posted: AtomicU64,
    /// Jobs after which the sandbox's thread does not serve (back-off after
    /// wasted windows), and the current back-off.
    skip: AtomicU32,
    penalty: AtomicU32,
    /// Set by the sandbox's thread from the start of a job after which it
    /// will serve until that serving ends: a call made meanwhile waits for
    /// the guest to poll instead of queueing behind it.
    upcoming: std::sync::atomic::AtomicBool,
    slot: Mutex<Option<Slot>>,
    published: Arc<Published>,
    /// The sandbox's JavaScript host functions (module, function) and how
    /// to call them: a host call a warm call makes while the JavaScript
    /// thread spins for its answer runs right there, without an exit.
    host: Mutex<Option<HostFunctions>>,
}

/// A sandbox's JavaScript host functions: how to call them, and their
/// (module, function) names in the order of the bridge's references.
type HostFunctions = (Arc<Bridge>, Arc<[(String, String)]>);

/// What [`Warm::try_call`] did with the Promise's deferred.
pub(crate) enum Tried {
    /// The call was posted: the Promise is settled now or will be by the
    /// sandbox's thread.
    Posted,
    /// Not posted (nothing ran): send the call through the sandbox's thread.
    NotPosted(Deferred),
}

impl Warm {
    pub(crate) fn new(published: Arc<Published>) -> Self {
        Self {
            path: Mutex::new(None),
            jobs: AtomicUsize::new(0),
            posted: AtomicU64::new(0),
            skip: AtomicU32::new(0),
            penalty: AtomicU32::new(0),
            upcoming: std::sync::atomic::AtomicBool::new(false),
            slot: Mutex::new(None),
            published,
            host: Mutex::new(None),
        }
    }

    /// Main thread, at `loadRuntime()`: the sandbox's host functions.
    pub(crate) fn set_host_functions(&self, bridge: Arc<Bridge>, names: Arc<[(String, String)]>) {
        *self.host.lock().unwrap_or_else(|p| p.into_inner()) = Some((bridge, names));
    }

    /// JavaScript thread, spinning for a warm call's answer: the handler
    /// called a host function. Runs it here, as the exit path would run it
    /// on this thread (same helper: arguments, result, errors, the
    /// re-entrancy record), and answers in guest memory: synchronously
    /// for a function that returns a value or throws, later for one that
    /// returns a Promise (the guest then waits in an exit and the call's
    /// answer comes through the sandbox's thread). A function this thread
    /// does not know is declined: the sandbox's thread reports it.
    fn run_host(&self, env: sys::napi_env, hc: WarmHostCall) {
        let host = self.host.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some((bridge, names)) = host else {
            return hc.decline();
        };
        let Some(index) = names
            .iter()
            .position(|(m, f)| m == hc.module() && f == hc.function())
        else {
            return hc.decline();
        };
        let (Ok(f), Ok(state)) = (bridge.refs.get(env, index), EnvState::get(env)) else {
            return hc.decline();
        };
        // While it runs, a callHandler() on this sandbox from inside it is
        // refused (it would wait for itself), as on the exit path.
        bridge.published.waiting.fetch_add(1, Ordering::SeqCst);
        let published = bridge.published.clone();
        let args = hc.args().to_string();
        state.call_host(
            env,
            f,
            &args,
            bridge.sandbox,
            Box::new(move |r| {
                published.waiting.fetch_sub(1, Ordering::SeqCst);
                hc.answer(r);
            }),
        );
    }

    fn path(&self) -> Option<WarmPath> {
        self.path.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A job is about to be sent: stop the guest's polling so that the
    /// sandbox's thread takes it at once.
    pub(crate) fn job_sent(&self) {
        self.jobs.fetch_add(1, Ordering::AcqRel);
        if let Some(p) = self.path() {
            p.release();
        }
    }

    /// A job starts on the sandbox's thread (`loaded`: the sandbox is
    /// loaded, so that the thread will serve after it unless it backs off).
    pub(crate) fn job_started(&self, loaded: bool) {
        self.jobs.fetch_sub(1, Ordering::AcqRel);
        let will_serve = loaded
            && !window().is_zero()
            && self.skip.load(Ordering::Relaxed) == 0
            && self.path().is_some()
            && !crate::busy::oversubscribed();
        self.upcoming.store(will_serve, Ordering::Release);
    }

    /// Sandbox thread, after a job: serves warm calls while they keep
    /// coming and no job waits.
    ///
    /// Backs off when it does not pay: a window in which no call came makes
    /// the thread skip serving after the next 1, 2, 4, … 64 jobs (reset by a
    /// window that served a call), and an oversubscribed CPU
    /// ([`crate::busy`]) skips it altogether.
    pub(crate) fn serve(&self, loaded: &mut hyperlight_js::LoadedJSSandbox) {
        let window = window();
        if window.is_zero() {
            return;
        }
        {
            let mut path = self.path.lock().unwrap_or_else(|p| p.into_inner());
            if path.is_none() {
                *path = Some(loaded.warm_path());
            }
        }
        struct Done<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _done = Done(&self.upcoming);
        let skip = self.skip.load(Ordering::Relaxed);
        if skip > 0 {
            self.skip.store(skip - 1, Ordering::Relaxed);
            return;
        }
        if crate::busy::oversubscribed() {
            return;
        }
        let before = self.posted.load(Ordering::Acquire);
        let mut served = false;
        while self.jobs.load(Ordering::Acquire) == 0 {
            served = true;
            match loaded.serve_warm(window) {
                None => break,
                Some(r) => self.deliver(r, loaded.poisoned()),
            }
        }
        if served && self.posted.load(Ordering::Acquire) == before {
            let p = (self.penalty.load(Ordering::Relaxed) * 2).clamp(1, MAX_SKIP);
            self.penalty.store(p, Ordering::Relaxed);
            self.skip.store(p, Ordering::Relaxed);
        } else {
            self.penalty.store(0, Ordering::Relaxed);
        }
    }

    /// Sandbox thread: the sandbox left the loaded stage.
    pub(crate) fn unloaded(&self) {
        *self.path.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Sandbox thread: the answer of the warm call in flight came by exit.
    fn deliver(&self, result: hyperlight_js::Result<String>, poisoned: bool) {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        let Some(s) = slot.as_mut() else {
            // No call in flight (the guest failed while only polling): the
            // sandbox is poisoned and says so on its next call.
            self.published.poisoned.store(poisoned, Ordering::Release);
            return;
        };
        let Some(handed) = s.handed.take() else {
            // The poster has not finished handing over: it completes.
            s.result = Some(result);
            return;
        };
        let deferred = s.deferred.take();
        *slot = None;
        drop(slot);
        let Some(path) = self.path() else { return };
        let (result, stats) = path.complete(handed, result);
        self.publish(stats, poisoned || path.poisoned());
        if let Some(d) = deferred {
            d.settle(Box::new(move |env| settle_value(env, result, poisoned)));
        }
    }

    fn publish(&self, stats: hyperlight_js::CallStats, poisoned: bool) {
        self.published.poisoned.store(poisoned, Ordering::Release);
        *self
            .published
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(stats);
    }

    /// Waits up to the spin for the guest to poll: while it finishes the
    /// last call's housekeeping, or while the sandbox's thread is about to
    /// serve (it just answered a call by exit).
    fn wait_ready(&self, path: &WarmPath) -> bool {
        let deadline = std::time::Instant::now() + spin();
        loop {
            if path.is_ready(Duration::ZERO) {
                return true;
            }
            if !self.upcoming.load(Ordering::Acquire) && !path.is_busy() {
                return false;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::hint::spin_loop();
        }
    }

    /// JavaScript thread: posts the call if the guest is polling and
    /// nothing else of this sandbox is in flight.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn try_call(
        &self,
        env: sys::napi_env,
        deferred: Deferred,
        name: &str,
        event: &str,
        gc: Option<bool>,
        wall: Option<u64>,
        cpu: Option<u64>,
    ) -> Tried {
        if self.jobs.load(Ordering::Acquire) != 0 {
            return Tried::NotPosted(deferred);
        }
        let Some(path) = self.path() else {
            return Tried::NotPosted(deferred);
        };
        if crate::busy::oversubscribed() || !self.wait_ready(&path) {
            return Tried::NotPosted(deferred);
        }
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            return Tried::NotPosted(deferred);
        }
        let posted = post(&path, name, event, gc.unwrap_or(true), wall, cpu);
        let call = match posted {
            Ok(Some(call)) => {
                self.posted.fetch_add(1, Ordering::AcqRel);
                call
            }
            Ok(None) => return Tried::NotPosted(deferred),
            Err(e) => {
                drop(slot);
                let poisoned = path.poisoned();
                deferred.settle_here(
                    env,
                    Box::new(move |_| {
                        Err(crate::loaded::call_failure(
                            e,
                            poisoned,
                            crate::errors::Request::Call,
                        ))
                    }),
                );
                return Tried::Posted;
            }
        };
        *slot = Some(Slot {
            deferred: None,
            handed: None,
            result: None,
        });
        drop(slot);
        let started = std::time::Instant::now();
        let waited = path.wait_with_host(call, spin(), &mut |hc| {
            if started.elapsed() > MAX_HOST_TIME {
                return hc.decline();
            }
            self.run_host(env, hc)
        });
        match waited {
            WarmOutcome::Done(result, stats) => {
                *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = None;
                let poisoned = path.poisoned();
                self.publish(stats, poisoned);
                deferred.settle_here(
                    env,
                    Box::new(move |env| settle_value(env, result, poisoned)),
                );
            }
            WarmOutcome::Handed(handed) => {
                let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
                let ready = slot.as_mut().and_then(|s| s.result.take());
                match ready {
                    Some(result) => {
                        // The sandbox's thread delivered meanwhile.
                        *slot = None;
                        drop(slot);
                        let (result, stats) = path.complete(handed, result);
                        let poisoned =
                            path.poisoned() || self.published.poisoned.load(Ordering::Acquire);
                        self.publish(stats, poisoned);
                        deferred.settle_here(
                            env,
                            Box::new(move |env| settle_value(env, result, poisoned)),
                        );
                    }
                    None => {
                        if let Some(s) = slot.as_mut() {
                            s.handed = Some(handed);
                            s.deferred = Some(deferred);
                        }
                    }
                }
            }
        }
        Tried::Posted
    }
}

fn post(
    path: &WarmPath,
    name: &str,
    event: &str,
    gc: bool,
    wall: Option<u64>,
    cpu: Option<u64>,
) -> hyperlight_js::Result<Option<WarmCall>> {
    match crate::loaded::CallMonitors::new(wall, cpu, None)?.into_set() {
        None => path.call::<dyn hyperlight_js::MonitorSet>(name, event, gc, None),
        Some(set) => path.call(name, event, gc, Some(&*set)),
    }
}

fn settle_value(
    env: sys::napi_env,
    result: hyperlight_js::Result<String>,
    poisoned: bool,
) -> Result<sys::napi_value, Failure> {
    let json = result
        .map_err(|e| crate::loaded::call_failure(e, poisoned, crate::errors::Request::Call))?;
    EnvState::get(env)
        .map_err(Failure::internal)?
        .parse(env, &json)
}
