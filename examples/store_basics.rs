//! Store basics: open a database, create a user and a rule, record alerts and page through
//! them newest first — the storage layer the monitor and the API are built on.
//!
//! ```text
//! cargo run -p examples --example store_basics                      # in-memory SQLite
//! cargo run -p examples --example store_basics -- sqlite://./demo.db
//! ```

use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use signal_sentinel::Secret;
use signal_sentinel::config::DatabaseUrl;
use signal_sentinel::domain::{
    AlertCursor, AlertKind, AlertQuery, Email, JsonDocument, NewAlert, NewRule, NewUser, Symbol,
};
use signal_sentinel::store::{AlertStore, RuleStore, SeaStore, UserStore};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite::memory:".to_owned());
    // Opening runs the migrations, as every Signal Sentinel process does at start-up.
    let store = SeaStore::open(&DatabaseUrl::parse(&url)?).await?;

    let email = Email::parse("example@signal-sentinel.local")?;
    let user = match store.get_user_by_email(&email).await {
        Ok(user) => user,
        Err(_) => {
            store
                .create_user(NewUser {
                    email,
                    // Real callers store an argon2id hash here.
                    password_hash: Secret::new("$argon2id$example"),
                    display_name: Some("Example".into()),
                })
                .await?
        }
    };

    // Conditions are versioned JSON documents: new condition types need no schema change.
    let rule = store
        .create_rule(NewRule {
            owner: user.id,
            symbol: Symbol::parse("msft")?,
            name: Some("MSFT above 30".into()),
            condition: JsonDocument::new(
                1,
                serde_json::json!({"type": "price_above", "level": "30"}),
            )?,
            options: JsonDocument::empty(),
            enabled: true,
            expires_at: None,
        })
        .await?;

    // Real monthly closes of MSFT in 2000 above 30 (from the repository's fixtures).
    let closes = [
        "39.81", "36.35", "43.22", "28.37", "25.45", "32.54", "28.4", "28.4",
    ];
    let alerts: Vec<NewAlert> = closes
        .iter()
        .enumerate()
        .filter(|(_, close)| close.parse::<Decimal>().unwrap() > Decimal::from(30))
        .enumerate()
        .map(|(episode, (month, close))| NewAlert {
            rule_id: rule.id,
            owner: user.id,
            symbol: rule.symbol.clone(),
            episode: episode as i64 + 1,
            kind: AlertKind::Fired,
            price: close.parse().unwrap(),
            message: format!("MSFT closed at {close}, above 30"),
            // Closes are dated on the first of each month, 2000.
            fired_at: Utc
                .with_ymd_and_hms(2000, month as u32 + 1, 1, 21, 0, 0)
                .unwrap(),
            reminder: 0,
        })
        .collect();
    // One transaction: all of them or none.
    store.insert_alerts(alerts).await?;

    // Page through the user's alerts, two at a time, newest first.
    let mut query = AlertQuery::newest(user.id, 2);
    let mut page_no = 1;
    loop {
        let page = store.list_alerts(&query).await?;
        let Some(last) = page.last() else { break };
        query.before = Some(AlertCursor::from(last));
        for alert in &page {
            println!(
                "page {page_no}: #{} {} {} at {} — {}",
                alert.id,
                alert.symbol,
                alert.price,
                alert.fired_at.format("%Y-%m-%d"),
                alert.message
            );
        }
        page_no += 1;
    }
    Ok(())
}
