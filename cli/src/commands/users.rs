//! `apify-host users ...`

use clap::Subcommand;

use crate::{context::Context, error::CliError};

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Show the account that owns the token (a quick check that the token works).
    Me,
}

/// Runs a user command.
pub async fn run(ctx: &Context, cmd: UsersCommand) -> Result<(), CliError> {
    match cmd {
        UsersCommand::Me => {
            let client = ctx.authed_client()?;
            match client.me().get().await? {
                Some(user) => ctx.out().object(&user, &["id", "username", "email"]),
                None => Err(CliError::failure(
                    "the API found no user for this token (404 on /v2/users/me)",
                )),
            }
        }
    }
}
