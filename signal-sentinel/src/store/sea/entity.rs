//! sea-orm entities, one module per table. Private to the store: the rest of the library sees
//! only domain types.
//!
//! Decimal columns are `String` here (TEXT in the schema): see the migration crate's docs.

pub(crate) mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub(crate) struct Model {
        #[sea_orm(primary_key)]
        pub(crate) id: i64,
        pub(crate) email: String,
        pub(crate) password_hash: String,
        pub(crate) display_name: Option<String>,
        pub(crate) created_at: DateTimeUtc,
        pub(crate) updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod api_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub(crate) struct Model {
        #[sea_orm(primary_key)]
        pub(crate) id: i64,
        pub(crate) user_id: i64,
        pub(crate) name: String,
        pub(crate) prefix: String,
        pub(crate) key_hash: String,
        pub(crate) created_at: DateTimeUtc,
        pub(crate) last_used_at: Option<DateTimeUtc>,
        pub(crate) revoked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod rule {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rules")]
    pub(crate) struct Model {
        #[sea_orm(primary_key)]
        pub(crate) id: i64,
        pub(crate) user_id: i64,
        pub(crate) symbol: String,
        pub(crate) name: Option<String>,
        pub(crate) condition: Json,
        pub(crate) options: Json,
        pub(crate) enabled: bool,
        pub(crate) created_at: DateTimeUtc,
        pub(crate) updated_at: DateTimeUtc,
        pub(crate) last_triggered_at: Option<DateTimeUtc>,
        pub(crate) expires_at: Option<DateTimeUtc>,
        pub(crate) snoozed_until: Option<DateTimeUtc>,
        /// The shard of `symbol` (`NULL` for rules stored before migration 4 until the
        /// library fills it in).
        pub(crate) shard: Option<i32>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod rule_state {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rule_states")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub(crate) rule_id: i64,
        pub(crate) phase: String,
        pub(crate) episode: i64,
        pub(crate) pending_since: Option<DateTimeUtc>,
        pub(crate) last_price: Option<String>,
        pub(crate) memory: Json,
        pub(crate) updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod alert {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "alerts")]
    pub(crate) struct Model {
        #[sea_orm(primary_key)]
        pub(crate) id: i64,
        pub(crate) rule_id: Option<i64>,
        pub(crate) user_id: i64,
        pub(crate) symbol: String,
        pub(crate) episode: i64,
        pub(crate) kind: String,
        pub(crate) price: String,
        pub(crate) message: String,
        pub(crate) summary: Option<String>,
        pub(crate) state: String,
        pub(crate) fired_at: DateTimeUtc,
        pub(crate) acknowledged_at: Option<DateTimeUtc>,
        pub(crate) reminder: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod channel {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "channels")]
    pub(crate) struct Model {
        #[sea_orm(primary_key)]
        pub(crate) id: i64,
        pub(crate) user_id: i64,
        pub(crate) name: String,
        pub(crate) kind: String,
        pub(crate) config: Json,
        pub(crate) secret: Option<String>,
        pub(crate) enabled: bool,
        pub(crate) created_at: DateTimeUtc,
        pub(crate) updated_at: DateTimeUtc,
        pub(crate) last_ok_at: Option<DateTimeUtc>,
        pub(crate) last_error: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod holding {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "holdings")]
    pub(crate) struct Model {
        #[sea_orm(primary_key)]
        pub(crate) id: i64,
        pub(crate) user_id: i64,
        pub(crate) account: String,
        pub(crate) symbol: String,
        pub(crate) quantity: String,
        pub(crate) cost_basis: Option<String>,
        pub(crate) source: String,
        pub(crate) updated_at: DateTimeUtc,
        pub(crate) broker_connection_id: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod broker_connection {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "broker_connections")]
    pub(crate) struct Model {
        #[sea_orm(primary_key)]
        pub(crate) id: i64,
        pub(crate) user_id: i64,
        pub(crate) provider: String,
        pub(crate) item_id: String,
        pub(crate) institution: Option<String>,
        pub(crate) access_token: String,
        pub(crate) status: String,
        pub(crate) error_code: Option<String>,
        pub(crate) error_message: Option<String>,
        pub(crate) last_synced_at: Option<DateTimeUtc>,
        pub(crate) sync_claimed_until: Option<DateTimeUtc>,
        pub(crate) created_at: DateTimeUtc,
        pub(crate) updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod delivery {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deliveries")]
    pub(crate) struct Model {
        #[sea_orm(primary_key)]
        pub(crate) id: i64,
        pub(crate) alert_id: Option<i64>,
        pub(crate) channel_id: i64,
        pub(crate) user_id: i64,
        pub(crate) event: String,
        pub(crate) body: Option<String>,
        pub(crate) silent: bool,
        pub(crate) claimed_by: Option<String>,
        pub(crate) claimed_until: Option<DateTimeUtc>,
        pub(crate) status: String,
        pub(crate) attempts: i32,
        pub(crate) next_attempt_at: DateTimeUtc,
        pub(crate) last_error: Option<String>,
        pub(crate) sent_at: Option<DateTimeUtc>,
        pub(crate) created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod symbol_sample {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "symbol_samples")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub(crate) symbol: String,
        pub(crate) samples: Json,
        pub(crate) updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod symbol_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "symbol_events")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub(crate) symbol: String,
        pub(crate) events: Json,
        pub(crate) refreshed_on: Date,
        pub(crate) updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod split_adjustment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "split_adjustments")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub(crate) symbol: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub(crate) ex_date: Date,
        pub(crate) ratio: String,
        pub(crate) applied_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod notification_prefs {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_prefs")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub(crate) user_id: i64,
        pub(crate) prefs: Json,
        pub(crate) last_digest_on: Option<Date>,
        pub(crate) updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod monitor_worker {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "monitor_workers")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub(crate) id: String,
        pub(crate) host: String,
        pub(crate) pid: i64,
        pub(crate) interval_seconds: i64,
        pub(crate) started_at: DateTimeUtc,
        pub(crate) heartbeat_at: DateTimeUtc,
        pub(crate) last_cycle_at: Option<DateTimeUtc>,
        pub(crate) last_cycle_ms: Option<i64>,
        pub(crate) last_cycle_rules: Option<i64>,
        pub(crate) last_cycle_alerts: Option<i64>,
        pub(crate) last_error: Option<String>,
        /// The worker's [`MarketFeed`](crate::domain::MarketFeed) as JSON.
        pub(crate) market_feed: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod monitor_shard {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "monitor_shards")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub(crate) shard: i32,
        pub(crate) worker_id: Option<String>,
        pub(crate) lease_until: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod action_token_use {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "action_token_uses")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub(crate) token_id: String,
        pub(crate) user_id: i64,
        pub(crate) used_at: DateTimeUtc,
        pub(crate) expires_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod telegram_chat {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "telegram_chats")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub(crate) chat_id: i64,
        pub(crate) user_id: i64,
        pub(crate) linked_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod telegram_link_code {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "telegram_link_codes")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub(crate) code_hash: String,
        pub(crate) user_id: i64,
        pub(crate) expires_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod bot_cursor {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bot_cursors")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub(crate) bot: String,
        pub(crate) next_update: i64,
        pub(crate) holder: Option<String>,
        pub(crate) lease_until: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
