//! `mixtape`: the terminal client (a shell until the client issues land).

use clap::Parser;

/// Mixtape terminal client. The CLI and TUI are being built; run `mixtape-server` for now.
#[derive(Parser)]
#[command(version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!(
        "the mixtape client has no commands yet: see README.md for the server quick start"
    )
}
