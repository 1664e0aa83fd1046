//! `GET /api/health`.

use poem_openapi::{Object, OpenApi, payload::Json};

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

/// Liveness of the server.
#[derive(Debug, Clone, Copy)]
pub struct HealthApi;

#[OpenApi]
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
}

#[cfg(test)]
mod tests {
    use poem::test::TestClient;

    #[tokio::test]
    async fn health_answers_exactly_what_operators_expect() {
        let client = TestClient::new(crate::app());
        let resp = client.get("/api/health").send().await;
        resp.assert_status_is_ok();
        let body: serde_json::Value = resp.json().await.value().deserialize();
        assert_eq!(
            body,
            serde_json::json!({
                "name": "Signal Sentinel",
                "version": env!("CARGO_PKG_VERSION"),
                "status": "ok",
                "tagline": "Your AI-powered market watchdog."
            })
        );
    }

    #[tokio::test]
    async fn spec_documents_the_health_endpoint() {
        let spec: serde_json::Value = serde_json::from_str(&crate::openapi().spec()).unwrap();
        assert_eq!(spec["info"]["title"], "Signal Sentinel");
        assert!(spec["paths"]["/api/health"]["get"].is_object(), "{spec}");
    }
}
