//! Finds the JavaScript the guest bundles from npm and copies it into
//! `OUT_DIR` for `include_str!`.
//!
//! * `node-inspect-extracted` (Node's `util.inspect`/`util.format`, extracted
//!   by its maintainers from Node's own source): the guest's `console`
//!   formats its arguments with it (see `src/inspect.rs`). It is a
//!   devDependency of the repository root, pinned in `package.json` and
//!   `pnpm-lock.yaml`, so `pnpm install` (which `scripts/setup.sh` runs
//!   before any cargo build) puts it in `node_modules/`.
//!   `HYPERLIGHT_JS_INSPECT_JS=/path/to/inspect.js` uses that file instead.

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-env-changed=HYPERLIGHT_JS_INSPECT_JS");
    let src = env::var_os("HYPERLIGHT_JS_INSPECT_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../node_modules/node-inspect-extracted/dist/inspect.js"));
    println!("cargo:rerun-if-changed={}", src.display());
    let text = std::fs::read_to_string(&src).unwrap_or_else(|e| {
        panic!(
            "the guest bundles node-inspect-extracted (console formatting) from npm, but {} cannot be read ({e}): \
             run `pnpm install` at the repository root (scripts/setup.sh does), or set HYPERLIGHT_JS_INSPECT_JS",
            src.display()
        )
    });
    assert!(
        text.contains("formatWithOptions"),
        "{} does not look like node-inspect-extracted's dist/inspect.js",
        src.display()
    );
    std::fs::write(out.join("inspect.js"), text).expect("write OUT_DIR/inspect.js");
}
