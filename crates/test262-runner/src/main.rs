//! `test262`: runs the ECMAScript conformance suite through hyperlight-js's
//! public Rust API, prints pass rates per directory, and checks the
//! results against the committed list of expected failures (see
//! `README.md` in this crate and `docs/test262.md`).
//!
//! ```text
//! cargo run --release -p test262-runner -- [options] [path prefix...]
//! ```

mod expectations;
mod meta;
mod run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use expectations::{Cause, Expectations};
use run::{Outcome, TestFile};

const USAGE: &str = "\
usage: test262 [options] [path prefix...]

Runs test262 (unpacked from the archive into a temporary directory) through
hyperlight-js's public API: one loaded sandbox per worker, a snapshot after
the harness is loaded, a restore before every test; scripts evaluated as
classic scripts (LoadedJSSandbox::eval_script), module tests registered as
user modules and imported by a handler. Prints pass rates per directory and
compares the results with the expected-failures list: a failure not listed,
or a listed test that passes, makes the run fail (exit status 1).

Path prefixes are relative to test/ (e.g. built-ins/Array language/module-code).

options:
  --archive PATH        test262 archive (default: ../shared/conformance/test262/test262.tar.xz
                        from the repository root)
  --suite DIR           an already unpacked test262 directory (skips unpacking)
  --intl402             run test/intl402 (and staging/intl402) instead of the rest, with
                        pass rates per constructor; no expected-failures list unless --expectations
  --sample K            run the fixed sample of about 1/K of the files (chosen by a hash of
                        their paths, so the sample only changes when files are added)
  --jobs N              worker sandboxes (default: available cores)
  --expectations PATH   expected-failures list (default: crates/test262-runner/expected-failures.txt;
                        `none` for no comparison)
  --depth N             directory depth of the pass-rate table (default 2)
  --write-failures PATH write every failure (path, mode, message) to PATH
  --timeout SECS        CPU-time limit of one test (default 60; wall clock: 10 times that)
  --list-failures       print every failure with its message
  -h, --help            this text
";

struct Args {
    archive: Option<PathBuf>,
    suite: Option<PathBuf>,
    intl402: bool,
    sample: Option<u64>,
    jobs: usize,
    expectations: Option<Option<PathBuf>>,
    depth: usize,
    write_failures: Option<PathBuf>,
    timeout: Duration,
    list_failures: bool,
    prefixes: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        archive: None,
        suite: None,
        intl402: false,
        sample: None,
        jobs: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        expectations: None,
        depth: 2,
        write_failures: None,
        timeout: Duration::from_secs(60),
        list_failures: false,
        prefixes: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--archive" => a.archive = Some(value("--archive")?.into()),
            "--suite" => a.suite = Some(value("--suite")?.into()),
            "--intl402" => a.intl402 = true,
            "--sample" => {
                let k: u64 = value("--sample")?
                    .parse()
                    .map_err(|_| "--sample takes a positive integer")?;
                if k == 0 {
                    return Err("--sample takes a positive integer".into());
                }
                a.sample = Some(k);
            }
            "--jobs" => {
                a.jobs = value("--jobs")?
                    .parse()
                    .map_err(|_| "--jobs takes a positive integer")?;
                if a.jobs == 0 {
                    return Err("--jobs takes a positive integer".into());
                }
            }
            "--expectations" => {
                let v = value("--expectations")?;
                a.expectations = Some(if v == "none" { None } else { Some(v.into()) });
            }
            "--depth" => {
                a.depth = value("--depth")?
                    .parse()
                    .map_err(|_| "--depth takes an integer")?
            }
            "--write-failures" => a.write_failures = Some(value("--write-failures")?.into()),
            "--timeout" => {
                let s: u64 = value("--timeout")?
                    .parse()
                    .map_err(|_| "--timeout takes seconds")?;
                a.timeout = Duration::from_secs(s.max(1));
            }
            "--list-failures" => a.list_failures = true,
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n\n{USAGE}")),
            s => a.prefixes.push(s.trim_start_matches("test/").to_string()),
        }
    }
    Ok(a)
}

/// The repository root (this crate is `crates/test262-runner`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unpack(archive: &Path) -> Result<TempDir, String> {
    if !archive.is_file() {
        return Err(format!(
            "the test262 archive is missing: {} (the repository expects shared/conformance beside it; \
             pass --archive or --suite)",
            archive.display()
        ));
    }
    let dir = std::env::temp_dir().join(format!("hyperlight-test262-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dir = TempDir(dir);
    let status = std::process::Command::new("tar")
        .arg("-xJf")
        .arg(archive)
        .arg("-C")
        .arg(&dir.0)
        .status()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    if !status.success() {
        return Err(format!("tar -xJf {} failed ({status})", archive.display()));
    }
    Ok(dir)
}

/// FNV-1a, for the fixed sample.
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn collect(dir: &Path, rel: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if e.file_type()?.is_dir() {
            collect(&e.path(), &path, out)?;
        } else if name.ends_with(".js") && !name.contains("_FIXTURE") {
            out.push(path);
        }
    }
    Ok(())
}

fn in_scope(path: &str, intl402: bool) -> bool {
    let intl = path.starts_with("intl402/") || path.starts_with("staging/intl402/");
    intl == intl402
}

fn group(path: &str, depth: usize) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    let n = depth.min(parts.len().saturating_sub(1)).max(1);
    parts[..n].join("/")
}

fn main() -> ExitCode {
    match real_main() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("test262: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<bool, String> {
    let args = parse_args()?;
    let started = Instant::now();
    let (_tmp, suite) = match &args.suite {
        Some(s) => (None, s.clone()),
        None => {
            let archive = args.archive.clone().unwrap_or_else(|| {
                repo_root().join("../shared/conformance/test262/test262.tar.xz")
            });
            let tmp = unpack(&archive)?;
            let suite = tmp.0.clone();
            (Some(tmp), suite)
        }
    };
    let expectations_path = match &args.expectations {
        Some(p) => p.clone(),
        None if args.intl402 => None,
        None => Some(repo_root().join("crates/test262-runner/expected-failures.txt")),
    };
    let expectations = match &expectations_path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            Some(Expectations::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => None,
    };

    let mut all = Vec::new();
    collect(&suite.join("test"), "", &mut all)
        .map_err(|e| format!("cannot list {}/test: {e}", suite.display()))?;
    let whole_suite = args.prefixes.is_empty() && args.sample.is_none();
    let selected: Vec<String> = all
        .into_iter()
        .filter(|p| in_scope(p, args.intl402))
        .filter(|p| {
            args.prefixes.is_empty() || args.prefixes.iter().any(|x| p.starts_with(x.as_str()))
        })
        .filter(|p| args.sample.is_none_or(|k| fnv1a(p) % k == 0))
        .collect();
    if selected.is_empty() {
        return Err("no test matches the selection".into());
    }
    let files: Vec<TestFile> = selected
        .iter()
        .map(|p| TestFile::load(&suite, p))
        .collect::<Result<_, _>>()?;
    eprintln!(
        "test262: {} files{} with {} workers",
        files.len(),
        args.sample
            .map(|k| format!(" (sample 1/{k})"))
            .unwrap_or_default(),
        args.jobs
    );
    let harness = run::Harness::load(&suite)?;
    let outcomes = run::run_all(
        &suite.join("test"),
        &files,
        &harness,
        args.jobs,
        args.timeout,
    )?;

    // Pass rates per directory.
    let mut table: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    let mut totals = [0usize; 3];
    for (f, o) in files.iter().zip(&outcomes) {
        let i = match o {
            Outcome::Pass => 0,
            Outcome::Fail(_) => 1,
            Outcome::Skip(_) => 2,
        };
        table.entry(group(&f.path, args.depth)).or_default()[i] += 1;
        totals[i] += 1;
    }
    println!("| directory | passed | failed | not applicable | pass rate |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let rate = |p: usize, f: usize| {
        if p + f == 0 {
            "-".to_string()
        } else {
            format!("{:.1} %", 100.0 * p as f64 / (p + f) as f64)
        }
    };
    for (dir, [p, f, s]) in &table {
        println!("| {dir} | {p} | {f} | {s} | {} |", rate(*p, *f));
    }
    println!(
        "| **total** | **{}** | **{}** | **{}** | **{}** |",
        totals[0],
        totals[1],
        totals[2],
        rate(totals[0], totals[1])
    );

    // Not applicable, by reason.
    let mut skipped: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &outcomes {
        if let Outcome::Skip(r) = o {
            *skipped.entry(r).or_default() += 1;
        }
    }
    for (r, n) in &skipped {
        println!("not applicable: {n} ({r})");
    }

    if let Some(path) = &args.write_failures {
        let mut text = String::new();
        for (f, o) in files.iter().zip(&outcomes) {
            if let Outcome::Fail(msg) = o {
                text.push_str(&format!("{}\t{}\n", f.path, msg.replace(['\n', '\t'], " ")));
            }
        }
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if args.list_failures {
        for (f, o) in files.iter().zip(&outcomes) {
            if let Outcome::Fail(msg) = o {
                println!("FAIL {}: {}", f.path, msg.lines().next().unwrap_or(""));
            }
        }
    }

    let ok = match &expectations {
        None => true,
        Some(e) => compare(e, &files, &outcomes, whole_suite),
    };
    eprintln!("test262: done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(ok)
}

/// Compares the outcomes with the list; prints the differences and the
/// expected failures per cause. `false` when the run must fail.
fn compare(e: &Expectations, files: &[TestFile], outcomes: &[Outcome], whole_suite: bool) -> bool {
    let mut new_failures = Vec::new();
    let mut now_passing = Vec::new();
    let mut per_reason = vec![0usize; e.reasons.len()];
    for (f, o) in files.iter().zip(outcomes) {
        let listed = e.lookup(&f.path, &f.meta.features);
        match (o, listed) {
            (Outcome::Fail(msg), None) => new_failures.push((f.path.as_str(), msg.as_str())),
            (Outcome::Fail(_), Some(r)) => per_reason[r] += 1,
            (Outcome::Pass, Some(r)) => now_passing.push((f.path.as_str(), r)),
            _ => {}
        }
    }
    let mut by_cause: BTreeMap<Cause, usize> = BTreeMap::new();
    println!();
    println!("expected failures by reason:");
    for (r, n) in e.reasons.iter().zip(&per_reason) {
        if *n > 0 {
            println!("  {:>5}  [{}] {}", n, r.cause.as_str(), r.text);
        }
        *by_cause.entry(r.cause).or_default() += n;
    }
    for (c, n) in &by_cause {
        println!("expected failures caused by the {}: {n}", c.as_str());
    }
    let mut ok = true;
    if whole_suite {
        let present: std::collections::BTreeSet<&str> =
            files.iter().map(|f| f.path.as_str()).collect();
        let stale: Vec<&String> = e
            .paths
            .keys()
            .filter(|p| !present.contains(p.as_str()))
            .collect();
        for p in &stale {
            println!("STALE (listed, but no such test): {p}");
        }
        ok &= stale.is_empty();
    }
    for (p, msg) in &new_failures {
        println!("NEW FAILURE {p}: {}", msg.lines().next().unwrap_or(""));
    }
    for (p, r) in &now_passing {
        println!(
            "NOW PASSES (remove it from the expected failures) {p}: was [{}] {}",
            e.reasons[*r].cause.as_str(),
            e.reasons[*r].text
        );
    }
    if !new_failures.is_empty() || !now_passing.is_empty() {
        println!(
            "test262: {} new failure(s), {} expected failure(s) now passing",
            new_failures.len(),
            now_passing.len()
        );
        ok = false;
    } else {
        println!("test262: every result is as expected");
    }
    ok
}
