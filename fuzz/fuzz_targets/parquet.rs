//! A Parquet flow-log file: the footer, the schema and every row group.
#![no_main]

use std::io::Read;

use trailhound::decode::parquet::ParquetText;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(mut text) = ParquetText::new(data.to_vec()) {
        let mut out = Vec::new();
        let _ = text.read_to_end(&mut out);
    }
});
