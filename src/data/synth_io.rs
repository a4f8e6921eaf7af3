//! Writes a generated synthetic set ([`super::synth`]) to disk in BiaPy's layout:
//! `train/x`, `train/y`, `test/x`, `test/y` with zero-padded names, plus `synth.json` holding the
//! parameters. Images and masks are TIFF files, or (3D only) Zarr v3 containers or HDF5 files
//! with one `TZCYX` array each, BiaPy's default axes order (D17). The whole set is written under a temporary sibling folder and renamed into place,
//! so an interrupted run never leaves a folder that looks complete.

use std::path::{Path, PathBuf};

use super::array_io::{ArrayError, write_array};
use super::synth::{SynthParams, SynthSample, generate};
use super::tiff_io::{AnyVolume, TiffError, WriteOptions, write_tiff};
use crate::config::axes::AxesOrder;

/// The file format of a synthetic set's images and masks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthFormat {
    /// `.tif` files.
    Tif,
    /// `.zarr` containers (3D only).
    Zarr,
    /// `.h5` files (3D only; needs the `hdf5` feature).
    H5,
}

impl SynthFormat {
    fn extension(self) -> &'static str {
        match self {
            Self::Tif => "tif",
            Self::Zarr => "zarr",
            Self::H5 => "h5",
        }
    }
}

/// Why a synthetic set could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SynthWriteError {
    #[error("`{}` already exists and is not empty: choose another --out or remove it", .0.display())]
    NotEmpty(PathBuf),
    #[error("invalid synthetic parameters")]
    Params(#[from] crate::data::synth::SynthError),
    #[error("cannot write `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Tiff(#[from] TiffError),
    #[error(transparent)]
    Array(#[from] ArrayError),
    #[error("--format {0}: Zarr and HDF5 sets are 3D only (`--ndim 3`), as BiaPy reads them")]
    Not3d(&'static str),
}

/// Generates the set described by `params` and writes it to `out` in `format`; returns the file
/// count.
pub fn write_synthetic(out: &Path, params: &SynthParams, format: SynthFormat) -> Result<usize, SynthWriteError> {
    if format != SynthFormat::Tif && params.ndim != 3 {
        return Err(SynthWriteError::Not3d(format.extension()));
    }
    if out.exists() && std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(SynthWriteError::NotEmpty(out.to_path_buf()));
    }
    let set = generate(params)?;
    let partial = partial_name(out);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SynthWriteError::Io { path, source }
    };
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    let mut n_files = 0;
    for (split, samples) in [("train", &set.train), ("test", &set.test)] {
        n_files += write_split(&partial.join(split), samples, format)?;
    }
    let json = serde_json::to_string_pretty(params).unwrap_or_default();
    std::fs::write(partial.join("synth.json"), json + "\n").map_err(io(&partial))?;
    if out.exists() {
        std::fs::remove_dir(out).map_err(io(out))?;
    }
    std::fs::rename(&partial, out).map_err(io(out))?;
    Ok(n_files)
}

fn write_split(dir: &Path, samples: &[SynthSample], format: SynthFormat) -> Result<usize, SynthWriteError> {
    let width = samples.len().to_string().len().max(4);
    for sub in ["x", "y"] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).map_err(|source| SynthWriteError::Io { path, source })?;
    }
    for (i, sample) in samples.iter().enumerate() {
        let name = format!("{i:0width$}.{}", format.extension());
        for (sub, volume) in [("x", &sample.image), ("y", &sample.mask)] {
            let (path, volume) = (dir.join(sub).join(&name), AnyVolume::U8(volume.clone()));
            match format {
                SynthFormat::Tif => write_tiff(&path, &volume, &WriteOptions::default())?,
                SynthFormat::Zarr | SynthFormat::H5 => {
                    write_array(&path, &volume, &AxesOrder::parse("TZCYX").expect("a valid order"))?
                }
            }
        }
    }
    Ok(2 * samples.len())
}

fn partial_name(out: &Path) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "synth".into());
    out.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}
