//! Loads a transport plugin safely.
//!
//! `dlopen` runs a library's initialisers with the host's privileges before any check could
//! look at it, so everything that can be checked on the file is checked first:
//!
//! 1. the path canonicalizes (absolute, links resolved) and is a regular file;
//! 2. it is not writable by group or others and is owned by root or the current user
//!    (unless `allow_insecure_permissions`);
//! 3. it starts with an ELF header (a text file named `.so` never reaches `dlopen`);
//! 4. its sha256 matches the configured pin, if any;
//! 5. then abi_stable: the library exports a root module, of our interface's major, whose
//!    layout matches this host's;
//! 6. our own interface version check on the plugin's metadata.
//!
//! Libraries are never unloaded (abi_stable's rule); loading the same file again reuses it.
//! We deliberately avoid `RootModule::load_from_file`, which caches one module per type and
//! would silently hand back the first plugin for any later path.

use std::{
    fmt,
    io::Read,
    path::{Path, PathBuf},
};

use abi_stable::library::{lib_header_from_path, LibraryError};
use apify_plugin_api::{
    abi::{
        history,
        module::{PluginMetadata, PluginModRef},
    },
    Capabilities, API_MAJOR, API_MINOR,
};
use sha2::{Digest, Sha256};

/// Options that relax or tighten the checks (from the `[transport]` config table).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PluginLoadOptions {
    /// Expected sha256 of the file, hex.
    pub sha256: Option<String>,
    /// Skip the ownership and permission check.
    pub allow_insecure_permissions: bool,
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
    /// The sha256 pin does not match.
    ChecksumMismatch,
    /// A shared library without our root module.
    NotAPlugin,
    /// Built against another major of the interface.
    IncompatibleApiVersion,
    /// Built against a changed interface (layout check failed).
    LayoutMismatch,
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
    let canonical = record(report, "path", check_path(path))?;
    record(
        report,
        "permissions",
        check_permissions(path, &canonical, options),
    )?;
    record(report, "file format", check_elf(path, &canonical))?;
    let sha256 = record(report, "sha256", check_sha256(path, &canonical, options))?;
    let module = record(report, "abi", check_abi(path, &canonical))?;
    let metadata = record(report, "api version", check_api_version(path, module))?;
    Ok(LoadedPlugin {
        path: canonical,
        sha256,
        metadata,
        module,
    })
}

fn check_path(path: &Path) -> Result<(PathBuf, String), PluginLoadError> {
    let fix_path = "Check `plugin` under [transport] in the config, APIFY_TRANSPORT_PLUGIN or --transport-plugin";
    let canonical = std::fs::canonicalize(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            fail(path, PluginLoadFailure::NotFound, "no such file", fix_path)
        } else {
            fail(
                path,
                PluginLoadFailure::NotFound,
                format!("the path cannot be resolved ({e})"),
                fix_path,
            )
        }
    })?;
    let meta = std::fs::metadata(&canonical).map_err(|e| {
        fail(
            path,
            PluginLoadFailure::NotFound,
            format!("cannot stat the file ({e})"),
            fix_path,
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
        "{} is a regular file ({} bytes)",
        canonical.display(),
        meta.len()
    );
    Ok((canonical, detail))
}

#[cfg(unix)]
fn check_permissions(
    path: &Path,
    canonical: &Path,
    options: &PluginLoadOptions,
) -> Result<((), String), PluginLoadError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(canonical).map_err(|e| {
        fail(
            path,
            PluginLoadFailure::NotFound,
            format!("cannot stat the file ({e})"),
            "",
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
    if mode & 0o022 != 0 {
        let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
            (true, true) => "group and others",
            (true, false) => "its group",
            _ => "others",
        };
        return Err(fail(
            path,
            PluginLoadFailure::InsecurePermissions,
            format!("it is writable by {who} (mode {mode:03o}), so another user could replace the code this process runs"),
            format!("Run `chmod go-w {}`, {relax}", canonical.display()),
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
    // Whoever can write a folder on the way can swap the file for another one.
    for dir in canonical.ancestors().skip(1) {
        let Ok(m) = std::fs::metadata(dir) else {
            continue;
        };
        let dmode = m.mode() & 0o7777;
        let sticky = dmode & 0o1000 != 0; // e.g. /tmp: others cannot replace our file
        let writable_by_others = dmode & 0o022 != 0 && !sticky;
        if writable_by_others || (m.uid() != 0 && m.uid() != me) {
            return Err(fail(
                path,
                PluginLoadFailure::InsecurePermissions,
                format!(
                    "its folder {} is {} (mode {:03o}, owner uid {}), so another user could replace the plugin",
                    dir.display(),
                    if writable_by_others { "writable by group or others" } else { "owned by another user" },
                    dmode & 0o777,
                    m.uid()
                ),
                format!("Install the plugin in a folder only root or you can write, {relax}"),
            ));
        }
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
    _: &PluginLoadOptions,
) -> Result<((), String), PluginLoadError> {
    Ok(((), "not checked on this platform".into()))
}

fn check_elf(path: &Path, canonical: &Path) -> Result<((), String), PluginLoadError> {
    if !cfg!(target_os = "linux") {
        return Ok(((), "not checked on this platform".into()));
    }
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(canonical).and_then(|mut f| f.read_exact(&mut magic));
    if read.is_err() || magic != *b"\x7fELF" {
        return Err(fail(
            path,
            PluginLoadFailure::NotASharedLibrary,
            "it is not a shared library (no ELF header)",
            "Point to the .so that `cargo build` produced for the plugin crate (crate-type = [\"cdylib\"])",
        ));
    }
    Ok(((), "ELF shared object".into()))
}

fn check_sha256(
    path: &Path,
    canonical: &Path,
    options: &PluginLoadOptions,
) -> Result<(String, String), PluginLoadError> {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(canonical).map_err(|e| {
        fail(
            path,
            PluginLoadFailure::NotFound,
            format!("cannot read the file ({e})"),
            "",
        )
    })?;
    std::io::copy(&mut file, &mut hasher).map_err(|e| {
        fail(
            path,
            PluginLoadFailure::NotFound,
            format!("cannot read the file ({e})"),
            "",
        )
    })?;
    let actual = hex::encode(hasher.finalize());
    match &options.sha256 {
        None => Ok((actual.clone(), format!("{actual} (no pin configured)"))),
        Some(expected) if expected.trim().eq_ignore_ascii_case(&actual) => {
            Ok((actual.clone(), format!("{actual} matches the pin")))
        }
        Some(expected) => Err(fail(
            path,
            PluginLoadFailure::ChecksumMismatch,
            format!("its sha256 is {actual} but the config pins {}", expected.trim()),
            "If you installed a new plugin on purpose, update `sha256` under [transport]; otherwise find out who replaced the file",
        )),
    }
}

fn check_abi(path: &Path, canonical: &Path) -> Result<(PluginModRef, String), PluginLoadError> {
    let header = lib_header_from_path(canonical).map_err(|e| map_library_error(path, e))?;
    match header.init_root_module::<PluginModRef>() {
        Ok(module) => Ok((
            module,
            format!("root module found, layout matches interface {API_MAJOR}.{API_MINOR} or newer"),
        )),
        Err(full) => {
            // Maybe an older minor: abi_stable refuses a prefix type with fewer fields than the
            // host's, so check the plugin against the snapshot of the older interface instead.
            let Ok(old) = header.init_root_module::<history::v1_0::PluginModRef>() else {
                return Err(map_library_error(path, full));
            };
            // SAFETY: both are `PrefixRef`s to the plugin's root-module static, whose layout was
            // just checked up to the 1.0 fields. Fields after those are read only through
            // `missing_field(option)` accessors, which consult the plugin's own field list.
            let module: PluginModRef = unsafe { PluginModRef(old.0.cast()) };
            if module.diagnostics().is_some() {
                // The plugin does have the newer fields, so the full check's refusal stands.
                return Err(map_library_error(path, full));
            }
            Ok((
                module,
                format!(
                    "root module found, layout matches interface {API_MAJOR}.0 (an older minor)"
                ),
            ))
        }
    }
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
