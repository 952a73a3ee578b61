//! The `mixtape-server` binary: parse flags, set up logging, start, wait for a signal.

use anyhow::Context;
use clap::Parser;
use mixtape_server::config::{self, Args};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = config::resolve(args).context("configuration")?;
    if let Some(config::Command::Shards(command)) = &config.command {
        let answer =
            tokio::task::block_in_place(|| mixtape_server::shard_admin::run(&config, command))
                .context("shards")?;
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    if config.print_media_key {
        // For the edge's key file (deploy/nginx/render-edge): stdout only, nothing else.
        let signer = mixtape_server::app::media_signer(&config).context("the media URL key")?;
        println!("{}", signer.key_hex());
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&config.log).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(mixtape_server::logging::stderr_colour())
        .init();
    tracing::info!(config = %config.redacted(), "starting mixtape-server {}", env!("CARGO_PKG_VERSION"));
    let server = mixtape_server::start(config)
        .await
        .context("starting the server")?;
    if let Some(password) = &server.generated_admin_password {
        // Printed once, at the binary edge: only its hash is stored.
        eprintln!(
            "\n  Created user `admin` with password: {password}\n  (set MIXTAPE_ADMIN_PASSWORD to choose it; this is shown only now)\n"
        );
    }
    server.until_signal().await.context("serving")?;
    Ok(())
}
