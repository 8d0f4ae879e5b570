//! `SandboxBuilder`: sizes the micro-VM and boots it.

use crate::driver::Guest;
use crate::error::Result;
use crate::print::{PrintLevel, PrintOut, PrintSink};
use crate::proto::ProtoJSSandbox;

/// Smallest heap [`SandboxBuilder::build`] accepts: 4 MiB. Measured
/// (2026-11-29, with the web APIs, console formatting and `Intl` built in):
/// the runtime, its context and the built-ins need 1.5 MiB (1.375 MiB runs
/// out of memory installing them or on the first call); the minimum leaves
/// about 2.7 times that, for built-ins still to come and a handler's first
/// objects.
pub const MIN_HEAP_SIZE: u64 = 4 << 20;
/// Smallest scratch (stack) [`SandboxBuilder::build`] accepts: 256 KiB.
/// Measured (2026-11-29): installing the built-ins needs 80 KiB (64 KiB
/// overflows the stack); the minimum leaves about three times that.
pub const MIN_SCRATCH_SIZE: u64 = 256 << 10;
/// Smallest input or output buffer [`SandboxBuilder::build`] accepts: one
/// 4 KiB page ([`hyperlight_vm::MIN_BUFFER`]). Such a buffer boots; it bounds
/// each event, source, result and host call to a little under 4 KiB.
pub const MIN_BUFFER_SIZE: u64 = hyperlight_vm::MIN_BUFFER;
/// Largest input or output buffer [`SandboxBuilder::build`] accepts: 256 MiB
/// ([`hyperlight_vm::MAX_BUFFER`]; message lengths are `u32`).
pub const MAX_BUFFER_SIZE: u64 = hyperlight_vm::MAX_BUFFER;
/// Largest guest memory: 1 GiB ([`hyperlight_vm::MAX_GUEST_MEMORY`]). The
/// image, heap, scratch, buffers and page tables together must fit;
/// [`SandboxBuilder::build`] refuses sizes that do not with an
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument) listing them.
pub const MAX_GUEST_MEMORY: u64 = hyperlight_vm::MAX_GUEST_MEMORY;

/// Configures and creates a sandbox: a micro-VM with the JavaScript guest
/// booted and waiting. Every size is validated by [`build`](Self::build)
/// before anything boots: a size out of its own range ([`MIN_HEAP_SIZE`],
/// [`MIN_SCRATCH_SIZE`], [`MIN_BUFFER_SIZE`]..=[`MAX_BUFFER_SIZE`]) or sizes
/// that together exceed [`MAX_GUEST_MEMORY`] are an
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument) that states the
/// limit. Every set of sizes `build` accepts boots (the smallest, with any
/// locale, are tested).
#[derive(Clone)]
pub struct SandboxBuilder {
    config: hyperlight_vm::VmConfig,
    /// `None`: the default, non-blocking stdout/stderr sink.
    print: Option<PrintSink>,
    crash_dumps: Option<std::path::PathBuf>,
    /// Default locale and time zone of `Intl`, when not `en-US` and `UTC`.
    intl: Option<(String, String)>,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SandboxBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SandboxBuilder {
    /// A builder with the default sizes (see `docs/guest-abi.md`).
    pub fn new() -> Self {
        Self {
            config: hyperlight_vm::VmConfig::default(),
            print: None,
            crash_dumps: None,
            intl: None,
        }
    }

    /// Guest heap size in bytes (the JavaScript engine's memory). At least
    /// [`MIN_HEAP_SIZE`] (4 MiB). Default 256 MiB
    /// ([`hyperlight_vm::DEFAULT_HEAP`]); untouched pages cost no host
    /// memory.
    pub fn with_heap_size(mut self, bytes: u64) -> Self {
        self.config.heap_size = bytes;
        self
    }

    /// Guest scratch size in bytes: the guest stack, which bounds how deep
    /// handlers recurse (a deeper recursion is a catchable `RangeError`).
    /// At least [`MIN_SCRATCH_SIZE`] (256 KiB). Default 8 MiB
    /// ([`hyperlight_vm::DEFAULT_STACK`]). Measured (2026-11-29) with
    /// `function f() { d++; f(); }`: 359 frames at 256 KiB, 727 at 512 KiB,
    /// 6,293 at 4 MiB, 13,015 at 8 MiB.
    pub fn with_scratch_size(mut self, bytes: u64) -> Self {
        self.config.stack_size = bytes;
        self
    }

    /// Input buffer size in bytes: bounds each event and each source sent
    /// to the guest. [`MIN_BUFFER_SIZE`] (4 KiB) to [`MAX_BUFFER_SIZE`]
    /// (256 MiB). Default 16 MiB ([`hyperlight_vm::DEFAULT_BUFFER`]).
    pub fn with_input_buffer_size(mut self, bytes: u64) -> Self {
        self.config.input_size = bytes;
        self
    }

    /// Output buffer size in bytes: bounds each result and each host call
    /// made by the guest. [`MIN_BUFFER_SIZE`] (4 KiB) to [`MAX_BUFFER_SIZE`]
    /// (256 MiB). Default 16 MiB ([`hyperlight_vm::DEFAULT_BUFFER`]).
    pub fn with_output_buffer_size(mut self, bytes: u64) -> Self {
        self.config.output_size = bytes;
        self
    }

    /// Where guest `console.*` and `print` output goes. The sink gets each
    /// line raw (control characters included), on the crate's printer
    /// thread, through a bounded queue: the guest never waits for it, and
    /// lines that do not fit the queue are dropped and reported (see
    /// [`crate::print`]). Default: stdout (warnings and errors to stderr),
    /// [neutralised](crate::print::neutralise) and written without blocking.
    pub fn with_print_sink(
        mut self,
        sink: impl Fn(PrintLevel, &str) + Send + Sync + 'static,
    ) -> Self {
        self.print = Some(std::sync::Arc::new(sink));
        self
    }

    /// Resolution of the guest's `performance.now()` (its monotonic clock):
    /// readings are rounded down to a multiple of it. Default 5 µs, the
    /// coarsening the W3C High Resolution Time specification prescribes for
    /// cross-origin-isolated pages (a timing attack needs many more
    /// repetitions); `Duration::ZERO` gives the full resolution (tens of
    /// nanoseconds). At most one second ([`build`](Self::build) refuses
    /// more). `Date.now()` has millisecond resolution either way.
    pub fn with_clock_resolution(mut self, resolution: std::time::Duration) -> Self {
        self.config.clock_resolution_ns = u64::try_from(resolution.as_nanos()).unwrap_or(u64::MAX);
        self
    }

    /// Writes an ELF core file into `dir` (created if missing) whenever
    /// the guest crashes — a fault (page fault, invalid opcode, ...), an
    /// abort, a protocol violation — with the guest's memory and registers,
    /// and a copy of the guest image beside it. `gdb <image> <core>` then
    /// shows the faulting instruction, the signal and faulting address,
    /// and the backtrace (`docs/crash-dumps.md`). The error's message names
    /// both files.
    ///
    /// Off by default: a dump holds everything the guest held, including
    /// the events and secrets it was handling; keep `dir` private. Without
    /// this option the environment variable `HYPERLIGHT_JS_CRASH_DUMP_DIR`,
    /// if set and non-empty, turns dumps on for every sandbox built.
    pub fn with_crash_dump_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.crash_dumps = Some(dir.into());
        self
    }

    /// The sandbox's default locale for `Intl` and the locale-sensitive
    /// methods (`toLocaleString` without a locale): a BCP 47 language tag
    /// such as `"de-CH"` (default `"en-US"`). [`build`](Self::build) fails
    /// with [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a
    /// malformed tag or a locale the guest has no CLDR data for.
    pub fn with_locale(mut self, locale: impl Into<String>) -> Self {
        let tz = self.intl.take().map_or_else(|| "UTC".to_string(), |d| d.1);
        self.intl = Some((locale.into(), tz));
        self
    }

    /// The sandbox's default time zone for `Intl.DateTimeFormat` and
    /// `Date.prototype.toLocale*String`: an IANA name such as
    /// `"Europe/Zurich"` (case-insensitive; from the IANA database bundled
    /// in the guest) or a UTC offset `"+05:30"` (default `"UTC"`).
    /// [`build`](Self::build) fails with
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for an
    /// unknown zone. It does not change what `Date`'s local-time methods
    /// (`getHours`, `toString`) use: they stay UTC.
    pub fn with_time_zone(mut self, time_zone: impl Into<String>) -> Self {
        let locale = self
            .intl
            .take()
            .map_or_else(|| "en-US".to_string(), |d| d.0);
        self.intl = Some((locale, time_zone.into()));
        self
    }

    /// The VM configuration as set so far.
    pub fn config(&self) -> &hyperlight_vm::VmConfig {
        &self.config
    }

    /// Validates the sizes, creates the micro-VM and boots the guest.
    pub fn build(self) -> Result<ProtoJSSandbox> {
        check_size("the heap size", self.config.heap_size, MIN_HEAP_SIZE)?;
        check_size("the scratch size", self.config.stack_size, MIN_SCRATCH_SIZE)?;
        let span = tracing::info_span!(
            "hyperlight_js.build",
            sandbox_id = tracing::field::Empty,
            heap_size = self.config.heap_size,
            outcome = tracing::field::Empty,
        );
        let _entered = span.enter();
        let intl = self.intl;
        let print = match self.print {
            Some(sink) => PrintOut::custom(sink),
            None => PrintOut::stdio(),
        };
        let result = Guest::boot(&self.config, print).and_then(|mut guest| {
            if let Some((locale, tz)) = intl {
                guest.set_intl_defaults(locale, tz)?;
            }
            Ok(guest)
        });
        span.record("outcome", crate::observability::outcome(&result));
        let mut guest = result?;
        guest.crash_dumps = self.crash_dumps.or_else(|| {
            std::env::var_os("HYPERLIGHT_JS_CRASH_DUMP_DIR")
                .filter(|v| !v.is_empty())
                .map(Into::into)
        });
        span.record("sandbox_id", guest.vm.id());
        Ok(ProtoJSSandbox::new(guest))
    }
}

/// Refuses a size below the smallest that boots (the VM layer checks the
/// upper limits).
pub fn check_size(what: &str, bytes: u64, min: u64) -> Result<()> {
    if bytes < min {
        return Err(crate::Error::InvalidArgument(format!(
            "{what} is {bytes} bytes; the smallest that boots the JavaScript runtime is {min} bytes ({} KiB)",
            min >> 10
        )));
    }
    Ok(())
}
