mod alerts;
mod api_keys;
mod channels;
mod holdings;
mod lifecycle;
mod rule_states;
mod rules;
mod users;
