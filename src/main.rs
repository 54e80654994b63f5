//! The `trailhound` binary; everything lives in the library.

/// Batches are allocated on decoding threads and freed on the sinks' threads; mimalloc handles
/// that cross-thread pattern well. It is built without transparent huge pages (`no_thp`): with
/// them each first touch of its arenas zeroed 2 MiB, which cost a replay 10 MB of resident memory
/// and made short runs slower and less even.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    trailhound::cli::main()
}
