//! config.toml as nomadctx reads it: any bytes give a config or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nomadctx::store::parse_config(data, std::path::Path::new("config.toml"));
});
