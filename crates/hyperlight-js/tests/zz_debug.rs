//! debug
mod common;
use common::*;
#[test]
fn dbg() {
    for _ in 0..2 {
        let mut l = loaded_with("const t0 = performance.now(); const util = await import('util'); const tl = performance.now() - t0; function handler() { const t2 = performance.now(); util.inspect({a:1}); const t3 = performance.now(); util.inspect(new Map([[1,{b:2}]])); const t4 = performance.now(); util.inspect('x'.repeat(10)); const t5 = performance.now(); return [tl, t3-t2, t4-t3, t5-t4]; }");
        let v = call(&mut l, "{}");
        eprintln!("{v} host");
    }
}
