//! Random numbers from host entropy.
//!
//! Two ChaCha generators, both re-keyed from the control page's fresh
//! entropy at the start of every request (so a guest restored from a
//! snapshot never replays a sequence): ChaCha20 for `crypto`
//! (`getRandomValues`, `randomUUID`), ChaCha12 for `Math.random`.

use core::cell::RefCell;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::{ChaCha12Rng, ChaCha20Rng};

use crate::control;
use crate::sync::Single;

struct Rngs {
    crypto: ChaCha20Rng,
    math: ChaCha12Rng,
    seq: Option<u64>,
}

static RNGS: Single<RefCell<Option<Rngs>>> = Single::new(RefCell::new(None));

/// Re-keys both generators from the current entropy if the host has
/// refreshed it (a new request) since the last time.
pub fn reseed() {
    let seq = control::request_seq();
    let mut slot = RNGS.get().borrow_mut();
    if let Some(r) = slot.as_ref() {
        if r.seq == Some(seq) {
            return;
        }
    }
    let e = control::entropy();
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    a.copy_from_slice(&e[..32]);
    b.copy_from_slice(&e[32..64]);
    *slot = Some(Rngs {
        crypto: ChaCha20Rng::from_seed(a),
        math: ChaCha12Rng::from_seed(b),
        seq: Some(seq),
    });
}

fn with<T>(f: impl FnOnce(&mut Rngs) -> T) -> T {
    if RNGS.get().borrow().is_none() {
        reseed();
    }
    let mut slot = RNGS.get().borrow_mut();
    // `reseed` above always fills the slot.
    f(slot.as_mut().expect("rng seeded"))
}

/// Fills `buf` with cryptographically strong random bytes.
pub fn fill_crypto(buf: &mut [u8]) {
    with(|r| r.crypto.fill_bytes(buf))
}

/// A double in [0, 1) with 53 random bits, for `Math.random`.
pub fn math_random() -> f64 {
    let x = with(|r| r.math.next_u64()) >> 11;
    x as f64 * (1.0 / (1u64 << 53) as f64)
}
