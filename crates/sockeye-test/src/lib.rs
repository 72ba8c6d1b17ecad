//! placeholder crate root, filled below
