//! One module per command group.

pub(crate) mod db;
pub(crate) mod demo;
pub(crate) mod monitor;
pub(crate) mod notifications;
pub(crate) mod quote;
pub(crate) mod rules;
