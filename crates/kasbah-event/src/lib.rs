//! The normalised event model shared by every Kasbah crate.
//!
//! An [`Event`] is what a parser produces from one source record (a syslog line, an EVTX record, a
//! JSON document): event and receive times, tenant, where it came from, and a flat map of fields.
//! Fields carry two kinds of names at once:
//!
//! * the [Elastic Common Schema](https://www.elastic.co/guide/en/ecs/current/) names (`process.name`,
//!   `source.ip`, ...) that shippers, Sigma pipelines and analysts already use, declared in [`ecs`];
//! * every original field of the source record under its own name (`Image`, `EventID`, `id.orig_h`)
//!   and, through aliases, under its dotted path (`EventData.Image`).
//!
//! Names are interned into [`FieldId`]s once; lookups on the hot path compare `u32`s and return
//! borrowed values, so matching a rule against an event never allocates.

mod entity;
mod event;
mod field;
mod output;
mod time;
mod value;

pub use entity::{Entity, EntityKind};
pub use event::{Event, Fields, Source, TenantId};
pub use field::{FieldId, ecs};
pub use output::{OutputOptions, json_str as write_json_str, write_json};
pub use time::{Timestamp, TzOffset};
pub use value::Value;
