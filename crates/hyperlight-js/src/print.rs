//! Where guest `console.*` and `print` output goes.

use std::io::Write;
use std::sync::Arc;

use hyperlight_abi::print_level;

/// Severity of a line printed by the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrintLevel {
    /// `print(...)` (also `io.print`): the text exactly as printed, with
    /// no newline added, as in upstream hyperlight-js (`print('a');
    /// print('b\n')` prints one line `ab`). A sink that writes whole lines
    /// adds its own.
    Print,
    /// `console.debug`.
    Debug,
    /// `console.log` and `console.info`.
    Info,
    /// `console.warn`.
    Warn,
    /// `console.error`.
    Error,
}

impl PrintLevel {
    pub(crate) fn from_abi(level: u32) -> Self {
        match level {
            print_level::DEBUG => PrintLevel::Debug,
            print_level::INFO => PrintLevel::Info,
            print_level::WARN => PrintLevel::Warn,
            print_level::ERROR => PrintLevel::Error,
            _ => PrintLevel::Print,
        }
    }
}

/// Receives every line the guest prints, on the thread that runs the guest.
pub type PrintSink = Arc<dyn Fn(PrintLevel, &str) + Send + Sync>;

/// The default sink: warnings and errors to stderr, everything else to
/// stdout; one line per `console.*` record, and `print` text as it is (no
/// newline added, flushed at once).
pub fn stdio_sink() -> PrintSink {
    Arc::new(|level, text| {
        let _ = match level {
            PrintLevel::Print => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes()).and_then(|()| out.flush())
            }
            l if l >= PrintLevel::Warn => writeln!(std::io::stderr().lock(), "{text}"),
            _ => writeln!(std::io::stdout().lock(), "{text}"),
        };
    })
}
