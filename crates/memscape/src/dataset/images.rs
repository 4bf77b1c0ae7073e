//! Image datasets: MNIST / Fashion-MNIST in IDX format (gzipped or not) and scikit-learn's
//! 8×8 digits (`digits.csv.gz`). Optional F×F block averaging (28 → 14 with F = 2) and a
//! pixel range ([−1, 1] by default, as DDPM and Pham et al. train).
//!
//! IDX (LeCun et al.): big-endian u32 magic (2051 images, 2049 labels), u32 count, then for
//! images u32 rows, u32 cols, then count·rows·cols u8 pixels.

use std::io::Read;
use std::path::{Path, PathBuf};

use ndarray::Array2;

use super::{Patterns, PixelRange};
use crate::error::{Error, Result};

const IMAGES_MAGIC: u32 = 2051;
const LABELS_MAGIC: u32 = 2049;

/// Reads a file, gunzipping it when it starts with the gzip magic bytes.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::file(path, format!("corrupt gzip stream: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// Parses an IDX image file: (count, rows, cols, pixels).
pub fn parse_idx_images(path: &Path, bytes: &[u8]) -> Result<(usize, usize, usize, Vec<u8>)> {
    if bytes.len() < 16 {
        return Err(Error::file(
            path,
            format!("IDX image header needs 16 bytes, file has {}", bytes.len()),
        ));
    }
    let magic = be_u32(bytes, 0);
    if magic != IMAGES_MAGIC {
        return Err(Error::file(
            path,
            format!("IDX image magic number must be {IMAGES_MAGIC}, got {magic}"),
        ));
    }
    let (n, rows, cols) = (
        be_u32(bytes, 4) as usize,
        be_u32(bytes, 8) as usize,
        be_u32(bytes, 12) as usize,
    );
    let expected = n.checked_mul(rows).and_then(|v| v.checked_mul(cols));
    let payload = bytes.len() - 16;
    if expected != Some(payload) {
        return Err(Error::file(
            path,
            format!(
                "header says {n} images of {rows}×{cols} = {} bytes, payload has {payload} bytes",
                expected.map_or("overflowing".into(), |v| v.to_string())
            ),
        ));
    }
    Ok((n, rows, cols, bytes[16..].to_vec()))
}

/// Parses an IDX label file.
pub fn parse_idx_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u32>> {
    if bytes.len() < 8 {
        return Err(Error::file(
            path,
            format!("IDX label header needs 8 bytes, file has {}", bytes.len()),
        ));
    }
    let magic = be_u32(bytes, 0);
    if magic != LABELS_MAGIC {
        return Err(Error::file(
            path,
            format!("IDX label magic number must be {LABELS_MAGIC}, got {magic}"),
        ));
    }
    let n = be_u32(bytes, 4) as usize;
    if bytes.len() - 8 != n {
        return Err(Error::file(
            path,
            format!(
                "header says {n} labels, payload has {} bytes",
                bytes.len() - 8
            ),
        ));
    }
    Ok(bytes[8..].iter().map(|&b| b as u32).collect())
}

/// The first of `DIR/NAME.gz` and `DIR/NAME` that exists.
fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    let gz = dir.join(format!("{name}.gz"));
    let plain = dir.join(name);
    if gz.is_file() {
        Ok(gz)
    } else if plain.is_file() {
        Ok(plain)
    } else {
        Err(Error::file(
            gz,
            format!("missing (nor is there {})", plain.display()),
        ))
    }
}

/// Fails unless `dir` is a directory, saying what it should hold.
fn require_dir(dir: &Path, expected: &str) -> Result<()> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(Error::file(
            dir,
            format!("not a directory (expected {expected})"),
        ))
    }
}

/// Loads an MNIST-format folder (`train-images-idx3-ubyte[.gz]` and its labels, or `t10k-*`).
pub fn load_idx_dir(
    dir: &Path,
    split: &str,
    downscale: usize,
    range: PixelRange,
) -> Result<Patterns> {
    require_dir(dir, "an MNIST-format folder")?;
    let prefix = if split == "test" { "t10k" } else { "train" };
    let img_path = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let lab_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let (n, rows, cols, pixels) = parse_idx_images(&img_path, &read_maybe_gz(&img_path)?)?;
    let labels = parse_idx_labels(&lab_path, &read_maybe_gz(&lab_path)?)?;
    if labels.len() != n {
        return Err(Error::file(
            lab_path,
            format!(
                "{} labels for the {n} images of {}",
                labels.len(),
                img_path.display()
            ),
        ));
    }
    let raw = Array2::from_shape_vec(
        (n, rows * cols),
        pixels.into_iter().map(f64::from).collect(),
    )
    .expect("n × rows·cols pixels");
    finish_images(
        &img_path,
        raw,
        labels,
        (rows, cols),
        255.0,
        downscale,
        range,
    )
}

/// Loads scikit-learn's digits: 65 integer columns per row (64 pixels in 0..16, then the label).
pub fn load_digits(file: &Path, downscale: usize, range: PixelRange) -> Result<Patterns> {
    let bytes = read_maybe_gz(file)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::file(file, "not UTF-8 text"))?;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != 65 {
            return Err(Error::file(
                file,
                format!(
                    "line {}: expected 65 cells (64 pixels + label), got {}",
                    i + 1,
                    cells.len()
                ),
            ));
        }
        for (j, c) in cells.iter().enumerate() {
            let v: f64 = c.parse().map_err(|_| {
                Error::file(
                    file,
                    format!("line {}, column {}: not a number: {c:?}", i + 1, j + 1),
                )
            })?;
            let max = if j == 64 { 9.0 } else { 16.0 };
            if !(0.0..=max).contains(&v) || v.fract() != 0.0 {
                return Err(Error::file(
                    file,
                    format!(
                        "line {}, column {}: expected an integer in 0..={max}, got {c}",
                        i + 1,
                        j + 1
                    ),
                ));
            }
            if j == 64 {
                labels.push(v as u32);
            } else {
                pixels.push(v);
            }
        }
    }
    if labels.is_empty() {
        return Err(Error::file(file, "no data rows"));
    }
    let raw = Array2::from_shape_vec((labels.len(), 64), pixels).expect("n × 64 pixels");
    finish_images(file, raw, labels, (8, 8), 16.0, downscale, range)
}

/// Bytes of one CIFAR-10 record: a label, then 3 × 32 × 32 pixels (red, green, blue planes).
const CIFAR_RECORD: usize = 1 + 3 * 32 * 32;

/// Loads CIFAR-10's binary version (`data_batch_1.bin` … `data_batch_5.bin` for the train split,
/// `test_batch.bin` for test; Krizhevsky 2009): rows of 3 × 32 × 32 channel-major pixels, each
/// channel downscaled alone.
pub fn load_cifar10(
    dir: &Path,
    split: &str,
    downscale: usize,
    range: PixelRange,
) -> Result<Patterns> {
    require_dir(dir, "CIFAR-10's binary batches")?;
    let names: Vec<String> = if split == "test" {
        vec!["test_batch.bin".into()]
    } else {
        (1..=5).map(|i| format!("data_batch_{i}.bin")).collect()
    };
    let (mut labels, mut planes) = (vec![], vec![]);
    for name in names {
        let path = dir.join(&name);
        let bytes =
            std::fs::read(&path).map_err(|e| Error::file(&path, format!("cannot read: {e}")))?;
        if bytes.is_empty() || bytes.len() % CIFAR_RECORD != 0 {
            return Err(Error::file(
                &path,
                format!(
                    "size {} is not a positive multiple of {CIFAR_RECORD} bytes (a label and 3×32×32 pixels per image)",
                    bytes.len()
                ),
            ));
        }
        for record in bytes.chunks(CIFAR_RECORD) {
            if record[0] > 9 {
                return Err(Error::file(
                    &path,
                    format!("label {} is not in 0..9", record[0]),
                ));
            }
            labels.push(u32::from(record[0]));
            planes.extend(record[1..].iter().map(|&v| f64::from(v)));
        }
    }
    let n = labels.len();
    // one row per channel plane, so that each channel is downscaled on its own
    let raw = Array2::from_shape_vec((3 * n, 32 * 32), planes).expect("3n planes of 32×32");
    let mut p = finish_images(dir, raw, labels.clone(), (32, 32), 255.0, downscale, range)?;
    let per_image = 3 * p.points.ncols();
    p.points = p
        .points
        .into_shape_with_order((n, per_image))
        .expect("three channel planes per image");
    p.labels = Some(labels);
    Ok(p)
}

fn finish_images(
    path: &Path,
    raw: Array2<f64>,
    labels: Vec<u32>,
    (rows, cols): (usize, usize),
    max: f64,
    factor: usize,
    range: PixelRange,
) -> Result<Patterns> {
    if rows % factor != 0 || cols % factor != 0 {
        return Err(Error::file(
            path,
            format!("downscale must divide the image size {rows}×{cols}, got {factor}"),
        ));
    }
    let (h, w) = (rows / factor, cols / factor);
    let mut points = if factor == 1 {
        raw
    } else {
        downscale(&raw, rows, cols, factor)
    };
    match range {
        PixelRange::Signed => points.mapv_inplace(|v| 2.0 * v / max - 1.0),
        PixelRange::Unit => points.mapv_inplace(|v| v / max),
        PixelRange::Raw => {}
    }
    Ok(Patterns {
        points,
        labels: Some(labels),
        image_shape: Some((h, w)),
    })
}

/// Averages F×F blocks of each row-major rows×cols image.
pub fn downscale(images: &Array2<f64>, rows: usize, cols: usize, factor: usize) -> Array2<f64> {
    let (h, w) = (rows / factor, cols / factor);
    let norm = (factor * factor) as f64;
    let mut out = Array2::zeros((images.nrows(), h * w));
    for (src, mut dst) in images.rows().into_iter().zip(out.rows_mut()) {
        for r in 0..rows {
            for c in 0..cols {
                dst[(r / factor) * w + c / factor] += src[r * cols + c] / norm;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn idx_images(n: u32, r: u32, c: u32, payload: &[u8], magic: u32) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [magic, n, r, c] {
            b.extend(v.to_be_bytes());
        }
        b.extend(payload);
        b
    }

    fn idx_labels(labels: &[u8], magic: u32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(magic.to_be_bytes());
        b.extend((labels.len() as u32).to_be_bytes());
        b.extend(labels);
        b
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reads_gzipped_and_plain_idx_with_downscaling() {
        let dir = tempfile::tempdir().unwrap();
        let pixels: Vec<u8> = (0..3 * 16).map(|v| (v * 5) as u8).collect();
        std::fs::write(
            dir.path().join("train-images-idx3-ubyte.gz"),
            gz(&idx_images(3, 4, 4, &pixels, 2051)),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("train-labels-idx1-ubyte"),
            idx_labels(&[7, 1, 0], 2049),
        )
        .unwrap();
        let p = load_idx_dir(dir.path(), "train", 1, PixelRange::Raw).unwrap();
        assert_eq!(p.points.shape(), &[3, 16]);
        assert_eq!(p.points[[1, 0]], 80.0);
        assert_eq!(p.labels.as_deref(), Some(&[7, 1, 0][..]));
        let q = load_idx_dir(dir.path(), "train", 2, PixelRange::Raw).unwrap();
        assert_eq!(q.image_shape, Some((2, 2)));
        // top-left 2×2 block of image 0: pixels 0, 1, 4, 5 → values 0, 5, 20, 25
        assert_eq!(q.points[[0, 0]], 12.5);
        let s = load_idx_dir(dir.path(), "train", 1, PixelRange::Signed).unwrap();
        assert!(s.points.iter().all(|v| (-1.0..=1.0).contains(v)));
        assert_eq!(s.points[[0, 0]], -1.0);
    }

    #[test]
    fn idx_errors_name_the_file_and_rule() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        let e = parse_idx_images(&p, &idx_images(2, 2, 2, &[0; 8], 2049))
            .unwrap_err()
            .to_string();
        assert!(e.contains("magic number must be 2051, got 2049"), "{e}");
        let e = parse_idx_images(&p, &idx_images(2, 2, 2, &[0; 7], 2051))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("header says 2 images of 2×2 = 8 bytes, payload has 7 bytes"),
            "{e}"
        );
        let e = parse_idx_images(&p, &[0, 0, 8]).unwrap_err().to_string();
        assert!(e.contains("needs 16 bytes"), "{e}");
        let e = parse_idx_labels(&p, &idx_labels(&[1, 2], 2051))
            .unwrap_err()
            .to_string();
        assert!(e.contains("label magic number must be 2049"), "{e}");
        std::fs::write(
            dir.path().join("train-images-idx3-ubyte.gz"),
            b"\x1f\x8bnot gzip",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("train-labels-idx1-ubyte"),
            idx_labels(&[1], 2049),
        )
        .unwrap();
        let e = load_idx_dir(dir.path(), "train", 1, PixelRange::Raw)
            .unwrap_err()
            .to_string();
        assert!(e.contains("corrupt gzip stream"), "{e}");
        let e = load_idx_dir(dir.path(), "test", 1, PixelRange::Raw)
            .unwrap_err()
            .to_string();
        assert!(e.contains("t10k-images-idx3-ubyte.gz: missing"), "{e}");
        let e = load_idx_dir(&dir.path().join("nope"), "train", 1, PixelRange::Raw)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a directory"), "{e}");
    }

    #[test]
    fn digits_csv() {
        let dir = tempfile::tempdir().unwrap();
        let mut row: Vec<String> = (0..64).map(|i| (i % 17).to_string()).collect();
        row.push("3".into());
        let text = format!("{}\n{}\n", row.join(","), row.join(","));
        let p = dir.path().join("digits.csv.gz");
        std::fs::write(&p, gz(text.as_bytes())).unwrap();
        let d = load_digits(&p, 2, PixelRange::Unit).unwrap();
        assert_eq!(d.points.shape(), &[2, 16]);
        assert_eq!(d.labels, Some(vec![3, 3]));
        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, "1,2,3\n").unwrap();
        let e = load_digits(&bad, 1, PixelRange::Unit)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected 65 cells"), "{e}");
        let e = load_digits(&p, 3, PixelRange::Unit)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("downscale must divide the image size 8×8, got 3"),
            "{e}"
        );
    }

    /// A two-image CIFAR-10 batch written here: shape, channel order, labels and scaling.
    #[test]
    fn cifar10_batches_load_channel_major() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = vec![];
        for (label, base) in [(3u8, 0u8), (7, 100)] {
            bytes.push(label);
            for ch in 0..3u8 {
                bytes.extend(std::iter::repeat_n(base + 50 * ch, 1024));
            }
        }
        std::fs::write(dir.path().join("test_batch.bin"), &bytes).unwrap();
        let p = load_cifar10(dir.path(), "test", 2, PixelRange::Raw).unwrap();
        assert_eq!(p.points.dim(), (2, 3 * 16 * 16));
        assert_eq!(p.image_shape, Some((16, 16)));
        assert_eq!(p.labels, Some(vec![3, 7]));
        assert_eq!(p.points[[0, 0]], 0.0);
        assert_eq!(p.points[[0, 256]], 50.0); // green plane of image 0
        assert_eq!(p.points[[1, 2 * 256 + 5]], 200.0); // blue plane of image 1
        std::fs::write(dir.path().join("test_batch.bin"), &bytes[..100]).unwrap();
        let e = load_cifar10(dir.path(), "test", 1, PixelRange::Raw)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("test_batch.bin") && e.contains("multiple of 3073"),
            "{e}"
        );
        let e = load_cifar10(dir.path(), "train", 1, PixelRange::Raw)
            .unwrap_err()
            .to_string();
        assert!(e.contains("data_batch_1.bin"), "{e}");
    }
}
