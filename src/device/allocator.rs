//! How the process's memory allocator treats the tensor buffers every step frees and allocates
//! again. It tunes glibc's malloc once, at start-up; it must not allocate tensors or choose a
//! backend.
//!
//! glibc serves each allocation above its mmap threshold (128 KiB, raised only as far as the
//! largest block freed so far) with a fresh `mmap` and gives it back on `free`, and it trims the
//! heap's free top above 128 KiB. A training step frees and re-allocates buffers of several MiB
//! hundreds of times, so every one was page-faulted and zeroed by the kernel again: about a
//! quarter of a 2D U-Net step on `flex` (docs/performance.md, "The allocator").

/// Blocks up to 1 GiB come from the heap and are reused (a 3D U-Net's activations are 64 MiB and
/// more; glibc's dynamic threshold stops at 32 MiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1 << 30;

/// Keep up to 2 GiB of free heap top instead of returning it after each step.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = libc::c_int::MAX;

/// Makes glibc keep freed tensor buffers for reuse. Returns whether the settings were applied:
/// `false` off glibc, or when the user set `GLIBC_TUNABLES` for malloc (theirs win).
pub fn keep_freed_buffers() -> bool {
    if std::env::var("GLIBC_TUNABLES").is_ok_and(|tunables| tunables.contains("glibc.malloc.")) {
        return false;
    }
    apply()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    // SAFETY: mallopt only changes malloc's parameters; it is called before any other thread
    // starts and is given values inside glibc's documented ranges.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    false
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_accepts_the_settings() {
        // mallopt returns 0 for a value it refuses: a setting silently dropped would bring the
        // page faults back.
        assert!(super::apply());
    }
}
