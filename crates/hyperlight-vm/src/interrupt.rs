//! Stopping a running guest from another thread.
//!
//! Protocol (see `docs/guest-abi.md`, "Cancellation"):
//!
//! * Every call (and the boot) gets a fresh *generation* number. The vCPU
//!   thread publishes it, its thread id and whether it is inside a host
//!   callback in [`Shared::state`], under a mutex.
//! * [`InterruptHandle::kill`] takes the mutex. With no call running it does
//!   nothing, so a kill between calls cannot leak into the next one.
//!   Otherwise it records the generation as cancelled, and unless the vCPU
//!   thread is in a host callback (which it must not interrupt), sets
//!   `kvm_run.immediate_exit` *then* sends `SIGRTMIN` to the vCPU thread,
//!   and waits on a condition variable for the call to end, re-kicking with
//!   a growing back-off until it does.
//! * The vCPU thread checks the cancelled generation before every entry into
//!   the guest and after every exit; `KVM_RUN` returns `EINTR` when kicked.
//!   When it ends the call it clears `immediate_exit` and wakes the killer.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once};
use std::time::Duration;

/// State shared between a [`crate::Vm`] and its interrupt handles.
pub(crate) struct Shared {
    state: Mutex<KickState>,
    ended: Condvar,
    /// The generation that `kill` cancelled (0: none).
    cancelled: AtomicU64,
    /// The generation during which `request_interrupt` was called (0:
    /// none): the host's own record, which the guest cannot forge.
    interrupt_requested: AtomicU64,
    /// Serialises the two drainers of the print buffer: the vCPU thread
    /// (at exits) and a mailbox poster (after an exit-less answer).
    print: Mutex<()>,
    /// A mailbox poster wrote guest memory (untracked by the VM's own
    /// bookkeeping): the next restore must treat those pages as dirty.
    remote_writes: std::sync::atomic::AtomicBool,
    /// VM exits since the VM was created (counted by the vCPU thread, read
    /// by anyone: call statistics of warm calls are kept by their poster).
    exits: AtomicU64,
}

struct KickState {
    /// False once the VM is dropped: `immediate_exit` is then gone.
    alive: bool,
    /// Address of `kvm_run.immediate_exit`.
    immediate_exit: *const AtomicU8,
    /// Host address of `ControlPage::interrupt` in guest memory.
    guest_interrupt: *const AtomicU32,
    /// The generation of the running call, 0 when none runs.
    generation: u64,
    /// The last generation handed out.
    last_generation: u64,
    /// The vCPU thread while a call runs.
    thread: libc::pthread_t,
    /// Whether the vCPU thread is inside a host callback.
    in_host_call: bool,
    /// `kill_next` found no call running: the next call to begin is
    /// cancelled before it enters the guest.
    armed: bool,
    /// Whether the vCPU thread is in [`crate::Vm::poll_mailbox`]: requests
    /// may then be posted from other threads ([`Shared::begin_remote`]).
    serving: bool,
    /// The vCPU thread while `serving`.
    vcpu_thread: libc::pthread_t,
}

// SAFETY: the raw pointer is only dereferenced under the mutex while
// `alive` is true, i.e. while the vCPU's `kvm_run` mapping exists.
unsafe impl Send for KickState {}

impl Shared {
    /// `immediate_exit` points into the vCPU's `kvm_run`, `guest_interrupt`
    /// at `ControlPage::interrupt` in guest memory (4-byte aligned); both
    /// must stay valid until [`Shared::shut`].
    pub(crate) fn new(immediate_exit: *mut u8, guest_interrupt: *mut u32) -> Arc<Self> {
        install_signal_handler();
        Arc::new(Self {
            state: Mutex::new(KickState {
                alive: true,
                immediate_exit: immediate_exit as *const AtomicU8,
                guest_interrupt: guest_interrupt as *const AtomicU32,
                generation: 0,
                last_generation: 0,
                thread: 0,
                in_host_call: false,
                armed: false,
                serving: false,
                vcpu_thread: 0,
            }),
            ended: Condvar::new(),
            cancelled: AtomicU64::new(0),
            interrupt_requested: AtomicU64::new(0),
            print: Mutex::new(()),
            remote_writes: std::sync::atomic::AtomicBool::new(false),
            exits: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, KickState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_immediate_exit(st: &KickState, v: u8) {
        if st.alive {
            // SAFETY: `alive` means the kvm_run mapping exists; the byte is
            // accessed atomically by both threads.
            unsafe { (*st.immediate_exit).store(v, Ordering::SeqCst) };
        }
    }

    /// Starts a call on the current thread; returns its generation.
    pub(crate) fn begin(&self) -> u64 {
        unblock_signal_on_this_thread();
        let mut st = self.lock();
        st.last_generation += 1;
        st.generation = st.last_generation;
        // SAFETY: pthread_self has no preconditions.
        st.thread = unsafe { libc::pthread_self() };
        st.in_host_call = false;
        Self::set_immediate_exit(&st, 0);
        if std::mem::take(&mut st.armed) {
            self.cancelled.store(st.generation, Ordering::SeqCst);
        }
        if st.alive {
            // SAFETY: `alive` means guest memory is mapped; the field is
            // 4-byte aligned and only accessed atomically by the host.
            unsafe { (*st.guest_interrupt).store(0, Ordering::SeqCst) };
        }
        st.generation
    }

    /// Held while the print buffer is drained.
    pub(crate) fn print_lock(&self) -> MutexGuard<'_, ()> {
        self.print.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that a mailbox poster wrote guest memory.
    pub(crate) fn note_remote_writes(&self) {
        self.remote_writes.store(true, Ordering::SeqCst);
    }

    /// Whether a mailbox poster wrote guest memory since the last call.
    pub(crate) fn take_remote_writes(&self) -> bool {
        self.remote_writes.swap(false, Ordering::SeqCst)
    }

    /// The vCPU thread enters [`crate::Vm::poll_mailbox`]: from now on a
    /// request posted by another thread can run on it.
    pub(crate) fn serve_begin(&self) {
        unblock_signal_on_this_thread();
        let mut st = self.lock();
        st.serving = true;
        // SAFETY: pthread_self has no preconditions.
        st.vcpu_thread = unsafe { libc::pthread_self() };
    }

    /// The vCPU thread leaves `poll_mailbox`. With `end_open`, a posted
    /// request still open is ended (it failed, or its answer came by an
    /// exit: the VM's thread delivers it). Without, it stays open: its
    /// answer was handed over through the mailbox and its poster ends it
    /// when it takes the answer.
    pub(crate) fn serve_end(&self, end_open: bool) {
        let mut st = self.lock();
        st.serving = false;
        st.in_host_call = false;
        let open = st.generation != 0;
        if end_open && open {
            st.generation = 0;
            Self::set_immediate_exit(&st, 0);
        }
        drop(st);
        if end_open && open {
            self.ended.notify_all();
        }
    }

    /// Starts a call posted through the mailbox by another thread while the
    /// vCPU thread serves it; returns its generation, or `None` if the vCPU
    /// thread is not serving or a call is already open. The kill protocol
    /// is the same as for [`Shared::begin`], aimed at the vCPU thread. Runs
    /// `post` under the lock (so the VM cannot go away meanwhile).
    pub(crate) fn begin_remote(&self, post: impl FnOnce() -> bool) -> Option<u64> {
        let mut st = self.lock();
        // An armed kill (`kill_next`) is for the next call: let that call
        // take the ordinary path, whose `begin` cancels it.
        if !st.alive || !st.serving || st.generation != 0 || st.armed {
            return None;
        }
        // SAFETY: `alive` means guest memory is mapped; as in `begin`.
        unsafe { (*st.guest_interrupt).store(0, Ordering::SeqCst) };
        if !post() {
            return None;
        }
        st.last_generation += 1;
        st.generation = st.last_generation;
        st.thread = st.vcpu_thread;
        st.in_host_call = false;
        Some(st.generation)
    }

    /// Runs `f` under the lock if the VM is alive (guest memory mapped).
    pub(crate) fn with_alive<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        let st = self.lock();
        st.alive.then(f)
    }

    /// Runs `f` under the lock if the VM is alive and call `generation` is
    /// still open (not ended, killed or crashed: nothing else may touch
    /// guest memory then).
    pub(crate) fn with_open<R>(&self, generation: u64, f: impl FnOnce() -> R) -> Option<R> {
        let st = self.lock();
        let open = st.alive && st.generation == generation && !self.is_cancelled(generation);
        open.then(f)
    }

    /// Wakes the vCPU thread if it waits in [`Shared::wait_host_answer`]
    /// (after a host call's state changed under the lock).
    pub(crate) fn wake_host_waiter(&self) {
        if self.lock().in_host_call {
            self.ended.notify_all();
        }
    }

    /// The vCPU thread waits, without using CPU, while `running()` says a
    /// host thread runs a host call of call `generation` that the guest
    /// parked in its mailbox; returns when it stopped running, or when the
    /// call was killed (a kill wakes this wait at once).
    pub(crate) fn wait_host_answer(&self, generation: u64, running: impl Fn() -> bool) {
        let mut st = self.lock();
        st.in_host_call = true;
        while !self.is_cancelled(generation) && st.generation == generation && st.alive && running()
        {
            st = self
                .ended
                .wait_timeout(st, Duration::from_millis(10))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st.in_host_call = false;
    }

    /// Counts one VM exit.
    pub(crate) fn count_exit(&self) {
        self.exits.fetch_add(1, Ordering::Relaxed);
    }

    /// VM exits since the VM was created.
    pub(crate) fn exits(&self) -> u64 {
        self.exits.load(Ordering::Relaxed)
    }

    /// The generation of the open call if it was killed.
    pub(crate) fn current_cancelled(&self) -> Option<u64> {
        let st = self.lock();
        (st.generation != 0 && self.is_cancelled(st.generation)).then_some(st.generation)
    }

    /// The vCPU thread while it serves the mailbox.
    pub(crate) fn serving_thread(&self) -> Option<libc::pthread_t> {
        let st = self.lock();
        (st.alive && st.serving).then_some(st.vcpu_thread)
    }

    /// The generation of the open call (0: none).
    pub(crate) fn current(&self) -> u64 {
        self.lock().generation
    }

    fn request_interrupt(&self) -> bool {
        let st = self.lock();
        if !st.alive || st.generation == 0 {
            return false;
        }
        self.interrupt_requested
            .store(st.generation, Ordering::SeqCst);
        // SAFETY: as in `begin`.
        unsafe { (*st.guest_interrupt).store(1, Ordering::SeqCst) };
        drop(st);
        // Wake a host callback waiting in `CancelToken::sleep`.
        self.ended.notify_all();
        true
    }

    /// Whether `request_interrupt` was called during the last call begun
    /// (by the VM's thread or through the mailbox).
    pub(crate) fn last_call_interrupt_requested(&self) -> bool {
        let generation = self.lock().last_generation;
        generation != 0 && self.interrupt_requested.load(Ordering::SeqCst) == generation
    }

    /// Whether the guest was asked to interrupt the running call.
    fn interrupt_requested(st: &KickState) -> bool {
        // SAFETY: as in `begin`.
        st.alive && unsafe { (*st.guest_interrupt).load(Ordering::SeqCst) } != 0
    }

    /// See [`CancelToken::sleep`].
    fn sleep(&self, generation: u64, d: Duration) -> bool {
        let deadline = std::time::Instant::now() + d;
        let mut st = self.lock();
        loop {
            if self.is_cancelled(generation)
                || Self::interrupt_requested(&st)
                || st.generation != generation
            {
                return false;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return true;
            }
            st = self
                .ended
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Ends the call `generation` and wakes any waiting `kill`.
    pub(crate) fn end(&self, generation: u64) {
        let mut st = self.lock();
        debug_assert_eq!(st.generation, generation);
        st.generation = 0;
        st.in_host_call = false;
        Self::set_immediate_exit(&st, 0);
        drop(st);
        self.ended.notify_all();
    }

    /// Whether `generation` was killed.
    pub(crate) fn is_cancelled(&self, generation: u64) -> bool {
        self.cancelled.load(Ordering::SeqCst) == generation
    }

    /// After `KVM_RUN` returned `EINTR`: re-arm for the next entry unless
    /// this call was killed (then `immediate_exit` stays set).
    pub(crate) fn after_kick(&self, generation: u64) {
        let st = self.lock();
        if !self.is_cancelled(generation) {
            Self::set_immediate_exit(&st, 0);
        }
    }

    /// Marks entry into / exit from a host callback.
    pub(crate) fn set_in_host_call(&self, v: bool) {
        self.lock().in_host_call = v;
    }

    /// Called by `Vm::drop` before the vCPU is closed.
    pub(crate) fn shut(&self) {
        let mut st = self.lock();
        st.alive = false;
        st.generation = 0;
        drop(st);
        self.ended.notify_all();
    }

    /// Kills the running call, or (`arm`) arms the next call to begin.
    fn kill_or_arm(&self, arm: bool) -> bool {
        let st = self.lock();
        if st.alive && st.generation == 0 && arm {
            let mut st = st;
            st.armed = true;
            return false;
        }
        drop(st);
        self.kill()
    }

    fn disarm(&self) -> bool {
        std::mem::take(&mut self.lock().armed)
    }

    fn kill(&self) -> bool {
        let mut st = self.lock();
        let generation = st.generation;
        if !st.alive || generation == 0 {
            return false;
        }
        self.cancelled.store(generation, Ordering::SeqCst);
        let mut backoff = Duration::from_micros(50);
        loop {
            if st.generation != generation {
                return true;
            }
            if st.in_host_call {
                // The call ends as soon as the callback returns; do not
                // interrupt the host's own code with a signal, but wake a
                // callback waiting in `CancelToken::sleep`.
                drop(st);
                self.ended.notify_all();
                return true;
            }
            Self::set_immediate_exit(&st, 1);
            // SAFETY: the thread is inside a call (generation != 0), and a
            // call cannot end without taking this mutex, so the thread id is
            // valid. The handler for SIGRTMIN is installed (`Shared::new`).
            unsafe { libc::pthread_kill(st.thread, libc::SIGRTMIN()) };
            st = self
                .ended
                .wait_timeout(st, backoff)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            backoff = (backoff * 2).min(Duration::from_millis(10));
        }
    }
}

/// Stops the guest from any thread. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct InterruptHandle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for InterruptHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterruptHandle").finish_non_exhaustive()
    }
}

impl InterruptHandle {
    /// Cancels the call running now, if any: it returns
    /// [`Error::Cancelled`](crate::Error::Cancelled) and poisons the VM.
    ///
    /// Returns `true` if a call was running. Then, if the guest was running,
    /// `kill` returns once the call has ended; if the vCPU thread was inside
    /// a host callback, it returns at once and the call ends when the
    /// callback returns (the callback can watch
    /// [`CancelToken::is_cancelled`] to give up early). A kill while no call
    /// runs does nothing and returns `false`.
    pub fn kill(&self) -> bool {
        self.shared.kill()
    }

    /// Like [`kill`](Self::kill), but when no call is running it *arms*
    /// the VM instead: the next call to begin is cancelled before it
    /// enters the guest (it returns [`Error::Cancelled`](crate::Error::Cancelled)
    /// and poisons the VM, as any kill does).
    /// For a layer that knows a call is queued or about to start, so that a
    /// kill requested in that window is not lost. [`disarm`](Self::disarm)
    /// undoes an arming that no call consumed. Returns `true` if a call was
    /// running (and is killed).
    pub fn kill_next(&self) -> bool {
        self.shared.kill_or_arm(true)
    }

    /// Undoes a [`kill_next`](Self::kill_next) that no call has consumed;
    /// returns whether one was pending.
    pub fn disarm(&self) -> bool {
        self.shared.disarm()
    }

    /// The polite path: sets `ControlPage::interrupt` while a call runs, so
    /// a guest that polls it can stop the current call by itself and stay
    /// usable. The flag is cleared when the next call starts. Returns
    /// `false` (and does nothing) if no call is running.
    pub fn request_interrupt(&self) -> bool {
        self.shared.request_interrupt()
    }
}

/// Lets a host callback see that its call was killed.
#[derive(Clone)]
pub struct CancelToken {
    pub(crate) shared: Arc<Shared>,
    pub(crate) generation: u64,
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl CancelToken {
    /// Whether the call this callback serves has been killed. The callback
    /// may then return early; its answer is discarded.
    pub fn is_cancelled(&self) -> bool {
        self.shared.is_cancelled(self.generation)
    }

    /// Blocks the calling (vCPU) thread for `d` without using CPU, for a
    /// guest that asked to wait (its timers). Returns `true` once `d` has
    /// passed, or `false` as soon as the call is killed
    /// ([`InterruptHandle::kill`]) or asked to interrupt
    /// ([`InterruptHandle::request_interrupt`]): both wake the wait at once.
    pub fn sleep(&self, d: Duration) -> bool {
        self.shared.sleep(self.generation, d)
    }
}

extern "C" fn on_kick(_: libc::c_int) {}

static SIGNAL: Once = Once::new();

/// Installs the empty `SIGRTMIN` handler (no `SA_RESTART`, so `KVM_RUN`
/// returns `EINTR`) and raises `RLIMIT_NOFILE` to its hard limit, once per
/// process.
pub(crate) fn install_signal_handler() {
    SIGNAL.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid starting point; we set the
        // handler to a function that does nothing, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_kick as *const () as usize;
            sa.sa_flags = 0;
            libc::sigemptyset(&mut sa.sa_mask);
            let rc = libc::sigaction(libc::SIGRTMIN(), &sa, std::ptr::null_mut());
            assert_eq!(rc, 0, "installing the SIGRTMIN handler failed");
        }
        // SAFETY: plain getrlimit/setrlimit on a local struct.
        unsafe {
            let mut rl: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 && rl.rlim_cur < rl.rlim_max {
                rl.rlim_cur = rl.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
            }
        }
    });
}

thread_local! {
    static UNBLOCKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn unblock_signal_on_this_thread() {
    UNBLOCKED.with(|u| {
        if !u.get() {
            // SAFETY: manipulating this thread's signal mask with a local set.
            unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGRTMIN());
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            }
            u.set(true);
        }
    });
}
