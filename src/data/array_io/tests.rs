//! Zarr (and, with the `hdf5` feature, HDF5) written and read back: axes orders, slabs, the
//! first-array rule, named datasets and the errors that name the file and key.

use super::*;
use crate::data::Volume;

fn spec(order: &str) -> ArraySpec {
    ArraySpec {
        axes: order.into(),
        axes_key: "DATA.TEST.INPUT_IMG_AXES_ORDER".into(),
        dataset: None,
        dataset_key: "DATA.TEST.INPUT_ZARR_MULTIPLE_DATA_RAW_PATH".into(),
    }
}

/// A `(4, 3, 5, 2)` uint16 volume whose value tells its voxel: z·1000 + y·100 + x·10 + c.
fn volume() -> Volume<u16> {
    let mut data = Vec::new();
    for z in 0..4u16 {
        for y in 0..3u16 {
            for x in 0..5u16 {
                for c in 0..2u16 {
                    data.push(z * 1000 + y * 100 + x * 10 + c);
                }
            }
        }
    }
    Volume::from_vec([4, 3, 5, 2], data).unwrap()
}

#[test]
fn a_zarr_written_in_any_order_reads_back_as_the_same_volume() {
    let dir = tempfile::tempdir().unwrap();
    for order in ["TZCYX", "ZYXC", "CZYX", "XYZC"] {
        let path = dir.path().join(format!("{order}.zarr"));
        let any = AnyVolume::U16(volume());
        write_array(&path, &any, &AxesOrder::parse(order).unwrap()).unwrap();
        let mut stack = ArrayStack::open(&path, &spec(order)).unwrap();
        assert_eq!(stack.shape(), [4, 3, 5, 2], "{order}");
        assert_eq!(stack.read_all().unwrap(), any, "{order}");
        let AnyVolume::U16(slab) = stack.read_slab(1, 3).unwrap() else { panic!("uint16") };
        assert_eq!(slab.shape(), [2, 3, 5, 2]);
        assert_eq!(slab.get(1, 2, 4, 1), 2241, "{order}");
        assert_eq!(stack.max_planes_at_once(), 4);
    }
}

#[test]
fn the_slab_writer_chunks_by_slab_and_commits_only_when_complete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.zarr");
    let order = AxesOrder::parse("ZYXC").unwrap();
    let v = volume().map(|&x| (x % 251) as u8);
    let slab = |z0: usize, z1: usize| {
        let [_, y, x, c] = v.shape();
        AnyVolume::U8(
            Volume::from_vec([z1 - z0, y, x, c], v.as_slice()[z0 * y * x * c..z1 * y * x * c].to_vec()).unwrap(),
        )
    };
    let mut writer = ZarrSlabWriter::create(&path, Dtype::U8, v.shape(), &order, 2).unwrap();
    writer.write_slab(&slab(0, 2)).unwrap();
    let err = writer.write_slab(&AnyVolume::U16(volume())).unwrap_err().to_string();
    assert!(err.contains("a uint16 slab in a U8 array"), "{err}");
    drop(writer);
    assert!(!path.exists(), "an unfinished container is not left under its name");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nor under its temporary name");

    let mut writer = ZarrSlabWriter::create(&path, Dtype::U8, v.shape(), &order, 2).unwrap();
    writer.write_slab(&slab(0, 2)).unwrap();
    writer.write_slab(&slab(2, 4)).unwrap();
    assert_eq!(writer.max_planes_at_once(), 2);
    writer.finish().unwrap();
    let mut stack = ArrayStack::open(&path, &spec("ZYXC")).unwrap();
    assert_eq!(stack.read_all().unwrap(), AnyVolume::U8(v));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path.join("zarr.json")).unwrap()).unwrap();
    assert_eq!(meta["shape"], serde_json::json!([4, 3, 5, 2]));
    assert_eq!(meta["chunk_grid"]["configuration"]["chunk_shape"], serde_json::json!([2, 3, 5, 2]));
}

#[test]
fn the_first_array_sorted_by_name_is_read_unless_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vol.zarr");
    let store = std::sync::Arc::new(zarrs::filesystem::FilesystemStore::new(&path).unwrap());
    zarrs::group::GroupBuilder::new().build(store.clone(), "/").unwrap().store_metadata().unwrap();
    zarrs::group::GroupBuilder::new().build(store.clone(), "/volumes").unwrap().store_metadata().unwrap();
    for (name, value) in [("/volumes/raw", 7u8), ("/volumes/labels", 1u8)] {
        let array = zarrs::array::ArrayBuilder::new(
            vec![2, 2, 2],
            vec![2, 2, 2],
            zarrs::array::data_type::uint8(),
            zarrs::array::FillValue::from(0u8),
        )
        .build(store.clone(), name)
        .unwrap();
        array.store_metadata().unwrap();
        array
            .store_array_subset(&zarrs::array::ArraySubset::new_with_ranges(&[0..2, 0..2, 0..2]), &[value; 8])
            .unwrap();
    }
    let mut first = ArrayStack::open(&path, &spec("ZYX")).unwrap();
    assert_eq!(first.name(), "/volumes/labels");
    assert_eq!(first.read_all().unwrap(), AnyVolume::U8(Volume::filled([2, 2, 2, 1], 1)));
    let named = ArraySpec { dataset: Some("volumes.raw".into()), ..spec("ZYX") };
    let mut raw = ArrayStack::open(&path, &named).unwrap();
    assert_eq!(raw.read_all().unwrap(), AnyVolume::U8(Volume::filled([2, 2, 2, 1], 7)));

    let missing = ArraySpec { dataset: Some("volumes.gt".into()), ..spec("ZYX") };
    let err = ArrayStack::open(&path, &missing).unwrap_err().to_string();
    assert!(
        err.contains("vol.zarr` has no dataset `volumes.gt` (`DATA.TEST.INPUT_ZARR_MULTIPLE_DATA_RAW_PATH`)"),
        "{err}"
    );
    let err = ArrayStack::open(&path, &spec("TZCYX")).unwrap_err().to_string();
    assert!(
        err.contains("array `/volumes/labels` of `")
            && err.contains("is 3-dimensional [2, 2, 2], but the axes order `TZCYX` names 5 dimensions (`DATA.TEST.INPUT_IMG_AXES_ORDER`)"),
        "{err}"
    );
}

#[test]
fn a_sample_type_segsweep_does_not_read_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.zarr");
    let store = std::sync::Arc::new(zarrs::filesystem::FilesystemStore::new(&path).unwrap());
    zarrs::array::ArrayBuilder::new(
        vec![2, 2, 2],
        vec![2, 2, 2],
        zarrs::array::data_type::int64(),
        zarrs::array::FillValue::from(0i64),
    )
    .build(store, "/")
    .unwrap()
    .store_metadata()
    .unwrap();
    let err = ArrayStack::open(&path, &spec("ZYX")).unwrap_err().to_string();
    assert!(err.contains("wide.zarr` has int64") && err.contains("samples: expected uint8/16/32"), "{err}");
}

#[test]
fn containers_without_arrays_and_other_names_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.zarr");
    let store = std::sync::Arc::new(zarrs::filesystem::FilesystemStore::new(&path).unwrap());
    zarrs::group::GroupBuilder::new().build(store, "/").unwrap().store_metadata().unwrap();
    let err = ArrayStack::open(&path, &spec("ZYX")).unwrap_err().to_string();
    assert!(err.contains("empty.zarr` holds no array"), "{err}");
    let err = ArrayStack::open(&dir.path().join("none.zarr"), &spec("ZYX")).unwrap_err().to_string();
    assert!(err.contains("cannot open Zarr `") && err.contains("none.zarr"), "{err}");
    assert_eq!(ArrayFormat::of(Path::new("a/b.H5")), Some(ArrayFormat::Hdf5));
    assert_eq!(ArrayFormat::of(Path::new("a/b.tif")), None);
}

#[cfg(feature = "hdf5")]
#[test]
fn an_hdf5_dataset_reads_back_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    for order in ["TZCYX", "CZYX"] {
        let path = dir.path().join(format!("{order}.h5"));
        let any = AnyVolume::U16(volume());
        write_array(&path, &any, &AxesOrder::parse(order).unwrap()).unwrap();
        let mut stack = ArrayStack::open(&path, &spec(order)).unwrap();
        assert_eq!(stack.name(), "/data");
        assert_eq!(stack.read_all().unwrap(), any);
        let AnyVolume::U16(slab) = stack.read_slab(3, 4).unwrap() else { panic!("uint16") };
        assert_eq!(slab.get(0, 1, 2, 1), 3121);
    }
    let named = ArraySpec { dataset: Some("labels".into()), ..spec("TZCYX") };
    let err = ArrayStack::open(&dir.path().join("TZCYX.h5"), &named).unwrap_err().to_string();
    assert!(err.contains("TZCYX.h5` has no dataset `labels`"), "{err}");
}

#[cfg(not(feature = "hdf5"))]
#[test]
fn without_the_feature_hdf5_inputs_say_how_to_get_it() {
    let err = ArrayStack::open(Path::new("x/vol.h5"), &spec("ZYX")).unwrap_err().to_string();
    assert!(err.contains("x/vol.h5` is an HDF5 file, but this segsweep was built without HDF5"), "{err}");
}
