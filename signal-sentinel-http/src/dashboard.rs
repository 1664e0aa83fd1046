//! The web dashboard: three files compiled into the binary and served at `/`, under a strict
//! Content-Security-Policy (scripts and styles from this origin only — plus Plaid Link's one
//! script and frame, loaded when a user links a brokerage — no inline code, no framing).

use poem::http::StatusCode;
use poem::{IntoResponse, Response, Route, handler};

const INDEX: &str = include_str!("../dashboard/index.html");
const APP_JS: &str = include_str!("../dashboard/app.js");
const STYLE: &str = include_str!("../dashboard/style.css");

/// The policy the dashboard's pages are served with.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
     script-src 'self' https://cdn.plaid.com/link/v2/stable/link-initialize.js; \
     frame-src https://cdn.plaid.com/; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    body.with_content_type(content_type)
        .with_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Referrer-Policy", "no-referrer")
        .with_header("X-Frame-Options", "DENY")
        .with_header("Cache-Control", "no-cache")
        .with_status(StatusCode::OK)
        .into_response()
}

#[handler]
fn index() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

#[handler]
fn app_js() -> Response {
    asset(APP_JS, "text/javascript; charset=utf-8")
}

#[handler]
fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

/// The dashboard's routes, to merge at the root.
pub(crate) fn routes(route: Route) -> Route {
    route
        .at("/", poem::get(index))
        .at("/assets/app.js", poem::get(app_js))
        .at("/assets/style.css", poem::get(style))
}
