//! The one error shape: `{"error": {"code", "message", "fields"?}}`, for every failure —
//! handler errors, malformed JSON, missing credentials, unknown routes, oversized bodies.

use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use signal_sentinel::service::ServiceError;

/// One field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct FieldError {
    /// The request field (`email`, `text`, `options` …).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct ErrorDetail {
    /// Stable machine-readable kind: `invalid_input`, `bad_request`, `unauthenticated`,
    /// `not_found`, `conflict`, `limit_reached`, `payload_too_large`, `rate_limited`,
    /// `method_not_allowed`, `unavailable`, `internal`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// The fields at fault, for input errors.
    #[oai(nullable, skip_serializing_if_is_none)]
    pub fields: Option<Vec<FieldError>>,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

impl ErrorBody {
    /// An error without fields.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.to_owned(),
                message: message.into(),
                fields: None,
            },
        }
    }
}

/// Every error an endpoint answers.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request cannot be read (malformed JSON, a missing or mistyped parameter).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No valid credentials: log in, or send an API key.
    #[oai(status = 401)]
    Unauthenticated(Json<ErrorBody>),
    /// A per-user cap is reached (rules, API keys).
    #[oai(status = 403)]
    LimitReached(Json<ErrorBody>),
    /// No such object for this user (another user's objects answer the same).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The object exists already.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The request body is larger than the server accepts.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// A body was sent without `Content-Type: application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// The request was read but a value cannot be used; `fields` says which.
    #[oai(status = 422)]
    Invalid(Json<ErrorBody>),
    /// Too many requests; retry after the number of seconds in `Retry-After`.
    #[oai(status = 429)]
    RateLimited(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server; the response carries no detail, the log does (look
    /// for the `X-Request-Id`).
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// An outside service (market data) is unavailable.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl ApiError {
    /// A 404 for `what`.
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(Json(ErrorBody::new(
            "not_found",
            format!("{what} not found"),
        )))
    }

    /// A 422 naming one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Invalid(Json(ErrorBody {
            error: ErrorDetail {
                code: "invalid_input".into(),
                message: format!("{field}: {message}"),
                fields: Some(vec![FieldError {
                    field: field.to_owned(),
                    message,
                }]),
            },
        }))
    }

    /// A 429 asking to wait `seconds`.
    pub fn rate_limited(seconds: u64) -> Self {
        Self::RateLimited(
            Json(ErrorBody::new(
                "rate_limited",
                format!("too many requests; try again in {seconds} s"),
            )),
            seconds,
        )
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let body = |e: &ServiceError| Json(ErrorBody::new(e.code(), e.to_string()));
        match e {
            ServiceError::Invalid { field, message } => Self::invalid(&field, message),
            ServiceError::NotFound(_) => Self::NotFound(body(&e)),
            ServiceError::Conflict { ref field, .. } => {
                let mut b = body(&e);
                b.0.error.fields = Some(vec![FieldError {
                    field: field.clone(),
                    message: e.to_string(),
                }]);
                Self::Conflict(b)
            }
            ServiceError::Unauthenticated(_) => Self::Unauthenticated(body(&e)),
            ServiceError::LimitReached(_) => Self::LimitReached(body(&e)),
            ServiceError::TooManyAttempts { retry_after } => {
                let whole = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                Self::rate_limited(whole.max(1))
            }
            ServiceError::Unavailable(ref cause) => {
                tracing::warn!("unavailable: {cause}");
                Self::Unavailable(body(&e))
            }
            ServiceError::Internal(_) => {
                tracing::error!("{}", signal_sentinel::error_chain(&e));
                Self::Internal(body(&e))
            }
            _ => Self::Internal(Json(ErrorBody::new("internal", "internal error"))),
        }
    }
}

/// The code for a status poem answered on its own (routing, extraction, limits).
pub(crate) fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// Turns an error poem raised itself into the one error shape; responses built by
/// [`ApiError`] pass through untouched.
pub(crate) fn to_response(err: poem::Error) -> poem::Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let message = if status.is_server_error() {
        tracing::error!("internal error: {err}");
        "internal error".to_owned()
    } else if status == StatusCode::NOT_FOUND {
        "no such endpoint; see /api/docs".to_owned()
    } else if status == StatusCode::UNAUTHORIZED {
        "log in for a token (POST /api/auth/login) and send it as `Authorization: Bearer …`, or send an API key as X-API-Key".to_owned()
    } else {
        err.to_string()
    };
    error_json(status, &message)
}

/// The one error shape for `status`, with its code, as a response.
pub(crate) fn error_json(status: StatusCode, message: &str) -> poem::Response {
    use poem::IntoResponse;
    poem::web::Json(serde_json::json!({
        "error": {"code": code_for(status), "message": message}
    }))
    .with_status(status)
    .into_response()
}
