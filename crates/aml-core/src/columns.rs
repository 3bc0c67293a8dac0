//! Coercion of Arrow arrays into the plain column types of [`crate::tables`].
//!
//! The SOT exporters disagree on physical types (decimal(38,18) vs Float64 vs digit strings, UInt16 vs
//! Int64, Date32 vs strings, plain vs dictionary-encoded strings), so every reader goes through these
//! functions, which accept every encoding the contract allows and reject the rest with
//! [`BatchError::WrongType`] / [`BatchError::InvalidValue`] naming file, column and row.

use arrow::array::{Array, AsArray, BooleanArray, LargeStringArray, StringArray, StringViewArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Decimal256Type, Decimal32Type, Decimal64Type,
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};

use crate::error::BatchError;

pub(crate) use crate::schema::Kind;

impl Kind {
    /// Human description of the accepted types, for [`BatchError::WrongType`].
    pub(crate) fn expected(self) -> &'static str {
        match self {
            Kind::Number => "a number (int, float, decimal, boolean or digit string)",
            Kind::Integer | Kind::Window => {
                "an integer (int, integral float/decimal, digit string or timestamp)"
            }
            Kind::Date => "a date (Date32, Date64, timestamp or YYYY-MM-DD string)",
            Kind::Text => "a string (Utf8, LargeUtf8, Utf8View or dictionary of strings)",
            Kind::TextList => "a list of strings",
            Kind::IntList => "a list of integers",
            Kind::Flag => "a boolean",
        }
    }

    /// Whether a column of type `data_type` can be read as this kind.
    pub(crate) fn accepts(self, data_type: &DataType) -> bool {
        use DataType as D;
        if let D::Dictionary(_, values) = data_type {
            return self.accepts(values);
        }
        let is_text = matches!(data_type, D::Utf8 | D::LargeUtf8 | D::Utf8View);
        let is_int = data_type.is_integer();
        let is_number = data_type.is_numeric() || matches!(data_type, D::Boolean);
        match self {
            _ if matches!(data_type, D::Null) => true,
            Kind::Number => is_number || is_text,
            Kind::Integer | Kind::Window => {
                is_number || is_text || matches!(data_type, D::Timestamp(_, _))
            }
            Kind::Date => {
                is_text || matches!(data_type, D::Date32 | D::Date64 | D::Timestamp(_, _))
            }
            Kind::Text => is_text,
            Kind::TextList => list_child(data_type).is_some_and(|child| Kind::Text.accepts(child)),
            Kind::IntList => list_child(data_type).is_some_and(|child| {
                child.is_integer()
                    || matches!(child, D::Null)
                    || matches!(child, D::Dictionary(_, v) if v.is_integer())
            }),
            Kind::Flag => matches!(data_type, D::Boolean) || is_int,
        }
    }
}

fn list_child(data_type: &DataType) -> Option<&DataType> {
    match data_type {
        DataType::List(field) | DataType::LargeList(field) | DataType::FixedSizeList(field, _) => {
            Some(field.data_type())
        }
        _ => None,
    }
}

/// Where values come from, for error messages: file, column and the file row of the array's first element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub(crate) file: &'a str,
    pub(crate) column: &'a str,
    pub(crate) first_row: usize,
}

impl Origin<'_> {
    fn wrong_type(&self, data_type: &DataType, kind: Kind) -> BatchError {
        BatchError::WrongType {
            file: self.file.to_string(),
            column: self.column.to_string(),
            found: data_type.to_string(),
            expected: kind.expected().to_string(),
        }
    }

    fn invalid(&self, row: usize, value: impl ToString, reason: &str) -> BatchError {
        BatchError::InvalidValue(crate::error::InvalidValue {
            file: self.file.to_string(),
            column: self.column.to_string(),
            row: self.first_row + row,
            value: value.to_string(),
            reason: reason.to_string(),
        })
    }
}

/// The conversion of one decimal column's values to f64, with everything that depends only on
/// the column's scale computed once (a full-size day decodes 20M decimals).
///
/// Integer and fraction are converted apart so that common values (e.g.
/// `123.450000000000000000` at scale 18) lose no precision to a huge intermediate.
#[derive(Debug, Clone, Copy)]
struct DecimalScale {
    scale: i8,
    /// `10^scale` when the scale is positive and the power fits in an i128.
    power: Option<i128>,
    /// `power` as f64.
    power_f64: f64,
}

impl DecimalScale {
    fn new(scale: i8) -> DecimalScale {
        let power = (scale > 0)
            .then(|| 10i128.checked_pow(scale as u32))
            .flatten();
        DecimalScale {
            scale,
            power,
            power_f64: power.map_or(f64::NAN, i128_to_f64),
        }
    }

    fn to_f64(self, unscaled: i128) -> f64 {
        if self.scale <= 0 {
            return i128_to_f64(unscaled) * 10f64.powi(-(self.scale as i32));
        }
        let Some(power) = self.power else {
            return i128_to_f64(unscaled) / 10f64.powi(self.scale as i32);
        };
        // Truncating division: `unscaled - whole * power` is exactly `unscaled % power`, with one
        // division instead of two; it runs on i64 when the value fits (a hardware division).
        let (whole, fraction) = match (i64::try_from(unscaled), i64::try_from(power)) {
            (Ok(small), Ok(power)) => ((small / power) as i128, (small % power) as i128),
            _ => {
                let whole = unscaled / power;
                (whole, unscaled - whole * power)
            }
        };
        i128_to_f64(whole) + i128_to_f64(fraction) / self.power_f64
    }
}

/// `value as f64`, through the one-instruction i64 conversion when the value fits in an i64.
///
/// Both conversions round the same integer to the nearest f64 (ties to even), so the result is
/// bit for bit the same; the i128 conversion is a library call that took most of the decimal
/// decode time of a full-size day (20M decimals, three conversions each).
fn i128_to_f64(value: i128) -> f64 {
    match i64::try_from(value) {
        Ok(small) => small as f64,
        Err(_) => wide_to_f64(value),
    }
}

/// The library conversion of [`i128_to_f64`], out of line on purpose: inlined, LLVM computed it
/// speculatively on every call and then selected the i64 result, so the library call ran three
/// times per decimal anyway (seen in the disassembly; 1.5% of a full-size day's CPU).
#[cold]
#[inline(never)]
fn wide_to_f64(value: i128) -> f64 {
    value as f64
}

/// Parses a digit string (`"123"`, `"-4.5"`, `"1e3"`); empty means null (NaN). Words like `inf`/`nan` are
/// refused so a corrupted export is not silently read as a number.
fn parse_number(text: &str) -> Result<f64, &'static str> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(f64::NAN);
    }
    if !trimmed
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
    {
        return Err("not a decimal number");
    }
    trimmed.parse::<f64>().map_err(|_| "not a decimal number")
}

/// Appends the column as f64, NaN for nulls.
pub(crate) fn push_numbers(
    array: &dyn Array,
    origin: Origin,
    out: &mut Vec<f64>,
) -> Result<(), BatchError> {
    macro_rules! primitive {
        ($t:ty, $convert:expr) => {{
            let typed = array.as_primitive::<$t>();
            let convert = $convert;
            if typed.null_count() == 0 {
                out.extend(typed.values().iter().map(|v| convert(*v)));
            } else {
                out.extend(typed.iter().map(|v| v.map_or(f64::NAN, convert)));
            }
        }};
    }
    match array.data_type() {
        DataType::Null => out.extend(std::iter::repeat_n(f64::NAN, array.len())),
        DataType::Boolean => {
            let typed: &BooleanArray = array.as_boolean();
            out.extend(
                typed
                    .iter()
                    .map(|v| v.map_or(f64::NAN, |b| f64::from(u8::from(b)))),
            );
        }
        DataType::Int8 => primitive!(Int8Type, |v: i8| v as f64),
        DataType::Int16 => primitive!(Int16Type, |v: i16| v as f64),
        DataType::Int32 => primitive!(Int32Type, |v: i32| v as f64),
        DataType::Int64 => primitive!(Int64Type, |v: i64| v as f64),
        DataType::UInt8 => primitive!(UInt8Type, |v: u8| v as f64),
        DataType::UInt16 => primitive!(UInt16Type, |v: u16| v as f64),
        DataType::UInt32 => primitive!(UInt32Type, |v: u32| v as f64),
        DataType::UInt64 => primitive!(UInt64Type, |v: u64| v as f64),
        DataType::Float16 => primitive!(
            Float16Type,
            |v: <Float16Type as arrow::datatypes::ArrowPrimitiveType>::Native| v.to_f64()
        ),
        DataType::Float32 => primitive!(Float32Type, |v: f32| v as f64),
        DataType::Float64 => primitive!(Float64Type, |v: f64| v),
        DataType::Decimal32(_, scale) => {
            let scale = DecimalScale::new(*scale);
            primitive!(Decimal32Type, |v: i32| scale.to_f64(v as i128))
        }
        DataType::Decimal64(_, scale) => {
            let scale = DecimalScale::new(*scale);
            primitive!(Decimal64Type, |v: i64| scale.to_f64(v as i128))
        }
        DataType::Decimal128(_, scale) => {
            let scale = DecimalScale::new(*scale);
            primitive!(Decimal128Type, |v: i128| scale.to_f64(v))
        }
        DataType::Decimal256(_, scale) => {
            let (scale, decimal) = (*scale, DecimalScale::new(*scale));
            primitive!(
                Decimal256Type,
                |v: arrow::datatypes::i256| match v.to_i128() {
                    Some(small) => decimal.to_f64(small),
                    None => {
                        let (low, high) = v.to_parts();
                        (high as f64 * 2f64.powi(128) + low as f64) / 10f64.powi(scale as i32)
                    }
                }
            )
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let view = TextView::new(array).expect("string types have a text view");
            out.reserve(view.len());
            for row in 0..view.len() {
                let value = match view.get(row) {
                    None => f64::NAN,
                    Some(text) => {
                        parse_number(text).map_err(|reason| origin.invalid(row, text, reason))?
                    }
                };
                out.push(value);
            }
        }
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            let mut values = Vec::with_capacity(dictionary.values().len());
            push_numbers(
                dictionary.values().as_ref(),
                Origin {
                    first_row: 0,
                    ..origin
                },
                &mut values,
            )?;
            let keys = dictionary.keys();
            let indices = normalized_keys(dictionary);
            out.extend(indices.iter().enumerate().map(|(row, &key)| {
                if keys.is_null(row) {
                    f64::NAN
                } else {
                    values[key]
                }
            }));
        }
        other => return Err(origin.wrong_type(other, Kind::Number)),
    }
    Ok(())
}

/// Dictionary keys as indices; an empty dictionary (all keys null) gives zeros that are never read.
fn normalized_keys(dictionary: &dyn arrow::array::AnyDictionaryArray) -> Vec<usize> {
    if dictionary.values().is_empty() {
        vec![0; dictionary.len()]
    } else {
        dictionary.normalized_keys()
    }
}

/// Appends a non-negative integer column; nulls, negatives and fractions are errors.
pub(crate) fn push_integers(
    array: &dyn Array,
    origin: Origin,
    out: &mut Vec<u64>,
) -> Result<(), BatchError> {
    macro_rules! integers {
        ($t:ty) => {{
            let typed = array.as_primitive::<$t>();
            out.reserve(typed.len());
            for (row, value) in typed.iter().enumerate() {
                match value {
                    None => return Err(origin.invalid(row, "null", "required integer is null")),
                    Some(v) => out.push(
                        u64::try_from(v).map_err(|_| origin.invalid(row, v, "must be >= 0"))?,
                    ),
                }
            }
        }};
    }
    macro_rules! timestamps {
        ($t:ty, $to_ms:expr) => {{
            let typed = array.as_primitive::<$t>();
            for (row, value) in typed.iter().enumerate() {
                let v = value
                    .ok_or_else(|| origin.invalid(row, "null", "required timestamp is null"))?;
                out.push(
                    u64::try_from($to_ms(v)).map_err(|_| origin.invalid(row, v, "must be >= 0"))?,
                );
            }
        }};
    }
    match array.data_type() {
        DataType::Int8 => integers!(Int8Type),
        DataType::Int16 => integers!(Int16Type),
        DataType::Int32 => integers!(Int32Type),
        DataType::Int64 => integers!(Int64Type),
        DataType::UInt8 => integers!(UInt8Type),
        DataType::UInt16 => integers!(UInt16Type),
        DataType::UInt32 => integers!(UInt32Type),
        DataType::UInt64 => integers!(UInt64Type),
        DataType::Timestamp(TimeUnit::Second, _) => {
            timestamps!(TimestampSecondType, |v: i64| v * 1000)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            timestamps!(TimestampMillisecondType, |v: i64| v)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            timestamps!(TimestampMicrosecondType, |v: i64| v / 1000)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            timestamps!(TimestampNanosecondType, |v: i64| v / 1_000_000)
        }
        _ => {
            let mut numbers = Vec::with_capacity(array.len());
            push_numbers(array, origin, &mut numbers).map_err(|error| match error {
                BatchError::WrongType { .. } => origin.wrong_type(array.data_type(), Kind::Integer),
                other => other,
            })?;
            out.reserve(numbers.len());
            for (row, value) in numbers.into_iter().enumerate() {
                if value.is_nan() {
                    return Err(origin.invalid(row, "null", "required integer is null"));
                }
                if !(value >= 0.0 && value.fract() == 0.0 && value < 18_446_744_073_709_551_616.0) {
                    return Err(origin.invalid(row, value, "must be a non-negative integer"));
                }
                out.push(value as u64);
            }
        }
    }
    Ok(())
}

/// Appends a `u32` column (window_days).
pub(crate) fn push_u32(
    array: &dyn Array,
    origin: Origin,
    out: &mut Vec<u32>,
) -> Result<(), BatchError> {
    let mut wide = Vec::with_capacity(array.len());
    push_integers(array, origin, &mut wide)?;
    for (row, value) in wide.into_iter().enumerate() {
        out.push(
            u32::try_from(value).map_err(|_| origin.invalid(row, value, "does not fit in u32"))?,
        );
    }
    Ok(())
}

/// `YYYY-MM-DD` of a day count since the Unix epoch (proleptic Gregorian calendar, clamped to
/// years 0000-9999).
pub(crate) fn civil_date(days_since_epoch: i64) -> String {
    crate::date::Date::from_days_clamped(days_since_epoch).to_string()
}

/// The `YYYY-MM-DD` date a text cell holds: the date alone, or followed by a time (`' '` or `'T'`).
fn date_of_text(text: &str) -> Option<crate::date::Date> {
    let date = text.get(..10)?;
    let rest = &text.as_bytes()[10..];
    if !(rest.is_empty() || matches!(rest[0], b' ' | b'T')) {
        return None;
    }
    crate::date::Date::parse(date).ok()
}

/// Appends dates as `YYYY-MM-DD`; nulls and malformed strings are errors.
pub(crate) fn push_dates(
    array: &dyn Array,
    origin: Origin,
    out: &mut Vec<String>,
) -> Result<(), BatchError> {
    let null = |row: usize| origin.invalid(row, "null", "required date is null");
    match array.data_type() {
        DataType::Date32 => {
            // A column of one batch's dates holds one value, or a few: each is formatted once
            // (500,000 formattings measured about 0.1 s of a full-size day's load).
            let mut last: Option<(i32, String)> = None;
            for (row, days) in array.as_primitive::<Date32Type>().iter().enumerate() {
                let days = days.ok_or_else(|| null(row))?;
                let text = match &last {
                    Some((last_days, text)) if *last_days == days => text.clone(),
                    _ => {
                        let text = civil_date(i64::from(days));
                        last = Some((days, text.clone()));
                        text
                    }
                };
                out.push(text);
            }
        }
        DataType::Date64 => {
            for (row, ms) in array.as_primitive::<Date64Type>().iter().enumerate() {
                out.push(
                    crate::date::Date::from_unix_millis(ms.ok_or_else(|| null(row))?).to_string(),
                );
            }
        }
        DataType::Timestamp(_, _) => {
            let mut ms = Vec::with_capacity(array.len());
            push_integers(array, origin, &mut ms)?;
            out.extend(
                ms.into_iter()
                    .map(|ms| crate::date::Date::from_unix_millis(ms as i64).to_string()),
            );
        }
        data_type => {
            let view =
                TextView::new(array).ok_or_else(|| origin.wrong_type(data_type, Kind::Date))?;
            for row in 0..view.len() {
                let text = view.get(row).ok_or_else(|| null(row))?.trim();
                let date = date_of_text(text)
                    .ok_or_else(|| origin.invalid(row, text, "not a YYYY-MM-DD date"))?;
                out.push(date.to_string());
            }
        }
    }
    Ok(())
}

/// Appends text; null becomes `""` (ClickHouse String columns are not nullable, so null only appears when
/// an exporter maps empty strings to null).
pub(crate) fn push_texts(
    array: &dyn Array,
    origin: Origin,
    out: &mut Vec<String>,
) -> Result<(), BatchError> {
    let view =
        TextView::new(array).ok_or_else(|| origin.wrong_type(array.data_type(), Kind::Text))?;
    out.extend((0..view.len()).map(|row| view.get(row).unwrap_or("").to_string()));
    Ok(())
}

/// Appends booleans; integers are read as `!= 0`; null is `false`.
pub(crate) fn push_flags(
    array: &dyn Array,
    origin: Origin,
    out: &mut Vec<bool>,
) -> Result<(), BatchError> {
    match array.data_type() {
        DataType::Boolean => out.extend(array.as_boolean().iter().map(|v| v.unwrap_or(false))),
        DataType::Null => out.extend(std::iter::repeat_n(false, array.len())),
        data_type if data_type.is_integer() => {
            let mut numbers = Vec::with_capacity(array.len());
            push_numbers(array, origin, &mut numbers)?;
            out.extend(numbers.into_iter().map(|v| !v.is_nan() && v != 0.0));
        }
        other => return Err(origin.wrong_type(other, Kind::Flag)),
    }
    Ok(())
}

/// Element range `(start, end)` in the child array of each list row; `None` for a null row.
type RowRanges = Vec<Option<(usize, usize)>>;

/// Element ranges of a `List` / `LargeList` array (offsets of either width) and its child array.
fn offset_ranges<O: arrow::array::OffsetSizeTrait>(
    list: &arrow::array::GenericListArray<O>,
    is_null: impl Fn(usize) -> bool,
) -> (RowRanges, arrow::array::ArrayRef) {
    let offsets = list.value_offsets();
    let ranges = (0..list.len())
        .map(|row| (!is_null(row)).then(|| (offsets[row].as_usize(), offsets[row + 1].as_usize())))
        .collect();
    (ranges, list.values().clone())
}

/// Offsets of a list array: element range of each row (`None` for a null row) and the child array.
fn list_ranges(array: &dyn Array) -> Option<(RowRanges, arrow::array::ArrayRef)> {
    let nulls = array.logical_nulls();
    let is_null = |row: usize| nulls.as_ref().is_some_and(|n: &NullBuffer| n.is_null(row));
    let (ranges, child): (RowRanges, _) = match array.data_type() {
        DataType::List(_) => offset_ranges(array.as_list::<i32>(), is_null),
        DataType::LargeList(_) => offset_ranges(array.as_list::<i64>(), is_null),
        DataType::FixedSizeList(_, size) => {
            let list = array.as_fixed_size_list();
            let size = *size as usize;
            let ranges = (0..list.len())
                .map(|row| (!is_null(row)).then(|| (row * size, row * size + size)))
                .collect();
            (ranges, list.values().clone())
        }
        DataType::Null => (
            vec![None; array.len()],
            arrow::array::new_null_array(&DataType::Null, 0),
        ),
        _ => return None,
    };
    Some((ranges, child))
}

/// Appends lists of text; a null list is empty and null elements are `""`.
pub(crate) fn push_text_lists(
    array: &dyn Array,
    origin: Origin,
    out: &mut Vec<Vec<String>>,
) -> Result<(), BatchError> {
    let wrong = || origin.wrong_type(array.data_type(), Kind::TextList);
    let (ranges, child) = list_ranges(array).ok_or_else(wrong)?;
    let view = TextView::new(child.as_ref()).ok_or_else(wrong)?;
    out.extend(ranges.into_iter().map(|range| {
        match range {
            None => Vec::new(),
            Some((start, end)) => (start..end)
                .map(|i| view.get(i).unwrap_or("").to_string())
                .collect(),
        }
    }));
    Ok(())
}

/// Appends lists of `u16` counts; a null list is empty, null elements are 0, values above 65535 or negative
/// are errors.
pub(crate) fn push_u16_lists(
    array: &dyn Array,
    origin: Origin,
    out: &mut Vec<Vec<u16>>,
) -> Result<(), BatchError> {
    let (ranges, child) =
        list_ranges(array).ok_or_else(|| origin.wrong_type(array.data_type(), Kind::IntList))?;
    if !Kind::IntList.accepts(&DataType::List(
        arrow::datatypes::Field::new("item", child.data_type().clone(), true).into(),
    )) {
        return Err(origin.wrong_type(array.data_type(), Kind::IntList));
    }
    let mut values = Vec::with_capacity(child.len());
    push_numbers(
        child.as_ref(),
        Origin {
            first_row: 0,
            ..origin
        },
        &mut values,
    )?;
    for (row, range) in ranges.into_iter().enumerate() {
        let Some((start, end)) = range else {
            out.push(Vec::new());
            continue;
        };
        let mut counts = Vec::with_capacity(end - start);
        for &value in &values[start..end] {
            if value.is_nan() {
                counts.push(0);
            } else if (0.0..=65_535.0).contains(&value) {
                counts.push(value as u16);
            } else {
                return Err(origin.invalid(row, value, "activity count outside 0..=65535"));
            }
        }
        out.push(counts);
    }
    Ok(())
}

/// Appends `array` to `column`, converting it by the column's kind.
pub(crate) fn push_column(
    array: &dyn Array,
    origin: Origin,
    column: crate::schema::ColumnMut<'_>,
) -> Result<(), BatchError> {
    use crate::schema::ColumnMut as C;
    match column {
        C::Texts(out) => push_texts(array, origin, out),
        C::Dates(out) => push_dates(array, origin, out),
        C::Numbers(out) => push_numbers(array, origin, out),
        C::Integers(out) => push_integers(array, origin, out),
        C::Windows(out) => push_u32(array, origin, out),
        C::TextLists(out) => push_text_lists(array, origin, out),
        C::IntLists(out) => push_u16_lists(array, origin, out),
        C::Flags(out) => push_flags(array, origin, out),
    }
}

/// Borrowed access to a string column of any accepted encoding, without allocating per row.
pub(crate) struct TextView<'a> {
    plain: PlainText<'a>,
    /// For dictionary arrays: the key of each row, and the key nulls.
    keys: Option<(Vec<usize>, Option<NullBuffer>)>,
    len: usize,
}

enum PlainText<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
    AllNull,
}

impl<'a> TextView<'a> {
    /// A view over `array`, or `None` when it is not text.
    pub(crate) fn new(array: &'a dyn Array) -> Option<TextView<'a>> {
        let len = array.len();
        let plain = |array: &'a dyn Array| -> Option<PlainText<'a>> {
            Some(match array.data_type() {
                DataType::Utf8 => PlainText::Utf8(array.as_string::<i32>()),
                DataType::LargeUtf8 => PlainText::Large(array.as_string::<i64>()),
                DataType::Utf8View => PlainText::View(array.as_string_view()),
                DataType::Null => PlainText::AllNull,
                _ => return None,
            })
        };
        if let DataType::Dictionary(_, _) = array.data_type() {
            let dictionary = array.as_any_dictionary();
            let keys = normalized_keys(dictionary);
            let key_nulls = dictionary.keys().nulls().cloned();
            return Some(TextView {
                plain: plain(dictionary.values().as_ref())?,
                keys: Some((keys, key_nulls)),
                len,
            });
        }
        Some(TextView {
            plain: plain(array)?,
            keys: None,
            len,
        })
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The text of `row`, `None` when null.
    pub(crate) fn get(&self, row: usize) -> Option<&'a str> {
        let index = match &self.keys {
            None => row,
            Some((keys, nulls)) => {
                if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                    return None;
                }
                keys[row]
            }
        };
        match self.plain {
            PlainText::Utf8(array) => (!array.is_null(index)).then(|| array.value(index)),
            PlainText::Large(array) => (!array.is_null(index)).then(|| array.value(index)),
            PlainText::View(array) => (!array.is_null(index)).then(|| array.value(index)),
            PlainText::AllNull => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_date_matches_known_days() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_391), "2025-10-30");
        assert_eq!(civil_date(-1), "1969-12-31");
        assert_eq!(civil_date(11_016), "2000-02-29");
    }

    #[test]
    fn date32_columns_of_repeated_and_changing_days_decode_each_row() {
        let origin = Origin {
            file: "features.parquet",
            column: "processing_date",
            first_row: 0,
        };
        let days = [20_391, 20_391, 0, 0, 20_391, -1, 11_016, 11_016];
        let array = arrow::array::Date32Array::from(days.to_vec());
        let mut out = Vec::new();
        push_dates(&array, origin, &mut out).unwrap();
        let expected: Vec<String> = days.iter().map(|&d| civil_date(i64::from(d))).collect();
        assert_eq!(out, expected);
        let with_null = arrow::array::Date32Array::from(vec![Some(20_391), Some(20_391), None]);
        let error = push_dates(&with_null, origin, &mut Vec::new()).unwrap_err();
        assert!(error.to_string().contains("row 2"), "{error}");
    }

    #[test]
    fn decimal_conversion_keeps_fractions() {
        assert_eq!(decimal_to_f64(123_450_000_000_000_000_000, 18), 123.45);
        assert_eq!(decimal_to_f64(-5, 1), -0.5);
        assert_eq!(decimal_to_f64(7, -2), 700.0);
    }

    fn decimal_to_f64(unscaled: i128, scale: i8) -> f64 {
        DecimalScale::new(scale).to_f64(unscaled)
    }

    /// The conversion before the i64 fast paths and the per-column scale, kept as the reference.
    fn decimal_to_f64_reference(unscaled: i128, scale: i8) -> f64 {
        if scale <= 0 {
            return unscaled as f64 * 10f64.powi(-(scale as i32));
        }
        let Some(power) = 10i128.checked_pow(scale as u32) else {
            return unscaled as f64 / 10f64.powi(scale as i32);
        };
        (unscaled / power) as f64 + (unscaled % power) as f64 / power as f64
    }

    /// Integers around the edges where the two conversions could part: the i64 bounds, the
    /// 53-bit mantissa, powers of ten and their neighbours.
    fn edge_integers() -> Vec<i128> {
        let mut edges = vec![0, 1, -1, i128::MAX, i128::MIN];
        for base in [
            i64::MAX as i128,
            i64::MIN as i128,
            1i128 << 53,
            1i128 << 63,
            1i128 << 64,
            10i128.pow(18),
            10i128.pow(36),
        ] {
            for delta in -3..=3 {
                edges.push(base.saturating_add(delta));
                edges.push(base.saturating_neg().saturating_add(delta));
            }
        }
        edges
    }

    #[test]
    fn i128_conversion_matches_the_library_conversion_at_the_edges() {
        for value in edge_integers() {
            assert_eq!(
                i128_to_f64(value).to_bits(),
                (value as f64).to_bits(),
                "{value}"
            );
            for scale in -3..=40 {
                assert_eq!(
                    decimal_to_f64(value, scale).to_bits(),
                    decimal_to_f64_reference(value, scale).to_bits(),
                    "{value} at scale {scale}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn decimal_conversion_matches_the_reference_bit_for_bit(
            unscaled in proptest::prelude::any::<i128>(),
            small in proptest::prelude::any::<i64>(),
            scale in -4i8..=40,
        ) {
            for value in [unscaled, small as i128, unscaled >> 40, unscaled >> 70] {
                proptest::prop_assert_eq!(
                    decimal_to_f64(value, scale).to_bits(),
                    decimal_to_f64_reference(value, scale).to_bits()
                );
            }
        }
    }

    #[test]
    fn digit_strings_parse_and_words_fail() {
        assert_eq!(parse_number(" 123.45 "), Ok(123.45));
        assert!(parse_number("").unwrap().is_nan());
        assert!(parse_number("inf").is_err());
        assert!(parse_number("12a").is_err());
    }
}
