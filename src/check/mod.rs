//! Response checks (being built).
