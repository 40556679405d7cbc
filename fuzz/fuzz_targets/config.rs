//! config.toml as nomadctx reads it: any bytes give a config or an error, never a panic;
//! and every value a hand edit can put there survives what the reading commands do with
//! it (address parsing, expiry dates and warnings, escaping for the terminal, JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nomadctx::fuzzing::Address;
use nomadctx::fuzzing::{printable, printable_json};
use nomadctx::fuzzing::{expiry_warning, format_day, format_time};

fuzz_target!(|data: &[u8]| {
    let Ok(config) = nomadctx::fuzzing::parse_config(data, std::path::Path::new("config.toml"))
    else {
        return;
    };
    for (name, context) in &config.contexts {
        let _ = Address::parse(&context.address).map(|a| a.authority());
        if let Some(t) = context.client_cert_not_after {
            let _ = (format_day(t), format_time(t), expiry_warning(name, t));
        }
        for value in [
            Some(name),
            Some(&context.address),
            context.region.as_ref(),
            context.namespace.as_ref(),
            context.tls_server_name.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            let _ = printable(value);
        }
        let json = serde_json::to_string_pretty(context).unwrap();
        let _ = printable_json(&json);
    }
});
