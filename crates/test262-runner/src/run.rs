//! Running tests: one loaded sandbox per worker thread, a snapshot after
//! the harness is loaded and a restore before every test (realm isolation
//! as `INTERPRETING.md` requires), scripts through
//! [`LoadedJSSandbox::eval_script`], module tests as user modules imported
//! by a handler.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyperlight_js::{
    CpuTimeMonitor, Error, FileSystemLoader, JSSandbox, LoadedJSSandbox, PrintLevel,
    SandboxBuilder, Snapshot, WallClockMonitor,
};

use crate::meta::{self, Meta};

/// A test's result.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Passed in every mode it runs in.
    Pass,
    /// Failed (in the mode named in the message).
    Fail(String),
    /// Not applicable to this host, with the reason.
    Skip(&'static str),
}

/// A test file and its metadata.
pub struct TestFile {
    /// Path relative to `test/`.
    pub path: String,
    /// The source text.
    pub source: String,
    /// Its metadata.
    pub meta: Meta,
}

impl TestFile {
    /// Reads `test/<path>` under `suite`.
    pub fn load(suite: &Path, path: &str) -> Result<TestFile, String> {
        let full = suite.join("test").join(path);
        let source = std::fs::read_to_string(&full)
            .map_err(|e| format!("cannot read {}: {e}", full.display()))?;
        let meta = meta::parse(&source).map_err(|e| format!("{path}: {e}"))?;
        Ok(TestFile {
            path: path.to_string(),
            source,
            meta,
        })
    }
}

/// The files of `harness/`.
pub struct Harness {
    files: BTreeMap<String, String>,
}

impl Harness {
    /// Reads every harness file (names relative to `harness/`, e.g.
    /// `sm/non262.js`).
    pub fn load(suite: &Path) -> Result<Harness, String> {
        fn walk(dir: &Path, rel: &str, files: &mut BTreeMap<String, String>) -> Result<(), String> {
            for e in
                std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            {
                let e = e.map_err(|e| e.to_string())?;
                let name = e.file_name().to_string_lossy().into_owned();
                let rel = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                if e.path().is_dir() {
                    walk(&e.path(), &rel, files)?;
                } else if name.ends_with(".js") {
                    let text = std::fs::read_to_string(e.path())
                        .map_err(|e| format!("cannot read harness {rel}: {e}"))?;
                    files.insert(rel, text);
                }
            }
            Ok(())
        }
        let mut files = BTreeMap::new();
        walk(&suite.join("harness"), "", &mut files)?;
        for required in ["assert.js", "sta.js", "doneprintHandle.js"] {
            if !files.contains_key(required) {
                return Err(format!("harness/{required} is missing from the suite"));
            }
        }
        Ok(Harness { files })
    }

    fn get(&self, name: &str) -> Result<&str, String> {
        self.files
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("harness file {name} is missing"))
    }
}

/// The host-defined `$262` (INTERPRETING.md, "Host-Defined Functions"),
/// written with the guest's public built-ins: `vm.runInThisContext` and
/// `vm.runInContext` evaluate classic scripts, `vm.createContext` creates a
/// realm, `ArrayBuffer.prototype.transfer` detaches. `print` is the
/// guest's own. The guest has one agent and no exposed collector, so
/// `agent.start` and `gc` throw.
const PRELUDE: &str = r#"(function () {
  'use strict';
  var vm = require('vm');
  var transfer = ArrayBuffer.prototype.transfer;
  var now = performance.now.bind(performance);
  var print = globalThis.print;
  function define(g, name, value) {
    Object.defineProperty(g, name, { value: value, writable: true, configurable: true, enumerable: false });
  }
  function make(g, run) {
    var $262 = {
      global: g,
      evalScript: function (src) { return run(String(src)); },
      createRealm: function () {
        var g2 = vm.createContext();
        return make(g2, function (s) { return vm.runInContext(s, g2); });
      },
      detachArrayBuffer: function (buffer) { transfer.call(buffer, 0); return null; },
      gc: function () { throw new Error('$262.gc: the sandbox exposes no garbage collector'); },
      agent: {
        start: function () { throw new Error('$262.agent.start: a sandbox runs one agent (one thread)'); },
        broadcast: function () { throw new Error('$262.agent.broadcast: a sandbox runs one agent'); },
        getReport: function () { return null; },
        sleep: function (ms) { var end = now() + Number(ms); while (now() < end) {} },
        monotonicNow: now,
      },
    };
    define(g, '$262', $262);
    if (g !== globalThis) define(g, 'print', print);
    return $262;
  }
  make(globalThis, function (s) { return vm.runInThisContext(s); });
})();
"#;

/// The handler that runs module tests: imports the test module.
const MODULE_HANDLER: &str =
    "async function handler(event) { await import(event.specifier); return null; }";

/// Module namespace of the test files: a file-system module loader over
/// `test/`, so `./x_FIXTURE.js` in `test262:language/a/b.js` is
/// `test/language/a/x_FIXTURE.js`.
const NS: &str = "test262";

/// A test's limits: `timeout` of CPU time (independent of how busy the
/// machine is), and ten times that of wall-clock time as a backstop.
fn limits(timeout: Duration) -> Result<(CpuTimeMonitor, WallClockMonitor), String> {
    Ok((
        CpuTimeMonitor::new(timeout).map_err(|e| e.to_string())?,
        WallClockMonitor::new(timeout * 10).map_err(|e| e.to_string())?,
    ))
}

struct Loaded {
    sandbox: LoadedJSSandbox,
    bare: Snapshot,
    harnessed: Snapshot,
}

struct Worker {
    /// `test/` of the unpacked suite: the root of the `test262` module
    /// namespace.
    tests: std::path::PathBuf,
    prints: Arc<Mutex<Vec<String>>>,
    loaded: Option<Loaded>,
    timeout: Duration,
}

fn err_text(e: &Error) -> String {
    match e {
        Error::Handler(g) => format!("{}: {}", g.name, g.message),
        other => format!("{} ({})", other, other.code()),
    }
}

/// Waits until the print sink has received every record printed so far.
/// The crate hands a user sink its records on its printer thread, after
/// the call that printed them may have returned, so a test's `print`
/// lines (its `Test262:AsyncTestComplete`) are only certain to be there
/// once this returns; before a test, it keeps the previous test's late
/// records out of the next test's list.
fn settle_prints() -> Result<(), String> {
    if hyperlight_js::flush_prints(Duration::from_secs(60)) {
        Ok(())
    } else {
        Err("the guest's output was not delivered to the print sink within 60 s".into())
    }
}

impl Worker {
    fn new(tests: &Path, timeout: Duration) -> Result<Worker, String> {
        let prints = Arc::new(Mutex::new(Vec::new()));
        Ok(Worker {
            tests: tests.to_path_buf(),
            prints,
            loaded: None,
            timeout,
        })
    }

    fn builder(&self) -> SandboxBuilder {
        let prints = self.prints.clone();
        SandboxBuilder::new().with_print_sink(move |level, text| {
            if level == PrintLevel::Print {
                prints.lock().unwrap().push(text.to_string());
            }
        })
    }

    /// A fresh runtime-loaded sandbox.
    fn fresh(&self) -> Result<JSSandbox, String> {
        let proto = self
            .builder()
            .build()
            .map_err(|e| format!("cannot build a sandbox: {e}"))?;
        let mut sb = proto
            .load_runtime()
            .map_err(|e| format!("cannot load the runtime: {e}"))?;
        let loader =
            FileSystemLoader::new(&self.tests).map_err(|e| format!("module loader: {e}"))?;
        sb.set_module_loader(Some(NS), loader)
            .map_err(|e| e.to_string())?;
        Ok(sb)
    }

    fn load(&self, mut sb: JSSandbox, harness: &Harness) -> Result<Loaded, String> {
        sb.add_handler("test262", MODULE_HANDLER)
            .map_err(|e| e.to_string())?;
        let mut sandbox = sb
            .get_loaded_sandbox()
            .map_err(|e| format!("cannot load: {}", e.error))?;
        sandbox
            .eval_script(PRELUDE, Some("$262"))
            .map_err(|e| format!("the $262 prelude failed: {}", err_text(&e)))?;
        let bare = sandbox.snapshot().map_err(|e| e.to_string())?;
        let base = format!("{}\n{}", harness.get("assert.js")?, harness.get("sta.js")?);
        sandbox
            .eval_script(&base, Some("harness"))
            .map_err(|e| format!("assert.js/sta.js failed: {}", err_text(&e)))?;
        let harnessed = sandbox.snapshot().map_err(|e| e.to_string())?;
        Ok(Loaded {
            sandbox,
            bare,
            harnessed,
        })
    }

    fn ensure(&mut self, harness: &Harness) -> Result<&mut Loaded, String> {
        if self.loaded.is_none() {
            let sb = self.fresh()?;
            self.loaded = Some(self.load(sb, harness)?);
        }
        Ok(self.loaded.as_mut().expect("just set"))
    }

    fn run(&mut self, t: &TestFile, harness: &Harness) -> Outcome {
        if t.meta.has_flag("CanBlockIsTrue") {
            return Outcome::Skip(
                "CanBlockIsTrue: the sandbox's agent cannot block (Atomics.wait)",
            );
        }
        if t.meta.features.iter().any(|f| f == "IsHTMLDDA") {
            return Outcome::Skip(
                "IsHTMLDDA: an optional host feature ($262.IsHTMLDDA) the sandbox does not provide",
            );
        }
        let result = if t.meta.has_flag("module") {
            self.run_module(t, harness)
        } else {
            let modes: &[bool] = if t.meta.has_flag("raw") || t.meta.has_flag("noStrict") {
                &[false]
            } else if t.meta.has_flag("onlyStrict") {
                &[true]
            } else {
                &[false, true]
            };
            let mut r = Ok(());
            for &strict in modes {
                r = self
                    .run_script(t, harness, strict)
                    .map_err(|e| format!("{}: {e}", if strict { "strict" } else { "sloppy" }));
                if r.is_err() {
                    break;
                }
            }
            r
        };
        match result {
            Ok(()) => Outcome::Pass,
            Err(e) => Outcome::Fail(e),
        }
    }

    /// The harness files a test needs beyond assert.js and sta.js.
    fn includes(t: &TestFile, harness: &Harness) -> Result<String, String> {
        let mut src = String::new();
        if t.meta.has_flag("async") {
            src.push_str(harness.get("doneprintHandle.js")?);
            src.push('\n');
        }
        for inc in &t.meta.includes {
            src.push_str(harness.get(inc)?);
            src.push('\n');
        }
        Ok(src)
    }

    fn run_script(&mut self, t: &TestFile, harness: &Harness, strict: bool) -> Result<(), String> {
        let raw = t.meta.has_flag("raw");
        let includes = Self::includes(t, harness)?;
        let timeout = self.timeout;
        let prints = self.prints.clone();
        let l = self.ensure(harness)?;
        let snap = if raw {
            l.bare.clone()
        } else {
            l.harnessed.clone()
        };
        l.sandbox
            .restore(&snap)
            .map_err(|e| format!("restore failed: {e}"))?;
        settle_prints()?;
        prints.lock().unwrap().clear();
        if !includes.is_empty() && !raw {
            l.sandbox
                .eval_script(&includes, Some("harness"))
                .map_err(|e| format!("harness includes failed: {}", err_text(&e)))?;
        }
        let source = if strict {
            format!("\"use strict\";\n{}", t.source)
        } else {
            t.source.clone()
        };
        let monitor = limits(timeout)?;
        // Named as a module of the `test262` namespace, so that `import()`
        // in the script resolves `./x_FIXTURE.js` beside it.
        let r = l.sandbox.eval_script_with_monitor(
            &source,
            Some(&format!("{NS}:{}", t.path)),
            &monitor,
        );
        let r = match r {
            // The script ran; only its completion value could not cross.
            Err(Error::Handler(g)) if g.name == "ResultError" => Ok(None),
            other => other,
        };
        self.verdict(t, r.map(|_| ()))
    }

    fn run_module(&mut self, t: &TestFile, harness: &Harness) -> Result<(), String> {
        let includes = Self::includes(t, harness)?;
        let timeout = self.timeout;
        let prints = self.prints.clone();
        let l = self.ensure(harness)?;
        l.sandbox
            .restore(&l.harnessed.clone())
            .map_err(|e| format!("restore failed: {e}"))?;
        settle_prints()?;
        prints.lock().unwrap().clear();
        if !includes.is_empty() {
            l.sandbox
                .eval_script(&includes, Some("harness"))
                .map_err(|e| format!("harness includes failed: {}", err_text(&e)))?;
        }
        let monitor = limits(timeout)?;
        let event = format!("{{\"specifier\":{:?}}}", format!("{NS}:{}", t.path));
        let r = l
            .sandbox
            .handle_event_with_monitor("test262", &event, &monitor, Some(false));
        self.verdict(t, r.map(|_| ()))
    }

    /// Turns the run's result into pass or fail, with the test's negative
    /// expectation and the async protocol.
    fn verdict(&mut self, t: &TestFile, r: Result<(), Error>) -> Result<(), String> {
        match (&t.meta.negative, r) {
            (Some(neg), Ok(())) => Err(format!(
                "expected {} ({} phase), but it completed",
                neg.kind, neg.phase
            )),
            (Some(neg), Err(Error::Handler(g))) => {
                if g.name == neg.kind {
                    Ok(())
                } else {
                    Err(format!(
                        "expected {} ({} phase), got {}: {}",
                        neg.kind, neg.phase, g.name, g.message
                    ))
                }
            }
            (_, Err(e)) => {
                if matches!(
                    e,
                    Error::Cancelled { .. } | Error::GuestAbort(_) | Error::Poisoned(_)
                ) {
                    // Start the next test on a fresh sandbox.
                    self.loaded = None;
                }
                Err(err_text(&e))
            }
            (None, Ok(())) => {
                if !t.meta.has_flag("async") {
                    return Ok(());
                }
                settle_prints()?;
                let prints = self.prints.lock().unwrap();
                if let Some(f) = prints
                    .iter()
                    .find(|p| p.starts_with("Test262:AsyncTestFailure"))
                {
                    return Err(f.clone());
                }
                if prints.iter().any(|p| p == "Test262:AsyncTestComplete") {
                    Ok(())
                } else {
                    Err("async test: $DONE was never called (no Test262:AsyncTestComplete)".into())
                }
            }
        }
    }
}

/// Runs `files` on `jobs` workers; the outcomes in the same order.
pub fn run_all(
    tests: &Path,
    files: &[TestFile],
    harness: &Harness,
    jobs: usize,
    timeout: Duration,
) -> Result<Vec<Outcome>, String> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; files.len()]);
    let fatal: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs.min(files.len()) {
            s.spawn(|| {
                let mut w = match Worker::new(tests, timeout) {
                    Ok(w) => w,
                    Err(e) => {
                        *fatal.lock().unwrap() = Some(e);
                        return;
                    }
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= files.len() || fatal.lock().unwrap().is_some() {
                        return;
                    }
                    let outcome = w.run(&files[i], harness);
                    results.lock().unwrap()[i] = Some(outcome);
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if n % 2000 == 0 {
                        eprintln!("test262: {n}/{}", files.len());
                    }
                }
            });
        }
    });
    if let Some(e) = fatal.into_inner().unwrap() {
        return Err(e);
    }
    Ok(results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::Fail("not run".into())))
        .collect())
}
