//! The `cloudconform` command line: the only place that uses `anyhow` and decides exit codes.
mod allocator;
mod cli;

fn main() -> std::process::ExitCode {
    allocator::configure();
    cli::main()
}
