//! Integration tests: the real server on a random port, real HTTP, a fresh
//! database per test (SQLite; PostgreSQL when CONFIDE_TEST_DATABASE_URL is set).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod cost;
mod filters;
mod health;
mod helpers;
mod matrix;
mod reception;
mod schema;
mod sharing;
mod writes;
