//! Confide: a GraphQL API over a university Student Support service's records
//! that decides, field by field, what each caller may see.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod auth;
pub mod cli;
pub mod db;
pub mod demo;
pub mod domain;
pub mod edge;
pub mod error;
pub mod graphql;
pub mod monitoring;
pub mod policy;
pub mod research;
pub mod seed;
pub mod service;
pub mod settings;
pub mod startup;
pub mod statistics;
pub mod telemetry;

pub use graphql::schema;
