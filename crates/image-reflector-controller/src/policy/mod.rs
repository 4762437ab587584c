//! Tag selection, as Flux's `internal/policy` does it: `filterTags` first (pattern, then
//! `extract`), then the policy picks the latest value and the tag it came from is reported.
//!
//! - semver: tags that are versions (`MAJOR.MINOR.PATCH`, an optional `v`, leading zeros
//!   allowed, as fluxcd/pkg/version reads them) and satisfy the range; the highest wins, the first
//!   of equal precedence (build metadata ignored) among them.
//! - alphabetical: byte-wise order; `asc` picks the last, `desc` the first.
//! - numerical: every candidate must parse as Go's `ParseFloat` reads it — one that does not
//!   fails the policy, as in Flux (filter such tags out with `filterTags.pattern`); `asc` picks
//!   the highest, `desc` the lowest, the later of equal values.

pub mod filter;
pub mod numeric;

use driftless_api::image::{ImagePolicyChoice, SortOrder, TagFilter as TagFilterSpec};
use driftless_semver::{Constraint, InvalidConstraint, Version};

pub use filter::{Filtered, InvalidPattern, TagFilter};

/// Why no tag was selected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// `spec.policy` names no policy.
    #[error("invalid policy: given ImagePolicyChoice object is invalid")]
    NoChoice,
    /// `spec.policy.semver.range` does not parse.
    #[error("invalid policy: {0}")]
    Constraint(#[source] InvalidConstraint),
    /// `spec.filterTags.pattern` does not compile.
    #[error("failed to filter tags: {0}")]
    Filter(#[source] InvalidPattern),
    /// No tag passed the filter.
    #[error("version list argument cannot be empty")]
    Empty,
    /// No tag is a version within the range.
    #[error("unable to determine latest version from provided list")]
    NoVersion,
    /// A candidate of a numerical policy is not a number.
    #[error("failed to parse invalid numeric value '{0}'")]
    NotANumber(String),
}

impl PolicyError {
    /// Whether the spec itself is wrong (Flux stalls with reason `InvalidPolicy`), as opposed to
    /// the tags not allowing a choice (which may change with the next scan).
    pub fn is_invalid_spec(&self) -> bool {
        matches!(self, Self::NoChoice | Self::Constraint(_) | Self::Filter(_))
    }
}

/// A policy ready to choose among values.
#[derive(Clone, Debug)]
pub enum Policer {
    /// Highest version within the range.
    SemVer(Constraint),
    /// Byte-wise order.
    Alphabetical(SortOrder),
    /// Numeric order.
    Numerical(SortOrder),
}

impl Policer {
    /// The policy `spec.policy` asks for; semver first, then alphabetical, then numerical, as
    /// Flux checks them.
    pub fn from_spec(choice: &ImagePolicyChoice) -> Result<Self, PolicyError> {
        if let Some(semver) = &choice.semver {
            return Constraint::parse(&semver.range)
                .map(Self::SemVer)
                .map_err(PolicyError::Constraint);
        }
        if let Some(alphabetical) = &choice.alphabetical {
            return Ok(Self::Alphabetical(alphabetical.order.unwrap_or_default()));
        }
        if let Some(numerical) = &choice.numerical {
            return Ok(Self::Numerical(numerical.order.unwrap_or_default()));
        }
        Err(PolicyError::NoChoice)
    }

    /// The index in `values` of the latest value.
    pub fn latest(&self, values: &[&str]) -> Result<usize, PolicyError> {
        if values.is_empty() {
            return Err(PolicyError::Empty);
        }
        match self {
            Self::SemVer(constraint) => latest_version(constraint, values),
            Self::Alphabetical(order) => Ok(latest_alphabetical(*order, values)),
            Self::Numerical(order) => latest_number(*order, values),
        }
    }
}

/// A tag as fluxcd/pkg/version's `ParseVersion` reads it: at least three dot-separated parts,
/// then Masterminds' lenient parse.
pub fn tag_version(tag: &str) -> Option<Version> {
    if tag.splitn(3, '.').count() != 3 || tag.ends_with(['-', '+']) || tag.contains("-+") {
        return None;
    }
    driftless_semver::parse_version(tag)
}

fn latest_version(constraint: &Constraint, values: &[&str]) -> Result<usize, PolicyError> {
    let mut best: Option<(usize, Version)> = None;
    for (i, value) in values.iter().enumerate() {
        let Some(version) = tag_version(value) else {
            continue;
        };
        if !constraint.matches(&version) {
            continue;
        }
        let greater = best
            .as_ref()
            .is_none_or(|(_, b)| version.cmp_precedence(b) == std::cmp::Ordering::Greater);
        if greater {
            best = Some((i, version));
        }
    }
    best.map(|(i, _)| i).ok_or(PolicyError::NoVersion)
}

fn latest_alphabetical(order: SortOrder, values: &[&str]) -> usize {
    let indexed = values.iter().enumerate();
    let pick = match order {
        SortOrder::Asc => indexed.max_by(|a, b| a.1.cmp(b.1)),
        SortOrder::Desc => indexed.min_by(|a, b| a.1.cmp(b.1)),
    };
    pick.map_or(0, |(i, _)| i)
}

fn latest_number(order: SortOrder, values: &[&str]) -> Result<usize, PolicyError> {
    let mut latest: Option<(usize, f64)> = None;
    for (i, value) in values.iter().enumerate() {
        let number = numeric::parse_go_float(value)
            .ok_or_else(|| PolicyError::NotANumber((*value).to_owned()))?;
        // Flux keeps the current pick only when the new value is strictly worse, so equal
        // values (and NaN) move the pick to the later tag.
        let worse = latest.is_some_and(|(_, current)| match order {
            SortOrder::Asc => number < current,
            SortOrder::Desc => number > current,
        });
        if !worse {
            latest = Some((i, number));
        }
    }
    latest.map(|(i, _)| i).ok_or(PolicyError::Empty)
}

/// The tag the policy selects among `tags` (in store order), after `filter`.
pub fn select(
    choice: &ImagePolicyChoice,
    filter: Option<&TagFilterSpec>,
    tags: &[String],
) -> Result<String, PolicyError> {
    let policer = Policer::from_spec(choice)?;
    let Some(spec) = filter else {
        let values: Vec<&str> = tags.iter().map(String::as_str).collect();
        let i = policer.latest(&values)?;
        return Ok(tags[i].clone());
    };
    let filter = TagFilter::new(
        spec.pattern.as_deref().unwrap_or_default(),
        spec.extract.as_deref().unwrap_or_default(),
    )
    .map_err(PolicyError::Filter)?;
    let filtered = filter.apply(tags.iter().map(String::as_str));
    let values: Vec<&str> = filtered.iter().map(|f| f.value.as_str()).collect();
    let i = policer.latest(&values)?;
    Ok(filtered[i].tag.clone())
}

#[cfg(test)]
mod tests;
