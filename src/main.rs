//! The `cloudconform` command line: the only place that uses `anyhow` and decides exit codes.
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
