//! The `trailhound` binary; everything lives in the library.

/// Events are allocated on decoding threads and freed on the sink thread; mimalloc handles that
/// cross-thread pattern far better than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    trailhound::cli::main()
}
