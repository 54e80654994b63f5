//! What the targets share: read bytes as an object the way every source does, and render what
//! came out in every profile.

use std::sync::Arc;

use trailhound::decode::LogType;
use trailhound::normalize::{EventBatch, ObjectContext, Output, Profile, render_batch};
use trailhound::source::object::ingest;
use trailhound::telemetry::Stats;

/// Every profile, with and without the original record.
pub fn render_all(batch: &EventBatch) {
    for profile in [Profile::Ecs, Profile::Ocsf] {
        for preserve_original in [false, true] {
            let rendered = render_batch(batch, Output { profile, preserve_original });
            assert_eq!(rendered.len(), batch.len(), "one document per event");
        }
    }
}

/// Reads `data` as the object `key` of a bucket, as a source would, and renders its events.
pub fn ingest_bytes(data: &[u8], key: &str, log_type: Option<LogType>) {
    let context = ObjectContext::new("fuzz", Some("bucket"), key, 0);
    let stats = Arc::new(Stats::default());
    let mut emit = |batch: EventBatch| {
        render_all(&batch);
        Ok(())
    };
    ingest(std::io::Cursor::new(data.to_vec()), &context, log_type, None, &stats, &mut emit);
}
