//! The safetensors file format (Hugging Face, `safetensors` specification): an 8-byte
//! little-endian header length N, N bytes of JSON mapping each tensor name to its dtype, shape
//! and byte range, an optional `__metadata__` string map, then the raw little-endian data.
//! Only `F32` tensors are written and read. The format is the `safetensors` crate's (Hugging
//! Face's own implementation, so files load in PyTorch's `safetensors`); this module adds
//! atomic writes and errors that name the file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use memscape::error::{Error, Result};
use memscape::store::write_atomic;
use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, TensorView};

/// One named `f32` tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Writes `tensors` and `metadata` to `path` (through a temporary file and a rename), laid out
/// by the `safetensors` crate.
pub fn write(
    path: &Path,
    tensors: &BTreeMap<String, Tensor>,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let bytes: Vec<Vec<u8>> = tensors
        .values()
        .map(|t| t.data.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let bad = |e: SafeTensorError| Error::file(path, format!("cannot write safetensors: {e}"));
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, t), b)| {
            Ok((
                name.as_str(),
                TensorView::new(Dtype::F32, t.shape.clone(), b)?,
            ))
        })
        .collect::<std::result::Result<Vec<_>, SafeTensorError>>()
        .map_err(bad)?;
    // safetensors 0.8 writes an unreadable header for metadata without tensors
    // (`{},"__metadata__":{…}}`): refused here, and empty metadata is left out
    if tensors.is_empty() && !metadata.is_empty() {
        return Err(Error::file(
            path,
            "cannot write safetensors: metadata without any tensor",
        ));
    }
    let info = (!metadata.is_empty()).then(|| {
        metadata
            .clone()
            .into_iter()
            .collect::<HashMap<String, String>>()
    });
    let out = safetensors::serialize(views, info).map_err(bad)?;
    write_atomic(path, &out)
}

/// Reads every tensor and the metadata of a safetensors file (`F32` tensors only).
pub fn read(path: &Path) -> Result<(BTreeMap<String, Tensor>, BTreeMap<String, String>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let bad = |why: String| Error::file(path, format!("not a valid safetensors file: {why}"));
    let len = bytes.len();
    let invalid = |e: SafeTensorError| {
        bad(match e {
            SafeTensorError::HeaderTooSmall => format!("{len} bytes, shorter than its header"),
            SafeTensorError::InvalidHeaderLength => {
                let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
                format!("header length {n} exceeds the file ({len} bytes)")
            }
            SafeTensorError::MetadataIncompleteBuffer
            | SafeTensorError::InvalidOffset(_)
            | SafeTensorError::TensorInvalidInfo
            | SafeTensorError::ValidationOverflow => {
                format!("the tensors' byte ranges do not match the {len}-byte file ({e})")
            }
            e => e.to_string(),
        })
    };
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(invalid)?;
    let file = SafeTensors::deserialize(&bytes).map_err(invalid)?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(bad(format!(
                "tensor {name:?} has dtype {}, only F32 is supported",
                view.dtype()
            )));
        }
        let data = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        tensors.insert(
            name,
            Tensor {
                shape: view.shape().to_vec(),
                data,
            },
        );
    }
    let metadata = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
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

    /// An empty file round-trips; metadata without tensors is refused by name (the crate
    /// would write a header it cannot read back).
    #[test]
    fn empty_files_round_trip_and_metadata_alone_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.safetensors");
        write(&path, &BTreeMap::new(), &BTreeMap::new()).unwrap();
        assert_eq!(read(&path).unwrap(), (BTreeMap::new(), BTreeMap::new()));
        let (_, m) = example();
        let e = write(&path, &BTreeMap::new(), &m).unwrap_err().to_string();
        assert!(
            e.contains("e.safetensors") && e.contains("without any tensor"),
            "{e}"
        );
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
