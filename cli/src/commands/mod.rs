//! The commands, one module per command group (`apify-host actors ...` is [`actors`]), each
//! with its own arguments and a `run` that carries them out against a [`Context`]; [`jobs`]
//! holds what the run and build commands share (starting, waiting, the log tail).

pub mod actors;
pub mod api;
pub mod builds;
pub mod datasets;
pub mod jobs;
pub mod key_value_stores;
pub mod request_queues;
pub mod runs;
pub mod schedules;
pub mod tasks;
pub mod transport;
pub mod users;
pub mod webhooks;

use crate::{args::Command, context::Context, error::CliError};

/// Carries out `command`.
pub async fn run(ctx: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::Call(a) => actors::call(ctx, a).await,
        Command::Actors(c) => actors::run(ctx, c).await,
        Command::Runs(c) => runs::run(ctx, c).await,
        Command::Builds(c) => builds::run(ctx, c).await,
        Command::Task(c) => tasks::run(ctx, c).await,
        Command::Webhooks(c) => webhooks::run(ctx, c).await,
        Command::Schedules(c) => schedules::run(ctx, c).await,
        Command::Datasets(c) => datasets::run(ctx, c).await,
        Command::KeyValueStores(c) => key_value_stores::run(ctx, c).await,
        Command::RequestQueues(c) => request_queues::run(ctx, c).await,
        Command::Users(c) => users::run(ctx, c).await,
        Command::Api(a) => api::run(ctx, a).await,
        Command::Transport(c) => transport::run(ctx, c).await,
    }
}
