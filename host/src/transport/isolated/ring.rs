//! A ring of shared memory per socket, for response body bytes: the worker copies a chunk in
//! and sends a [`Kind::ResponseShared`](super::protocol::Kind) frame of its length, the host
//! copies it out when it routes that frame. The bytes then cross the process boundary with two
//! plain copies, not through the kernel's socket buffers; the socket carries only the frames.
//!
//! The host reads the frames of a socket in order and copies each chunk out at once, so the
//! ring is used strictly first in, first out: the worker knows how much it wrote, the host
//! publishes how much it took (`consumed`, the one shared word), and nothing else is shared.
//! When the ring has no room, the worker sends the chunk inline as before: the ring only ever
//! makes a transfer faster, never waits.
//!
//! The worker runs untrusted code, so the host trusts nothing in the mapping: it reads no word
//! the worker writes, takes at most the ring's size per frame, and computes every offset
//! itself. Chunk bytes are the plugin's output either way.

use std::{
    fs::File,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    sync::atomic::{AtomicU64, Ordering},
};

use bytes::{Bytes, BytesMut};
use memmap2::MmapRaw;

use super::protocol::ProtocolError;

/// The ring's data size: room for a few calls' windows of bytes in flight on one socket.
pub(crate) const RING: u32 = 4 << 20;
/// Where the data starts; the first word is `consumed`, on a cache line of its own.
const HEADER: usize = 64;

struct Ring {
    map: MmapRaw,
    size: usize,
}

impl Ring {
    fn consumed(&self) -> &AtomicU64 {
        // SAFETY: the mapping is at least HEADER bytes, page-aligned (so 8-aligned), and lives
        // as long as `self`; the word is only ever accessed atomically, by both processes.
        unsafe { &*(self.map.as_mut_ptr() as *const AtomicU64) }
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: HEADER is within the mapping.
        unsafe { self.map.as_mut_ptr().add(HEADER) }
    }
}

/// A new ring for one socket, and the descriptor the worker maps it from.
pub(crate) fn create(size: u32) -> std::io::Result<(RingReader, OwnedFd)> {
    // SAFETY: memfd_create with a NUL-terminated name; the descriptor is ours.
    let fd = unsafe { libc::memfd_create(c"apify-transport-ring".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.set_len(HEADER as u64 + u64::from(size))?;
    let map = MmapRaw::map_raw(&file)?;
    let ring = Ring {
        map,
        size: size as usize,
    };
    Ok((RingReader { ring, read: 0 }, file.into()))
}

/// The host's side: copies chunks out in order and publishes how far it took.
pub(crate) struct RingReader {
    ring: Ring,
    read: u64,
}

impl RingReader {
    /// The next `len` bytes the worker wrote.
    pub(crate) fn take(&mut self, len: u32) -> Result<Bytes, ProtocolError> {
        let len = len as usize;
        if len > self.ring.size {
            return Err(ProtocolError::new(format!(
                "a shared chunk of {len} bytes in a ring of {}",
                self.ring.size
            )));
        }
        let mut out = BytesMut::with_capacity(len);
        let start = (self.read % self.ring.size as u64) as usize;
        let first = len.min(self.ring.size - start);
        // SAFETY: both ranges are within the data area (start < size, first <= size - start,
        // len - first <= size), and `out` has room for `len` bytes. The worker may write to
        // the mapping at any time: the host only copies bytes out, through raw pointers, and
        // never forms a reference to them, so whatever it finds is plain bytes.
        unsafe {
            let data = self.ring.data();
            std::ptr::copy_nonoverlapping(data.add(start), out.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(data, out.as_mut_ptr().add(first), len - first);
            out.set_len(len);
        }
        self.read += len as u64;
        self.ring.consumed().store(self.read, Ordering::Release);
        Ok(out.freeze())
    }
}

/// The worker's side: copies chunks in while there is room.
pub(crate) struct RingWriter {
    ring: Ring,
    written: u64,
}

impl RingWriter {
    /// Maps the ring the host passed at `fd`, of `size` data bytes; `None` if it is not one.
    pub(crate) fn open(fd: OwnedFd, size: u32) -> Option<RingWriter> {
        let file = File::from(fd);
        let len = file.metadata().ok()?.len();
        if size == 0 || len != HEADER as u64 + u64::from(size) {
            return None;
        }
        let map = MmapRaw::map_raw(file.as_raw_fd()).ok()?;
        Some(RingWriter {
            ring: Ring {
                map,
                size: size as usize,
            },
            written: 0,
        })
    }

    /// Copies `chunk` in after the last one; `false` (and nothing written) without room.
    pub(crate) fn put(&mut self, chunk: &[u8]) -> bool {
        let consumed = self.ring.consumed().load(Ordering::Acquire);
        let free = self.ring.size as u64
            - self
                .written
                .saturating_sub(consumed)
                .min(self.ring.size as u64);
        if chunk.len() as u64 > free {
            return false;
        }
        let start = (self.written % self.ring.size as u64) as usize;
        let first = chunk.len().min(self.ring.size - start);
        // SAFETY: both ranges are within the data area, and the host reads them only after
        // the frame sent after this copy (the socket orders it).
        unsafe {
            let data = self.ring.data();
            std::ptr::copy_nonoverlapping(chunk.as_ptr(), data.add(start), first);
            std::ptr::copy_nonoverlapping(chunk.as_ptr().add(first), data, chunk.len() - first);
        }
        self.written += chunk.len() as u64;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_wrap_around_and_a_full_ring_refuses() {
        let (mut reader, fd) = create(4096).unwrap();
        let mut writer = RingWriter::open(fd, 4096).unwrap();
        let mut expected = Vec::new();
        for round in 0..10u8 {
            let chunk: Vec<u8> = (0..1500).map(|i| (i as u8).wrapping_add(round)).collect();
            assert!(writer.put(&chunk), "round {round}");
            expected.push(chunk);
            if round % 2 == 1 {
                // Two chunks in: a third does not fit in 4096 bytes until one is taken.
                assert!(!writer.put(&[0; 1500]));
                for chunk in expected.drain(..) {
                    assert_eq!(&reader.take(1500).unwrap()[..], &chunk[..]);
                }
            }
        }
        assert!(reader.take(4097).is_err());
    }

    #[test]
    fn a_ring_of_the_wrong_size_is_refused() {
        let (_reader, fd) = create(4096).unwrap();
        assert!(RingWriter::open(fd, 8192).is_none());
    }
}
