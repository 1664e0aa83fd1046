//! The pages behind the links in messages: `GET /actions/{token}` says what the link will do
//! and asks to confirm (a GET never changes anything: mail scanners and link previews open
//! links), its button `POST`s to the same address, which acts and says what was done.

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{IntoResponse, Response, Route, handler};
use signal_sentinel::service::ServiceError;

use crate::AppState;
use crate::dashboard::CONTENT_SECURITY_POLICY;

use signal_sentinel::domain::text::escape_html as escape;

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title} · Signal Sentinel</title>\
         <link rel=\"stylesheet\" href=\"/assets/style.css\"></head>\
         <body><main class=\"action-page\"><h1>{title}</h1>{body}\
         <p><a href=\"/\">Open the dashboard</a></p></main></body></html>",
        title = escape(title),
    );
    html.with_content_type("text/html; charset=utf-8")
        .with_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Referrer-Policy", "no-referrer")
        .with_header("X-Frame-Options", "DENY")
        .with_header("Cache-Control", "no-store")
        .with_status(status)
        .into_response()
}

fn failure(error: &ServiceError) -> Response {
    let status = match error {
        ServiceError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ServiceError::Conflict { .. } => StatusCode::CONFLICT,
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!("{}", signal_sentinel::error_chain(error));
    }
    page(
        status,
        "Nothing was changed",
        &format!("<p>{}</p>", escape(&error.to_string())),
    )
}

#[handler]
async fn confirm(state: Data<&AppState>, Path(token): Path<String>) -> Response {
    match state.services.preview_action(&token).await {
        Ok(preview) => page(
            StatusCode::OK,
            preview.action.label(),
            &format!(
                "<p>{}</p><p class=\"muted\">{}</p>\
                 <form method=\"post\" action=\"/actions/{}\">\
                 <button type=\"submit\">{}</button></form>",
                escape(&preview.question),
                escape(&preview.alert.message),
                escape(&token),
                escape(preview.action.label()),
            ),
        ),
        Err(e) => failure(&e),
    }
}

#[handler]
async fn act(state: Data<&AppState>, Path(token): Path<String>) -> Response {
    match state.services.act_on_alert(&token).await {
        Ok(outcome) => page(
            StatusCode::OK,
            "Done",
            &format!("<p>{}</p>", escape(&outcome.done)),
        ),
        Err(e) => failure(&e),
    }
}

/// The action pages' routes, to merge at the root.
pub(crate) fn routes(route: Route) -> Route {
    route.at("/actions/:token", poem::get(confirm).post(act))
}
