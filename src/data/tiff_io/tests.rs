//! Tests for TIFF reading and writing: round trips, files written by the `tiff` crate directly,
//! hand-built files (planar, 16-bit float, truncated data) and bad input.

use std::fs::{self, File};
use std::path::Path;

use tiff::decoder::Decoder;
use tiff::encoder::{Compression, TiffEncoder, colortype};
use tiff::tags::Tag;

use super::*;
use crate::data::volume::Volume;

fn volume<T>(shape: [usize; 4], f: impl Fn(usize) -> T) -> Volume<T> {
    Volume::from_vec(shape, (0..shape.iter().product()).map(f).collect()).unwrap()
}

fn sample_volumes(shape: [usize; 4]) -> Vec<AnyVolume> {
    vec![
        AnyVolume::U8(volume(shape, |i| (i * 7 % 251) as u8)),
        AnyVolume::U16(volume(shape, |i| (i * 997 % 65521) as u16)),
        AnyVolume::F32(volume(shape, |i| i as f32 * 0.37 - 5.0)),
    ]
}

fn description_of_page(path: &Path, page: usize) -> Option<String> {
    let mut decoder = Decoder::new(File::open(path).unwrap()).unwrap();
    decoder.seek_to_image(page).unwrap();
    decoder.find_tag(Tag::ImageDescription).unwrap().map(|v| v.into_string().unwrap())
}

#[test]
fn round_trips_every_writable_dtype_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    for shape in [[1, 5, 7, 1], [1, 5, 7, 3], [4, 5, 7, 1], [4, 5, 7, 3]] {
        for original in sample_volumes(shape) {
            for compression_deflate in [true, false] {
                let path = dir.path().join(format!("{}-{shape:?}.tif", original.dtype()));
                let options = WriteOptions { compression_deflate, ..WriteOptions::default() };
                write_tiff(&path, &original, &options).unwrap();
                let image = read_tiff(&path).unwrap();
                assert_eq!(image.volume, original, "{} {shape:?}", original.dtype());
                assert_eq!(image.z_from_metadata, shape[0] > 1);
                assert!(image.imagej_description.is_some());
            }
        }
    }
}

#[test]
fn description_declares_the_hyperstack_on_the_first_page_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.tif");
    let vol = AnyVolume::U8(volume([3, 4, 5, 2], |i| i as u8));
    write_tiff(&path, &vol, &WriteOptions::default()).unwrap();
    let text = description_of_page(&path, 0).unwrap();
    assert!(text.starts_with("ImageJ="), "{text}");
    for key in ["images=6\n", "channels=2\n", "slices=3\n", "hyperstack=true\n", "loop=false\n"] {
        assert!(text.contains(key), "{key} missing from {text:?}");
    }
    assert_eq!(description_of_page(&path, 1), None);
    assert_eq!(read_tiff(&path).unwrap().imagej_description.as_deref(), Some(text.as_str()));

    let flat = dir.path().join("flat.tif");
    write_tiff(&flat, &AnyVolume::U16(volume([1, 4, 5, 1], |i| i as u16)), &WriteOptions::default()).unwrap();
    let text = description_of_page(&flat, 0).unwrap();
    assert!(text.contains("images=1\n"), "{text}");
    for key in ["slices=", "channels=", "hyperstack="] {
        assert!(!text.contains(key), "{key} in {text:?}");
    }
}

#[test]
fn metadata_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.tif");
    let meta = TiffMeta {
        x_resolution: Some((3, 1)),
        y_resolution: Some((5, 2)),
        resolution_unit: Some(3),
        spacing: Some(0.25),
        unit: Some("µm".to_string()),
    };
    let options = WriteOptions { compression_deflate: true, display_range: Some((0.0, 255.5)), meta: meta.clone() };
    write_tiff(&path, &AnyVolume::F32(volume([2, 3, 3, 1], |i| i as f32)), &options).unwrap();
    let image = read_tiff(&path).unwrap();
    assert_eq!(image.meta, meta);
    let text = image.imagej_description.unwrap();
    assert!(text.contains("unit=\\u00B5m\n"), "{text}");
    assert!(text.contains("spacing=0.25\nmin=0\nmax=255.5\n"), "{text}");
}

#[test]
fn write_replaces_atomically_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.tif");
    let first = AnyVolume::U8(volume([1, 2, 2, 1], |_| 1));
    let second = AnyVolume::U8(volume([1, 3, 2, 1], |_| 2));
    write_tiff(&path, &first, &WriteOptions::default()).unwrap();
    write_tiff(&path, &second, &WriteOptions::default()).unwrap();
    assert_eq!(read_tiff(&path).unwrap().volume, second);
    let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out.tif")]);
}

#[test]
fn writing_other_dtypes_fails_naming_the_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.tif");
    let vol = AnyVolume::I32(volume([1, 2, 2, 1], |i| i as i32));
    let err = write_tiff(&path, &vol, &WriteOptions::default()).unwrap_err();
    assert!(matches!(err, TiffError::UnsupportedDtype { dtype: "int32", .. }), "{err:?}");
    assert!(err.to_string().contains("int32"), "{err}");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    let empty = AnyVolume::U8(volume([0, 2, 2, 1], |_| 0));
    let err = write_tiff(&path, &empty, &WriteOptions::default()).unwrap_err();
    assert!(matches!(err, TiffError::InvalidInput { .. }), "{err:?}");
}

#[test]
fn reads_multipage_gray16_lzw_without_imagej_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lzw.tif");
    let pages: Vec<Vec<u16>> = (0..3).map(|p| (0..20).map(|i| p * 1000 + i).collect()).collect();
    {
        let mut file = File::create(&path).unwrap();
        let mut enc = TiffEncoder::new(&mut file).unwrap().with_compression(Compression::Lzw);
        for page in &pages {
            enc.write_image::<colortype::Gray16>(5, 4, page).unwrap();
        }
    }
    let image = read_tiff(&path).unwrap();
    assert_eq!(image.volume.shape(), [3, 4, 5, 1]);
    assert!(!image.z_from_metadata);
    assert_eq!(image.imagej_description, None);
    assert_eq!(image.meta.x_resolution, Some((1, 1)), "the encoder's default tag");
    let AnyVolume::U16(v) = image.volume else { panic!("not uint16") };
    assert_eq!(v.as_slice(), pages.concat().as_slice());
}

#[test]
fn reads_rgb_as_channels() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rgb.tif");
    let data: Vec<u8> = (0..36).collect();
    TiffEncoder::new(File::create(&path).unwrap()).unwrap().write_image::<colortype::RGB8>(4, 3, &data).unwrap();
    let image = read_tiff(&path).unwrap();
    assert_eq!(image.volume, AnyVolume::U8(Volume::from_vec([1, 3, 4, 3], data).unwrap()));
}

#[test]
fn reads_integer_label_types_and_float64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.tif");
    let write = |f: &dyn Fn(&mut TiffEncoder<&mut File>)| {
        let mut file = File::create(&path).unwrap();
        f(&mut TiffEncoder::new(&mut file).unwrap());
    };
    write(&|e| e.write_image::<colortype::Gray32>(2, 2, &[0u32, 1, 70_000, 3]).unwrap());
    let image = read_tiff(&path).unwrap();
    assert_eq!(image.volume.dtype(), "uint32");
    assert_eq!(image.volume.to_labels().unwrap().as_slice(), &[0, 1, 70_000, 3]);

    write(&|e| e.write_image::<colortype::GrayI32>(2, 2, &[0i32, -1, 5, 3]).unwrap());
    let image = read_tiff(&path).unwrap();
    assert_eq!(image.volume.dtype(), "int32");
    assert!(image.volume.is_integer());
    assert_eq!(image.volume.to_labels(), None, "negative labels");

    write(&|e| e.write_image::<colortype::GrayI16>(2, 1, &[7i16, 9]).unwrap());
    let image = read_tiff(&path).unwrap();
    assert_eq!(image.volume.dtype(), "int16");
    assert_eq!(image.volume.to_labels().unwrap().as_slice(), &[7, 9]);

    write(&|e| e.write_image::<colortype::GrayI8>(2, 1, &[-3i8, 4]).unwrap());
    assert_eq!(read_tiff(&path).unwrap().volume.dtype(), "int8");

    write(&|e| e.write_image::<colortype::Gray64Float>(2, 1, &[0.5f64, -1.25]).unwrap());
    let image = read_tiff(&path).unwrap();
    assert_eq!(image.volume.dtype(), "float64");
    assert_eq!(image.volume.to_f32().as_slice(), &[0.5, -1.25]);
    assert_eq!(image.volume.to_labels(), None);
}

#[test]
fn reads_bigtiff_multipage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.tif");
    {
        let mut file = File::create(&path).unwrap();
        let mut enc = TiffEncoder::new_big(&mut file).unwrap();
        enc.write_image::<colortype::Gray8>(3, 2, &[1, 2, 3, 4, 5, 6]).unwrap();
        enc.write_image::<colortype::Gray8>(3, 2, &[7, 8, 9, 10, 11, 12]).unwrap();
    }
    let image = read_tiff(&path).unwrap();
    let expected = Volume::from_vec([2, 2, 3, 1], (1..=12).collect()).unwrap();
    assert_eq!(image.volume, AnyVolume::U8(expected));
}

/// Writes `n` 2x2 Gray8 pages, page `p` filled with `p`, with `description` on the first.
fn write_described_pages(path: &Path, n: u8, description: &str) {
    let mut file = File::create(path).unwrap();
    let mut enc = TiffEncoder::new(&mut file).unwrap();
    for p in 0..n {
        let mut image = enc.new_image::<colortype::Gray8>(2, 2).unwrap();
        if p == 0 {
            image.encoder().write_tag(Tag::ImageDescription, description).unwrap();
        }
        image.write_data(&[p; 4]).unwrap();
    }
}

#[test]
fn imagej_channels_and_frames_become_c_and_z() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hyper.tif");
    write_described_pages(&path, 6, "ImageJ=1.53t\nimages=6\nchannels=2\nframes=3\nhyperstack=true\n");
    let image = read_tiff(&path).unwrap();
    assert!(!image.z_from_metadata, "frames, not slices");
    let AnyVolume::U8(v) = image.volume else { panic!("not uint8") };
    assert_eq!(v.shape(), [3, 2, 2, 2]);
    for t in 0..3 {
        for c in 0..2 {
            assert_eq!(v.get(t, 1, 0, c), (t * 2 + c) as u8);
        }
    }
}

#[test]
fn imagej_metadata_that_contradicts_the_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.tif");
    write_described_pages(&path, 4, "ImageJ=1.53t\nimages=4\nslices=2\nframes=2\n");
    let err = read_tiff(&path).unwrap_err();
    assert!(matches!(err, TiffError::ImageJ { .. }), "{err:?}");
    assert!(err.to_string().contains("time series"), "{err}");
    write_described_pages(&path, 4, "ImageJ=1.53t\nimages=5\nslices=5\n");
    let err = read_tiff(&path).unwrap_err();
    assert!(err.to_string().contains("images=5"), "{err}");
    assert!(err.to_string().contains("bad.tif"), "{err}");
}

#[test]
fn non_tiff_and_empty_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hello.tif");
    fs::write(&path, "hello").unwrap();
    let err = read_tiff(&path).unwrap_err();
    assert!(matches!(err, TiffError::NotTiff { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    fs::write(&path, "").unwrap();
    let err = read_tiff(&path).unwrap_err();
    assert!(matches!(err, TiffError::Empty { .. }), "{err:?}");
    fs::write(&path, b"II*\0\x08").unwrap();
    assert!(matches!(read_tiff(&path), Err(TiffError::Truncated { .. })));
    let missing = dir.path().join("missing.tif");
    let err = read_tiff(&missing).unwrap_err();
    assert!(matches!(err, TiffError::Io { .. }) && err.to_string().contains("missing.tif"));
}

#[test]
fn truncated_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.tif");
    write_tiff(&path, &AnyVolume::U16(volume([3, 16, 16, 1], |i| i as u16)), &WriteOptions::default()).unwrap();
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = read_tiff(&path).unwrap_err();
    assert!(matches!(err, TiffError::Truncated { .. }), "{err:?}");
    assert!(err.to_string().contains("cut.tif"), "{err}");

    // Directory first, pixel data last: the cut hits the data, not the directory.
    let raw = raw_tiff(&RawPage { width: 4, height: 4, ..RawPage::default() }, &[9; 16]);
    fs::write(&path, &raw[..raw.len() - 3]).unwrap();
    let err = read_tiff(&path).unwrap_err();
    assert!(matches!(err, TiffError::Truncated { .. }), "{err:?}");
    assert!(err.to_string().contains("page 0"), "{err}");
}

#[test]
fn pages_of_different_sizes_are_rejected_naming_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.tif");
    {
        let mut file = File::create(&path).unwrap();
        let mut enc = TiffEncoder::new(&mut file).unwrap();
        enc.write_image::<colortype::Gray8>(4, 3, &[0; 12]).unwrap();
        enc.write_image::<colortype::Gray8>(5, 3, &[0; 15]).unwrap();
    }
    let err = read_tiff(&path).unwrap_err();
    assert!(matches!(err, TiffError::InconsistentPages { page: 1, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("page 1") && text.contains("4x3") && text.contains("5x3"), "{text}");
}

#[test]
fn size_limit_is_checked_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("limit.tif");
    write_tiff(&path, &AnyVolume::U16(volume([3, 3, 4, 1], |i| i as u16)), &WriteOptions::default()).unwrap();
    let err = read_tiff_with_limit(&path, 50).unwrap_err();
    assert!(matches!(err, TiffError::TooLarge { n_bytes: 72, limit: 50, .. }), "{err:?}");
    assert!(err.to_string().contains("limit of 50 bytes"), "{err}");
    assert_eq!(read_tiff_with_limit(&path, 72).unwrap().volume.shape(), [3, 3, 4, 1]);
}

#[test]
fn reads_planar_multiband_and_half_floats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.tif");
    let planes: Vec<u8> = (0..6).chain(100..106).collect();
    let page = RawPage { width: 3, height: 2, samples: 2, planar: true, ..RawPage::default() };
    fs::write(&path, raw_tiff(&page, &planes)).unwrap();
    let AnyVolume::U8(v) = read_tiff(&path).unwrap().volume else { panic!("not uint8") };
    assert_eq!(v.shape(), [1, 2, 3, 2]);
    assert_eq!((v.get(0, 1, 2, 0), v.get(0, 1, 2, 1)), (5, 105));

    let halves: Vec<u8> = [0x3C00u16, 0xC000, 0x3800, 0].iter().flat_map(|h| h.to_le_bytes()).collect();
    let page = RawPage { width: 2, height: 2, bits: 16, sample_format: 3, ..RawPage::default() };
    fs::write(&path, raw_tiff(&page, &halves)).unwrap();
    let image = read_tiff(&path).unwrap();
    assert_eq!(image.volume.dtype(), "float32");
    assert_eq!(image.volume.to_f32().as_slice(), &[1.0, -2.0, 0.5, 0.0]);
}

#[test]
fn unsupported_bit_depths_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bits.tif");
    let page = RawPage { width: 8, height: 1, bits: 1, ..RawPage::default() };
    fs::write(&path, raw_tiff(&page, &[0b1010_1010])).unwrap();
    let err = read_tiff(&path).unwrap_err();
    assert!(matches!(err, TiffError::UnsupportedSampleFormat { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.starts_with(&format!("`{}` has an unsupported sample format: ", path.display())), "{message}");
}

#[test]
fn any_volume_conversions() {
    let v = AnyVolume::I16(volume([1, 1, 3, 1], |i| i as i16 - 1));
    assert_eq!(v.to_labels(), None);
    assert_eq!(v.to_f32().as_slice(), &[-1.0, 0.0, 1.0]);
    let v = AnyVolume::U16(volume([1, 1, 2, 1], |i| i as u16 + 65534));
    assert_eq!(v.to_labels().unwrap().as_slice(), &[65534, 65535]);
    assert_eq!(AnyVolume::from(volume([1, 1, 1, 1], |_| 0.5f32)).dtype(), "float32");
}

/// One uncompressed page for [`raw_tiff`].
struct RawPage {
    width: u32,
    height: u32,
    bits: u32,
    samples: u32,
    sample_format: u32,
    planar: bool,
}

impl Default for RawPage {
    fn default() -> Self {
        Self { width: 1, height: 1, bits: 8, samples: 1, sample_format: 1, planar: false }
    }
}

/// A little-endian classic TIFF laid out header, directory, out-of-line tag values, pixel data
/// (one strip, or one per sample when planar) — the layout ImageJ and libtiff use.
fn raw_tiff(page: &RawPage, data: &[u8]) -> Vec<u8> {
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    let spp = page.samples as usize;
    let strips = if page.planar { spp } else { 1 };
    let strip_len = (data.len() / strips) as u32;
    let mut entries: Vec<(u16, u16, Vec<u32>)> = vec![
        (256, LONG, vec![page.width]),
        (257, LONG, vec![page.height]),
        (258, SHORT, vec![page.bits; spp]),
        (259, SHORT, vec![1]),
        (262, SHORT, vec![1]),
        (273, LONG, vec![0; strips]),
        (277, SHORT, vec![page.samples]),
        (278, LONG, vec![page.height]),
        (279, LONG, vec![strip_len; strips]),
        (284, SHORT, vec![if page.planar { 2 } else { 1 }]),
        (339, SHORT, vec![page.sample_format; spp]),
    ];
    let encode = |ty: u16, values: &[u32]| -> Vec<u8> {
        let bytes = |&v: &u32| match ty {
            SHORT => (v as u16).to_le_bytes().to_vec(),
            _ => v.to_le_bytes().to_vec(),
        };
        values.iter().flat_map(bytes).collect()
    };
    let ifd_len = 2 + 12 * entries.len() + 4;
    let extra_len: usize = entries.iter().map(|(_, ty, v)| encode(*ty, v).len()).filter(|&n| n > 4).sum();
    let data_start = (8 + ifd_len + extra_len) as u32;
    entries[5].2 = (0..strips as u32).map(|i| data_start + i * strip_len).collect();
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    let mut extra = Vec::new();
    for (tag, ty, values) in &entries {
        let mut bytes = encode(*ty, values);
        out.extend(tag.to_le_bytes());
        out.extend(ty.to_le_bytes());
        out.extend((values.len() as u32).to_le_bytes());
        if bytes.len() <= 4 {
            bytes.resize(4, 0);
            out.extend(bytes);
        } else {
            out.extend(((8 + ifd_len + extra.len()) as u32).to_le_bytes());
            extra.extend(bytes);
        }
    }
    out.extend(0u32.to_le_bytes());
    out.extend(extra);
    out.extend(data);
    out
}

#[test]
fn a_non_finite_float_sample_is_an_error_naming_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nan.tif");
    for (bad, text) in [(f32::NAN, "NaN"), (f32::INFINITY, "inf"), (f32::NEG_INFINITY, "-inf")] {
        // Page 2, y 3, x 4 of a 3-page 5×6 stack; one sample per pixel.
        let mut values = volume([3, 5, 6, 1], |i| i as f32 * 0.5);
        values.as_mut_slice()[2 * 30 + 3 * 6 + 4] = bad;
        write_tiff(&path, &AnyVolume::F32(values), &WriteOptions::default()).unwrap();
        let message = read_tiff(&path).unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "`{}` has a non-finite value ({text}) at page 2, y 3, x 4, sample 0; images and predictions must be finite",
                path.display()
            )
        );
    }
    // Channels of an ImageJ hyperstack are pages of their own (z-major): channel 1 of plane 0.
    let mut values = volume([1, 2, 3, 3], |i| i as f32);
    values.as_mut_slice()[(3 + 2) * 3 + 1] = f32::NAN;
    write_tiff(&path, &AnyVolume::F32(values), &WriteOptions::default()).unwrap();
    let message = read_tiff(&path).unwrap_err().to_string();
    assert!(message.contains("at page 1, y 1, x 2, sample 0"), "{message}");
}
