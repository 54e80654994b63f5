//! The `trailhound` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    trailhound::cli::main()
}
