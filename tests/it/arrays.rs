//! Zarr and HDF5 data (D17) end to end: sets written by `segsweep synth --format zarr|h5` and by
//! zarr-python/h5py (`tests/python/arrays.py`, Zarr v2 with Blosc, v3 with Zstandard, axes orders
//! other than the default) train and test to the very numbers of the same data as TIFF; a
//! chunked test writes Zarr outputs in the input's axes order; and a Zarr volume larger than the
//! address space the process is allowed is predicted by chunks.

use std::path::{Path, PathBuf};
use std::process::Command;

use segsweep::config::axes::AxesOrder;
use segsweep::data::Volume;
use segsweep::data::array_io::{ArraySpec, ArrayStack, Dtype, ZarrSlabWriter};
use segsweep::data::tiff_io::{AnyVolume, read_tiff};

use crate::util::{TestDir, available_or_skip, repo_root, run_job, segsweep, tiny_run_yaml};

/// `segsweep synth` of the tiny 3D set (three training and two test stacks of 16×32×32) in
/// `format`, into `dir/<name>`.
fn synth(dir: &TestDir, name: &str, format: &str) -> PathBuf {
    let out = dir.join(name);
    let args = ["synth", "--out", out.to_str().unwrap(), "--ndim", "3", "--n-train", "3", "--n-test", "2"];
    let done = segsweep(&[&args[..], &["--size", "16", "32", "32", "--format", format]].concat());
    assert_eq!(done.code, 0, "{}", done.stderr);
    out
}

/// Trains and tests the tiny 3D run on `data` as job `name`; `extra` are `--set` arguments.
fn train_and_test(dir: &TestDir, data: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let config = dir.write(&format!("{name}.yaml"), &tiny_run_yaml(data, 3, 2, "ENABLE: True"));
    let results = dir.join("results");
    let sets: Vec<String> = extra.iter().flat_map(|s| ["--set".to_string(), s.to_string()]).collect();
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let out = run_job(&config, &results, name, &sets);
    assert_eq!(out.code, 0, "{name}: {}\n{}", out.stdout, out.stderr);
    results.join(name).join("results").join(format!("{name}_1"))
}

/// The per-image numbers of a job's `metrics.json`, without the file names.
fn numbers(job: &Path) -> Vec<serde_json::Value> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(job.join("metrics.json")).unwrap()).unwrap();
    json["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|image| {
            let mut image = image.clone();
            image.as_object_mut().unwrap().remove("file");
            image
        })
        .collect()
}

/// The binarised test outputs of a job, decoded.
fn outputs(job: &Path) -> Vec<AnyVolume> {
    ["0000", "0001"]
        .iter()
        .map(|stem| read_tiff(&job.join(format!("per_image_binarized/{stem}.tif"))).unwrap().volume)
        .collect()
}

#[test]
fn zarr_and_hdf5_sets_train_and_test_to_the_numbers_of_their_tiff_twin() {
    let dir = TestDir::new();
    let tiff = train_and_test(&dir, &synth(&dir, "tif", "tif"), "tif", &[]);
    let mut formats = vec!["zarr"];
    if cfg!(feature = "hdf5") {
        formats.push("h5");
    }
    for format in formats {
        let data = synth(&dir, format, format);
        assert!(data.join(format!("train/x/0000.{format}")).exists());
        let job = train_and_test(&dir, &data, format, &[]);
        assert_eq!(numbers(&job), numbers(&tiff), "{format}: the same data, the same seed, the same numbers");
        assert_eq!(outputs(&job), outputs(&tiff), "{format}");
    }
}

fn python_with_zarr(test: &str) -> Option<String> {
    let python = std::env::var("SEGSWEEP_PYTHON").unwrap_or_else(|_| "python3".into());
    let works =
        Command::new(&python).args(["-c", "import zarr, h5py, tifffile"]).output().is_ok_and(|o| o.status.success());
    let missing = format!("`{python}` lacks zarr, h5py or tifffile (tests/python/requirements.txt)");
    available_or_skip(test, works, "SEGSWEEP_REQUIRE_PYTHON", &missing).then_some(python)
}

fn python(python: &str, args: &[&str]) -> String {
    let out = Command::new(python).arg(repo_root().join("tests/python/arrays.py")).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn files_of_zarr_python_and_h5py_read_as_they_wrote_them_and_segsweeps_read_back() {
    let Some(py) = python_with_zarr("files_of_zarr_python_and_h5py_read_as_they_wrote_them_and_segsweeps_read_back")
    else {
        return;
    };
    let dir = TestDir::new();
    let tif = synth(&dir, "tif", "tif");
    let tiff = train_and_test(&dir, &tif, "tif", &[]);
    // Images as Zarr v2 (Blosc) channel-first, masks as Zarr v3 (Zstandard) x-first.
    let zarr = dir.join("zarr");
    for split in ["train", "test"] {
        let (src, dst) = (tif.join(split), zarr.join(split));
        python(&py, &["write", src.join("x").to_str().unwrap(), dst.join("x").to_str().unwrap(), "zarr2", "CZYX"]);
        python(&py, &["write", src.join("y").to_str().unwrap(), dst.join("y").to_str().unwrap(), "zarr3", "XYZ"]);
    }
    let orders = |split: &str| {
        [format!("DATA.{split}.INPUT_IMG_AXES_ORDER=CZYX"), format!("DATA.{split}.INPUT_MASK_AXES_ORDER=XYZ")]
    };
    let sets: Vec<String> = ["TRAIN", "TEST"].iter().flat_map(|s| orders(s)).collect();
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let job = train_and_test(&dir, &zarr, "zarr_python", &sets);
    assert_eq!(numbers(&job), numbers(&tiff), "zarr-python's files read as the TIFFs");
    // A wrong axes order is an error naming the file and the key, not a silent transpose.
    let config = dir.write("wrong.yaml", &tiny_run_yaml(&zarr, 3, 2, "ENABLE: True"));
    let out = run_job(&config, &dir.join("results"), "wrong", &[]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("train/x/0000.zarr` is 4-dimensional [1, 16, 32, 32], but the axes order `TZCYX`")
            && out.stderr.contains("(`DATA.TRAIN.INPUT_IMG_AXES_ORDER`)"),
        "{}",
        out.stderr
    );

    // HDF5: the dataset nested in a group, found as BiaPy finds it.
    if cfg!(feature = "hdf5") {
        let h5 = dir.join("h5");
        for split in ["train", "test"] {
            for sub in ["x", "y"] {
                let (src, dst) = (tif.join(split).join(sub), h5.join(split).join(sub));
                python(&py, &["write", src.to_str().unwrap(), dst.to_str().unwrap(), "h5", "TZYXC"]);
            }
        }
        let sets: Vec<String> = ["TRAIN", "TEST"]
            .iter()
            .flat_map(|s| ["IMG", "MASK"].map(|k| format!("DATA.{s}.INPUT_{k}_AXES_ORDER=TZYXC")))
            .collect();
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let job = train_and_test(&dir, &h5, "h5py", &sets);
        assert_eq!(numbers(&job), numbers(&tiff), "h5py's files read as the TIFFs");
    }

    // segsweep's own containers, read by the reference libraries.
    let mut formats = vec!["zarr"];
    if cfg!(feature = "hdf5") {
        formats.push("h5");
    }
    for format in formats {
        let ours = synth(&dir, &format!("ours_{format}"), format);
        for sub in ["train/x", "train/y", "test/x", "test/y"] {
            let said =
                python(&py, &["read", tif.join(sub).to_str().unwrap(), ours.join(sub).to_str().unwrap(), "TZCYX"]);
            assert!(said.contains("\"equal\": "), "{format} {sub}: {said}");
        }
    }
}

/// The tiny by-chunks config on the test volumes of `test` (patch 8×16×16); `data_test` and
/// `by_chunks` are added to `DATA.TEST` and `TEST.BY_CHUNKS`.
fn by_chunks_yaml(train: &Path, test: &Path, data_test: &str, by_chunks: &str) -> String {
    format!(
        "PROBLEM: {{NDIM: 3D}}
DATA:
  PATCH_SIZE: '(8, 16, 16, 1)'
  TRAIN: {{PATH: {t}/train/x, GT_PATH: {t}/train/y}}
  VAL: {{SPLIT_TRAIN: 0.34}}
  TEST: {{PATH: {test}/x, GT_PATH: {test}/y, LOAD_GT: True, PADDING: '(0, 0, 0)'{data_test}}}
MODEL: {{FEATURE_MAPS: [4, 8, 16], Z_DOWN: [1, 1]}}
TRAIN: {{ENABLE: True, OPTIMIZER: ADAMW, LR: 1.E-2, BATCH_SIZE: 2, EPOCHS: 1}}
TEST: {{ENABLE: True, BY_CHUNKS: {{ENABLE: True{by_chunks}}}}}
",
        t = train.display(),
        test = test.display()
    )
}

fn read_array(path: &Path, order: &str) -> AnyVolume {
    let spec = ArraySpec { axes: order.into(), axes_key: "test".into(), dataset: None, dataset_key: "test".into() };
    ArrayStack::open(path, &spec).unwrap().read_all().unwrap()
}

#[test]
fn a_chunked_test_of_zarr_volumes_writes_zarr_in_their_axes_order_and_tiff_copies() {
    let dir = TestDir::new();
    let data = synth(&dir, "zarr", "zarr");
    let by = ", WRITE_RAW_PREDICTIONS: True, FORMAT: zarr, SAVE_OUT_TIF: True";
    let yaml = by_chunks_yaml(&data, &data.join("test"), "", by);
    let config = dir.write("chunks.yaml", &yaml);
    let out = run_job(&config, &dir.join("results"), "chunks", &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Test Foreground IoU (per image): "), "{}", out.stdout);
    let job = dir.join("results/chunks/results/chunks_1");
    for stem in ["0000", "0001"] {
        let labels = job.join(format!("per_image_binarized/{stem}.zarr"));
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(labels.join("zarr.json")).unwrap()).unwrap();
        // The input's order, TZCYX, kept.
        assert_eq!(meta["shape"], serde_json::json!([1, 16, 1, 32, 32]), "{stem}");
        assert_eq!(meta["data_type"], "uint8");
        let tiff = read_tiff(&job.join(format!("per_image_binarized/{stem}.tif"))).unwrap().volume;
        assert_eq!(read_array(&labels, "TZCYX"), tiff, "{stem}: the Zarr and its TIFF copy");
        let probs = read_array(&job.join(format!("per_image/{stem}.zarr")), "TZCYX");
        assert_eq!((probs.shape(), probs.dtype()), ([16, 32, 32, 1], "float32"));
        assert_eq!(probs, read_tiff(&job.join(format!("per_image/{stem}.tif"))).unwrap().volume);
    }
}

/// The address space the chunked test of the large volume may use: less than the volume.
const ADDRESS_SPACE_KIB: u64 = 768 * 1024;

#[test]
fn a_zarr_volume_larger_than_the_address_space_is_predicted_by_chunks() {
    let dir = TestDir::new();
    let data = synth(&dir, "tif", "tif");
    // 16384×256×256 uint8: 1 GiB decoded, written slab by slab (8 planes a chunk).
    let big = dir.join("big");
    for sub in ["x", "y"] {
        std::fs::create_dir_all(big.join(sub)).unwrap();
    }
    let shape = [16_384, 256, 256, 1];
    let order = AxesOrder::parse("ZYX").unwrap();
    let mut image = ZarrSlabWriter::create(&big.join("x/v.zarr"), Dtype::U8, shape, &order, 64).unwrap();
    let mut mask = ZarrSlabWriter::create(&big.join("y/v.zarr"), Dtype::U8, shape, &order, 64).unwrap();
    for z0 in (0..shape[0]).step_by(64) {
        let slab: Vec<u8> = (0..64 * 256 * 256).map(|i| ((i / 256 + z0) % 200) as u8).collect();
        let labels: Vec<u8> = slab.iter().map(|&v| u8::from(v > 100)).collect();
        image.write_slab(&AnyVolume::U8(Volume::from_vec([64, 256, 256, 1], slab).unwrap())).unwrap();
        mask.write_slab(&AnyVolume::U8(Volume::from_vec([64, 256, 256, 1], labels).unwrap())).unwrap();
    }
    image.finish().unwrap();
    mask.finish().unwrap();
    let decoded = shape.iter().product::<usize>() as u64;
    assert!(decoded > ADDRESS_SPACE_KIB * 1024, "the volume must not fit the limit");

    // Train on the tiny TIFF set, then test the large volume by chunks under the limit: its first
    // 16 planes predicted, the whole volume normalised and written (as Zarr).
    let train = dir.write("train.yaml", &by_chunks_yaml(&data, &data.join("test"), "", ""));
    let out = run_job(&train, &dir.join("results"), "train", &["--set", "TEST.ENABLE=False"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let checkpoint = dir.join("results/train/checkpoints/train_1-checkpoint-best.safetensors");
    let yaml = by_chunks_yaml(
        &data,
        &big,
        ", INPUT_IMG_AXES_ORDER: ZYX, INPUT_MASK_AXES_ORDER: ZYX",
        ", FORMAT: zarr, Z_START: 0, Z_END: 16",
    );
    let test = dir.write("big.yaml", &yaml.replace("TRAIN: {ENABLE: True,", "TRAIN: {ENABLE: False,"));
    let limited = |name: &str, extra: &str| {
        let script = format!(
            "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" run --config {} --result_dir {} --name {name} \
             --set MODEL.LOAD_CHECKPOINT=True --set PATHS.CHECKPOINT_FILE={} {extra}",
            test.display(),
            dir.join("results").display(),
            checkpoint.display()
        );
        let out = Command::new("bash").args(["-c", &script, env!("CARGO_BIN_EXE_segsweep")]).output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), stdout.into_owned(), stderr.into_owned())
    };
    // The control: the whole-volume path cannot hold it under the limit.
    let (ok, stdout, stderr) = limited("whole", "--set TEST.BY_CHUNKS.ENABLE=False");
    assert!(!ok && stderr.contains("memory allocation of"), "the limit must bite: {stdout}\n{stderr}");
    let (ok, stdout, stderr) = limited("big", "");
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("Predicted by chunks: at most 8 image planes read, 8 written at once"), "{stdout}");
    let labels = dir.join("results/big/results/big_1/per_image_binarized/v.zarr");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(labels.join("zarr.json")).unwrap()).unwrap();
    assert_eq!(meta["shape"], serde_json::json!([16_384, 256, 256, 1]));
}

#[test]
fn a_sweep_over_zarr_data_by_chunks_caches_its_stages_and_sees_a_changed_chunk() {
    let dir = TestDir::new();
    let data = synth(&dir, "exp/data", "zarr");
    let manifest = dir.write(
        "exp/zarr.yaml",
        "name: zarr
result_dir: ../results
base:
  PROBLEM: {TYPE: SEMANTIC_SEG, NDIM: 3D}
  DATA:
    PATCH_SIZE: [8, 16, 16, 1]
    VAL: {SPLIT_TRAIN: 0.34}
    TEST: {LOAD_GT: True, PADDING: [0, 0, 0]}
  MODEL: {ARCHITECTURE: unet, FEATURE_MAPS: [4, 8, 16], Z_DOWN: [1, 1]}
  TRAIN: {ENABLE: True, OPTIMIZER: ADAMW, LR: 1.E-2, BATCH_SIZE: 2, EPOCHS: 1}
  TEST: {ENABLE: True, BY_CHUNKS: {ENABLE: True}}
data:
  train: {x: data/train/x, y: data/train/y}
  test: {x: data/test/x, y: data/test/y}
grid:
  TEST.BY_CHUNKS.FORMAT: [tif, zarr]
",
    );
    let sweep = || segsweep(&["sweep", manifest.to_str().unwrap()]);
    let first = sweep();
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(first.stdout.contains("2 runs, 1 trainings run, 0 failed"), "{}", first.stdout);
    let outputs: Vec<PathBuf> = walk(&dir.join("results/zarr"))
        .into_iter()
        .filter(|p| p.ends_with("per_image_binarized/0000.zarr") || p.ends_with("per_image_binarized/0000.tif"))
        .collect();
    assert_eq!(outputs.len(), 2, "one TIFF and one Zarr output: {outputs:?}");
    let reports = dir.join("results/zarr/sweep/summary.csv");
    let summary = std::fs::read_to_string(&reports).unwrap();

    let second = sweep();
    assert!(second.stdout.contains("2 runs, 0 trainings run, 0 failed"), "{}", second.stdout);
    assert_eq!(second.stdout.matches("train cached, infer cached, evaluate cached").count(), 2, "{}", second.stdout);
    assert_eq!(std::fs::read_to_string(&reports).unwrap(), summary);

    // One training volume rewritten: the training data's hash covers the files inside a
    // container, so the model is trained again.
    let volume = data.join("train/y/0000.zarr");
    let labels = read_array(&volume, "TZCYX");
    let AnyVolume::U8(labels) = labels else { panic!("uint8 labels") };
    std::fs::remove_dir_all(&volume).unwrap();
    let flipped = AnyVolume::U8(labels.map(|&v| 1 - v));
    segsweep::data::array_io::write_array(&volume, &flipped, &AxesOrder::parse("TZCYX").unwrap()).unwrap();
    let third = sweep();
    assert!(third.stdout.contains("2 runs, 1 trainings run, 0 failed"), "{}", third.stdout);
}

/// Every file and folder under `root`.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path.clone());
            }
            found.push(path);
        }
    }
    found
}

/// `tif`'s image and mask of each name as `volumes/raw` and `volumes/labels` of one Zarr
/// container `<stem>.zarr` (`ZYX`), in `out/<split>/x`.
fn containers_of_pairs(tif: &Path, out: &Path) {
    use zarrs::array::{ArrayBuilder, ArraySubset, FillValue, data_type};
    use zarrs::group::GroupBuilder;
    for split in ["train", "test"] {
        let folder = out.join(split).join("x");
        std::fs::create_dir_all(&folder).unwrap();
        for entry in std::fs::read_dir(tif.join(split).join("x")).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().replace(".tif", ".zarr");
            let store = std::sync::Arc::new(zarrs::filesystem::FilesystemStore::new(folder.join(name)).unwrap());
            for group in ["/", "/volumes"] {
                GroupBuilder::new().build(store.clone(), group).unwrap().store_metadata().unwrap();
            }
            for (sub, array) in [("x", "/volumes/raw"), ("y", "/volumes/labels")] {
                let AnyVolume::U8(v) = read_tiff(&tif.join(split).join(sub).join(entry.file_name())).unwrap().volume
                else {
                    panic!("uint8 synthetic data")
                };
                let [z, y, x, _] = v.shape();
                let shape = vec![z as u64, y as u64, x as u64];
                let a = ArrayBuilder::new(shape.clone(), vec![8, 16, 16], data_type::uint8(), FillValue::from(0u8))
                    .build(store.clone(), array)
                    .unwrap();
                a.store_metadata().unwrap();
                let region: Vec<std::ops::Range<u64>> = shape.iter().map(|&n| 0..n).collect();
                a.store_array_subset(&ArraySubset::new_with_ranges(&region), v.as_slice()).unwrap();
            }
        }
    }
}

#[test]
fn images_and_masks_in_one_container_read_by_their_dataset_keys() {
    let dir = TestDir::new();
    let tif = synth(&dir, "tif", "tif");
    let tiff = train_and_test(&dir, &tif, "tif", &[]);
    let both = dir.join("both");
    containers_of_pairs(&tif, &both);
    // `train/x`, `test/x` hold the containers; the `GT_PATH`s (`…/y`) do not exist and are unused.
    let sets: Vec<String> = ["TRAIN", "TEST"]
        .iter()
        .flat_map(|s| {
            [
                format!("DATA.{s}.INPUT_ZARR_MULTIPLE_DATA=True"),
                format!("DATA.{s}.INPUT_ZARR_MULTIPLE_DATA_RAW_PATH=volumes.raw"),
                format!("DATA.{s}.INPUT_ZARR_MULTIPLE_DATA_GT_PATH=volumes/labels"),
                format!("DATA.{s}.INPUT_IMG_AXES_ORDER=ZYX"),
                format!("DATA.{s}.INPUT_MASK_AXES_ORDER=ZYX"),
            ]
        })
        .collect();
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let job = train_and_test(&dir, &both, "both", &sets);
    assert_eq!(numbers(&job), numbers(&tiff), "the pairs read from one container each");
    assert_eq!(outputs(&job), outputs(&tiff));
}
