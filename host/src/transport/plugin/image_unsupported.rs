//! Where there is no sealed memfd, there is no safe copy to load: the loader refuses plugins
//! before it would need one (`loader::check_copy`). These types only keep the loader compiling.

use abi_stable::library::LibHeader;

/// Unused here: nothing is copied.
#[allow(dead_code)]
pub(super) const MAX_PLUGIN_SIZE: u64 = 1 << 30;

/// Never constructed on this platform.
pub(super) struct SealedImage(std::convert::Infallible);

impl SealedImage {
    pub(super) fn bytes(&self) -> &[u8] {
        match self.0 {}
    }

    pub(super) fn dlopen(self) -> Result<&'static LibHeader, DlopenError> {
        match self.0 {}
    }
}

/// Why [`SealedImage::dlopen`] failed (never, here).
#[allow(dead_code)]
#[derive(Debug)]
pub(super) enum DlopenError {
    Io(std::io::Error),
    Open(String),
    NoSymbol(String),
    Abi(abi_stable::library::LibraryError),
}
