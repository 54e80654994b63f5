//! A TOML configuration through the reader and the validator.
#![no_main]

use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Settings may name files the validator reads (INI sources, CA files); device files would
    // only measure the device.
    if let Ok(text) = std::str::from_utf8(data)
        && !["/dev", "/proc", "/sys"].iter().any(|special| text.contains(special))
    {
        let _ = trailhound::config::parse_toml(Path::new("fuzz.toml"), text, Path::new("/nonexistent/key"));
    }
});
