//! The PEM inputs of `add`: certificate files and key files, as bytes from anywhere.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("input.pem");
    if let Ok(certs) = nomadctx::fuzzing::parse_certificates(data, path, "certificate file") {
        let _ = nomadctx::fuzzing::check_ca_bundle(&certs, path);
        for cert in &certs {
            let _ = nomadctx::fuzzing::certificate_details(cert);
        }
    }
    if let Ok(key) = nomadctx::fuzzing::parse_private_key(data, path) {
        let _ = nomadctx::fuzzing::key_to_pem(&key);
    }
});
