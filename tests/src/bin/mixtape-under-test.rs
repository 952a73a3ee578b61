//! The `mixtape` client binary, for the end-to-end tests of this package.
//!
//! Why a second binary: the client tests run the real CLI as a subprocess (they need to SIGKILL
//! it in the middle of a download), and Cargo sets `CARGO_BIN_EXE_<name>` only for binaries of
//! the package whose tests are being built. Like `client/src/main.rs`, it is only the call into
//! the `mixtape` library.

fn main() {
    std::process::exit(mixtape::cli::main());
}
