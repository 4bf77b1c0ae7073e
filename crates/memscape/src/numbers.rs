//! How numbers are written and read back where a format has no word for them: NaN (and
//! infinity) as JSON's `null`, and a missing value as an empty CSV field.

/// Reads a number JSON wrote as `null` back as NaN (serde_json writes NaN and infinities as
/// `null`): for fields that are NaN by design, such as a missing held-out loss.
pub fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// [`null_as_nan`] for an interval `[lo, hi]`.
pub fn null_as_nan_pair<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<[f64; 2], D::Error> {
    let [lo, hi] = <[Option<f64>; 2] as serde::Deserialize>::deserialize(d)?;
    Ok([lo.unwrap_or(f64::NAN), hi.unwrap_or(f64::NAN)])
}

/// A record read where it still reads, none otherwise: for a stored document's fields kept
/// for the record whose earlier forms this version does not read.
pub fn readable_or_none<'de, D: serde::Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> std::result::Result<Option<T>, D::Error> {
    let value = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

/// A CSV field of an optional value: its `Display`, or empty.
pub fn field(v: Option<impl std::fmt::Display>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// NaN: the value of a number a stored document lacks.
pub fn nan() -> f64 {
    f64::NAN
}

/// `[NaN, NaN]`: the value of an interval a stored document lacks.
pub fn nan_pair() -> [f64; 2] {
    [f64::NAN; 2]
}

/// A JSON field that is present reads as `Some`, even when it is `null` (`Some(None)`); an
/// absent one, with `#[serde(default)]`, as `None`. For fields whose `null` means something.
pub fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// A list as a command line writes it: `8,16,32,64` (a float prints without a needless `.0`).
pub fn list_text(values: &[impl std::fmt::Display]) -> String {
    let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    values.join(",")
}
