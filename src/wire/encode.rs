//! Encoding parameters into requests (being built).
