//! Point sets from files: `.npy` (f64, f32, u8, i64, i32; any order), `.npz` (one named array),
//! `.csv` (rows are points, an optional header row). Arrays of more than two dimensions are
//! flattened to rows (an N×28×28 image stack becomes N×784) and keep their image shape: N×H×W
//! and N×C×H×W are H × W images (with C channels). Every value must be finite.

use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use ndarray::{Array2, ArrayD, IxDyn};
use ndarray_npy::npy::header::{Header, ReadHeaderError};
use ndarray_npy::{ReadNpyError, ReadNpyExt};

use crate::error::{Error, Result, require_finite};

/// Reads the points of a `.npy`, `.npz` (array `key`, or the only array) or `.csv` file.
pub fn read_points(path: &Path, key: Option<&str>) -> Result<Array2<f64>> {
    Ok(read_images(path, key)?.0)
}

/// Rows of a file, with the (height, width) of its images when the array was N×H×W or
/// N×C×H×W.
pub type Rows = (Array2<f64>, Option<(usize, usize)>);

/// Reads the points of a file as [`read_points`], with the (height, width) of N×H×W and
/// N×C×H×W arrays.
pub fn read_images(path: &Path, key: Option<&str>) -> Result<Rows> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let lower = path.to_string_lossy().to_ascii_lowercase();
    let points = if lower.ends_with(".npy") {
        if key.is_some() {
            return Err(Error::file(
                path,
                "a .npy file holds one array; drop the :KEY",
            ));
        }
        read_npy_any(Cursor::new(bytes)).map_err(|m| Error::file(path, m))?
    } else if lower.ends_with(".npz") {
        read_npz(path, bytes, key)?
    } else if lower.ends_with(".csv") {
        read_csv(path, &bytes)?
    } else {
        return Err(Error::file(path, "expected a .npy, .npz or .csv file"));
    };
    let shape = points.shape().to_vec();
    let image = match shape.len() {
        3 => Some((shape[1], shape[2])),
        4 => Some((shape[2], shape[3])),
        _ => None,
    };
    let points = to_rows(points).map_err(|m| Error::file(path, m))?;
    require_finite(&path.display().to_string(), points.view())?;
    Ok((points, image))
}

/// Reads one `.npy` array of any supported element type as f64. The header is read first
/// and its shape checked against the bytes that follow, so a corrupt header cannot make the
/// reader allocate more than the file holds.
fn read_npy_any<R: Read + Seek>(mut reader: R) -> Result<ArrayD<f64>, String> {
    check_preamble(&mut reader)?;
    let header = Header::from_reader(&mut reader).map_err(|e| match e {
        ReadHeaderError::Io(e) => format!("truncated .npy header ({e})"),
        ReadHeaderError::Parse(e) => format!("not a valid .npy file ({})", header_error(&e)),
    })?;
    let data_start = reader.stream_position().map_err(|e| e.to_string())?;
    let data_bytes = reader.seek(SeekFrom::End(0)).map_err(|e| e.to_string())? - data_start;
    // a simple descriptor ('<f8', '|u1') ends in its item size; other descriptors are refused
    // below, before any data is read
    let descriptor = header.type_descriptor.to_string();
    let item = descriptor
        .trim_matches('\'')
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse::<u64>()
        .unwrap_or(0);
    let expected = header
        .shape
        .iter()
        .try_fold(item, |n, &s| n.checked_mul(s as u64));
    if item > 0 && expected != Some(data_bytes) {
        let short = expected.is_none_or(|e| e > data_bytes);
        return Err(format!(
            "{}: its header says shape {:?} of {} ({} bytes), but {data_bytes} bytes of data follow",
            if short {
                "truncated .npy"
            } else {
                "corrupt .npy"
            },
            header.shape,
            descriptor,
            expected.map_or("more than 2^64".into(), |b| b.to_string()),
        ));
    }
    macro_rules! try_type {
        ($t:ty) => {{
            reader.rewind().map_err(|e| e.to_string())?;
            match ArrayD::<$t>::read_npy(&mut reader) {
                Ok(a) => return Ok(a.mapv(|v| v as f64)),
                Err(ReadNpyError::WrongDescriptor(_)) => {}
                Err(e) => return Err(npy_message(e)),
            }
        }};
    }
    try_type!(f64);
    try_type!(f32);
    try_type!(u8);
    try_type!(i64);
    try_type!(i32);
    Err("unsupported .npy element type (expected float64, float32, uint8, int64 or int32)".into())
}

fn npy_message(e: ReadNpyError) -> String {
    match e {
        ReadNpyError::MissingData => "truncated .npy: fewer data bytes than its header says".into(),
        ReadNpyError::ExtraBytes(n) => {
            format!("corrupt .npy: {n} bytes beyond what its header says")
        }
        ReadNpyError::ParseHeader(h) => format!("not a valid .npy file ({})", header_error(&h)),
        other => format!("cannot read .npy: {other}"),
    }
}

/// Checks the `.npy` preamble (magic string, version, header length: NumPy's format
/// description, NEP 1) against the file's size, then rewinds.
fn check_preamble<R: Read + Seek>(reader: &mut R) -> Result<(), String> {
    let total = reader.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
    reader.rewind().map_err(|e| e.to_string())?;
    let mut pre = [0u8; 12];
    let got = reader.take(12).read(&mut pre).map_err(|e| e.to_string())?;
    if got < 10 || &pre[..6] != b"\x93NUMPY" {
        return Err(
            "not a valid .npy file (it does not start with \\x93NUMPY and a version)".into(),
        );
    }
    let (len, start) = match pre[6] {
        1 => (u64::from(u16::from_le_bytes([pre[8], pre[9]])), 10),
        2 | 3 if got == 12 => (
            u64::from(u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]])),
            12,
        ),
        v => return Err(format!("unsupported .npy format version {v}.{}", pre[7])),
    };
    if start + len > total {
        return Err(format!(
            "truncated .npy: its header of {len} bytes does not fit in the file ({total} bytes)"
        ));
    }
    reader.rewind().map_err(|e| e.to_string())
}

/// ndarray-npy's header error in brief: a syntax error in the header's dict as its column and
/// what the parser expected there (its message draws the header over several lines).
fn header_error(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    let position = text
        .split_once("-->")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|p| p.split_once(':'))
        .map(|(_, column)| column.to_string());
    let expected = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("= "))
        .map(str::to_string);
    match (position, expected) {
        (Some(column), Some(expected)) => {
            format!("its header dict does not parse at character {column}: {expected}")
        }
        _ => crate::error::one_line(&text),
    }
}

/// Reads array `key` (or the only array) of a `.npz` archive: a zip of `.npy` files.
fn read_npz(path: &Path, bytes: Vec<u8>, key: Option<&str>) -> Result<ArrayD<f64>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| Error::file(path, format!("not a valid .npz archive ({e})")))?;
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.strip_suffix(".npy").unwrap_or(n).to_string())
        .collect();
    let key = match key {
        Some(k) if names.iter().any(|n| n == k) => k.to_string(),
        Some(k) => {
            return Err(Error::file(
                path,
                format!("no array {k:?} in the archive; it holds {names:?}"),
            ));
        }
        None if names.len() == 1 => names[0].clone(),
        None => {
            return Err(Error::file(
                path,
                format!("the archive holds {names:?}; name one as FILE.npz:KEY"),
            ));
        }
    };
    let entry = [format!("{key}.npy"), key.clone()]
        .into_iter()
        .find(|name| archive.index_for_name(name).is_some())
        .expect("a listed name");
    // read as it inflates: memory grows with the data, whatever size the archive claims
    let mut data = Vec::new();
    archive
        .by_name(&entry)
        .and_then(|mut f| {
            f.read_to_end(&mut data)
                .map_err(zip::result::ZipError::from)
        })
        .map_err(|e| Error::file(path, format!("array {key:?}: corrupt .npz entry ({e})")))?;
    read_npy_any(Cursor::new(data)).map_err(|m| Error::file(path, format!("array {key:?}: {m}")))
}

/// Rows of a CSV file; the first row is skipped as a header when any of its cells is not a
/// number. Every later cell must be a number, and every row as long as the first.
fn read_csv(path: &Path, bytes: &[u8]) -> Result<ArrayD<f64>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut values = Vec::new();
    let mut width = None;
    let mut rows = 0usize;
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::file(path, format!("line {}: {e}", line + 1)))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let parsed: Vec<Result<f64, _>> = record.iter().map(str::parse::<f64>).collect();
        if line == 0 && parsed.iter().any(Result::is_err) {
            continue; // header
        }
        let w = *width.get_or_insert(record.len());
        if record.len() != w {
            return Err(Error::file(
                path,
                format!(
                    "line {}: {} cells, but the first data row has {w}",
                    line + 1,
                    record.len()
                ),
            ));
        }
        for (col, (cell, v)) in record.iter().zip(parsed).enumerate() {
            let v = v.map_err(|_| {
                Error::file(
                    path,
                    format!(
                        "line {}, column {}: not a number: {cell:?}",
                        line + 1,
                        col + 1
                    ),
                )
            })?;
            values.push(v);
        }
        rows += 1;
    }
    let width = width.ok_or_else(|| Error::file(path, "no data rows"))?;
    Ok(ArrayD::from_shape_vec(IxDyn(&[rows, width]), values).expect("rows × width values"))
}

/// An N×… array as N rows of prod(…) values.
fn to_rows(a: ArrayD<f64>) -> Result<Array2<f64>, String> {
    let shape = a.shape().to_vec();
    if shape.len() < 2 {
        return Err(format!(
            "expected a 2-D array of points (rows × dimension), got shape {shape:?}"
        ));
    }
    if shape[0] == 0 || shape[1..].iter().product::<usize>() == 0 {
        return Err(format!("the array is empty (shape {shape:?})"));
    }
    let d: usize = shape[1..].iter().product();
    let a = a.as_standard_layout().into_owned();
    Ok(a.into_shape_with_order((shape[0], d))
        .expect("a standard-layout array reshapes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use ndarray_npy::{NpzWriter, WriteNpyExt};

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn npy_of_each_type_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let p = dir.path().join("a.npy");
        a.write_npy(std::fs::File::create(&p).unwrap()).unwrap();
        assert_eq!(read_points(&p, None).unwrap(), a.mapv(f64::from));
        let u =
            ndarray::Array3::<u8>::from_shape_fn((2, 2, 2), |(i, j, k)| (i * 4 + j * 2 + k) as u8);
        let p = dir.path().join("u.npy");
        u.write_npy(std::fs::File::create(&p).unwrap()).unwrap();
        assert_eq!(
            read_points(&p, None).unwrap().row(1).to_vec(),
            vec![4.0, 5.0, 6.0, 7.0]
        );
        let f = a.mapv(f64::from).reversed_axes(); // Fortran order on disk
        let p = dir.path().join("f.npy");
        f.write_npy(std::fs::File::create(&p).unwrap()).unwrap();
        assert_eq!(read_points(&p, None).unwrap(), f);
    }

    #[test]
    fn corrupt_npy_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut good = Vec::new();
        array![[1.0f64, 2.0], [3.0, 4.0]]
            .write_npy(&mut good)
            .unwrap();
        let p = write(dir.path(), "trunc.npy", &good[..good.len() - 5]);
        let e = read_points(&p, None).unwrap_err().to_string();
        assert!(e.contains("trunc.npy") && e.contains("truncated"), "{e}");
        let p = write(dir.path(), "magic.npy", b"NOTNUMPY\x01\x00garbage");
        let e = read_points(&p, None).unwrap_err().to_string();
        assert!(
            e.contains("magic.npy") && e.contains("not a valid .npy"),
            "{e}"
        );
        let mut nan = Vec::new();
        array![[1.0f64, f64::NAN]].write_npy(&mut nan).unwrap();
        let p = write(dir.path(), "nan.npy", &nan);
        let e = read_points(&p, None).unwrap_err().to_string();
        assert!(e.contains("row 0, column 1 is NaN"), "{e}");
        let mut one_d = Vec::new();
        array![1.0f64, 2.0].write_npy(&mut one_d).unwrap();
        let p = write(dir.path(), "flat.npy", &one_d);
        let e = read_points(&p, None).unwrap_err().to_string();
        assert!(e.contains("expected a 2-D array"), "{e}");
        let e = read_points(&dir.path().join("missing.npy"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.npy: cannot read"), "{e}");
    }

    #[test]
    fn npz_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.npz");
        let mut w = NpzWriter::new_compressed(std::fs::File::create(&p).unwrap());
        w.add_array("samples", &array![[1.0f64, 2.0]]).unwrap();
        w.add_array("train", &array![[3.0f32, 4.0], [5.0, 6.0]])
            .unwrap();
        w.finish().unwrap();
        assert_eq!(
            read_points(&p, Some("train")).unwrap(),
            array![[3.0, 4.0], [5.0, 6.0]]
        );
        let e = read_points(&p, None).unwrap_err().to_string();
        assert!(e.contains("name one as FILE.npz:KEY"), "{e}");
        let e = read_points(&p, Some("nope")).unwrap_err().to_string();
        assert!(e.contains("no array \"nope\""), "{e}");
        let bad = write(dir.path(), "bad.npz", b"PK\x03\x04 not really a zip");
        let e = read_points(&bad, None).unwrap_err().to_string();
        assert!(e.contains("bad.npz: not a valid .npz"), "{e}");
    }

    #[test]
    fn csv_with_and_without_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "h.csv", b"x,y\n1,2\n3.5,-4\n");
        assert_eq!(
            read_points(&p, None).unwrap(),
            array![[1.0, 2.0], [3.5, -4.0]]
        );
        let p = write(dir.path(), "n.csv", b"1,2\n3,4\n");
        assert_eq!(read_points(&p, None).unwrap().nrows(), 2);
        let p = write(dir.path(), "bad.csv", b"x,y\n1,2\n3,abc\n");
        let e = read_points(&p, None).unwrap_err().to_string();
        assert!(e.contains("line 3, column 2: not a number: \"abc\""), "{e}");
        let p = write(dir.path(), "ragged.csv", b"1,2\n3\n");
        let e = read_points(&p, None).unwrap_err().to_string();
        assert!(
            e.contains("line 2: 1 cells, but the first data row has 2"),
            "{e}"
        );
        let p = write(dir.path(), "nan.csv", b"1,2\nnan,4\n");
        let e = read_points(&p, None).unwrap_err().to_string();
        assert!(e.contains("row 1, column 0 is NaN"), "{e}");
        let p = write(dir.path(), "empty.csv", b"x,y\n");
        assert!(
            read_points(&p, None)
                .unwrap_err()
                .to_string()
                .contains("no data rows")
        );
    }
}
