//! Certificates and keys for Nomad's mutual TLS, one file per job.

pub mod pkcs12;

pub mod checks;
pub mod details;
pub mod expiry;
pub mod pem;
