//! The safetensors file format (Hugging Face, `safetensors` specification): an 8-byte
//! little-endian header length N, N bytes of JSON mapping each tensor name to its dtype, shape
//! and byte range, an optional `__metadata__` string map, then the raw little-endian data.
//! Only `F32` tensors are written and read. Files are written atomically; every way a file can
//! be wrong is reported with its path.

use std::collections::BTreeMap;
use std::path::Path;

use memscape::error::{Error, Result};
use memscape::store::write_atomic;
use serde_json::{Map, Value, json};

/// One named `f32` tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Writes `tensors` and `metadata` to `path` (through a temporary file and a rename).
pub fn write(
    path: &Path,
    tensors: &BTreeMap<String, Tensor>,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let mut header = Map::new();
    header.insert("__metadata__".into(), json!(metadata));
    let mut offset = 0usize;
    for (name, t) in tensors {
        let bytes = t.data.len() * 4;
        header.insert(
            name.clone(),
            json!({"dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]}),
        );
        offset += bytes;
    }
    let mut head = serde_json::to_vec(&Value::Object(header)).expect("JSON of strings");
    while !head.len().is_multiple_of(8) {
        head.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + head.len() + offset);
    out.extend_from_slice(&(head.len() as u64).to_le_bytes());
    out.extend_from_slice(&head);
    for t in tensors.values() {
        for v in &t.data {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    write_atomic(path, &out)
}

/// Reads every tensor and the metadata of a safetensors file.
pub fn read(path: &Path) -> Result<(BTreeMap<String, Tensor>, BTreeMap<String, String>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let bad = |why: String| Error::file(path, format!("not a valid safetensors file: {why}"));
    if bytes.len() < 8 {
        return Err(bad(format!(
            "{} bytes, shorter than its header",
            bytes.len()
        )));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    if n > bytes.len() - 8 {
        return Err(bad(format!(
            "header length {n} exceeds the file ({} bytes)",
            bytes.len()
        )));
    }
    let header: Map<String, Value> = serde_json::from_slice(&bytes[8..8 + n])
        .map_err(|e| bad(format!("header is not a JSON object ({e})")))?;
    let data = &bytes[8 + n..];
    let mut tensors = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    for (name, entry) in header {
        if name == "__metadata__" {
            for (k, v) in entry.as_object().into_iter().flatten() {
                let v = v
                    .as_str()
                    .ok_or_else(|| bad(format!("metadata {k:?} is not a string")))?;
                metadata.insert(k.clone(), v.to_string());
            }
            continue;
        }
        if entry["dtype"] != "F32" {
            return Err(bad(format!(
                "tensor {name:?} has dtype {}, only F32 is supported",
                entry["dtype"]
            )));
        }
        let shape: Vec<usize> = serde_json::from_value(entry["shape"].clone())
            .map_err(|_| bad(format!("tensor {name:?} has no valid shape")))?;
        let [begin, end]: [usize; 2] = serde_json::from_value(entry["data_offsets"].clone())
            .map_err(|_| bad(format!("tensor {name:?} has no valid data_offsets")))?;
        let bytes = shape.iter().try_fold(4usize, |n, &s| n.checked_mul(s));
        if begin > end || end > data.len() || Some(end - begin) != bytes {
            return Err(bad(format!(
                "tensor {name:?} (shape {shape:?}) has byte range {begin}..{end} in {} bytes of data",
                data.len()
            )));
        }
        let values = data[begin..end]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        tensors.insert(
            name,
            Tensor {
                shape,
                data: values,
            },
        );
    }
    Ok((tensors, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> (BTreeMap<String, Tensor>, BTreeMap<String, String>) {
        let t = BTreeMap::from([
            (
                "a.weight".to_string(),
                Tensor {
                    shape: vec![2, 3],
                    data: vec![1.0, -2.0, 3.5, 0.0, 1e-30, 7.0],
                },
            ),
            (
                "a.bias".to_string(),
                Tensor {
                    shape: vec![2],
                    data: vec![0.25, -0.5],
                },
            ),
        ]);
        let m = BTreeMap::from([("memscape".to_string(), "{\"step\": 3}".to_string())]);
        (t, m)
    }

    #[test]
    fn round_trip_and_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.safetensors");
        let (t, m) = example();
        write(&path, &t, &m).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
        // data of 8 floats follows the header exactly
        assert_eq!(bytes.len(), 8 + n + 8 * 4);
        assert_eq!(read(&path).unwrap(), (t, m));
    }

    #[test]
    fn corrupt_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.safetensors");
        let (t, m) = example();
        write(&path, &t, &m).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        for (cut, why) in [
            (4, "shorter than its header"),
            (20, "exceeds the file"),
            (bytes.len() - 4, "byte range"),
        ] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let e = read(&path).unwrap_err().to_string();
            assert!(e.contains("x.safetensors") && e.contains(why), "{e}");
        }
        let e = read(&dir.path().join("none")).unwrap_err().to_string();
        assert!(e.contains("cannot read"), "{e}");
    }
}
