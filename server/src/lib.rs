//! carnet-server: the Carnet sync server.
//!
//! `tenant` owns a tenant's documents, rules and durable writes; `session`
//! speaks the sync protocol on one connection (generic over the socket);
//! `http` puts sessions, admin and metrics on axum; `admin` and `demo` are
//! the commands the binary exposes. Protocol logic shared with devices lives
//! in `carnet_core::sync`.

pub mod acl;
pub mod admin;
pub mod auth;
pub mod demo;
pub mod fuzzing;
pub mod http;
pub mod library;
pub mod mailer;
pub mod metrics;
pub mod session;
pub mod tenant;
pub mod throttle;
pub mod web;
