//! Endpoints, one module per tag.

pub mod health;
