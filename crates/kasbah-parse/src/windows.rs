//! Windows event normalisation shared by EVTX, XML and JSON (to be completed).

use kasbah_event::Event;

/// Fills `e` from a Windows event given as JSON, in either the shape the `evtx` crate renders
/// (`{"Event": {"System": {...}, "EventData": {...}}}`) or Winlogbeat's (`winlog.*`).
/// Returns false (and leaves `e` untouched) if `doc` is not a Windows event.
pub(crate) fn normalise_json(_doc: &serde_json::Value, _e: &mut Event) -> bool {
    false
}
