//! A JSON response written straight from the value with serde, for the hot list endpoints.
//!
//! poem-openapi's `Json<T>` first builds a `serde_json::Value` tree of the whole page (a
//! `BTreeMap` per object, a `String` per field) and then writes it out; for a page of 50
//! alerts that tree cost about a tenth of the request's CPU. [`SerdeJson`] documents the same
//! schema (`T`'s) and writes the same JSON, field for field: the types it is used with derive
//! `Serialize` with the helpers below, which spell decimals and times exactly as poem-openapi
//! does, and a test compares the two writings.

use poem::http::header;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::Serialize;

const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A JSON response body serialised directly from `T` (see the module's documentation).
#[derive(Debug, Clone)]
pub struct SerdeJson<T>(pub T);

impl<T: Type> Payload for SerdeJson<T> {
    const CONTENT_TYPE: &'static str = CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        content_type.starts_with("application/json")
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for SerdeJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder()
                .header(header::CONTENT_TYPE, CONTENT_TYPE)
                .body(body),
            Err(e) => {
                tracing::error!("cannot write a response as JSON: {e}");
                poem::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

impl<T: Type + Serialize + Send> ApiResponse for SerdeJson<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: CONTENT_TYPE,
                    schema: T::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// A decimal as poem-openapi writes it: a string, without trailing zeros.
pub(crate) fn decimal<S: serde::Serializer>(
    d: &rust_decimal::Decimal,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(&d.normalize())
}

/// A time as poem-openapi writes it: RFC 3339 with `+00:00`.
pub(crate) fn time<S: serde::Serializer>(
    t: &chrono::DateTime<chrono::Utc>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

/// [`time`] for an optional time (`null` when absent).
pub(crate) fn optional_time<S: serde::Serializer>(
    t: &Option<chrono::DateTime<chrono::Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => time(t, s),
        None => s.serialize_none(),
    }
}
