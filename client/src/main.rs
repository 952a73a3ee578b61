//! `mixtape`: the terminal client. Everything lives in the library (`mixtape::cli::main`).

fn main() {
    std::process::exit(mixtape::cli::main());
}
