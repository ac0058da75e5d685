//! The one copy of the plugin that is checked and loaded: a sealed memfd.
//!
//! Checking a path and then `dlopen`ing the same path leaves a window in which the file can be
//! swapped, and a file truncated while it is mapped kills the process with SIGBUS. So the
//! loader opens the file once, copies it into an anonymous memory file, seals that copy
//! against every change (write, grow, shrink, unseal), maps it read-only for the hash and the
//! ELF parse, and finally hands `dlopen` that very copy through `/proc/self/fd/N`.

use std::{
    ffi::CString,
    fs::File,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    path::Path,
    ptr::NonNull,
    time::Duration,
};

use abi_stable::library::{AbiHeaderRef, LibHeader, ROOT_MODULE_LOADER_NAME_WITH_NUL};

/// The seals that make the copy immutable: no write (F_SEAL_WRITE, or F_SEAL_FUTURE_WRITE when
/// the kernel cannot confirm the first in time, see [`seal`]), no resize, no unsealing.
const REQUIRED_SEALS: libc::c_int = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW;
const WRITE_SEALS: libc::c_int = libc::F_SEAL_WRITE | libc::F_SEAL_FUTURE_WRITE;

/// The largest file the loader copies: every copy lives in memory, and a debug build of the
/// reqwest plugin is under 100 MB.
pub(super) const MAX_PLUGIN_SIZE: u64 = 1 << 30;

/// A sealed, read-only copy of a plugin file.
pub(crate) struct SealedImage {
    fd: OwnedFd,
    map: NonNull<u8>,
    len: usize,
    /// How long the copy took (reported by `transport inspect`).
    pub copy_time: Duration,
}

// SAFETY: the mapping is read-only and its memory sealed against every change, so sharing the
// bytes between threads is like sharing a `&'static [u8]`.
unsafe impl Send for SealedImage {}
// SAFETY: as above.
unsafe impl Sync for SealedImage {}

impl SealedImage {
    /// Copies `file` (already opened, checked to be a regular file) into a sealed memfd and maps
    /// it. The bytes seen through [`SealedImage::bytes`] are the ones `dlopen` gets.
    pub(super) fn copy_from(file: &mut File, name: &Path) -> std::io::Result<SealedImage> {
        let started = std::time::Instant::now();
        // Refused before a byte is copied; the limit on the copy below catches later growth.
        if file.metadata()?.len() > MAX_PLUGIN_SIZE {
            return Err(std::io::ErrorKind::FileTooLarge.into());
        }
        // The name shows in /proc/self/maps ("/memfd:apify-plugin:libx.so (deleted)"), which
        // is where someone debugging a crash will look for the plugin.
        let base = name
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let label: String = format!("apify-plugin:{base}")
            .chars()
            .filter(|c| *c != '\0')
            .take(200) // the kernel's limit is 249 bytes
            .collect();
        let label = CString::new(label).unwrap_or_default();
        let fd = memfd(&label)?;
        let mut copy = File::from(fd);
        // One pass over the one open file; std uses copy_file_range/sendfile when it can. The
        // limit holds even if the file grows while it is copied.
        let copied = std::io::copy(
            &mut std::io::Read::take(file, MAX_PLUGIN_SIZE + 1),
            &mut copy,
        )?;
        if copied > MAX_PLUGIN_SIZE {
            return Err(std::io::ErrorKind::FileTooLarge.into());
        }
        let fd = OwnedFd::from(copy);
        seal(&fd)?;
        if !has_every_seal(&fd) {
            return Err(std::io::Error::other("the kernel did not seal the copy"));
        }
        // The length after sealing is final: F_SEAL_SHRINK/GROW forbid any change.
        let len = File::from(fd.try_clone()?).metadata()?.len();
        let len = usize::try_from(len).map_err(|_| std::io::Error::other("file too large"))?;
        let map = map_read_only(&fd, len)?;
        Ok(SealedImage {
            fd,
            map,
            len,
            copy_time: started.elapsed(),
        })
    }

    /// Maps a sealed copy another process made and passed on (the worker's side), after
    /// confirming with the kernel that every seal is on.
    pub(crate) fn from_inherited(fd: OwnedFd) -> std::io::Result<SealedImage> {
        if !has_every_seal(&fd) {
            return Err(std::io::Error::other(
                "it is not a memory file sealed against write, grow, shrink and unseal",
            ));
        }
        let len = File::from(fd.try_clone()?).metadata()?.len();
        let len = usize::try_from(len)
            .ok()
            .filter(|l| (*l as u64) <= MAX_PLUGIN_SIZE)
            .ok_or_else(|| std::io::Error::other("it is larger than any plugin"))?;
        let map = map_read_only(&fd, len)?;
        Ok(SealedImage {
            fd,
            map,
            len,
            copy_time: Duration::ZERO,
        })
    }

    /// The sealed copy's descriptor, to hand to a worker; the mapping goes.
    pub(crate) fn into_fd(self) -> OwnedFd {
        let fd = self.fd.try_clone().expect("a descriptor can be duplicated");
        drop(self);
        fd
    }

    /// The sealed bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `map` is a live read-only mapping of `len` bytes (see `copy_from`), unmapped
        // only in `drop`, and the sealed file behind it cannot change.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr(), self.len) }
    }

    /// Whether the kernel says every seal is on (for the report: checked, not assumed).
    pub(super) fn is_sealed(&self) -> bool {
        has_every_seal(&self.fd)
    }

    /// `dlopen`s this copy with `RTLD_NOW`, looks up the root module and upgrades it to a
    /// [`LibHeader`] (abi_stable's check of its own version and of the C ABI). The library and
    /// the memfd are never released: abi_stable never unloads a library, and the fd number
    /// must stay taken, because glibc recognises an already loaded library by its name and
    /// would hand back the old library for a new `/proc/self/fd/N` that reused the number.
    pub(super) fn dlopen(self) -> Result<&'static LibHeader, DlopenError> {
        use libloading::os::unix::Library;
        let mut fd = self.fd.try_clone().map_err(DlopenError::Io)?;
        drop(self); // unmaps; the fd keeps the copy alive
        let mut spares = Vec::new();
        let name = loop {
            let name = format!("/proc/self/fd/{}", fd.as_raw_fd());
            // SAFETY: RTLD_NOLOAD never loads anything, so no initialiser runs; it only asks
            // whether a library of that name is loaded (then its reference is dropped again).
            let taken = unsafe { Library::open(Some(&name), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
            if taken.is_err() {
                break name;
            }
            // Someone closed one of our leaked fds and the number came back: take another
            // number, keeping this one open meanwhile so that the next cannot be the same.
            if spares.len() > 16 {
                return Err(DlopenError::Io(std::io::Error::other(
                    "no unused /proc/self/fd name for the copy",
                )));
            }
            let next = fd.try_clone().map_err(DlopenError::Io)?;
            spares.push(std::mem::replace(&mut fd, next));
        };
        drop(spares);
        // SAFETY: this runs the library's initialisers. Everything that can be checked before is
        // checked on these exact bytes: a complete ELF shared library for this machine that
        // exports our root module, and matching the sha256 pin if there is one.
        let lib = unsafe {
            Library::open(
                Some(&name),
                libc::RTLD_NOW | libc::RTLD_LOCAL | libc::RTLD_NODELETE,
            )
        }
        .map_err(|e| DlopenError::Open(e.to_string()))?;
        // SAFETY: the symbol is a `LibHeader` static (checked in the ELF: a data object of our
        // root module's name), and an `AbiHeaderRef` is a pointer to its leading `AbiHeader`,
        // so reading the symbol's address as one is exactly what abi_stable's own loader does
        // (`abi_header_from_raw_library`).
        let header: Result<AbiHeaderRef, _> = unsafe {
            lib.get::<AbiHeaderRef>(ROOT_MODULE_LOADER_NAME_WITH_NUL.as_bytes())
                .map(|s| *s)
        };
        // Never unloaded: the header and everything the plugin hands out point into it.
        std::mem::forget(lib);
        let _ = std::os::fd::IntoRawFd::into_raw_fd(fd);
        let header = header.map_err(|e| DlopenError::NoSymbol(e.to_string()))?;
        header.upgrade().map_err(DlopenError::Abi)
    }
}

impl Drop for SealedImage {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: the mapping made in `copy_from`, unmapped once, here.
            unsafe { libc::munmap(self.map.as_ptr().cast(), self.len) };
        }
    }
}

/// Maps `len` bytes of the sealed `fd` read-only.
fn map_read_only(fd: &OwnedFd, len: usize) -> std::io::Result<NonNull<u8>> {
    if len == 0 {
        return Ok(NonNull::dangling());
    }
    // SAFETY: a fresh private read-only mapping of `len` bytes of a file that is exactly `len`
    // bytes long and can no longer shrink (sealed), so every mapped page stays backed.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            fd.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    NonNull::new(p.cast::<u8>()).ok_or_else(|| std::io::Error::other("mmap gave null"))
}

/// Why [`SealedImage::dlopen`] failed.
#[derive(Debug)]
pub(super) enum DlopenError {
    /// Making the fd name failed.
    Io(std::io::Error),
    /// `dlopen` refused it (dlerror's text).
    Open(String),
    /// Loaded, but the root-module symbol is not there.
    NoSymbol(String),
    /// abi_stable refused the header (another abi_stable, another C ABI).
    Abi(abi_stable::library::LibraryError),
}

/// Seals the copy. F_SEAL_FUTURE_WRITE, F_SEAL_SHRINK and F_SEAL_GROW take effect at once; then
/// F_SEAL_WRITE is tried, which the kernel grants only when no page of the file holds an extra
/// reference. Pages just written can sit in another CPU's LRU batch for a while on a loaded
/// machine, and the kernel then answers EBUSY after ~150 ms (seen in CI on 2 busy cores). The
/// copy is ours alone (never mapped writable, its fd close-on-exec), so the future-write seal
/// already forbids every change; F_SEAL_WRITE is retried a few times and then given up.
fn seal(fd: &OwnedFd) -> std::io::Result<()> {
    let add = |seals: libc::c_int| -> std::io::Result<()> {
        // SAFETY: a plain fcntl call on an fd we own.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    add(libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_FUTURE_WRITE)?;
    for attempt in 0..3 {
        match add(libc::F_SEAL_WRITE) {
            Ok(()) => break,
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                tracing::debug!(attempt, "F_SEAL_WRITE busy; the future-write seal holds");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
    add(libc::F_SEAL_SEAL)
}

/// Whether the kernel reports the copy immutable (checked, not assumed).
fn has_every_seal(fd: &OwnedFd) -> bool {
    // SAFETY: a plain fcntl call on an fd we own.
    let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & REQUIRED_SEALS == REQUIRED_SEALS && seals & WRITE_SEALS != 0
}

/// A memfd that allows sealing and, where the kernel restricts memfds (vm.memfd_noexec), is
/// explicitly executable: `dlopen` maps it with PROT_EXEC.
fn memfd(label: &CString) -> std::io::Result<OwnedFd> {
    const MFD_EXEC: libc::c_uint = 0x0010; // Linux 6.3+; older kernels reject it with EINVAL
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    for flags in [base | MFD_EXEC, base] {
        // SAFETY: `label` is a valid C string; the flags are defined by the kernel.
        let fd = unsafe { libc::memfd_create(label.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: a fresh fd that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINVAL) {
            return Err(err);
        }
    }
    Err(std::io::Error::last_os_error())
}
