//! The `envload` binary: a thin shell over [`envload_coordinator::main_with`].

fn main() -> std::process::ExitCode {
    tune_allocator();
    envload_coordinator::main_with(std::env::args_os())
}

/// Thousands of sessions open and close at once on each session thread, so
/// glibc's per-thread heaps would shrink back after every burst of frees and
/// grow again on the next burst of allocations: ~2 `mprotect` calls per
/// session (strace -c -f, N=1024). Growing by 4 MiB and giving memory back
/// only above 64 MiB free at the top removes them (21 calls per run); freed
/// memory is still reused, and untouched pages are never resident.
fn tune_allocator() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets allocator parameters, before any thread runs.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}
