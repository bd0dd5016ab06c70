//! One module per subcommand, plus the exit codes they share.

pub mod formats;
pub mod hunt;
pub mod parse;
pub mod rules;

/// Something could not be done at all (unreadable input, bad option value).
pub const EXIT_ERROR: u8 = 1;
/// The work was done but some records were skipped as unparseable.
pub const EXIT_SKIPPED: u8 = 3;
