//! Command dispatch. Each subcommand lives in its own file with an `Args` struct and a `run`
//! function returning the process exit code; exit codes are the constants in [`exit`].
use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod sign_cmd;
mod verify_cmd;

/// Documented exit codes (README "Exit codes").
pub mod exit {
    /// Everything checked conforms / the command succeeded.
    pub const OK: u8 = 0;
    /// At least one nonconformance (or lint problem, or failed verification).
    pub const NONCONFORMANCE: u8 = 1;
    /// No nonconformance, but some cases could not be decided (transport problems).
    #[allow(dead_code)] // used by the run commands, not by sign/verify
    pub const INCONCLUSIVE: u8 = 3;
    /// Bad command line or unreadable input.
    pub const USAGE: u8 = 2;
}

#[derive(Parser)]
#[command(
    name = "cloudconform",
    version,
    about = "Conformance harness for cloud key-pair APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign a request and print its canonical request, string to sign and final form.
    Sign(sign_cmd::Args),
    /// Verify captured requests (JSON lines) and explain any signature mismatch.
    Verify(verify_cmd::Args),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Sign(args) => sign_cmd::run(args),
        Command::Verify(args) => verify_cmd::run(args),
    };
    ExitCode::from(code)
}
