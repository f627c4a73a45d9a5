//! Integration tests: the real server on a random port, real HTTP, a fresh
//! database per test (SQLite; PostgreSQL when CONFIDE_TEST_DATABASE_URL is set).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod abuse;
mod admission;
mod audit_trail;
mod auth;
mod break_glass;
mod browsers;
mod consents;
mod cost;
mod directory;
mod disclosures;
mod edge;
mod emergency;
mod filters;
mod fixtures;
mod health;
mod helpers;
mod identity_provider;
mod in_force;
mod inline;
mod instances;
mod leaks;
mod legal;
mod matrix;
mod monitoring;
mod observability;
mod outside_audiences;
mod partner_feed;
mod races;
mod rate_limits;
mod reception;
mod registered_operations;
mod relay;
mod research;
mod retention;
mod rights;
mod risk_exceptions;
mod sar;
mod schema;
mod statistics;
mod storage;
mod walk;
mod writes;
