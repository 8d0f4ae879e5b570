//! Module loaders: where the guest's imports come from when a module was
//! not added by hand ([`JSSandbox::set_module_loader`](crate::JSSandbox::set_module_loader)).
//!
//! The guest resolves every specifier against the importing module
//! (`./x.js`, `../lib/x.js`, `/x.js`, `<namespace>:<path>`: see
//! `docs/modules.md`) and asks the host for a module it does not hold, with
//! one exit per module, the first time it is imported. The host checks the
//! name again (nothing the guest sends is trusted) and hands the normalized
//! path (`lib/math.js`, never with `.`, `..` or a leading `/`) to the
//! loader of that namespace.
//!
//! Two loaders come with the crate: [`FileSystemLoader`] (a directory,
//! refusing anything that resolves outside it) and [`EmbeddedModules`]
//! (files compiled into the binary, see [`embedded_modules!`](crate::embedded_modules)).
//! Any `Fn(&str) -> Result<Vec<u8>, ModuleLoadError>` is a loader too.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyperlight_abi::specifier::{is_normalized_path, split_name};

use crate::error::{Error, Result};

/// Why a module could not be loaded. The message reaches the guest (and
/// so the load error or the rejected `import()`), so it never contains a
/// host path outside the loader's root.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModuleLoadError {
    /// No module at that path.
    #[error("no such module")]
    NotFound,
    /// The path resolves outside the loader's root (a symbolic link out of
    /// it), or names something that is not a regular file.
    #[error("refused: {0}")]
    Refused(&'static str),
    /// The module is larger than the loader's limit.
    #[error("the module is {size} bytes, more than the {limit} bytes allowed")]
    TooLarge {
        /// The module's size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// Reading failed.
    #[error("cannot be read: {0}")]
    Io(#[source] std::io::Error),
    /// A custom loader's own reason.
    #[error("{0}")]
    Other(String),
}

/// A source of modules for one namespace. `path` is a normalized module
/// path relative to the namespace's root (`lib/math.js`): `/`-separated,
/// no empty, `.` or `..` segment, no leading `/`, no NUL. Returns the
/// module's bytes (UTF-8 JavaScript, JSON or text; anything for a `bytes`
/// import).
///
/// Called on the thread that runs the guest, while the guest waits: a
/// loader that blocks holds up that sandbox (and counts against its
/// monitors).
pub trait ModuleLoader: Send + Sync {
    /// The bytes of the module at `path`.
    fn load(&self, path: &str) -> std::result::Result<Vec<u8>, ModuleLoadError>;
}

impl<F> ModuleLoader for F
where
    F: Fn(&str) -> std::result::Result<Vec<u8>, ModuleLoadError> + Send + Sync,
{
    fn load(&self, path: &str) -> std::result::Result<Vec<u8>, ModuleLoadError> {
        self(path)
    }
}

/// Largest module a [`FileSystemLoader`] reads by default: 16 MiB (a
/// module must also fit the sandbox's input buffer).
pub const DEFAULT_MAX_MODULE_SIZE: u64 = 16 << 20;

/// Modules from a directory. A path that resolves outside the directory —
/// through `..` (refused before the loader sees it) or a symbolic link
/// pointing out of it — is refused, as is anything but a regular file.
///
/// On Linux the file is opened with `openat2(RESOLVE_BENEATH)` relative to
/// the directory opened once at construction, so the check and the open
/// are one atomic step (a symbolic link swapped in meanwhile cannot
/// escape); symbolic links that stay inside the directory are followed.
/// Where `openat2` is unavailable (kernels before 5.6, seccomp filters) the
/// loader falls back to resolving the path (`canonicalize`) and checking
/// that it stays under the directory, then opening it with `O_NOFOLLOW`.
#[derive(Debug)]
pub struct FileSystemLoader {
    root: PathBuf,
    dir: OwnedFd,
    max_size: u64,
}

impl FileSystemLoader {
    /// A loader rooted at `root`, which must be a readable directory.
    /// Errors: [`Error::InvalidArgument`] naming the directory and the
    /// reason.
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        let canonical = root
            .canonicalize()
            .map_err(|e| Error::invalid(format!("module directory {}: {e}", root.display())))?;
        let c = CString::new(canonical.as_os_str().as_encoded_bytes()).map_err(|_| {
            Error::invalid(format!(
                "module directory {}: the path contains a NUL byte",
                root.display()
            ))
        })?;
        // SAFETY: `c` is a NUL-terminated path; the returned descriptor is
        // owned by the OwnedFd below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(Error::invalid(format!(
                "module directory {}: {}",
                root.display(),
                std::io::Error::last_os_error()
            )));
        }
        Ok(Self {
            root: canonical,
            // SAFETY: `fd` is a fresh descriptor nothing else owns.
            dir: unsafe { OwnedFd::from_raw_fd(fd) },
            max_size: DEFAULT_MAX_MODULE_SIZE,
        })
    }

    /// Sets the largest module read, in bytes (default
    /// [`DEFAULT_MAX_MODULE_SIZE`]).
    pub fn with_max_module_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// The directory, resolved (`canonicalize`d).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn open(&self, path: &str) -> std::result::Result<std::fs::File, ModuleLoadError> {
        use std::os::fd::AsRawFd;
        let c = CString::new(path).map_err(|_| ModuleLoadError::NotFound)?;
        // SAFETY: `open_how` is plain integers; all zero is its default.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (libc::O_RDONLY | libc::O_CLOEXEC) as u64;
        how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
        // SAFETY: openat2 with a valid directory descriptor, a
        // NUL-terminated path and a properly sized `open_how`; a returned
        // descriptor is owned by the File below.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                self.dir.as_raw_fd(),
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: a fresh descriptor nothing else owns.
            return Ok(unsafe { std::fs::File::from_raw_fd(fd as i32) });
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => Err(ModuleLoadError::NotFound),
            Some(libc::EXDEV) | Some(libc::ELOOP) => Err(ModuleLoadError::Refused(
                "the path resolves outside the module directory",
            )),
            Some(libc::ENOSYS) | Some(libc::EPERM) => self.open_fallback(path),
            _ => Err(ModuleLoadError::Io(err)),
        }
    }

    /// Without `openat2`: resolve, check, then open without following a
    /// final symbolic link.
    fn open_fallback(&self, path: &str) -> std::result::Result<std::fs::File, ModuleLoadError> {
        use std::os::unix::fs::OpenOptionsExt;
        let resolved = match self.root.join(path).canonicalize() {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ModuleLoadError::NotFound)
            }
            Err(e) => return Err(ModuleLoadError::Io(e)),
        };
        if !resolved.starts_with(&self.root) {
            return Err(ModuleLoadError::Refused(
                "the path resolves outside the module directory",
            ));
        }
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&resolved)
            .map_err(ModuleLoadError::Io)
    }
}

impl ModuleLoader for FileSystemLoader {
    fn load(&self, path: &str) -> std::result::Result<Vec<u8>, ModuleLoadError> {
        if !is_normalized_path(path) {
            return Err(ModuleLoadError::Refused("not a normalized module path"));
        }
        let file = self.open(path)?;
        let meta = file.metadata().map_err(ModuleLoadError::Io)?;
        if !meta.is_file() {
            return Err(ModuleLoadError::Refused("not a regular file"));
        }
        if meta.len() > self.max_size {
            return Err(ModuleLoadError::TooLarge {
                size: meta.len(),
                limit: self.max_size,
            });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        // One byte more than the limit tells a file that grew meanwhile.
        file.take(self.max_size + 1)
            .read_to_end(&mut bytes)
            .map_err(ModuleLoadError::Io)?;
        if bytes.len() as u64 > self.max_size {
            return Err(ModuleLoadError::TooLarge {
                size: bytes.len() as u64,
                limit: self.max_size,
            });
        }
        Ok(bytes)
    }
}

/// Modules compiled into the binary: a map from module path (`lib/math.js`)
/// to bytes. Build one with [`embedded_modules!`](crate::embedded_modules)
/// (which uses `include_bytes!`) or [`EmbeddedModules::new`].
#[derive(Clone, Debug, Default)]
pub struct EmbeddedModules {
    files: BTreeMap<String, &'static [u8]>,
}

impl EmbeddedModules {
    /// From `(path, bytes)` pairs. Each path is normalized the way an
    /// import is (`./lib/../x.js` → `x.js`); a path that climbs out of the
    /// root, is empty, or appears twice is an [`Error::InvalidArgument`].
    pub fn new(files: impl IntoIterator<Item = (&'static str, &'static [u8])>) -> Result<Self> {
        let mut map = BTreeMap::new();
        for (path, bytes) in files {
            let name = hyperlight_abi::specifier::resolve(None, &format!("/{path}"))
                .map_err(|e| Error::invalid(format!("embedded module path {path:?} {e}")))?;
            let normalized = name
                .split_once(':')
                .map(|(_, p)| p.to_string())
                .unwrap_or_default();
            if map.insert(normalized.clone(), bytes).is_some() {
                return Err(Error::invalid(format!(
                    "embedded module {normalized:?} is listed twice"
                )));
            }
        }
        Ok(Self { files: map })
    }

    /// The embedded paths, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }
}

impl ModuleLoader for EmbeddedModules {
    fn load(&self, path: &str) -> std::result::Result<Vec<u8>, ModuleLoadError> {
        self.files
            .get(path)
            .map(|b| b.to_vec())
            .ok_or(ModuleLoadError::NotFound)
    }
}

/// Builds an [`EmbeddedModules`] from files read at compile time, each
/// given as `"module/path.js" => "file path"` where the file path is
/// relative to the current source file, as for `include_bytes!`. Panics
/// (when the expression runs) on a module path that is invalid or listed
/// twice, which a test of the program catches.
///
/// ```
/// let modules = hyperlight_js::embedded_modules! {
///     "math.js" => "../tests/fixtures/modules/math.js",
///     "lib/format.js" => "../tests/fixtures/modules/lib/format.js",
/// };
/// assert_eq!(modules.paths().collect::<Vec<_>>(), ["lib/format.js", "math.js"]);
/// ```
#[macro_export]
macro_rules! embedded_modules {
    ($($path:literal => $file:literal),* $(,)?) => {
        $crate::EmbeddedModules::new([
            $(($path, &include_bytes!($file)[..]),)*
        ])
        .expect("embedded_modules!: invalid module list")
    };
}

/// What the host serves to the guest's `HC_LOAD_MODULE` requests: the
/// loaders by namespace, and the sources of the modules added by hand
/// (the guest drops its copy once a module is compiled; an import of the
/// same module with another `type` asks for it again).
#[derive(Clone, Default)]
pub(crate) struct ModuleSources {
    pub(crate) loaders: BTreeMap<String, Arc<dyn ModuleLoader>>,
    pub(crate) added: Arc<BTreeMap<(String, String), String>>,
}

impl ModuleSources {
    /// The answer to a load request for the module named `name`.
    pub(crate) fn load(&self, name: &str) -> std::result::Result<Vec<u8>, String> {
        let Some((ns, path)) = split_name(name) else {
            return Err("not a module name".into());
        };
        if let Some(src) = self.added.get(&(ns.to_string(), path.to_string())) {
            return Ok(src.as_bytes().to_vec());
        }
        if !is_normalized_path(path) {
            return Err("not a normalized module path".into());
        }
        match self.loaders.get(ns) {
            Some(loader) => loader.load(path).map_err(|e| e.to_string()),
            None if self.loaders.is_empty() => Err(
                "it is not added and no module loader is set (JSSandbox::set_module_loader)"
                    .to_string(),
            ),
            None => Err(format!(
                "it is not added and no module loader serves the namespace '{ns}'"
            )),
        }
    }
}
