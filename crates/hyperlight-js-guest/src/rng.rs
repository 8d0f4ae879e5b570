//! Random numbers from host entropy.
//!
//! Two ChaCha generators, both re-keyed with the control page's fresh
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
}

static RNGS: Single<RefCell<Option<Rngs>>> = Single::new(RefCell::new(None));

/// Re-keys both generators at the start of a request: the new key is the
/// host's fresh entropy XORed with output of the old generator, so the
/// sequence changes with every request even if the host ever repeated its
/// entropy, and a restored guest (same old state) diverges through the
/// host's new entropy.
pub fn reseed() {
    let e = control::entropy();
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    a.copy_from_slice(&e[..32]);
    b.copy_from_slice(&e[32..64]);
    let mut slot = RNGS.get().borrow_mut();
    if let Some(r) = slot.as_mut() {
        let mut old_a = [0u8; 32];
        let mut old_b = [0u8; 32];
        r.crypto.fill_bytes(&mut old_a);
        r.math.fill_bytes(&mut old_b);
        a.iter_mut().zip(old_a).for_each(|(x, y)| *x ^= y);
        b.iter_mut().zip(old_b).for_each(|(x, y)| *x ^= y);
    }
    *slot = Some(Rngs { crypto: ChaCha20Rng::from_seed(a), math: ChaCha12Rng::from_seed(b) });
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
