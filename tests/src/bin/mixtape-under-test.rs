//! The `mixtape` client binary, for the end-to-end tests of this package.
//!
//! Why a copy: the client tests run the real CLI as a subprocess (they need to SIGKILL it in the
//! middle of a download), and Cargo sets `CARGO_BIN_EXE_<name>` only for binaries of the package
//! whose tests are being built. This is exactly `client/src/main.rs`: everything lives in the
//! `mixtape` library, this only sets up logging the same way.

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MIXTAPE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    std::process::exit(mixtape::cli::main());
}
