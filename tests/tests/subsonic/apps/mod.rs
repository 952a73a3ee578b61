//! Apps as their own code calls us. Each sequence replays what one app sends, with its auth
//! style, URL form, `v`, method and response format, and checks the fields its parser reads.
//!
//! One module per app, each naming the app's source files it replays.

mod amperfy;
mod aonsoku;
mod decode;
mod dsub;
mod feishin;
mod stmps;
mod supersonic;
mod tempus;
