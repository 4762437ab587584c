//! Sprig's function library, as Helm exposes it (without `env` and `expandenv`).

mod aes;
pub mod conv;
mod crypto;
mod custom_cert;
mod dates;
mod extra;
mod lists;
mod math;
mod misc;
mod passwords;
mod random;
mod semver;
mod strings;
mod url;

use crate::funcs::FuncMap;

pub use dates::{duration_string, format as format_time, parse_duration, time_string};
pub use lists::{deep_copy, deep_equal};
pub use semver::satisfies_constraint;
pub use strings::{go_split, indent, title};

/// Every Sprig function this crate implements.
pub fn funcs() -> FuncMap {
    let mut m = FuncMap::new();
    strings::register(&mut m);
    lists::register(&mut m);
    math::register(&mut m);
    misc::register(&mut m);
    extra::register(&mut m);
    semver::register(&mut m);
    random::register(&mut m);
    dates::register(&mut m);
    url::register(&mut m);
    crypto::register(&mut m);
    passwords::register(&mut m);
    aes::register(&mut m);
    custom_cert::register(&mut m);
    extra::register_must(&mut m);
    m
}
