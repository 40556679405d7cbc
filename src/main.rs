//! nomadctx: the heap it runs on, then the program (`nomadctx::main`).

use std::process::ExitCode;

mod wipe_on_free;

use wipe_on_free::WipeOnFree;

/// See Cargo.toml: musl's own allocator maps and unmaps memory on nearly every free.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: WipeOnFree<mimalloc::MiMalloc> = WipeOnFree(mimalloc::MiMalloc);

#[cfg(not(target_env = "musl"))]
#[global_allocator]
static ALLOCATOR: WipeOnFree<std::alloc::System> = WipeOnFree(std::alloc::System);

fn main() -> ExitCode {
    nomadctx::main()
}
