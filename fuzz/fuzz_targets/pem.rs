//! The PEM inputs of `add`: certificate files and key files, as bytes from anywhere.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("input.pem");
    if let Ok(certs) = nomadctx::tls::pem::parse_certificates(data, path, "certificate file") {
        let _ = nomadctx::tls::checks::check_ca_bundle(&certs, path);
        for cert in &certs {
            let _ = nomadctx::tls::details::certificate_details(cert);
        }
    }
    if let Ok(key) = nomadctx::tls::pem::parse_private_key(data, path) {
        let _ = nomadctx::tls::pem::key_to_pem(&key);
    }
});
