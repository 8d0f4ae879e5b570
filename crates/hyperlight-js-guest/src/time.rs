//! Guest clocks from the control page, advanced with the TSC between exits.
//!
//! The host writes its wall-clock and monotonic time into the control page
//! just before every entry into the guest (a new request, and the return
//! from every host call, print flush or kick). Read alone, that would freeze
//! `Date.now()` for the length of a call (a busy-wait on the clock would
//! never end). So at every resume the guest pairs the host's time with the
//! TSC, and in between it extrapolates with the TSC rate the host read from
//! KVM (`ControlPage::tsc_khz`). Without that rate it measures one from
//! those pairs (the longer the baseline, the better); until a rate is known,
//! or if the TSC misbehaves (e.g. jumps back after a restore), the clocks
//! return the host's values unchanged. Both clocks never go backwards.

use core::cell::Cell;

use crate::arch::rdtsc;
use crate::control;
use crate::sync::Single;

#[derive(Clone, Copy, Default)]
struct State {
    /// Host values seen at the last resume, and the TSC then.
    wall: u64,
    mono: u64,
    tsc: u64,
    /// First pairing of the calibration baseline.
    anchor_mono: u64,
    anchor_tsc: u64,
    /// TSC ticks per nanosecond in 32.32 fixed point (0: unknown).
    ticks_per_ns_q32: u64,
    /// Last values handed out (for monotonicity).
    last_wall: u64,
    last_mono: u64,
}

static STATE: Single<Cell<State>> = Single::new(Cell::new(State {
    wall: 0,
    mono: 0,
    tsc: 0,
    anchor_mono: 0,
    anchor_tsc: 0,
    ticks_per_ns_q32: 0,
    last_wall: 0,
    last_mono: 0,
}));

/// Shortest calibration baseline (1 ms of host time).
const MIN_BASELINE_NS: u64 = 1_000_000;

/// Call right after every exit returns: pairs the host's fresh times with
/// the TSC and refines the TSC rate.
pub fn resumed() {
    let mut s = STATE.get().get();
    let tsc = rdtsc();
    let mono = control::host_monotonic_ns();
    s.wall = control::host_time_unix_ns();
    s.mono = mono;
    s.tsc = tsc;
    let khz = control::tsc_khz();
    if khz != 0 {
        // Exact: ticks per ns = kHz / 10^6.
        s.ticks_per_ns_q32 = ((khz as u128) << 32).checked_div(1_000_000).unwrap_or(0) as u64;
        STATE.get().set(s);
        return;
    }
    if s.anchor_tsc == 0 || tsc <= s.anchor_tsc || mono < s.anchor_mono {
        // First pairing, or the TSC/clock went backwards (a restore that
        // reset the TSC): start a new baseline.
        s.anchor_tsc = tsc;
        s.anchor_mono = mono;
    } else if mono - s.anchor_mono >= MIN_BASELINE_NS {
        let dt = (tsc - s.anchor_tsc) as u128;
        let dn = (mono - s.anchor_mono) as u128;
        let q = (dt << 32) / dn;
        // Sane TSC rates: 0.1 to 20 GHz.
        if ((1u128 << 32) / 10..=(20u128 << 32)).contains(&q) {
            s.ticks_per_ns_q32 = q as u64;
        } else {
            s.anchor_tsc = tsc;
            s.anchor_mono = mono;
        }
    }
    STATE.get().set(s);
}

fn elapsed_ns(s: &State) -> u64 {
    if s.ticks_per_ns_q32 == 0 {
        return 0;
    }
    let now = rdtsc();
    if now <= s.tsc {
        return 0;
    }
    (((now - s.tsc) as u128) << 32).checked_div(s.ticks_per_ns_q32 as u128).unwrap_or(0) as u64
}

/// Wall-clock time, nanoseconds since the Unix epoch.
pub fn wall_ns() -> u64 {
    let mut s = STATE.get().get();
    let v = (s.wall + elapsed_ns(&s)).max(s.last_wall);
    s.last_wall = v;
    STATE.get().set(s);
    v
}

/// Monotonic time as the guest's programs see it (`performance.now()`):
/// [`monotonic_ns`] rounded down to the configured resolution
/// (`ControlPage::clock_resolution_ns`).
pub fn coarse_monotonic_ns() -> u64 {
    let v = monotonic_ns();
    match control::clock_resolution_ns() {
        0 | 1 => v,
        r => v - v % r,
    }
}

/// Monotonic time, nanoseconds from an arbitrary origin.
pub fn monotonic_ns() -> u64 {
    let mut s = STATE.get().get();
    let v = (s.mono + elapsed_ns(&s)).max(s.last_mono);
    s.last_mono = v;
    STATE.get().set(s);
    v
}
