//! Builds the guest image (`crates/hyperlight-js-guest`, a freestanding
//! static ELF with QuickJS) and places it in `OUT_DIR/guest.elf`, where
//! `src/guest_image.rs` embeds it with `include_bytes!`.
//!
//! The guest is built by a nested `cargo build` with the guest crate's own
//! `.cargo/config.toml` (its linker flags and C compiler), into a target
//! directory of its own so it never contends with the outer build's lock.
//!
//! `HYPERLIGHT_JS_GUEST_ELF=/path/to/guest.elf` skips the nested build and
//! embeds that file instead (for packagers who build the guest separately).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dest = out_dir.join("guest.elf");
    println!("cargo:rerun-if-env-changed=HYPERLIGHT_JS_GUEST_ELF");

    if let Some(prebuilt) = env::var_os("HYPERLIGHT_JS_GUEST_ELF") {
        let prebuilt = PathBuf::from(prebuilt);
        println!("cargo:rerun-if-changed={}", prebuilt.display());
        std::fs::copy(&prebuilt, &dest).unwrap_or_else(|e| {
            panic!(
                "HYPERLIGHT_JS_GUEST_ELF={}: cannot copy it: {e}",
                prebuilt.display()
            )
        });
        return;
    }

    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let guest_dir = manifest_dir.join("../hyperlight-js-guest");
    let guest_dir = guest_dir
        .canonicalize()
        .unwrap_or_else(|e| panic!("guest crate not found at {}: {e}", guest_dir.display()));
    watch_sources(&guest_dir);
    // The guest bundles node-inspect-extracted from node_modules (see the
    // guest's build.rs).
    println!("cargo:rerun-if-env-changed=HYPERLIGHT_JS_INSPECT_JS");
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir
            .join("../../node_modules/node-inspect-extracted/dist/inspect.js")
            .display()
    );
    watch_sources(&manifest_dir.join("../hyperlight-abi"));

    // The guest is always built optimised: QuickJS at -O0 is several times
    // slower, and the guest's build does not change with the host profile.
    let target_dir = env::var_os("HYPERLIGHT_JS_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("../../target/guest"));
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&guest_dir)
        .args(["build", "--release", "--locked", "--target-dir"])
        .arg(&target_dir);
    // Do not leak the outer build's flags into the freestanding guest.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "PROFILE",
        "OPT_LEVEL",
        "TARGET",
        "HOST",
        "DEBUG",
    ] {
        cmd.env_remove(var);
    }
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_FEATURE_")
            || key.starts_with("CARGO_CFG_")
            || key.starts_with("DEP_")
        {
            cmd.env_remove(key.as_ref());
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo for the guest: {e}"));
    if !status.success() {
        panic!(
            "building the guest image failed ({status}). It needs Debian's musl-dev and musl-tools \
             (apt-get install -y musl-dev musl-tools; scripts/setup.sh does this). \
             See crates/hyperlight-js-guest/README.md."
        );
    }
    let built = target_dir.join("x86_64-unknown-linux-gnu/release/hyperlight-js-guest");
    std::fs::copy(&built, &dest)
        .unwrap_or_else(|e| panic!("guest image not found at {}: {e}", built.display()));
}

fn watch_sources(dir: &Path) {
    for name in ["Cargo.toml", "Cargo.lock", "build.rs", ".cargo/config.toml"] {
        let p = dir.join(name);
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
    for sub in ["src", "c"] {
        let p = dir.join(sub);
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
}
