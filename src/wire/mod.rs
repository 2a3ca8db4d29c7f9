//! Wire encodings: turning business parameters into a provider request (encode, used by the runner) and a received request back into parameters (decode, used by the emulator). Depends on `spec` and `http` only.
pub mod decode;
pub mod encode;
