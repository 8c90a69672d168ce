//! Settings read as what their key means. The `config` crate turns a TOML float into an integer
//! by rounding (`time_limit_secs = 2.7` became 2, `nan` became 0, which means "no limit") and any
//! number into a boolean; these readers refuse such values instead, and the `config` crate puts
//! the key in the message (`invalid type: floating point `2.7`, expected a whole number from 0
//! to 3600 for key `geoguessr.time_limit_secs``).
//!
//! Used with `#[serde(deserialize_with = "...")]` on every integer and boolean setting. Strings
//! are read too, because flags and `GEOAGENT_*` variables arrive as text.

use serde::de::{self, Deserializer, Unexpected, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// An integer setting: a whole number in `T`'s range, written as an integer (or as text that
/// is one). Floats, NaN, booleans and out-of-range numbers are errors.
pub(super) struct Whole<T>(T);

struct WholeVisitor<T>(PhantomData<T>);

impl<T> WholeVisitor<T>
where
    T: TryFrom<i128> + Bounds,
{
    fn fit<E: de::Error>(v: i128, shown: Unexpected<'_>) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(shown, &Self(PhantomData)))
    }
}

/// The range of an integer type, for messages.
pub(super) trait Bounds {
    const MIN: i128;
    const MAX: i128;
}

macro_rules! bounds {
    ($($t:ty),*) => {$(
        impl Bounds for $t {
            const MIN: i128 = <$t>::MIN as i128;
            const MAX: i128 = <$t>::MAX as i128;
        }
    )*};
}
bounds!(u8, u16, u32, u64, usize);

impl<'de, T> Visitor<'de> for WholeVisitor<T>
where
    T: TryFrom<i128> + Bounds,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a whole number from {} to {}", T::MIN, T::MAX)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Self::fit(i128::from(v), Unexpected::Signed(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        Self::fit(i128::from(v), Unexpected::Unsigned(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<T, E> {
        Self::fit(v, Unexpected::Other("a number out of range"))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<T, E> {
        let v = i128::try_from(v)
            .map_err(|_| E::invalid_value(Unexpected::Other("a number out of range"), &self))?;
        Self::fit(v, Unexpected::Other("a number out of range"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        Err(E::invalid_type(Unexpected::Float(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        match v.trim().parse::<i128>() {
            Ok(n) => Self::fit(n, Unexpected::Str(v)),
            Err(_) => Err(E::invalid_value(Unexpected::Str(v), &self)),
        }
    }
}

impl<'de, T> de::Deserialize<'de> for Whole<T>
where
    T: TryFrom<i128> + Bounds,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(WholeVisitor(PhantomData)).map(Whole)
    }
}

/// An integer setting (see [`Whole`]).
pub(super) fn whole<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128> + Bounds,
{
    <Whole<T> as de::Deserialize>::deserialize(d).map(|w| w.0)
}

/// An optional integer setting (see [`Whole`]).
pub(super) fn whole_opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128> + Bounds,
{
    <Option<Whole<T>> as de::Deserialize>::deserialize(d).map(|o| o.map(|w| w.0))
}

struct FlagVisitor;

impl Visitor<'_> for FlagVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("true or false")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match v.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        Err(E::invalid_type(Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        Err(E::invalid_type(Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        Err(E::invalid_type(Unexpected::Float(v), &self))
    }
}

/// A boolean setting: `true` or `false` (numbers are errors, not truthy).
pub(super) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    d.deserialize_any(FlagVisitor)
}
