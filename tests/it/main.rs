//! The integration tests, one crate (as just's `tests/lib.rs`): each module drives the built
//! binary (or the one NOMADCTX_TEST_BINARY names) through a real Secret Service, kernel
//! keyrings, TLS peers, shells and terminals; `harness` is what they share.

mod harness;

mod architecture;
mod attack;
mod bad_input;
mod binding;
mod certificates;
mod check;
mod contexts;
mod core_dumps;
mod exec;
mod export_p12;
mod file_store;
mod file_store_exposure;
mod foreign_bus;
mod generated;
mod hygiene;
mod identity;
mod import;
mod keepassxc;
mod keyrings_attack;
mod links;
mod nomad_api;
mod pressure;
mod quoting;
mod rekey;
mod secret_service;
mod session;
mod shells;
mod test_command;
mod windows;
