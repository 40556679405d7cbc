//! HTTP answers as `check` reads them from a server: any bytes give a response or an error,
//! never a panic; a body is never longer than the answer, and past the cap is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nomadctx::fuzzing::{MAX_RESPONSE, parse_response};

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = parse_response(data) {
        assert!(response.body.len() <= data.len());
    }
    if data.len() > MAX_RESPONSE {
        assert!(parse_response(data).is_err());
    }
});
