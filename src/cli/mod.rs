//! Command dispatch. Each subcommand lives in its own file with an `Args` struct and a `run`
//! function returning the process exit code; exit codes are the constants in [`exit`].
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// `print!` to stdout, ending the process quietly when the reader has gone away
/// (`cloudconform cases list | head -1`): exit 0 on a closed pipe, 2 on another write error.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::stdout::write(format_args!($($arg)*), false) };
}
/// `println!` to stdout with the same closed-pipe handling as [`out!`].
macro_rules! outln {
    () => { $crate::cli::stdout::write(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::cli::stdout::write(format_args!($($arg)*), true) };
}

mod bench_cmd;
mod cases_cmd;
mod cleanup_cmd;
mod coverage_cmd;
mod emulate_cmd;
mod live_run;
mod parity_cmd;
mod run_cmd;
mod sdk_cmd;
mod selftest_cmd;
mod sign_cmd;
mod spec_cmd;
mod verify_cmd;

/// Writing reports and listings to stdout.
pub mod stdout {
    use std::io::Write;

    pub fn write(args: std::fmt::Arguments, newline: bool) {
        let mut out = std::io::stdout().lock();
        let result = out.write_fmt(args).and_then(|()| {
            if newline {
                out.write_all(b"\n")
            } else {
                Ok(())
            }
        });
        if let Err(e) = result {
            gone(e);
        }
    }

    /// Write a whole text (a report) and flush it.
    pub fn text(text: &str) {
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            gone(e);
        }
    }

    fn gone(e: std::io::Error) -> ! {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // The reader took what it wanted: that is not an error.
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(i32::from(super::exit::USAGE));
    }
}

/// Documented exit codes (README "Exit codes").
pub mod exit {
    /// Everything checked conforms / the command succeeded.
    pub const OK: u8 = 0;
    /// At least one nonconformance (or lint problem, or failed verification).
    pub const NONCONFORMANCE: u8 = 1;
    /// No nonconformance, but some cases could not be decided (transport problems).
    pub const INCONCLUSIVE: u8 = 3;
    /// Bad command line or unreadable input.
    pub const USAGE: u8 = 2;
    /// A live run left something behind (its own key pairs, a lent instance not restored).
    pub const LEAKED: u8 = 4;
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
    /// Lint, list and show the API specs.
    Spec(spec_cmd::Args),
    /// List and show the generated conformance cases.
    Cases(cases_cmd::Args),
    /// Show which cases exercise each parameter, limit and error code.
    Coverage(coverage_cmd::Args),
    /// Measure checked cases per second and raw emulator requests per second.
    Bench(bench_cmd::Args),
    /// Run the conformance cases against the emulator or an endpoint.
    Run(run_cmd::Args),
    /// Sign a request and print its canonical request, string to sign and final form.
    Sign(sign_cmd::Args),
    /// Verify captured requests (JSON lines) and explain any signature mismatch.
    Verify(verify_cmd::Args),
    /// Serve the emulator (both clouds, one port) until Ctrl-C.
    Emulate(emulate_cmd::Args),
    /// List (and with --yes delete) key pairs earlier live runs left behind, by the profile's prefix.
    Cleanup(cleanup_cmd::Args),
    /// Compare the emulator's answers with recorded live ones (`run --record`), case by case.
    Parity(parity_cmd::Args),
    /// Validate SDKs through testee-protocol adapters against the recording emulator.
    Sdk(sdk_cmd::Args),
    /// Measure what the suite catches: run it against every spec-derived deviation.
    Selftest(selftest_cmd::Args),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Spec(args) => spec_cmd::run(args),
        Command::Cases(args) => cases_cmd::run(args),
        Command::Run(args) => run_cmd::run(args),
        Command::Bench(args) => bench_cmd::run(args),
        Command::Coverage(args) => coverage_cmd::run(args),
        Command::Sign(args) => Ok(ExitCode::from(sign_cmd::run(args))),
        Command::Verify(args) => Ok(ExitCode::from(verify_cmd::run(args))),
        Command::Emulate(args) => emulate_cmd::run(args),
        Command::Cleanup(args) => cleanup_cmd::run(args),
        Command::Parity(args) => parity_cmd::run(args),
        Command::Sdk(args) => sdk_cmd::run(args),
        Command::Selftest(args) => selftest_cmd::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", chain(&e));
            ExitCode::from(exit::USAGE)
        }
    }
}

/// The error and its causes, `context: error: cause`, leaving out a cause whose text an outer
/// message already carries (library errors that print their source themselves).
fn chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}
