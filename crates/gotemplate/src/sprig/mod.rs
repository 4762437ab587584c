//! Sprig's function library, as Helm exposes it (without `env` and `expandenv`).

pub mod conv;
mod lists;
mod math;
mod misc;
mod strings;

use crate::funcs::FuncMap;

pub use lists::{deep_copy, deep_equal};
pub use strings::{go_split, indent, title};

/// Every Sprig function this crate implements.
pub fn funcs() -> FuncMap {
    let mut m = FuncMap::new();
    strings::register(&mut m);
    lists::register(&mut m);
    math::register(&mut m);
    misc::register(&mut m);
    m
}
