//! The HTTP API of Signal Sentinel: a thin poem + poem-openapi layer over the
//! `signal-sentinel` library.
//!
//! Handlers parse the request, call one library function and map its result to a typed
//! response; no business rule lives here. [`openapi`] builds the documented service, so the
//! spec people generate clients from is the code that serves them.
#![deny(missing_docs)]

pub mod api;

use poem_openapi::OpenApiService;

/// The API prefix every endpoint lives under.
pub const API_PREFIX: &str = "/api";

/// The OpenAPI service with every endpoint, served under [`API_PREFIX`].
pub fn openapi() -> OpenApiService<api::health::HealthApi, ()> {
    OpenApiService::new(
        api::health::HealthApi,
        signal_sentinel::NAME,
        signal_sentinel::VERSION,
    )
    .description(signal_sentinel::TAGLINE)
    .url_prefix(API_PREFIX)
}

/// The poem application: the API under `/api` and its spec at `/api/openapi.json`.
pub fn app() -> impl poem::Endpoint {
    use poem::{EndpointExt, Route};
    let api = openapi();
    let spec = api.spec_endpoint();
    Route::new()
        .nest(API_PREFIX, api)
        .at("/api/openapi.json", spec)
        .map_to_response()
}
