//! The shared monitor runtime: one lazily started multi-thread tokio
//! runtime for every monitor in the process.

use std::sync::OnceLock;

/// Default worker count.
const DEFAULT_THREADS: usize = 2;
/// Environment variable that overrides the worker count.
const ENV: &str = "HYPERLIGHT_MONITOR_THREADS";

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
static THREADS: OnceLock<usize> = OnceLock::new();

pub(super) fn threads() -> usize {
    *THREADS.get_or_init(|| parse(std::env::var(ENV).ok().as_deref()))
}

fn parse(value: Option<&str>) -> usize {
    match value {
        None => DEFAULT_THREADS,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=256).contains(&n) => n,
            _ => {
                tracing::warn!(
                    value = v,
                    default = DEFAULT_THREADS,
                    "{ENV} must be a whole number from 1 to 256; using the default"
                );
                DEFAULT_THREADS
            }
        },
    }
}

pub(super) fn handle() -> &'static tokio::runtime::Handle {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads())
                .thread_name("hyperlight-monitor")
                .enable_time()
                .build()
                .expect("the monitor runtime could not start (out of threads?)")
        })
        .handle()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_thread_counts_fall_back_to_the_default() {
        assert_eq!(parse(None), 2);
        assert_eq!(parse(Some("4")), 4);
        assert_eq!(parse(Some(" 3 ")), 3);
        assert_eq!(parse(Some("0")), 2);
        assert_eq!(parse(Some("many")), 2);
        assert_eq!(parse(Some("100000")), 2);
    }
}
