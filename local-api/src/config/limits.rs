//! The platform's ranges for run options, checked wherever an option enters: start
//! parameters, task options, and an Actor manifest's `defaultRunOptions`.
//!
//! Sources: memory "power of 2 with a minimum of 128" (OpenAPI `parameters.memory`),
//! `RunOptions.memoryMbytes` 128..=32768 (OpenAPI, `@apify/consts` `ACTOR_LIMITS`, the Python
//! client's `RunOptions`); timeout: minimum 0, and at most 7 days (604 800 s), the console's
//! cap (the spec names no maximum; without one, a huge timeout overflows the deadline).

/// The longest run timeout in seconds: 7 days.
pub const MAX_TIMEOUT_SECS: u64 = 604_800;
/// The least run memory in megabytes.
pub const MIN_MEMORY_MBYTES: u64 = 128;
/// The most run memory in megabytes.
pub const MAX_MEMORY_MBYTES: u64 = 32_768;

/// `None` when `secs` is a valid timeout; else what is wrong (naming `option` and the range).
pub fn timeout_error(option: &str, secs: u64) -> Option<String> {
    (secs > MAX_TIMEOUT_SECS).then(|| {
        format!(
            "Invalid value of \"{option}\": {secs} seconds is out of range: the timeout must be 0 to {MAX_TIMEOUT_SECS} seconds (7 days; 0 means no timeout)"
        )
    })
}

/// `None` when `mbytes` is a valid memory; else what is wrong (naming `option` and the range).
pub fn memory_error(option: &str, mbytes: u64) -> Option<String> {
    let ok = (MIN_MEMORY_MBYTES..=MAX_MEMORY_MBYTES).contains(&mbytes) && mbytes.is_power_of_two();
    (!ok).then(|| {
        format!(
            "Invalid value of \"{option}\": {mbytes} MB is out of range: the memory must be a power of 2 from {MIN_MEMORY_MBYTES} to {MAX_MEMORY_MBYTES} MB (128, 256, 512, ..., 32768)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(timeout_error("timeout", 0).is_none());
        assert!(timeout_error("timeout", MAX_TIMEOUT_SECS).is_none());
        assert!(timeout_error("timeout", MAX_TIMEOUT_SECS + 1).is_some());
        assert!(memory_error("memory", 128).is_none());
        assert!(memory_error("memory", 32768).is_none());
        for bad in [0, 64, 100, 1000, 65536, u64::MAX] {
            assert!(memory_error("memory", bad).is_some(), "{bad}");
        }
    }
}
