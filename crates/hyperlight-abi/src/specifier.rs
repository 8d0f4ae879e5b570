//! How an import specifier becomes a module name: the one algorithm the
//! guest's module normalizer runs and the host re-checks (the host never
//! trusts a path that came from the guest).
//!
//! A module name is `<namespace>:<path>`. The path is *normalized*: `/`
//! separated segments, none empty, none `.` or `..`, no leading `/`, no NUL.
//! It is relative to the namespace's root, which for a file-system module
//! loader is its directory. Modules added by name (`add_module("math", ..)`)
//! are paths too (`user:math`).
//!
//! Specifiers, for an importer named `<ns>:<dir>/<file>`:
//!
//! | specifier | resolves to |
//! |---|---|
//! | `./x.js`, `../lib/x.js` | against the importer's directory, in its namespace |
//! | `/x.js` | against the importer's namespace root |
//! | `<ns2>:a/../b.js` | `<ns2>:b.js` (normalized) |
//! | anything else (`lodash`) | not a module name ([`ResolveError::Bare`]) |
//!
//! A `..` that would climb above the namespace root is refused
//! ([`ResolveError::Escapes`]), as the URL algorithm of the web would *not*
//! do (it clamps at the root): clamping would silently load another file
//! than the author meant. Handlers (and code without a module name) import
//! relative to the root of [`DEFAULT_NAMESPACE`].

use alloc::string::String;
use alloc::vec::Vec;

/// The namespace of modules added without one, and the base of relative
/// imports from handlers.
pub const DEFAULT_NAMESPACE: &str = "user";
/// The namespace reserved for host modules (`host:<name>`), whose names are
/// not paths.
pub const HOST_NAMESPACE: &str = "host";

/// Why a specifier is not a module name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// Neither relative (`./`, `../`, `/`) nor `<namespace>:<path>`.
    Bare,
    /// A `..` climbs above the namespace root.
    Escapes,
    /// A NUL byte, an empty path or an invalid namespace.
    Invalid,
}

impl core::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ResolveError::Bare => {
                "is not a module specifier this sandbox resolves: use a relative path ('./x.js', \
                 '../lib/x.js'), '<namespace>:<path>' (e.g. 'user:math'), 'host:<name>' or 'crypto'"
            }
            ResolveError::Escapes => "climbs above the root of its namespace ('..' too many times)",
            ResolveError::Invalid => {
                "is not a valid module name (empty path, NUL byte or bad namespace)"
            }
        })
    }
}

/// Whether `ns` can name a namespace of user modules: non-empty, without
/// `:`, `/` or NUL, and not [`HOST_NAMESPACE`].
pub fn valid_namespace(ns: &str) -> bool {
    !ns.is_empty() && !ns.contains([':', '/', '\0']) && ns != HOST_NAMESPACE
}

/// Whether `path` is a normalized module path (see the module docs).
pub fn is_normalized_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// Splits a module name into namespace and path.
pub fn split_name(name: &str) -> Option<(&str, &str)> {
    name.split_once(':')
}

/// Resolves `spec` imported by the module named `importer` (`None` or a
/// name that is not `<namespace>:<path>`, e.g. a handler, imports from
/// the root of [`DEFAULT_NAMESPACE`]). Host specifiers (`host:<name>`) are
/// returned unchanged; built-in names are the caller's business.
pub fn resolve(importer: Option<&str>, spec: &str) -> Result<String, ResolveError> {
    if spec.contains('\0') {
        return Err(ResolveError::Invalid);
    }
    let relative = spec.starts_with("./") || spec.starts_with("../") || spec.starts_with('/');
    if relative {
        let (ns, dir) = match importer.and_then(split_name) {
            Some((ns, path)) if valid_namespace(ns) => {
                (ns, path.rsplit_once('/').map_or("", |(d, _)| d))
            }
            _ => (DEFAULT_NAMESPACE, ""),
        };
        let base = if spec.starts_with('/') { "" } else { dir };
        return join(ns, base, spec);
    }
    match split_name(spec) {
        Some((HOST_NAMESPACE, name)) if !name.is_empty() => Ok(String::from(spec)),
        Some((ns, path)) if valid_namespace(ns) => join(ns, "", path),
        _ => Err(ResolveError::Bare),
    }
}

/// `<ns>:` + the normalized concatenation of `base` (already normalized)
/// and `rel`.
fn join(ns: &str, base: &str, rel: &str) -> Result<String, ResolveError> {
    let mut segs: Vec<&str> = base.split('/').filter(|s| !s.is_empty()).collect();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if segs.pop().is_none() {
                    return Err(ResolveError::Escapes);
                }
            }
            s => segs.push(s),
        }
    }
    if segs.is_empty() {
        return Err(ResolveError::Invalid);
    }
    let mut out = String::with_capacity(ns.len() + 1 + rel.len() + base.len());
    out.push_str(ns);
    out.push(':');
    for (i, s) in segs.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_specifiers_resolve_against_the_importer() {
        let lib = Some("user:lib/util/a.js");
        assert_eq!(resolve(lib, "./b.js").unwrap(), "user:lib/util/b.js");
        assert_eq!(resolve(lib, "../x.js").unwrap(), "user:lib/x.js");
        assert_eq!(resolve(lib, "../../x.js").unwrap(), "user:x.js");
        assert_eq!(resolve(lib, "/x.js").unwrap(), "user:x.js");
        assert_eq!(
            resolve(lib, "././/c/./d.js").unwrap(),
            "user:lib/util/c/d.js"
        );
        assert_eq!(resolve(Some("app:main.js"), "./m.js").unwrap(), "app:m.js");
        assert_eq!(resolve(Some("handler/h"), "./m.js").unwrap(), "user:m.js");
        assert_eq!(resolve(None, "./dir/m.js").unwrap(), "user:dir/m.js");
    }

    #[test]
    fn escapes_and_bare_names_are_refused() {
        assert_eq!(
            resolve(Some("user:a.js"), "../x.js"),
            Err(ResolveError::Escapes)
        );
        assert_eq!(
            resolve(Some("user:lib/a.js"), "../../x.js"),
            Err(ResolveError::Escapes)
        );
        assert_eq!(resolve(None, "../x.js"), Err(ResolveError::Escapes));
        assert_eq!(resolve(None, "user:../x.js"), Err(ResolveError::Escapes));
        assert_eq!(resolve(None, "lodash"), Err(ResolveError::Bare));
        assert_eq!(resolve(None, "./a\0.js"), Err(ResolveError::Invalid));
        assert_eq!(resolve(None, "./"), Err(ResolveError::Invalid));
        assert_eq!(resolve(None, "user:"), Err(ResolveError::Invalid));
    }

    #[test]
    fn names_are_normalized_and_host_names_kept() {
        assert_eq!(resolve(None, "user:math").unwrap(), "user:math");
        assert_eq!(resolve(None, "user:a/../b.js").unwrap(), "user:b.js");
        assert_eq!(resolve(None, "host:fs/x").unwrap(), "host:fs/x");
        assert!(is_normalized_path("lib/x.js"));
        for bad in ["", "/x", "a//b", "a/./b", "a/../b", "..", "a\0"] {
            assert!(!is_normalized_path(bad), "{bad:?}");
        }
    }
}
