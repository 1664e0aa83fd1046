use std::fmt::Write;

use chrono::TimeZone;
use serde::Serialize;

use super::NotificationPrefs;
use crate::clock::Clock;
use crate::domain::{AlertKind, AlertQuery, DeliveryEvent, NewDelivery, UserId};
use crate::store::{Store, StoreError};

/// What a digest round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DigestReport {
    /// Users who got their digest.
    pub users: Vec<UserId>,
    /// Deliveries queued.
    pub deliveries: usize,
}

/// Queues the daily digest of every user whose digest time has come today (in their time
/// zone) and who has not had today's: the day's alerts, listed, and the holdings that report
/// earnings in the coming week (from the stored corporate calendars), to each enabled channel —
/// followed, with `summaries` and unless the user turned summaries off, by a summary of the
/// day and the portfolio's move. Idempotent within a day.
///
/// # Errors
/// [`StoreError`] when users, alerts or the outbox cannot be read or written.
pub async fn send_due_digests(
    store: &dyn Store,
    clock: &dyn Clock,
    summaries: Option<&crate::summary::AlertSummaries>,
) -> Result<DigestReport, StoreError> {
    let now = clock.now();
    let mut report = DigestReport::default();
    for user in store.list_users().await? {
        let (doc, last) = store.get_notification_prefs(user.id).await?;
        let Ok(prefs) = NotificationPrefs::from_document(&doc) else {
            continue;
        };
        let (Some(at), Ok(zone)) = (prefs.digest_at, prefs.zone()) else {
            continue;
        };
        let local = now.with_timezone(&zone);
        let today = local.date_naive();
        if local.time() < at || last.is_some_and(|d| d >= today) {
            continue;
        }
        let start = zone
            .from_local_datetime(&today.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map_or(now, |t| t.to_utc());
        let mut alerts = store
            .list_alerts(&AlertQuery {
                since: Some(start),
                ..AlertQuery::newest(user.id, 500)
            })
            .await?;
        alerts.retain(|a| a.kind == AlertKind::Fired);
        alerts.reverse();
        let mut body = format!("Daily digest, {}: ", today.format("%A %-d %B %Y"));
        if alerts.is_empty() {
            body.push_str("no alerts today.");
        } else {
            let _ = write!(
                body,
                "{} alert{}",
                alerts.len(),
                if alerts.len() == 1 { "" } else { "s" }
            );
            for alert in &alerts {
                let _ = write!(
                    body,
                    "\n• {} — {}",
                    alert.fired_at.with_timezone(&zone).format("%H:%M"),
                    alert.message
                );
            }
        }
        if let Some(line) = earnings_this_week(store, user.id, today).await? {
            let _ = write!(body, "\n{line}");
        }
        if let Some(summaries) = summaries.filter(|_| prefs.summaries) {
            let lines = alerts
                .iter()
                .map(|a| {
                    format!(
                        "{} {}",
                        a.fired_at.with_timezone(&zone).format("%H:%M"),
                        a.message
                    )
                })
                .collect();
            let facts = summaries.digest_facts(user.id, today, lines).await?;
            let summary = summaries.summarize_digest(user.id, &facts).await;
            let _ = write!(body, "\n\n{summary}");
        }
        let deliveries: Vec<NewDelivery> = store
            .list_channels(user.id)
            .await?
            .into_iter()
            .filter(|c| c.enabled)
            .map(|c| NewDelivery {
                channel_id: c.id,
                user_id: user.id,
                event: DeliveryEvent::Digest,
                body: body.clone(),
            })
            .collect();
        report.deliveries += store.enqueue_deliveries(deliveries, now).await?.len();
        store.set_last_digest(user.id, today).await?;
        report.users.push(user.id);
    }
    Ok(report)
}

/// `Earnings this week: AAPL Thu 10 Dec after the close, MSFT Tue 15 Dec` for the user's
/// holdings with an earnings report dated from `today` to six days later, as the stored
/// calendars have them; `None` when there is none.
async fn earnings_this_week(
    store: &dyn Store,
    user: UserId,
    today: chrono::NaiveDate,
) -> Result<Option<String>, StoreError> {
    let mut symbols: Vec<crate::domain::Symbol> = store
        .list_holdings(user)
        .await?
        .into_iter()
        .map(|h| h.symbol)
        .collect();
    symbols.sort();
    symbols.dedup();
    if symbols.is_empty() {
        return Ok(None);
    }
    let until = today + chrono::Days::new(6);
    let mut due: Vec<(chrono::NaiveDate, String)> = store
        .load_events(&symbols)
        .await?
        .into_iter()
        .flat_map(|calendar| calendar.events)
        .filter(|e| (today..=until).contains(&e.date))
        .filter_map(|e| match e.kind {
            crate::domain::EventKind::Earnings { hour } => {
                let mut text = format!("{} {}", e.symbol, e.date.format("%a %-d %b"));
                if let Some(hour) = hour {
                    let _ = write!(text, " {}", hour.describe());
                }
                Some((e.date, text))
            }
            _ => None,
        })
        .collect();
    due.sort();
    due.dedup();
    Ok((!due.is_empty()).then(|| {
        let list: Vec<String> = due.into_iter().map(|(_, text)| text).collect();
        format!("Earnings this week: {}", list.join(", "))
    }))
}
