//! Seeds alerts for the HTTP load script: `seed_alerts EMAIL COUNT` over `DATABASE_URL`.

use rust_decimal::Decimal;
use signal_sentinel::config::DatabaseUrl;
use signal_sentinel::domain::{AlertKind, Email, NewAlert, Symbol};
use signal_sentinel::rules::{RuleInput, prepare_rule};
use signal_sentinel::store::{AlertStore, RuleStore, SeaStore, UserStore};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(email), Some(count)) = (args.next(), args.next()) else {
        return Err("usage: seed_alerts EMAIL COUNT (DATABASE_URL names the database)".into());
    };
    let count: i64 = count.parse()?;
    let url = DatabaseUrl::parse(&std::env::var("DATABASE_URL")?)?;
    let store = SeaStore::open(&url).await?;
    let user = store.get_user_by_email(&Email::parse(&email)?).await?;
    let rule = store
        .create_rule(prepare_rule(
            user.id,
            RuleInput {
                text: "XYZ crosses above 30".into(),
                ..RuleInput::default()
            },
        )?)
        .await?;
    let now = chrono::Utc::now();
    let alerts = (0..count)
        .map(|i| NewAlert {
            rule_id: rule.id,
            owner: user.id,
            symbol: Symbol::parse("XYZ").expect("a valid symbol"),
            episode: i + 1,
            kind: AlertKind::Fired,
            price: Decimal::new(3000 + i, 2),
            message: format!("XYZ crossed above 30 (#{i})"),
            fired_at: now - chrono::Duration::minutes(i),
            reminder: 0,
        })
        .collect();
    let stored = store.insert_alerts(alerts).await?;
    println!("seeded {} alerts for {email}", stored.len());
    Ok(())
}
