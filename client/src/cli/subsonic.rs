//! `mixtape subsonic-password set|clear`: the app password Subsonic apps sign in with. Most
//! apps default to token authentication, which needs it (the login password is kept only as a
//! hash); setting it here is the first step of connecting one.

use super::output::note;
use super::{CliError, Result, io_err};
use crate::device::Device;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum SubsonicPasswordCommand {
    /// Set it, from MIXTAPE_SUBSONIC_PASSWORD or a prompt (at least 8 characters; use one
    /// apart from your login password). Then sign in to the app with your username and it.
    Set,
    /// Remove it: apps using it can no longer sign in.
    Clear,
}

pub fn subsonic_password(device: &mut Device, cmd: SubsonicPasswordCommand) -> Result<()> {
    let api = device.api()?;
    let user = device
        .session()
        .map(|s| s.username.clone())
        .unwrap_or_default();
    match cmd {
        SubsonicPasswordCommand::Set => {
            let password = match std::env::var("MIXTAPE_SUBSONIC_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let tty = std::path::Path::new("/dev/tty");
                    let first = rpassword::prompt_password("Subsonic app password: ")
                        .map_err(io_err(tty))?;
                    let again = rpassword::prompt_password("again: ").map_err(io_err(tty))?;
                    if first != again {
                        return Err(CliError::Usage("the two passwords differ".into()));
                    }
                    first
                }
            };
            api.set_subsonic_password(Some(&password))?;
            note!(
                "Subsonic app password set: in your app, use server {}, user {user} and this password",
                api.base_url()
            );
        }
        SubsonicPasswordCommand::Clear => {
            api.set_subsonic_password(None)?;
            note!("Subsonic app password removed");
        }
    }
    Ok(())
}
