//! Schema infer and evolve: attribute keys that appear in most of a table's records become
//! typed columns; values that do not fit their column are kept, as text, in a dead-letter
//! column; everything else stays in the attribute maps.
//!
//! ```text
//! sealed batch (base schema) ─► KeyObserver::observe ─► candidates ─► new_columns
//!                                                                      │ committed to the
//!                                                                      ▼ table's schema first
//!         promote(batch, the table's Promotions) ─► batch with typed columns + _rescued
//! ```
//!
//! - **Types come from text** ([`infer`]): the maps hold each value's JSON-literal text, and
//!   a key's type is the join of its values' kinds over the window (long and double join to
//!   double; anything else mixed is string), so the column type fits every value seen.
//! - **The table schema is the record** ([`columns`]): a promoted column's field doc names
//!   its source map and key, so every node, a restart and a WAL replay agree on where each
//!   key goes, whoever added the column.
//! - **Bounded growth**: a key needs `min-share` of the window's rows (high-churn keys — ids
//!   in keys, per-request keys — never get there), at most `max-columns` are promoted per
//!   table, and at most `max-tracked-keys` distinct keys are counted per batch.
//!
//! A user pins a column by adding its key to `allow` (and keeps a key out with `deny`); a
//! promoted column removed from the table (Spark, PyIceberg `delete_column`) is promoted
//! again only if the key is still common and not denied — deny it first.

pub mod columns;
pub mod config;
mod error;
pub mod infer;
pub mod observe;
pub mod promote;
pub mod table;

pub use columns::{PromotedColumn, Promotions, RESCUED_COLUMN, column_name, rescued_doc};
pub use config::{PromotionPolicy, SchemaConfig};
pub use error::{Error, Result};
pub use infer::{ColumnType, Kind};
pub use observe::{Candidate, KeyObserver, new_columns};
pub use promote::{Promoted, arrow_field, promote};
