//! The multi-call binary: dispatch only (see `sensorctl::cli`).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(sensorctl::cli::main(std::env::args_os().collect()))
}
