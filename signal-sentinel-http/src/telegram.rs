//! `POST /telegram/webhook`: where Telegram posts the bot's updates when
//! `TELEGRAM_WEBHOOK_URL` is set. An update without the secret token Telegram was given
//! (`X-Telegram-Bot-Api-Secret-Token`) is refused and not read.

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{IntoResponse, Request, Response, Route, handler};

use crate::AppState;

/// The header Telegram sends the webhook's secret token in.
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

#[handler]
async fn webhook(
    request: &Request,
    state: Data<&AppState>,
    update: Json<serde_json::Value>,
) -> Response {
    let given = request
        .headers()
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let bot = state.services.telegram_bot();
    match bot {
        Some(bot) if state.services.is_telegram_webhook_secret(given) => {
            bot.handle_webhook_update(&update.0).await;
            // Telegram only needs a 2xx; anything else makes it send the update again.
            StatusCode::OK.into_response()
        }
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// The webhook's route, to merge at the root.
pub(crate) fn routes(route: Route) -> Route {
    route.at("/telegram/webhook", poem::post(webhook))
}
