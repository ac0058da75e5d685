//! Loads a transport plugin safely.
//!
//! `dlopen` runs a library's initialisers with the host's privileges before any check could
//! look at it, and it maps the file as it finds it then. So the file is opened once, copied
//! into a sealed memfd, and everything after that looks at the copy, the very bytes `dlopen`
//! gets:
//!
//! 1. `path`: the path canonicalizes (absolute, links resolved) and opens, once, as a regular
//!    file;
//! 2. `permissions`: the opened file is not writable by group or others and is owned by root or
//!    the current user, nor is any folder above it (unless `allow_insecure_permissions`);
//! 3. `sealed copy`: the open file is copied into a memfd sealed against write, grow, shrink
//!    and unseal (Linux);
//! 4. `sha256`: the copy's hash matches the configured pin, if any;
//! 5. `elf`: the copy is a complete ELF shared library for this machine (class, byte order,
//!    machine, ET_DYN, every segment and section inside the file);
//! 6. `root symbol`: its dynamic symbol table exports abi_stable's root module;
//! 7. `dlopen`: only now, `dlopen("/proc/self/fd/N", RTLD_NOW)` of the copy;
//! 8. `layout check`: the plugin's header keeps abi_stable's layout check on;
//! 9. `abi`: abi_stable checks the root module's version and layout against this host's;
//! 10. `api version`: our own interface version check on the plugin's metadata.
//!
//! A plugin that passed them all gets this process's log channel (interface 1.4, see
//! `log.rs`), before any of its constructors runs.
//!
//! So a file that is not a plugin never runs a constructor, a file cut short never reaches
//! `dlopen` (which would die of SIGBUS on it), and a file swapped at the path after it was
//! opened is never what gets loaded: the pin covers what is loaded.
//!
//! Libraries are never unloaded (abi_stable's rule). Each load of a new file is a new copy, so
//! a copy whose sha256 was already loaded in this process reuses that library instead of
//! mapping the same code again. We deliberately avoid `RootModule::load_from_file`, which
//! caches one module per type and would silently hand back the first plugin for any later path.

use std::{
    collections::BTreeMap,
    fmt,
    fs::File,
    path::{Path, PathBuf},
    sync::Mutex,
};

use abi_stable::library::{LibHeader, LibraryError, ROOT_MODULE_LOADER_NAME};
use apify_plugin_api::{
    abi::{history, module::PluginMetadata, root::PluginModRef},
    Capabilities, API_MAJOR, API_MINOR,
};
use sha2::{Digest, Sha256};

use super::elf::{self, ElfRefusal};
use super::image::{DlopenError, SealedImage, MAX_PLUGIN_SIZE};

/// Options that relax or tighten the checks (from the `[transport]` config table).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PluginLoadOptions {
    /// Expected sha256 of the file, hex.
    pub sha256: Option<String>,
    /// Skip the ownership and permission check.
    pub allow_insecure_permissions: bool,
    /// Where the plugin's code runs: in this process (the default) or in a confined worker.
    pub isolation: Isolation,
    /// The worker program for [`Isolation::Process`]; found next to this
    /// program or on `PATH` when unset (see [`crate::transport::IsolatedTransport::start`]).
    pub worker: Option<PathBuf>,
}

impl PluginLoadOptions {
    /// Requires the file's sha256 (hex) to be `sha256`, checked before the file is loaded.
    pub fn sha256(mut self, sha256: impl Into<String>) -> Self {
        self.sha256 = Some(sha256.into());
        self
    }

    /// Loads the plugin even if group or others can write it or a stranger owns it.
    pub fn allow_insecure_permissions(mut self, allow: bool) -> Self {
        self.allow_insecure_permissions = allow;
        self
    }

    /// Runs the plugin in this process or in a confined worker process.
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// The worker program to run an isolated plugin with.
    pub fn worker(mut self, worker: impl Into<PathBuf>) -> Self {
        self.worker = Some(worker.into());
        self
    }
}

/// Where a plugin's code runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Isolation {
    /// In the host's process (`dlopen` here): the fastest, and a crash in the plugin is the
    /// host's crash.
    #[default]
    InProcess,
    /// In a confined worker process (`apify-transport-worker`): a crash fails only the calls
    /// in flight, which are sent once more on a fresh worker, and the plugin can read none of
    /// the host's files.
    Process,
}

impl Isolation {
    /// The config's word for it: `"in-process"` or `"process"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::InProcess => "in-process",
            Isolation::Process => "process",
        }
    }
}

impl std::str::FromStr for Isolation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "in-process" | "none" => Ok(Isolation::InProcess),
            "process" => Ok(Isolation::Process),
            other => Err(format!(
                "isolation = {other:?} is not known: use \"process\" (a confined worker process) \
                 or \"in-process\" (the default)"
            )),
        }
    }
}

/// Which check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PluginLoadFailure {
    /// No file at the path.
    NotFound,
    /// The path is a directory or another non-regular file.
    NotAFile,
    /// Writable by group/others, or owned by someone else.
    InsecurePermissions,
    /// Not an ELF shared object.
    NotASharedLibrary,
    /// An ELF shared object for another architecture, word size or byte order.
    WrongPlatform,
    /// Cut short or inconsistent: a header points past the end of the file.
    CorruptFile,
    /// The sha256 pin does not match.
    ChecksumMismatch,
    /// A shared library without our root module.
    NotAPlugin,
    /// Built against another major of the interface.
    IncompatibleApiVersion,
    /// Built against a changed interface (layout check failed).
    LayoutMismatch,
    /// The plugin's header turns abi_stable's layout check off.
    LayoutCheckDisabled,
    /// `dlopen` or another abi_stable step failed.
    LoadFailed,
    /// The plugin's constructor returned an error.
    ConstructorFailed,
    /// The plugin's constructor panicked.
    ConstructorPanicked,
}

/// A plugin that could not be loaded: names the path, the reason and the fix.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PluginLoadError {
    /// The path as given.
    pub path: PathBuf,
    /// Which check failed.
    pub failure: PluginLoadFailure,
    /// Why, in a sentence.
    pub reason: String,
    /// What to do about it.
    pub fix: String,
}

impl fmt::Display for PluginLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot load transport plugin {}: {}. {}",
            self.path.display(),
            self.reason,
            self.fix
        )
    }
}

impl std::error::Error for PluginLoadError {}

pub(crate) fn fail(
    path: &Path,
    failure: PluginLoadFailure,
    reason: impl Into<String>,
    fix: impl Into<String>,
) -> PluginLoadError {
    PluginLoadError {
        path: path.to_path_buf(),
        failure,
        reason: reason.into(),
        fix: fix.into(),
    }
}

/// The outcome of one check, for `apify-host transport inspect`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PluginCheck {
    /// Short name of the check.
    pub check: &'static str,
    /// `Ok(detail)` or the error.
    pub result: Result<String, PluginLoadError>,
}

/// A plugin whose checks passed: its module and metadata. Creating clients is
/// [`LoadedPlugin::new_client`].
#[derive(Clone)]
#[non_exhaustive]
pub struct LoadedPlugin {
    /// The canonical path.
    pub path: PathBuf,
    /// The file's sha256, hex.
    pub sha256: String,
    /// What the plugin says about itself.
    pub metadata: PluginInfo,
    pub(super) module: PluginModRef,
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("path", &self.path)
            .field("sha256", &self.sha256)
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// Plugin metadata in plain Rust types.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PluginInfo {
    /// Short name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// One line on what it is.
    pub description: String,
    /// Interface version it was built against.
    pub api_major: u16,
    /// Interface minor it was built against.
    pub api_minor: u16,
    /// What it supports.
    pub capabilities: Capabilities,
    /// JSON diagnostics (interface 1.1+); `None` for older plugins.
    pub diagnostics: Option<String>,
}

impl PluginInfo {
    fn from_ffi(m: PluginMetadata, diagnostics: Option<String>) -> Self {
        PluginInfo {
            name: m.name.into_string(),
            version: m.version.into_string(),
            description: m.description.into_string(),
            api_major: m.api_major,
            api_minor: m.api_minor,
            capabilities: m.capabilities,
            diagnostics,
        }
    }
}

/// Runs every check in order and loads the plugin; the first failure is returned.
pub fn load_plugin(
    path: &Path,
    options: &PluginLoadOptions,
) -> Result<LoadedPlugin, PluginLoadError> {
    let mut report = Vec::new();
    run_checks(path, options, &mut report)
}

/// Runs the checks like [`load_plugin`] and records the outcome of each, for `transport inspect`.
pub(crate) fn run_all_checks(
    path: &Path,
    options: &PluginLoadOptions,
) -> (Vec<PluginCheck>, Option<LoadedPlugin>) {
    let mut report = Vec::new();
    let loaded = run_checks(path, options, &mut report).ok();
    (report, loaded)
}

fn record<T>(
    report: &mut Vec<PluginCheck>,
    check: &'static str,
    r: Result<(T, String), PluginLoadError>,
) -> Result<T, PluginLoadError> {
    match r {
        Ok((v, detail)) => {
            report.push(PluginCheck {
                check,
                result: Ok(detail),
            });
            Ok(v)
        }
        Err(e) => {
            report.push(PluginCheck {
                check,
                result: Err(e.clone()),
            });
            Err(e)
        }
    }
}

fn run_checks(
    path: &Path,
    options: &PluginLoadOptions,
    report: &mut Vec<PluginCheck>,
) -> Result<LoadedPlugin, PluginLoadError> {
    let file = run_file_checks(path, options, report)?;
    run_load_checks(path, file, report)
}

/// A plugin file that passed every check that does not run its code.
pub(crate) struct CheckedFile {
    /// The canonical path.
    pub canonical: PathBuf,
    /// The sha256 of the sealed copy.
    pub sha256: String,
    /// The sealed copy.
    pub image: SealedImage,
}

/// The checks before the plugin's code could run: path, permissions, the sealed copy, sha256,
/// ELF and the root symbol. An isolated plugin's host stops here and hands the copy on.
pub(crate) fn run_file_checks(
    path: &Path,
    options: &PluginLoadOptions,
    report: &mut Vec<PluginCheck>,
) -> Result<CheckedFile, PluginLoadError> {
    let (canonical, mut file) = record(report, "path", check_path(path))?;
    record(
        report,
        "permissions",
        check_permissions(path, &canonical, &file, options),
    )?;
    let image = record(
        report,
        "sealed copy",
        check_copy(path, &canonical, &mut file),
    )?;
    // From here on nothing reads the path or the file again: only the sealed copy.
    drop(file);
    let sha256 = record(report, "sha256", check_sha256(path, image.bytes(), options))?;
    check_image(path, &image, report)?;
    Ok(CheckedFile {
        canonical,
        sha256,
        image,
    })
}

/// The ELF and root-symbol checks of a sealed copy.
fn check_image(
    path: &Path,
    image: &SealedImage,
    report: &mut Vec<PluginCheck>,
) -> Result<(), PluginLoadError> {
    record(report, "elf", check_elf(path, image.bytes()))?;
    record(
        report,
        "root symbol",
        check_root_symbol(path, image.bytes()),
    )
}

/// The checks that run the plugin's code: `dlopen`, the layout check, abi_stable's check and
/// our interface version.
fn run_load_checks(
    path: &Path,
    file: CheckedFile,
    report: &mut Vec<PluginCheck>,
) -> Result<LoadedPlugin, PluginLoadError> {
    let CheckedFile {
        canonical,
        sha256,
        image,
    } = file;
    let header = record(report, "dlopen", check_dlopen(path, image, &sha256))?;
    record(report, "layout check", check_layout_enabled(path, header))?;
    let module = record(report, "abi", check_abi(path, header))?;
    let metadata = record(report, "api version", check_api_version(path, module))?;
    // Field added in 1.4: absent (None) in older plugins, which print on stderr themselves.
    if let Some(set_host_log) = module.set_host_log() {
        set_host_log(super::log::channel_for(&metadata.name));
    }
    Ok(LoadedPlugin {
        path: canonical,
        sha256,
        metadata,
        module,
    })
}

/// The worker's load: the sealed copy the host checked, inherited as `fd`, checked again here
/// (its seals, its sha256 against the host's, its ELF and root symbol), then loaded. `path` is
/// only for messages: the worker never opens it.
#[cfg(target_os = "linux")]
pub(crate) fn load_inherited(
    path: &Path,
    fd: std::os::fd::OwnedFd,
    sha256: &str,
    report: &mut Vec<PluginCheck>,
) -> Result<LoadedPlugin, PluginLoadError> {
    let inherited = SealedImage::from_inherited(fd)
        .map_err(|e| {
            fail(
                path,
                PluginLoadFailure::LoadFailed,
                format!("the sealed copy the host passed is not usable ({e})"),
                "Start apify-transport-worker only through apify-host's `isolation = \"process\"`",
            )
        })
        .map(|image| {
            let detail = format!(
                "{} bytes inherited from the host, every seal confirmed",
                image.bytes().len()
            );
            (image, detail)
        });
    let image = record(report, "sealed copy", inherited)?;
    let pin = PluginLoadOptions::default().sha256(sha256);
    let sha256 = record(report, "sha256", check_sha256(path, image.bytes(), &pin))?;
    check_image(path, &image, report)?;
    run_load_checks(
        path,
        CheckedFile {
            canonical: path.to_path_buf(),
            sha256,
            image,
        },
        report,
    )
}

/// The worker program's checks: a regular file, held to the plugin's permission rule (it runs
/// with this process's rights).
pub(crate) fn check_program(
    path: &Path,
    options: &PluginLoadOptions,
) -> Result<(), PluginLoadError> {
    let (canonical, file) = check_path(path)?.0;
    check_permissions(path, &canonical, &file, options).map(|_| ())
}

const FIX_PATH: &str =
    "Check `plugin` under [transport] in the config, APIFY_TRANSPORT_PLUGIN or --transport-plugin";

/// Resolves the path and opens it, the only time the loader opens it.
fn check_path(path: &Path) -> Result<((PathBuf, File), String), PluginLoadError> {
    let canonical = std::fs::canonicalize(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            fail(path, PluginLoadFailure::NotFound, "no such file", FIX_PATH)
        } else {
            fail(
                path,
                PluginLoadFailure::NotFound,
                format!("the path cannot be resolved ({e})"),
                FIX_PATH,
            )
        }
    })?;
    let file = open_once(&canonical).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => fail(
            path,
            PluginLoadFailure::InsecurePermissions,
            "it was replaced by a symbolic link while it was being opened",
            "Find out who is changing the plugin's folder; point the config at the real file",
        ),
        Some(libc::ENXIO) => fail(
            path,
            PluginLoadFailure::NotAFile,
            "it is not a regular file (a socket or a device)",
            "Point to the plugin's .so file",
        ),
        _ if e.kind() == std::io::ErrorKind::NotFound => {
            fail(path, PluginLoadFailure::NotFound, "no such file", FIX_PATH)
        }
        _ => fail(
            path,
            PluginLoadFailure::NotFound,
            format!("cannot open the file ({e})"),
            "Check that the current user can read it",
        ),
    })?;
    // fstat of what was opened, not stat of the path: the path may point elsewhere by now.
    let meta = file.metadata().map_err(|e| {
        fail(
            path,
            PluginLoadFailure::NotFound,
            format!("cannot stat the file ({e})"),
            FIX_PATH,
        )
    })?;
    if meta.is_dir() {
        return Err(fail(
            path,
            PluginLoadFailure::NotAFile,
            "it is a directory, not a shared library",
            "Point to the plugin's .so file inside it, e.g. .../libapify_transport_reqwest.so",
        ));
    }
    if !meta.is_file() {
        return Err(fail(
            path,
            PluginLoadFailure::NotAFile,
            "it is not a regular file",
            "Point to the plugin's .so file",
        ));
    }
    let detail = format!(
        "{} is a regular file ({} bytes), opened once",
        canonical.display(),
        meta.len()
    );
    Ok(((canonical, file), detail))
}

#[cfg(unix)]
fn open_once(canonical: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        // NOFOLLOW: the path was resolved, so a link here is a swap. NONBLOCK: a FIFO swapped in
        // would block the open forever; it is refused as not a regular file instead.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(canonical)
}

#[cfg(not(unix))]
fn open_once(canonical: &Path) -> std::io::Result<File> {
    File::open(canonical)
}

/// Why a plugin of one's own build is writable by group or others, and how to keep it from
/// being so: cargo writes its output anew on every build, with the mode the umask gives.
#[cfg(unix)]
const DEV_BUILD_UMASK: &str = "a build under umask 002 leaves its output and folders \
     group-writable; `umask 022` before building prevents it";

/// A folder above a plugin that another user could swap the plugin in.
#[cfg(unix)]
struct UnsafeFolder<'a> {
    dir: &'a Path,
    mode: u32,
    owner: u32,
    writable_by_others: bool,
}

#[cfg(unix)]
fn check_permissions(
    path: &Path,
    canonical: &Path,
    file: &File,
    options: &PluginLoadOptions,
) -> Result<((), String), PluginLoadError> {
    use std::os::unix::fs::MetadataExt;
    // The file's own mode and owner from the open fd, i.e. of the bytes that will be copied.
    let meta = file.metadata().map_err(|e| {
        fail(
            path,
            PluginLoadFailure::NotFound,
            format!("cannot stat the file ({e})"),
            FIX_PATH,
        )
    })?;
    let mode = meta.mode() & 0o777;
    let uid = meta.uid();
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let relax =
        "or, if you accept the risk, set `allow_insecure_permissions = true` under [transport]";
    if options.allow_insecure_permissions {
        return Ok((
            (),
            format!(
                "mode {mode:03o}, owner uid {uid}: not checked (allow_insecure_permissions = true)"
            ),
        ));
    }
    // Whoever can write a folder on the way can swap the file for another one.
    let folders: Vec<UnsafeFolder> = canonical
        .ancestors()
        .skip(1)
        .filter_map(|dir| {
            let m = std::fs::metadata(dir).ok()?;
            let mode = m.mode() & 0o7777;
            let sticky = mode & 0o1000 != 0; // e.g. /tmp: others cannot replace our file
            let writable_by_others = mode & 0o022 != 0 && !sticky;
            (writable_by_others || (m.uid() != 0 && m.uid() != me)).then_some(UnsafeFolder {
                dir,
                mode: mode & 0o777,
                owner: m.uid(),
                writable_by_others,
            })
        })
        .collect();
    // `chmod go-w` is the fix when it is enough and the current user's to run: every folder at
    // fault is theirs and only too open, as a dev build's `target/release` and `target` are
    // under umask 002. The command names the file (if it is at fault too) and every such
    // folder, so that one command clears the whole check rather than one refusal at a time.
    let chmod_is_enough = folders
        .iter()
        .all(|f| f.writable_by_others && f.owner == me);
    let chmod = |file: Option<&Path>| {
        let paths: Vec<String> = file
            .into_iter()
            .chain(folders.iter().map(|f| f.dir))
            .map(|p| p.display().to_string())
            .collect();
        format!("Run `chmod go-w {}` ({DEV_BUILD_UMASK})", paths.join(" "))
    };
    if mode & 0o022 != 0 {
        let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
            (true, true) => "group and others",
            (true, false) => "its group",
            _ => "others",
        };
        let file = Some(canonical);
        return Err(fail(
            path,
            PluginLoadFailure::InsecurePermissions,
            format!("it is writable by {who} (mode {mode:03o}), so another user could replace the code this process runs"),
            if chmod_is_enough {
                format!("{}, {relax}", chmod(file))
            } else {
                // The folders need another place; the file's own mode is fixed all the same.
                format!(
                    "Run `chmod go-w {}` and install it in a folder only root or you can write, \
                     {relax}",
                    canonical.display()
                )
            },
        ));
    }
    if uid != 0 && uid != me {
        return Err(fail(
            path,
            PluginLoadFailure::InsecurePermissions,
            format!("it is owned by uid {uid}, neither root nor the current user (uid {me})"),
            format!(
                "Run `chown root {}` or install it as the current user, {relax}",
                canonical.display()
            ),
        ));
    }
    if let Some(first) = folders.first() {
        let elsewhere = "install the plugin in a folder only root or you can write";
        return Err(fail(
            path,
            PluginLoadFailure::InsecurePermissions,
            format!(
                "its folder {} is {} (mode {:03o}, owner uid {}), so another user could replace the plugin",
                first.dir.display(),
                if first.writable_by_others { "writable by group or others" } else { "owned by another user" },
                first.mode,
                first.owner,
            ),
            if chmod_is_enough {
                format!("{}, or {elsewhere}, {relax}", chmod(None))
            } else {
                format!("Install the plugin in a folder only root or you can write, {relax}")
            },
        ));
    }
    Ok((
        (),
        format!("mode {mode:03o}, owner uid {uid}, folders not writable by others: ok"),
    ))
}

#[cfg(not(unix))]
fn check_permissions(
    _: &Path,
    _: &Path,
    _: &File,
    _: &PluginLoadOptions,
) -> Result<((), String), PluginLoadError> {
    Ok(((), "not checked on this platform".into()))
}

/// Copies the opened file into a sealed memfd: the one copy that is hashed, parsed and loaded.
#[cfg(target_os = "linux")]
fn check_copy(
    path: &Path,
    canonical: &Path,
    file: &mut File,
) -> Result<(SealedImage, String), PluginLoadError> {
    let image = SealedImage::copy_from(file, canonical).map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            return fail(
                path,
                PluginLoadFailure::NotASharedLibrary,
                format!(
                    "it is larger than {} MiB, far more than any plugin",
                    MAX_PLUGIN_SIZE >> 20
                ),
                "Point to the plugin's .so file",
            );
        }
        fail(
            path,
            PluginLoadFailure::LoadFailed,
            format!("cannot copy it into a sealed memory file ({e})"),
            "Check that the file is readable and that the system has memory for a copy of it",
        )
    })?;
    if !image.is_sealed() {
        return Err(fail(
            path,
            PluginLoadFailure::LoadFailed,
            "the kernel did not seal the memory copy",
            "Run on Linux 5.1 or newer, where memfd sealing (with F_SEAL_FUTURE_WRITE) exists",
        ));
    }
    let detail = format!(
        "{} bytes copied in {:.1} ms into a memfd sealed against write, grow, shrink and unseal; \
         every later check and dlopen read this copy",
        image.bytes().len(),
        image.copy_time.as_secs_f64() * 1e3
    );
    Ok((image, detail))
}

/// Elsewhere there is no sealed memfd to load from, and loading by path again would reopen the
/// race this loader closes: refuse rather than pretend.
#[cfg(not(target_os = "linux"))]
fn check_copy(
    path: &Path,
    _: &Path,
    _: &mut File,
) -> Result<(SealedImage, String), PluginLoadError> {
    Err(fail(
        path,
        PluginLoadFailure::LoadFailed,
        "plugins load only on Linux (the loader needs a sealed memfd)",
        "Use the built-in transport on this platform",
    ))
}

fn check_sha256(
    path: &Path,
    bytes: &[u8],
    options: &PluginLoadOptions,
) -> Result<(String, String), PluginLoadError> {
    let actual = hex::encode(Sha256::digest(bytes));
    match &options.sha256 {
        None => Ok((actual.clone(), format!("{actual} (no pin configured)"))),
        Some(expected) if expected.trim().eq_ignore_ascii_case(&actual) => Ok((
            actual.clone(),
            format!("{actual} matches the pin (of the sealed copy that is loaded)"),
        )),
        Some(expected) => Err(fail(
            path,
            PluginLoadFailure::ChecksumMismatch,
            format!("its sha256 is {actual} but the config pins {}", expected.trim()),
            "If you installed a new plugin on purpose, update `sha256` under [transport]; otherwise find out who replaced the file",
        )),
    }
}

const FIX_BUILD: &str =
    "Point to the .so that `cargo build` produced for the plugin crate (crate-type = [\"cdylib\"])";

fn elf_refusal(path: &Path, refusal: ElfRefusal) -> PluginLoadError {
    match refusal {
        ElfRefusal::NotElf => fail(
            path,
            PluginLoadFailure::NotASharedLibrary,
            "it is not a shared library (no ELF header)",
            FIX_BUILD,
        ),
        ElfRefusal::NotSharedObject(why) => {
            fail(path, PluginLoadFailure::NotASharedLibrary, why, FIX_BUILD)
        }
        ElfRefusal::WrongPlatform(why) => fail(
            path,
            PluginLoadFailure::WrongPlatform,
            why,
            format!(
                "Build the plugin for this machine (`cargo build --release` here, or `--target {}-unknown-linux-gnu`)",
                std::env::consts::ARCH
            ),
        ),
        ElfRefusal::Corrupt(why) => fail(
            path,
            PluginLoadFailure::CorruptFile,
            why,
            "Copy or build the plugin again (an interrupted copy or a full disk leaves such files) and check free space",
        ),
        ElfRefusal::NoRootModule(why) => fail(
            path,
            PluginLoadFailure::NotAPlugin,
            why,
            "Point to a plugin built with `apify_plugin_api::export_plugin!`",
        ),
    }
}

fn check_elf(path: &Path, bytes: &[u8]) -> Result<((), String), PluginLoadError> {
    let summary = elf::parse(bytes).map_err(|r| elf_refusal(path, r))?;
    Ok((
        (),
        format!(
            "ELF{} {} {} shared object (ET_DYN); {} segments and {} sections, all inside its {} bytes",
            usize::BITS,
            if cfg!(target_endian = "little") { "little-endian" } else { "big-endian" },
            elf::HOST_MACHINE.map(elf::machine_name).unwrap_or_else(|| "(machine not checked)".into()),
            summary.segments,
            summary.sections,
            bytes.len()
        ),
    ))
}

fn check_root_symbol(path: &Path, bytes: &[u8]) -> Result<((), String), PluginLoadError> {
    let sym =
        elf::find_root_symbol(bytes, ROOT_MODULE_LOADER_NAME).map_err(|r| elf_refusal(path, r))?;
    Ok((
        (),
        format!(
            "exports {ROOT_MODULE_LOADER_NAME} ({} bytes, abi_stable's root module header)",
            sym.size
        ),
    ))
}

/// Headers of the libraries this process loaded, by the sha256 of their sealed copy. The same
/// bytes loaded again reuse the library (as `dlopen` of the same path used to), instead of
/// mapping the same code a second time and running its constructors again.
static LOADED: Mutex<BTreeMap<String, &'static LibHeader>> = Mutex::new(BTreeMap::new());

fn check_dlopen(
    path: &Path,
    image: SealedImage,
    sha256: &str,
) -> Result<(&'static LibHeader, String), PluginLoadError> {
    // Held across dlopen, so that two threads loading the same bytes map them once.
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(header) = loaded.get(sha256) {
        return Ok((
            header,
            "the same bytes (by sha256) are already loaded in this process: reused".into(),
        ));
    }
    let header = image.dlopen().map_err(|e| match e {
        DlopenError::Io(e) => fail(
            path,
            PluginLoadFailure::LoadFailed,
            format!("cannot name the sealed copy for the dynamic loader ({e})"),
            "Check that /proc is mounted",
        ),
        DlopenError::Open(err) => fail(
            path,
            PluginLoadFailure::LoadFailed,
            format!("the dynamic loader refused it ({err})"),
            "Check that its dependencies are installed (`ldd` lists them)",
        ),
        DlopenError::NoSymbol(err) => fail(
            path,
            PluginLoadFailure::NotAPlugin,
            format!("it is a shared library but not an Apify transport plugin (the dynamic loader finds no plugin root module: {err})"),
            "Point to a plugin built with `apify_plugin_api::export_plugin!`",
        ),
        DlopenError::Abi(e) => map_library_error(path, e),
    })?;
    loaded.insert(sha256.to_string(), header);
    Ok((
        header,
        "loaded from the sealed copy (/proc/self/fd/N, RTLD_NOW)".into(),
    ))
}

/// abi_stable lets a plugin's own header switch its layout check off
/// (`CheckTypeLayout::No`, or `#[unsafe_no_layout_constant]` on `#[export_root_module]`);
/// `init_root_module` then trusts the plugin's word for every type across the boundary. The
/// host insists on the check. This runs before the root module's constructor.
fn check_layout_enabled(
    path: &Path,
    header: &'static LibHeader,
) -> Result<((), String), PluginLoadError> {
    match header.layout() {
        Some(_) => Ok(((), "the plugin's header carries its root module's layout".into())),
        None => Err(fail(
            path,
            PluginLoadFailure::LayoutCheckDisabled,
            "its header turns off abi_stable's layout check, so a changed interface could not be detected",
            "Rebuild the plugin with `apify_plugin_api::export_plugin!`, which keeps the check on",
        )),
    }
}

fn check_abi(
    path: &Path,
    header: &'static LibHeader,
) -> Result<(PluginModRef, String), PluginLoadError> {
    match header.init_root_module::<PluginModRef>() {
        Ok(module) => Ok((
            module,
            format!("root module found, layout matches interface {API_MAJOR}.{API_MINOR} or newer"),
        )),
        Err(full) => {
            // Maybe an older minor: abi_stable refuses a prefix type with fewer fields than the
            // host's, so check the plugin against the snapshots of older interfaces instead,
            // newest first.
            //
            // SAFETY (every cast): the snapshot and `PluginModRef` are `PrefixRef`s to the
            // plugin's root-module static, whose layout was just checked up to the snapshot's
            // fields. Fields after those are read only through `missing_field(option)`
            // accessors, which consult the plugin's own field list.
            if let Ok(old) = header.init_root_module::<history::v1_4::PluginModRef>() {
                let module: PluginModRef = unsafe { PluginModRef(old.0.cast()) };
                return older_minor(path, module, full, 4, module.new_driven_client().is_some());
            }
            if let Ok(old) = header.init_root_module::<history::v1_3::PluginModRef>() {
                let module: PluginModRef = unsafe { PluginModRef(old.0.cast()) };
                return older_minor(path, module, full, 3, module.set_host_log().is_some());
            }
            if let Ok(old) = header.init_root_module::<history::v1_2::PluginModRef>() {
                let module: PluginModRef = unsafe { PluginModRef(old.0.cast()) };
                return older_minor(path, module, full, 2, module.new_hosted_client().is_some());
            }
            if let Ok(old) = header.init_root_module::<history::v1_1::PluginModRef>() {
                let module: PluginModRef = unsafe { PluginModRef(old.0.cast()) };
                return older_minor(
                    path,
                    module,
                    full,
                    1,
                    module.new_streaming_client().is_some(),
                );
            }
            if let Ok(old) = header.init_root_module::<history::v1_0::PluginModRef>() {
                let module: PluginModRef = unsafe { PluginModRef(old.0.cast()) };
                return older_minor(path, module, full, 0, module.diagnostics().is_some());
            }
            Err(map_library_error(path, full))
        }
    }
}

/// The verdict on a plugin that matched the snapshot of interface `1.minor`. If it has the
/// field the next minor added (`has_next_field`), it is not an older plugin after all, and the
/// full check's refusal stands.
fn older_minor(
    path: &Path,
    module: PluginModRef,
    full_check: LibraryError,
    minor: u16,
    has_next_field: bool,
) -> Result<(PluginModRef, String), PluginLoadError> {
    if has_next_field {
        return Err(map_library_error(path, full_check));
    }
    Ok((
        module,
        format!("root module found, layout matches interface {API_MAJOR}.{minor} (an older minor)"),
    ))
}

fn check_api_version(
    path: &Path,
    module: PluginModRef,
) -> Result<(PluginInfo, String), PluginLoadError> {
    let metadata = (module.metadata())();
    // Field added in 1.1: absent (None) in plugins built against 1.0.
    let diagnostics = module.diagnostics().map(|f| f().into_string());
    let info = PluginInfo::from_ffi(metadata, diagnostics);
    if info.api_major != API_MAJOR {
        return Err(fail(
            path,
            PluginLoadFailure::IncompatibleApiVersion,
            format!(
                "it was built against plugin API {}.{}, this host speaks {API_MAJOR}.{API_MINOR}",
                info.api_major, info.api_minor
            ),
            format!("Rebuild the plugin against apify-plugin-api {API_MAJOR}.x"),
        ));
    }
    let detail = format!(
        "plugin API {}.{} (host {API_MAJOR}.{API_MINOR}){}",
        info.api_major,
        info.api_minor,
        if info.api_minor < API_MINOR {
            ": older minor, features added since are reported as absent"
        } else {
            ""
        }
    );
    Ok((info, detail))
}

/// Maps abi_stable's errors to a sentence; the ~20 KB layout report is cut to its decisive line.
fn map_library_error(path: &Path, e: LibraryError) -> PluginLoadError {
    match e {
        LibraryError::OpenError { err, .. } => fail(
            path,
            PluginLoadFailure::LoadFailed,
            format!("the dynamic loader refused it ({err})"),
            "Check that it was built for this platform and that its dependencies are installed (`ldd` lists them)",
        ),
        LibraryError::GetSymbolError { .. } => fail(
            path,
            PluginLoadFailure::NotAPlugin,
            "it is a shared library but not an Apify transport plugin (it exports no plugin root module)",
            "Point to a plugin built with `apify_plugin_api::export_plugin!`",
        ),
        LibraryError::IncompatibleVersionNumber { expected_version, actual_version, .. } => fail(
            path,
            PluginLoadFailure::IncompatibleApiVersion,
            format!(
                "it was built against plugin API {}.x, this host speaks {}.{API_MINOR}",
                actual_version.major, expected_version.major
            ),
            format!("Rebuild the plugin against apify-plugin-api {API_MAJOR}.x"),
        ),
        LibraryError::AbiInstability(report) => fail(
            path,
            PluginLoadFailure::LayoutMismatch,
            format!(
                "it was built against a changed plugin interface ({})",
                decisive_line(&report.to_string())
            ),
            format!("Rebuild the plugin against the released apify-plugin-api {API_MAJOR}.{API_MINOR}, not a modified copy"),
        ),
        LibraryError::RootModule { err, .. } => fail(
            path,
            PluginLoadFailure::LoadFailed,
            format!("its root module failed to initialise ({err})"),
            "Report this to the plugin's author",
        ),
        LibraryError::Many(errs) => match errs.into_iter().next() {
            Some(first) => map_library_error(path, first),
            None => fail(path, PluginLoadFailure::LoadFailed, "unknown load error", ""),
        },
        other => fail(
            path,
            PluginLoadFailure::LoadFailed,
            format!("abi_stable refused it ({})", decisive_line(&other.to_string())),
            "Rebuild the plugin with the same abi_stable and Rust versions as the host",
        ),
    }
}

/// What differs, from an abi_stable layout report (~3–20 KB): the path of fields to the
/// mismatch and the final `Error:` with its expected and found values, e.g.
/// `metadata → __returns → api_major: mismatched type (expected u16, found u32)`.
pub(crate) fn decisive_line(report: &str) -> String {
    let lines: Vec<&str> = report
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let Some(err_at) = lines.iter().rposition(|l| l.starts_with("Error:")) else {
        return lines
            .first()
            .map(|l| l.chars().take(300).collect())
            .unwrap_or_default();
    };
    let what = lines[err_at].trim_start_matches("Error:").trim();
    let value_after = |label: &str| {
        lines[err_at..]
            .iter()
            .position(|l| *l == label)
            .and_then(|i| lines.get(err_at + i + 1))
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    let (expected, found) = (value_after("Expected:"), value_after("Found:"));
    // The field path sits in the last "N error(s)inside:" block before the error.
    let block = lines[..err_at]
        .iter()
        .rposition(|l| l.contains("error(s)inside"))
        .unwrap_or(0);
    let path: Vec<&str> = lines[block..err_at]
        .iter()
        .take_while(|l| !l.starts_with("Layout of expected type"))
        .filter_map(|l| l.strip_prefix("field_name:"))
        .filter(|f| *f != "0")
        .collect();
    let mut s = String::new();
    if !path.is_empty() {
        s.push_str(&format!("PluginMod.{}: ", path.join(" → ")));
    }
    s.push_str(what);
    if !expected.is_empty() || !found.is_empty() {
        s.push_str(&format!(" (expected {expected}, found {found})"));
    }
    s.chars().take(300).collect()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn permissions(file: &Path) -> Result<(), PluginLoadError> {
        let opened = File::open(file).unwrap();
        check_permissions(file, file, &opened, &PluginLoadOptions::default()).map(|_| ())
    }

    /// A dev build under umask 002: the `.so` and its `target/release` and `target` folders are
    /// group-writable. The refusal names the one `chmod go-w` that clears all of them, and the
    /// umask that keeps the next build from undoing it.
    #[test]
    fn a_group_writable_dev_build_is_refused_with_the_chmod_that_fixes_it() {
        let root = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(root.path()).unwrap();
        let (target, release) = (root.join("target"), root.join("target/release"));
        std::fs::create_dir_all(&release).unwrap();
        let so = release.join("libmy_transport.so");
        std::fs::write(&so, b"not looked at by this check").unwrap();
        set_mode(&so, 0o644);
        if permissions(&so).is_err() {
            // The temporary folder itself sits below a folder others can write: nothing
            // here would pass, so there is nothing to tell apart.
            eprintln!("skipped: {} is not a safe place", root.display());
            return;
        }
        for dir in [&target, &release] {
            set_mode(dir, 0o775);
        }
        set_mode(&so, 0o775);

        let e = permissions(&so).unwrap_err();
        assert_eq!(e.failure, PluginLoadFailure::InsecurePermissions);
        assert!(e.reason.contains("writable by its group"), "{e}");
        let all = format!(
            "`chmod go-w {} {} {}`",
            so.display(),
            release.display(),
            target.display()
        );
        assert!(e.fix.contains(&all), "{e}");
        assert!(e.fix.contains("umask 022"), "{e}");
        assert!(e.fix.contains("allow_insecure_permissions"), "{e}");

        // The file fixed alone, its folders are next: one command for both.
        set_mode(&so, 0o755);
        let e = permissions(&so).unwrap_err();
        assert!(
            e.reason
                .contains(&format!("its folder {} is writable", release.display())),
            "{e}"
        );
        let folders = format!("`chmod go-w {} {}`", release.display(), target.display());
        assert!(e.fix.contains(&folders), "{e}");

        for dir in [&target, &release] {
            set_mode(dir, 0o755);
        }
        permissions(&so).expect("the chmod it named is the whole fix");
    }
}
