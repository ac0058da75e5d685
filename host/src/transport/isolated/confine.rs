//! The worker's confinement, applied before a byte of the plugin runs: `no_new_privs`, and
//! where the kernel has Landlock, a filesystem that is read-only and holds only what a
//! transport needs.
//!
//! A transport needs to read CA bundles, the resolver's files and the shared libraries the
//! plugin links (libc, libcurl, ...), plus the files its options name (`ca_cert_file`). It
//! needs to write nothing and to bind no port. Everything else, the host's config, token file
//! and data above all, is out of its reach whatever its code does. Landlock also keeps it from
//! signalling or ptrace-ing processes outside its sandbox, the host included.

use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, LandlockStatus, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

/// What every transport may read. Folders are whole trees; missing ones are skipped.
pub(crate) const READABLE: &[&str] = &[
    // CA bundles, as distributions and OpenSSL place them.
    "/etc/ssl",
    "/etc/pki",
    "/etc/ca-certificates",
    "/usr/share/ca-certificates",
    "/usr/local/share/ca-certificates",
    "/usr/lib/ssl",
    // Name resolution.
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/host.conf",
    // The dynamic loader: the libraries the plugin links, and glibc's resolver modules.
    "/etc/ld.so.cache",
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    // The CPU quota a runtime sizes its threads by.
    "/sys/fs/cgroup",
    "/sys/devices/system/cpu",
    "/proc/self",
    "/dev/null",
    "/dev/urandom",
];

/// The ABI this code asks for; the crate's best-effort mode drops what an older kernel lacks
/// and says so in the status.
const TARGET_ABI: ABI = ABI::V6;

/// Confines the calling process (every thread started after it) and says what applied, as a
/// line for `transport info` and `inspect`.
pub(crate) fn confine(extra_readable: &[String]) -> String {
    let mut paths: Vec<String> = READABLE.iter().map(|p| p.to_string()).collect();
    // The certificate locations OpenSSL and rustls-native-certs honour.
    for var in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
        if let Ok(v) = std::env::var(var) {
            paths.extend(v.split(':').filter(|p| !p.is_empty()).map(str::to_string));
        }
    }
    paths.extend(extra_readable.iter().cloned());
    paths.retain(|p| std::path::Path::new(p).exists());
    paths.sort();
    paths.dedup();

    let status = (|| -> Result<landlock::RestrictionStatus, landlock::RulesetError> {
        landlock::Ruleset::default()
            .handle_access(AccessFs::from_all(TARGET_ABI))?
            .handle_access(AccessNet::BindTcp)?
            .scope(Scope::from_all(TARGET_ABI))?
            .create()?
            .add_rules(path_beneath_rules(&paths, AccessFs::from_read(TARGET_ABI)))?
            .restrict_self()
    })();
    match status {
        Ok(s) => describe(&s, paths.len(), extra_readable.len()),
        Err(e) => {
            // Landlock failed outright: still ask for no_new_privs on our own.
            let nnp = no_new_privs();
            format!(
                "{}; Landlock not applied: {e}",
                if nnp {
                    "no_new_privs"
                } else {
                    "nothing applied (no_new_privs refused)"
                }
            )
        }
    }
}

fn describe(s: &landlock::RestrictionStatus, paths: usize, extra: usize) -> String {
    let nnp = if s.no_new_privs {
        "no_new_privs"
    } else {
        "no_new_privs refused"
    };
    let abi = match s.landlock {
        LandlockStatus::Available { effective_abi, .. } => format!("Landlock ABI {}", effective_abi as i32),
        LandlockStatus::NotEnabled => "Landlock is built into this kernel but not enabled at boot (add `landlock` to the `lsm=` boot parameter)".into(),
        LandlockStatus::NotImplemented => format!("Landlock is not in this kernel ({}; it needs Linux 5.13 or newer built with CONFIG_SECURITY_LANDLOCK)", kernel_release()),
    };
    match s.ruleset {
        RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced => format!(
            "{nnp}; {abi}{}: reads only {paths} paths (CA bundles, resolver files, shared \
             libraries, {extra} named in its options), writes nothing, binds no TCP port, \
             signals nothing outside",
            if s.ruleset == RulesetStatus::PartiallyEnforced {
                " (partly: this kernel lacks some of its rights)"
            } else {
                ""
            }
        ),
        RulesetStatus::NotEnforced => format!("{nnp}; no filesystem confinement: {abi}"),
    }
}

fn no_new_privs() -> bool {
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1) takes no pointers.
    unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| format!("kernel {}", r.trim()))
        .unwrap_or_else(|_| "this kernel".into())
}

/// What Landlock this kernel offers, for `transport inspect` before any worker runs.
pub fn landlock_available() -> Result<i32, String> {
    // SAFETY: the version query takes no attribute pointer.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    if v >= 1 {
        Ok(v as i32)
    } else {
        Err(match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EOPNOTSUPP) => {
                "Landlock is built into this kernel but not enabled at boot".into()
            }
            _ => format!("Landlock is not in this kernel ({})", kernel_release()),
        })
    }
}

/// The files named in a transport's options: every string value that is an absolute path to
/// an existing file, whatever its key (`ca_cert_file`, a plugin's own `ca_file`, ...).
pub(crate) fn files_in_options(options: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![options];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::String(s)
                if s.starts_with('/') && std::path::Path::new(s).is_file() =>
            {
                out.push(s.clone());
            }
            serde_json::Value::Array(a) => stack.extend(a),
            serde_json::Value::Object(o) => stack.extend(o.values()),
            _ => {}
        }
    }
    out
}
