//! Classic scripts: `LoadedJSSandbox::eval_script` and the guest's `vm`
//! module (docs/scripts.md).

mod common;

use hyperlight_js::Error;

fn loaded() -> hyperlight_js::LoadedJSSandbox {
    common::loaded_with(
        "function handler(e) { return typeof e === 'string' ? globalThis[e] : null; }",
    )
}

#[test]
fn top_level_declarations_are_global_code() {
    let mut l = loaded();
    assert_eq!(
        l.eval_script(
            "var v = 1; let x = 2; const c = 3; class K {} function f() { return x + c; }",
            Some("setup.js")
        )
        .unwrap(),
        None
    );
    // `let`/`const`/`class` live in the global lexical environment: later
    // scripts see them, but they are not properties of the global object.
    assert_eq!(
        l.eval_script(
            "[v, x, c, typeof K, f(), 'x' in globalThis, 'v' in globalThis]",
            None
        )
        .unwrap()
        .as_deref(),
        Some(r#"[1,2,3,"function",5,false,true]"#)
    );
    // Redeclaring a global lexical binding is an early error of the script.
    let e = l.eval_script("let x = 5;", None).unwrap_err();
    assert!(
        matches!(&e, Error::Handler(g) if g.name == "SyntaxError"),
        "{e:?}"
    );
    // Indirect eval would not keep the binding; a script does.
    assert_eq!(
        l.eval_script("(0, eval)('let gone = 1'); typeof gone", None)
            .unwrap()
            .as_deref(),
        Some(r#""undefined""#)
    );
    // `this` is the global object; sloppy unless a directive says otherwise.
    assert_eq!(
        l.eval_script(
            "this === globalThis && (function () { return this; })() === globalThis",
            None
        )
        .unwrap()
        .as_deref(),
        Some("true")
    );
    assert_eq!(
        l.eval_script(
            "'use strict'; (function () { return this; })() === undefined",
            None
        )
        .unwrap()
        .as_deref(),
        Some("true")
    );
    // Handlers see the globals a script defines.
    assert_eq!(l.handle_event("h", r#""v""#, None).unwrap(), "1");
}

#[test]
fn completion_values_errors_and_jobs() {
    let mut l = loaded();
    assert_eq!(l.eval_script("1 + 1", None).unwrap().as_deref(), Some("2"));
    assert_eq!(
        l.eval_script("({ a: [1, 'b'] })", None).unwrap().as_deref(),
        Some(r#"{"a":[1,"b"]}"#)
    );
    assert_eq!(l.eval_script("(function () {})", None).unwrap(), None);
    // A completion value JSON cannot express: the script ran anyway.
    let e = l
        .eval_script("globalThis.ran = true; 10n", None)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Handler(g) if g.name == "ResultError"),
        "{e:?}"
    );
    assert_eq!(l.eval_script("ran", None).unwrap().as_deref(), Some("true"));
    // A throw names the script in the stack; effects before it remain.
    let e = l
        .eval_script("globalThis.before = 1;\nnull.x;", Some("boom.js"))
        .unwrap_err();
    match &e {
        Error::Handler(g) => {
            assert_eq!(g.name, "TypeError");
            assert!(g.stack.contains("boom.js"), "{}", g.stack);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(l.eval_script("before", None).unwrap().as_deref(), Some("1"));
    // Promise reactions run before the script's answer.
    l.eval_script("globalThis.order = []; Promise.resolve().then(() => order.push('job')); order.push('script');", None)
        .unwrap();
    assert_eq!(
        l.eval_script("order", None).unwrap().as_deref(),
        Some(r#"["script","job"]"#)
    );
    // Bad arguments.
    assert!(matches!(
        l.eval_script("1", Some("")),
        Err(Error::InvalidArgument(_))
    ));
    let huge = "x".repeat(17 << 20);
    assert!(matches!(
        l.eval_script(&huge, None),
        Err(Error::InvalidArgument(_))
    ));
    // A restore forgets everything scripts did.
    let snap = l.snapshot().unwrap();
    l.eval_script("var later = 1", None).unwrap();
    l.restore(&snap).unwrap();
    assert_eq!(
        l.eval_script("typeof later", None).unwrap().as_deref(),
        Some(r#""undefined""#)
    );
}

#[test]
fn scripts_are_watched_by_monitors() {
    let mut l = loaded();
    let m = hyperlight_js::WallClockMonitor::new(std::time::Duration::from_millis(200)).unwrap();
    let e = l
        .eval_script_with_monitor("for (;;) {}", None, &m)
        .unwrap_err();
    assert!(matches!(e, Error::Cancelled { .. }), "{e:?}");
    assert!(l.poisoned());
}

#[test]
fn the_vm_module_evaluates_scripts_and_creates_realms() {
    let mut l = common::loaded_with(
        r#"import vm from 'vm';
        import { runInThisContext } from 'node:vm';
        function handler() {
            runInThisContext('let fromVm = 41; var viaVar = 1;', 'a.js');
            const g = vm.createContext({ seed: 2 });
            vm.runInContext('var inRealm = seed * 3;', g);
            const OtherArray = vm.runInContext('Array', g);
            let thrown;
            try { vm.runInContext('null.x', g); } catch (e) { thrown = e instanceof g.TypeError && !(e instanceof TypeError); }
            return [runInThisContext('fromVm + viaVar'), g.inRealm, typeof globalThis.inRealm,
                    OtherArray !== Array, Array.isArray(new OtherArray()), thrown, vm.isContext(g), vm.isContext({}),
                    require('vm') === vm || require('vm').runInThisContext === vm.runInThisContext];
        }"#,
    );
    assert_eq!(
        common::call(&mut l, "null"),
        serde_json::json!([42, 6, "undefined", true, true, true, true, false, true])
    );
}

#[test]
fn jobs_that_exit_to_the_host_after_the_result_do_not_clobber_it() {
    // A promise reaction left running when the handler (or script) returns
    // makes a host call; it used to overwrite the answer in the output
    // buffer ("malformed answer").
    common::kvm();
    let mut proto = hyperlight_js::SandboxBuilder::new().build().unwrap();
    proto
        .register("math", "add", |(a, b): (i64, i64)| Ok::<_, String>(a + b))
        .unwrap();
    let mut sb = proto.load_runtime().unwrap();
    sb.add_handler(
        "h",
        r#"import * as math from "host:math";
        globalThis.math = math;
        function handler() { Promise.resolve().then(() => { globalThis.late = math.add(1, 2); }); return 'result'; }"#,
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(l.handle_event("h", "{}", None).unwrap(), r#""result""#);
    assert_eq!(
        l.eval_script(
            "Promise.resolve().then(() => { globalThis.later = math.add(2, 3); }); 'script'",
            None
        )
        .unwrap()
        .as_deref(),
        Some(r#""script""#)
    );
    assert_eq!(
        l.eval_script("[late, later]", None).unwrap().as_deref(),
        Some("[3,5]")
    );
}
