//! What wraps every request: an id and a tracing span, the body limit, metrics, and the one
//! error shape for whatever poem answers on its own.

use std::time::Instant;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

use crate::error::error_json;

/// Request bodies larger than this get 413 unless configured otherwise: 384 KiB, so that the
/// largest body the spec allows fits (a holdings CSV of 60,000 characters, each of which JSON
/// may spell in up to 6 bytes: `\u0001`).
pub const DEFAULT_BODY_LIMIT: usize = 384 * 1024;

/// The outermost layer.
pub(crate) struct Outer {
    body_limit: usize,
    routes: std::sync::Arc<Routes>,
}

/// The API's path templates and their methods, from the spec: a 405 names the methods a path
/// allows in `Allow` (RFC 9110).
#[derive(Debug, Default)]
pub(crate) struct Routes(Vec<(Vec<String>, String)>);

impl Routes {
    /// The paths and methods of an OpenAPI document.
    pub(crate) fn from_spec(spec: &str) -> Self {
        let value: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut routes = Vec::new();
        if let Some(paths) = value["paths"].as_object() {
            for (path, operations) in paths {
                let mut methods: Vec<String> = operations
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_ascii_uppercase()).collect())
                    .unwrap_or_default();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                routes.push((
                    path.split('/').map(str::to_owned).collect(),
                    methods.join(", "),
                ));
            }
        }
        Self(routes)
    }

    /// The `Allow` value of the template matching `path`.
    fn allow(&self, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(template, _)| {
                template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
            })
            .map(|(_, methods)| methods.as_str())
    }
}

impl Outer {
    pub(crate) fn new(body_limit: usize, routes: Routes) -> Self {
        Self {
            body_limit,
            routes: std::sync::Arc::new(routes),
        }
    }

    pub(crate) fn wrap<E: Endpoint + 'static>(self, inner: E) -> OuterEndpoint<E> {
        OuterEndpoint {
            inner,
            body_limit: self.body_limit,
            routes: self.routes,
        }
    }
}

/// [`Outer`] around an endpoint.
pub(crate) struct OuterEndpoint<E> {
    inner: E,
    body_limit: usize,
    routes: std::sync::Arc<Routes>,
}

/// Route label for metrics: numeric path segments become `{id}`, so the label set stays
/// small.
fn route_label(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str("{id}");
        } else {
            out.push_str(segment);
        }
    }
    if out.starts_with("/api/docs") {
        "/api/docs".to_owned()
    } else if out.starts_with("/actions/") {
        // One label for every token.
        "/actions/{token}".to_owned()
    } else if out.starts_with("/api/actions/") {
        "/api/actions/{token}".to_owned()
    } else {
        out
    }
}

fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(|| hex::encode(rand::random::<[u8; 8]>()), str::to_owned)
}

impl<E: Endpoint> Endpoint for OuterEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let id = request_id(&req);
        let method = req.method().clone();
        let route = route_label(req.uri().path());
        let allow = self.routes.allow(req.uri().path());
        let span =
            tracing::info_span!("request", id = %id, method = %method, path = %req.uri().path());
        let limit = self.body_limit;
        let response = async {
            let declared = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok());
            let too_large = || {
                error_json(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("the request body is larger than {limit} bytes"),
                )
            };
            if declared.is_some_and(|n| n > limit) {
                return too_large();
            }
            if declared.is_none() && !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
            {
                // A chunked body: read it up to the limit.
                match req.take_body().into_bytes_limit(limit).await {
                    Ok(bytes) => req.set_body(bytes),
                    Err(poem::error::ReadBodyError::PayloadTooLarge) => return too_large(),
                    Err(e) => return error_json(StatusCode::BAD_REQUEST, &e.to_string()),
                }
            }
            let response = match self.inner.call(req).await {
                Ok(output) => output.into_response(),
                Err(err) => crate::error::to_response(err),
            };
            if response.status().is_server_error() {
                tracing::error!(status = response.status().as_u16(), "request failed");
            } else {
                tracing::debug!(status = response.status().as_u16(), "request done");
            }
            response
        }
        .instrument(span)
        .await;
        let mut response = response;
        // Unknown paths (scanners) share one label.
        let route = if response.status() == StatusCode::NOT_FOUND && !route.contains("{id}") {
            "unmatched".to_owned()
        } else {
            route
        };
        let status = response.status().as_u16().to_string();
        metrics::counter!("signal_sentinel_http_requests_total",
            "method" => method.to_string(), "route" => route.clone(), "status" => status)
        .increment(1);
        metrics::histogram!("signal_sentinel_http_request_duration_seconds",
            "method" => method.to_string(), "route" => route)
        .record(started.elapsed().as_secs_f64());
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert("x-request-id", value);
        }
        if response.status() == StatusCode::METHOD_NOT_ALLOWED
            && let Some(value) = allow.and_then(|a| HeaderValue::from_str(a).ok())
        {
            response.headers_mut().insert(header::ALLOW, value);
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::route_label;

    #[test]
    fn ids_do_not_explode_the_route_labels() {
        assert_eq!(
            route_label("/api/rules/42/enable"),
            "/api/rules/{id}/enable"
        );
        assert_eq!(route_label("/api/health"), "/api/health");
        assert_eq!(route_label("/api/docs/index.js"), "/api/docs");
    }
}
