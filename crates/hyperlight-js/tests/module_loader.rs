//! Module loaders: a directory tree with nested relative imports, modules
//! embedded in the binary, path escapes refused (`..` and symbolic links),
//! missing modules named with their importer, JSON/text/bytes modules and
//! `import()` of a path computed at run time.

mod common;
use common::*;
use hyperlight_js::{EmbeddedModules, ErrorCode, FileSystemLoader, JSSandbox, ModuleLoadError};
use serde_json::json;

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modules")
}

fn with_fs_loader() -> JSSandbox {
    let mut sb = js_sandbox();
    sb.set_module_loader(None, FileSystemLoader::new(fixtures()).unwrap())
        .unwrap();
    sb
}

fn load_error(mut sb: JSSandbox, handler: &str) -> hyperlight_js::Error {
    sb.add_handler("h", handler).unwrap();
    sb.get_loaded_sandbox().unwrap_err().error
}

const SUM_HANDLER: &str =
    "import { sum } from './lib/format.js'; function handler(e) { return sum(e.a, e.b); }";

#[test]
fn a_handler_imports_a_directory_tree_with_nested_relative_imports() {
    let mut sb = with_fs_loader();
    sb.add_handler("h", SUM_HANDLER).unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call(&mut l, r#"{"a":2,"b":3}"#), json!("2 + 3 = 5!"));
}

#[test]
fn embedded_modules_serve_the_same_tree() {
    let modules = hyperlight_js::embedded_modules! {
        "math.js" => "fixtures/modules/math.js",
        "lib/format.js" => "fixtures/modules/lib/format.js",
        "lib/util/suffix.js" => "fixtures/modules/lib/util/suffix.js",
        "./lib/util/../util/mark.js" => "fixtures/modules/lib/util/mark.js",
    };
    assert_eq!(
        modules.paths().collect::<Vec<_>>(),
        [
            "lib/format.js",
            "lib/util/mark.js",
            "lib/util/suffix.js",
            "math.js"
        ]
    );
    let mut sb = js_sandbox();
    sb.set_module_loader(None, modules).unwrap();
    sb.add_handler("h", SUM_HANDLER).unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call(&mut l, r#"{"a":1,"b":1}"#), json!("1 + 1 = 2!"));
}

#[test]
fn embedded_module_lists_are_checked() {
    let escape = EmbeddedModules::new([("../x.js", &b""[..])]).unwrap_err();
    assert_eq!(escape.code(), ErrorCode::InvalidArg);
    let twice = EmbeddedModules::new([("a.js", &b""[..]), ("./a.js", &b""[..])]).unwrap_err();
    assert!(twice.to_string().contains("twice"), "{twice}");
}

#[test]
fn a_loader_per_namespace_and_closures_as_loaders() {
    let mut sb = js_sandbox();
    sb.set_module_loader(
        Some("lib"),
        FileSystemLoader::new(fixtures().join("lib")).unwrap(),
    )
    .unwrap();
    // The `lib` directory imports '../math.js', which climbs out of the
    // `lib` namespace: served by nothing, so refused.
    sb.set_module_loader(None, |path: &str| match path {
        "greeting.js" => Ok(b"export default 'hi from a closure';".to_vec()),
        _ => Err(ModuleLoadError::NotFound),
    })
    .unwrap();
    sb.add_handler(
        "h",
        "import g from './greeting.js'; import { mark } from 'lib:util/mark.js'; \
         function handler() { return g + mark; }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call(&mut l, "{}"), json!("hi from a closure!"));
    assert!(sb_err_contains(
        "import { sum } from 'lib:format.js'; function handler() { return sum(1, 2); }",
        "climbs above the root",
    ));
}

fn sb_err_contains(handler: &str, needle: &str) -> bool {
    let mut sb = js_sandbox();
    sb.set_module_loader(
        Some("lib"),
        FileSystemLoader::new(fixtures().join("lib")).unwrap(),
    )
    .unwrap();
    let err = load_error(sb, handler);
    let ok = err.to_string().contains(needle);
    if !ok {
        eprintln!("{err}");
    }
    ok
}

#[test]
fn dot_dot_escapes_are_refused_naming_the_importer() {
    let err = load_error(
        with_fs_loader(),
        "import '../secret.js'; function handler() {}",
    );
    assert_eq!(err.code(), ErrorCode::InvalidArg);
    let msg = err.to_string();
    assert!(
        msg.contains("'../secret.js'") && msg.contains("handler 'h'"),
        "{msg}"
    );
    assert!(msg.contains("climbs above the root"), "{msg}");

    let err = load_error(
        with_fs_loader(),
        "import './lib/escape.js'; function handler() {}",
    );
    let msg = err.to_string();
    assert!(
        msg.contains("'../../outside.js'") && msg.contains("'user:lib/escape.js'"),
        "{msg}"
    );
}

#[test]
fn symbolic_links_out_of_the_directory_are_refused_and_inside_ones_followed() {
    let tmp = std::env::temp_dir().join(format!("hl-js-modules-{}", std::process::id()));
    let root = tmp.join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(tmp.join("secret.js"), "export default 'secret';").unwrap();
    std::fs::write(root.join("sub/ok.js"), "export default 'ok';").unwrap();
    std::os::unix::fs::symlink("../secret.js", root.join("out.js")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
    std::os::unix::fs::symlink("sub/ok.js", root.join("in.js")).unwrap();
    let loader = || FileSystemLoader::new(&root).unwrap();

    for import in [
        "import s from './out.js';",
        "import s from './etc/hostname' with { type: 'text' };",
    ] {
        let mut sb = js_sandbox();
        sb.set_module_loader(None, loader()).unwrap();
        let err = load_error(sb, &format!("{import} function handler() {{ return s; }}"));
        let msg = err.to_string();
        assert!(msg.contains("outside the module directory"), "{msg}");
        assert!(
            !msg.contains(tmp.to_str().unwrap()),
            "host paths leak: {msg}"
        );
    }

    let mut sb = js_sandbox();
    sb.set_module_loader(None, loader()).unwrap();
    sb.add_handler(
        "h",
        "import s from './in.js'; function handler() { return s; }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call(&mut l, "{}"), json!("ok"));
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn a_missing_module_names_its_importer() {
    let err = load_error(
        with_fs_loader(),
        "import { x } from './lib/broken.js'; function handler() { return x; }",
    );
    assert_eq!(err.code(), ErrorCode::InvalidArg);
    let msg = err.to_string();
    assert!(
        msg.contains("'./missing.js'")
            && msg.contains("imported by 'user:lib/broken.js'")
            && msg.contains("resolved to 'user:lib/missing.js'")
            && msg.contains("no such module"),
        "{msg}"
    );

    // Without any loader the message says so.
    let err = load_error(js_sandbox(), "import './nope.js'; function handler() {}");
    let msg = err.to_string();
    assert!(
        msg.contains("handler 'h'") && msg.contains("no module loader is set"),
        "{msg}"
    );

    // A bare name says what would resolve.
    let err = load_error(js_sandbox(), "import 'lodash'; function handler() {}");
    assert!(err.to_string().contains("relative path"), "{err}");
}

#[test]
fn json_text_and_bytes_modules() {
    let mut sb = with_fs_loader();
    sb.add_handler(
        "h",
        "import config from './data/config.json' with { type: 'json' };
         import again from '/data/config.json' with { type: 'json' };
         import note from './data/note.txt' with { type: 'text' };
         import blob from './data/blob.bin' with { type: 'bytes' };
         function handler() {
           let resized = false;
           try { blob.buffer.resize(0); resized = true; } catch (e) { if (!(e instanceof TypeError)) throw e; }
           return { config, same: config === again, note, blob: Array.from(blob),
                    immutable: blob.buffer.immutable, resized, isU8: blob instanceof Uint8Array };
         }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(
        call(&mut l, "{}"),
        json!({
            "config": { "greeting": "hello", "primes": [2, 3, 5, 7] },
            "same": true,
            "note": "plain text, café\n",
            "blob": [0, 1, 254, 255],
            "immutable": true,
            "resized": false,
            "isU8": true,
        })
    );
}

#[test]
fn import_attributes_are_checked() {
    let err = load_error(
        with_fs_loader(),
        "import c from './data/config.json' with { type: 'css' }; function handler() {}",
    );
    assert!(
        err.to_string().contains("unsupported module type 'css'"),
        "{err}"
    );
    let err = load_error(
        with_fs_loader(),
        "import c from './data/config.json' with { kind: 'json' }; function handler() {}",
    );
    assert!(
        err.to_string()
            .contains("unsupported import attribute 'kind'"),
        "{err}"
    );
}

#[test]
fn dynamic_import_of_a_path_computed_at_run_time() {
    let mut sb = with_fs_loader();
    sb.add_handler(
        "h",
        "async function handler(e) {
           const m = await import('./lib/' + e.module);
           const data = await import('./data/' + e.data, { with: { type: 'json' } });
           return m.sum(data.default.primes[0], data.default.primes[3]);
         }",
    )
    .unwrap();
    sb.add_handler(
        "missing",
        "async function handler(e) {
           try { await import('./lib/' + e.module); return 'loaded?'; }
           catch (err) { return err.name + ': ' + err.message; }
         }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(
        call(&mut l, r#"{"module":"format.js","data":"config.json"}"#),
        json!("2 + 7 = 9!")
    );
    let out = l
        .handle_event("missing", r#"{"module":"gone.js"}"#, None)
        .unwrap();
    assert!(
        out.contains("ReferenceError")
            && out.contains("'./lib/gone.js'")
            && out.contains("handler 'missing'"),
        "{out}"
    );
}

#[test]
fn added_modules_import_each_other_relatively_and_by_type() {
    let mut sb = js_sandbox();
    sb.add_module("lib/a.js", "export { b } from './b.js';", None)
        .unwrap();
    sb.add_module("lib/b.js", "export const b = 'b';", None)
        .unwrap();
    sb.add_module("lib/./c.js", "export const c = 'c';", None)
        .unwrap();
    assert_eq!(
        sb.add_module("../x.js", "", None).unwrap_err().code(),
        ErrorCode::InvalidArg
    );
    sb.add_handler(
        "h",
        "import { b } from './lib/a.js'; import { c } from 'user:lib/c.js';
         import src from './lib/b.js' with { type: 'text' };
         function handler() { return [b, c, src]; }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(
        call(&mut l, "{}"),
        json!(["b", "c", "export const b = 'b';"])
    );
}

#[test]
fn loaders_survive_unload_and_serve_the_next_load() {
    let mut sb = with_fs_loader();
    sb.add_handler(
        "h",
        "import { add } from './math.js'; function handler() { return add(1, 2); }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call(&mut l, "{}"), json!(3));
    let mut sb = l.unload().unwrap();
    sb.add_handler("h", SUM_HANDLER).unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call(&mut l, r#"{"a":4,"b":4}"#), json!("4 + 4 = 8!"));
    let mut sb = l.unload().unwrap();
    assert!(sb.remove_module_loader(None).unwrap());
    assert!(!sb.remove_module_loader(None).unwrap());
    assert_eq!(
        sb.set_module_loader(Some("host"), EmbeddedModules::default())
            .unwrap_err()
            .code(),
        ErrorCode::InvalidArg
    );
}

#[test]
fn a_missing_directory_is_an_invalid_argument() {
    let err = FileSystemLoader::new("/nonexistent/hyperlight-modules").unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArg);
    assert!(
        err.to_string().contains("/nonexistent/hyperlight-modules"),
        "{err}"
    );
}

#[test]
fn an_import_left_running_by_the_handler_does_not_clobber_its_result() {
    // The import's module load exits to the host after the handler
    // returned, while its jobs drain: the answer must survive it.
    let mut sb = js_sandbox();
    sb.set_module_loader(None, |path: &str| match path {
        "late.js" => Ok(b"globalThis.late = (globalThis.late ?? 0) + 1;".to_vec()),
        _ => Err(ModuleLoadError::NotFound),
    })
    .unwrap();
    sb.add_handler(
        "h",
        "function handler() { import('./late.js'); return globalThis.late ?? 0; }",
    )
    .unwrap();
    let mut l = sb.get_loaded_sandbox().unwrap();
    assert_eq!(call(&mut l, "{}"), json!(0));
    assert_eq!(call(&mut l, "{}"), json!(1));
}
