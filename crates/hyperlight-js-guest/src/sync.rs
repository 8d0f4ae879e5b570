//! A container for global state in a single-threaded guest.
//!
//! The guest has one vCPU, no interrupts delivered to ring 3 and no
//! threads: nothing ever runs concurrently with anything else. `Single<T>`
//! lets such state live in a `static` while keeping Rust's borrow rules
//! local: put a `Cell` or `RefCell` inside it (a `RefCell` turns an
//! accidental re-entrant borrow into a panic, i.e. a clean abort, not UB).

/// A `Sync` wrapper for state that is only ever touched by the one guest
/// thread.
pub struct Single<T>(T);

// SAFETY: the guest is single threaded (one vCPU, no threads, no signal or
// interrupt handlers running guest code), so no value is ever shared
// between threads.
unsafe impl<T> Sync for Single<T> {}

impl<T> Single<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The wrapped value.
    pub fn get(&self) -> &T {
        &self.0
    }
}
