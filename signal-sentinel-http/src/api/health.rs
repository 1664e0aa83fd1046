//! `GET /api/health` and `GET /api/health/ready`.

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use super::ApiTags;
use crate::AppState;
use crate::error::ErrorBody;

/// What the health endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct Health {
    /// Always `Signal Sentinel`.
    pub name: String,
    /// The server's version.
    pub version: String,
    /// `ok` when the server answers.
    pub status: String,
    /// The product's tagline.
    pub tagline: String,
}

/// Readiness: the database answers.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct Readiness {
    /// `ok`.
    pub status: String,
    /// `ok`.
    pub database: String,
}

/// Ready or not.
#[derive(Debug, ApiResponse)]
pub enum ReadinessResponse {
    /// The server can serve requests.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// The database does not answer.
    #[oai(status = 503)]
    NotReady(Json<ErrorBody>),
}

/// Liveness and readiness of the server.
#[derive(Debug, Clone, Copy, Default)]
pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Is the server up?
    ///
    /// Answers as long as the process serves requests; load balancers and container health
    /// checks call it.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> Json<Health> {
        Json(Health {
            name: signal_sentinel::NAME.to_owned(),
            version: signal_sentinel::VERSION.to_owned(),
            status: "ok".to_owned(),
            tagline: signal_sentinel::TAGLINE.to_owned(),
        })
    }

    /// Can the server serve requests?
    ///
    /// Checks that the database answers; 503 when it does not.
    #[oai(path = "/health/ready", method = "get", operation_id = "ready")]
    async fn ready(&self, state: Data<&AppState>) -> ReadinessResponse {
        match state.services.ready().await {
            Ok(()) => ReadinessResponse::Ready(Json(Readiness {
                status: "ok".into(),
                database: "ok".into(),
            })),
            Err(e) => {
                tracing::error!("readiness: {e}");
                ReadinessResponse::NotReady(Json(ErrorBody::new(
                    "unavailable",
                    "the database does not answer",
                )))
            }
        }
    }
}
