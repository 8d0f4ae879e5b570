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
    println!("cargo:rerun-if-env-changed=CARGO_HOME");
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
    remap_guest_paths(&mut cmd, &manifest_dir, &target_dir);
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
            || is_host_toolchain_var(&key)
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

/// Whether `key` configures the outer build's C toolchain or linker for
/// `x86_64-unknown-linux-gnu`, the target triple the guest is built for too.
/// The release binding is built with cargo-zigbuild (`pnpm run build:native`,
/// see docs/releasing.md), which sets `CC_x86_64_unknown_linux_gnu`, the
/// target's linker and the like to Zig wrappers for an older glibc; in the
/// guest's build they would replace musl-gcc and the freestanding link (an
/// environment variable outranks the guest's `.cargo/config.toml`). The guest
/// must be the same image whichever way the host is built.
fn is_host_toolchain_var(key: &str) -> bool {
    const TOOL_PREFIXES: [&str; 8] = [
        "CC_",
        "CXX_",
        "AR_",
        "RANLIB_",
        "CFLAGS_",
        "CXXFLAGS_",
        "BINDGEN_EXTRA_CLANG_ARGS_",
        "CMAKE_TOOLCHAIN_FILE_",
    ];
    let for_target =
        key.ends_with("x86_64_unknown_linux_gnu") || key.ends_with("x86_64-unknown-linux-gnu");
    (for_target && TOOL_PREFIXES.iter().any(|p| key.starts_with(p)))
        || key.starts_with("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_")
        || key.starts_with("CARGO_ZIGBUILD_")
        || matches!(
            key,
            "TARGET_CC"
                | "TARGET_CFLAGS"
                | "TARGET_AR"
                | "CARGO_TARGET_APPLIES_TO_HOST"
                | "CARGO_UNSTABLE_TARGET_APPLIES_TO_HOST"
                | "__CARGO_TEST_CHANNEL_OVERRIDE_DO_NOT_USE_THIS"
        )
}

/// Keeps the build machine's paths out of the guest image, which the host
/// embeds (so they would end up in the published `.node`): panic locations
/// of the guest's crates and the `__FILE__` of QuickJS's assertions.
/// `--remap-path-prefix` (rustc) and `-ffile-prefix-map` (C, through
/// `CFLAGS`, which the `cc` crate adds to the guest's own
/// `CFLAGS_x86_64_unknown_linux_gnu`) rewrite the repository root to
/// `hyperlight-js`, the guest's target directory to `hyperlight-js/target/guest`,
/// and each crates.io source directory of the cargo home to `crates.io`
/// (`crates.io/tokio-1.54.1/src/...`; any other path under the cargo home to
/// `cargo`). A `--config` array is appended to the guest's own rustflags.
fn remap_guest_paths(cmd: &mut Command, manifest_dir: &Path, target_dir: &Path) {
    let root = manifest_dir.join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let mut maps: Vec<(PathBuf, String)> = Vec::new();
    if let Some(home) = cargo_home() {
        maps.push((home.clone(), "cargo".into()));
        if let Ok(indexes) = std::fs::read_dir(home.join("registry/src")) {
            for index in indexes.flatten() {
                maps.push((index.path(), "crates.io".into()));
            }
        }
    }
    maps.push((root.clone(), "hyperlight-js".into()));
    // The C sources of rquickjs-sys are compiled from the guest's target
    // directory, named as given (possibly through `crates/hyperlight-js/../..`).
    maps.push((
        target_dir.to_path_buf(),
        "hyperlight-js/target/guest".into(),
    ));
    // Later maps win in both rustc and GCC: most specific last.
    let mut rustflags = Vec::new();
    let mut cflags = Vec::new();
    for (from, to) in &maps {
        let from = from.display().to_string();
        let flag = format!("--remap-path-prefix={from}={to}");
        // A TOML basic string.
        rustflags.push(format!(
            "\"{}\"",
            flag.replace('\\', "\\\\").replace('"', "\\\"")
        ));
        cflags.push(format!("-ffile-prefix-map={from}={to}"));
    }
    cmd.arg("--config").arg(format!(
        "target.x86_64-unknown-linux-gnu.rustflags=[{}]",
        rustflags.join(",")
    ));
    cmd.env("CFLAGS", cflags.join(" "));
}

/// `$CARGO_HOME`, or `~/.cargo` where cargo puts it by default.
fn cargo_home() -> Option<PathBuf> {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|p| p.canonicalize().unwrap_or(p))
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
