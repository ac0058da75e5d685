//! `GET /v2/store`: the registered Actors, as the Apify Store lists Actors.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::error::ApiResult;
use crate::params::Params;
use crate::state::AppState;
use crate::web::response::page;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v2/store", get(list))
}

/// Filters: `search` (name, title, description; case-insensitive), `username`,
/// `pricingModel` (`FREE` or `PAY_PER_EVENT`), `category` (local Actors have none, so a
/// category matches nothing); `sortBy` is accepted, the order is the registration order.
async fn list(State(state): State<Arc<AppState>>, p: Params) -> ApiResult<Response> {
    let search = p.string("search").map(str::to_lowercase);
    let username = p.string("username");
    let pricing = p.string("pricingModel");
    let category = p.string("category");
    let actors: Vec<_> = state
        .db
        .actors
        .all()
        .iter()
        .filter(|a| {
            let def = &a.def;
            let text = format!(
                "{} {} {}",
                def.name,
                def.title.as_deref().unwrap_or(""),
                def.description.as_deref().unwrap_or("")
            )
            .to_lowercase();
            search.as_ref().is_none_or(|s| text.contains(s.as_str()))
                && username.is_none_or(|u| u == state.identity.username)
                && category.is_none()
                && pricing.is_none_or(|m| {
                    let model = if def.charge_events.is_empty() {
                        "FREE"
                    } else {
                        "PAY_PER_EVENT"
                    };
                    m == model
                })
        })
        .cloned()
        .collect();
    page(&p, actors, |a| a.to_store_json(&state.identity))
}
