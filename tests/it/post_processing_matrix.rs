//! Post-processing matrix (D16): every test mode {patches, whole image, 2D images as a 3D stack}
//! × median filter {none, xy, z, yz} × {binary, 3 classes}, in 2D and 3D. Each combination with
//! a filter either writes its post-processing folder (one TIFF per test image, or the stack) and
//! prints its IoU line, or is refused by `config check` and by `run` with a reason naming the
//! key; never is a switched-on filter skipped in silence.

use std::path::{Path, PathBuf};

use crate::util::{TestDir, run_job, segsweep};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Patches,
    FullImage,
    Stack,
}

/// What a combination must do: write `folder` with `files` TIFFs and print `line`, print no
/// post-processing line at all (no filter), or be refused naming `key`.
#[derive(Debug, PartialEq)]
enum Expect {
    Writes { folder: &'static str, files: usize, line: &'static str },
    NothingToFilter,
    Refused { key: &'static str },
}

fn expected(ndim: u8, mode: Mode, filter: Option<&str>, n_test: usize) -> Expect {
    let along_z = filter.is_some_and(|f| f.contains('z'));
    match (ndim, mode, filter) {
        (3, Mode::FullImage, _) => Expect::Refused { key: "TEST.FULL_IMG" },
        (3, Mode::Stack, _) => Expect::Refused { key: "TEST.ANALIZE_2D_IMGS_AS_3D_STACK" },
        (_, _, None) => Expect::NothingToFilter,
        (2, Mode::Stack, Some(_)) => Expect::Writes {
            folder: "as_3d_stack_post_processing",
            files: 1,
            line: "Test Foreground IoU (as 3D stack - post-processing): ",
        },
        (2, _, Some(_)) if along_z => Expect::Refused { key: "TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS" },
        (_, Mode::FullImage, Some(_)) => Expect::Writes {
            folder: "full_post_processing",
            files: n_test,
            line: "Test Foreground IoU (per image - post-processing): ",
        },
        (_, _, Some(_)) => Expect::Writes {
            folder: "per_image_post_processing",
            files: n_test,
            line: "Test Foreground IoU (merge patches - post-processing): ",
        },
    }
}

/// A synthetic set and a model trained on it for one epoch: the config and its checkpoint.
fn trained(dir: &TestDir, ndim: u8, classes: u8) -> (PathBuf, PathBuf) {
    let data = crate::util::tiny_synthetic_set_of(dir, ndim, classes, 3, 2);
    let config = dir.write("run.yaml", &crate::util::tiny_run_yaml(&data, ndim, classes, "ENABLE: False"));
    let results = dir.join("trained");
    let out = run_job(&config, &results, "m", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    (config, results.join("m/checkpoints/m_1-checkpoint-best.safetensors"))
}

fn sets(checkpoint: &Path, mode: Mode, filter: Option<&str>) -> Vec<String> {
    let mut sets = vec![
        "TRAIN.ENABLE=False".to_string(),
        "TEST.ENABLE=True".into(),
        "MODEL.LOAD_CHECKPOINT=True".into(),
        format!("PATHS.CHECKPOINT_FILE={}", checkpoint.display()),
        format!("TEST.FULL_IMG={}", mode == Mode::FullImage),
        format!("TEST.ANALIZE_2D_IMGS_AS_3D_STACK={}", mode == Mode::Stack),
    ];
    if let Some(axis) = filter {
        sets.extend([
            "TEST.POST_PROCESSING.MEDIAN_FILTER=True".into(),
            format!("TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS=[{axis}]"),
            "TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE=[3]".into(),
        ]);
    }
    sets.into_iter().flat_map(|s| ["--set".to_string(), s]).collect()
}

const POST_LINE: &str = "post-processing): ";
const POST_FOLDERS: [&str; 3] = ["per_image_post_processing", "full_post_processing", "as_3d_stack_post_processing"];

#[test]
fn every_test_mode_and_filter_writes_its_output_or_is_refused() {
    let mut checked = 0;
    for ndim in [2u8, 3] {
        for classes in [2u8, 3] {
            let dir = TestDir::new();
            let (config, checkpoint) = trained(&dir, ndim, classes);
            for mode in [Mode::Patches, Mode::FullImage, Mode::Stack] {
                for filter in [None, Some("xy"), Some("z"), Some("yz")] {
                    let case = format!("{ndim}D, {classes} classes, {mode:?}, filter {filter:?}");
                    let sets = sets(&checkpoint, mode, filter);
                    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
                    let check = segsweep(&[&["config", "check", config.to_str().unwrap()][..], &sets].concat());
                    let results = dir.join(&format!("r-{mode:?}-{}", filter.unwrap_or("none")));
                    let run = run_job(&config, &results, "t", &sets);
                    let job = results.join("t/results/t_1");
                    match expected(ndim, mode, filter, 2) {
                        Expect::Refused { key } => {
                            assert_eq!((check.code, run.code), (2, 2), "{case}: refused\n{}", check.stdout);
                            assert!(check.stderr.contains(key), "{case}: names `{key}`: {}", check.stderr);
                            assert!(run.stderr.contains(key), "{case}: names `{key}`: {}", run.stderr);
                        }
                        Expect::NothingToFilter => {
                            assert_eq!((check.code, run.code), (0, 0), "{case}: {}{}", check.stderr, run.stderr);
                            assert!(!run.stdout.contains(POST_LINE), "{case}: {}", run.stdout);
                            assert!(POST_FOLDERS.iter().all(|f| !job.join(f).exists()), "{case}");
                        }
                        Expect::Writes { folder, files, line } => {
                            assert_eq!((check.code, run.code), (0, 0), "{case}: {}{}", check.stderr, run.stderr);
                            let written = std::fs::read_dir(job.join(folder)).map(|d| d.count()).unwrap_or(0);
                            assert_eq!(written, files, "{case}: `{folder}/` holds one TIFF per output");
                            assert_eq!(run.stdout.matches(POST_LINE).count(), 1, "{case}: {}", run.stdout);
                            assert!(run.stdout.contains(line), "{case}: `{line}` in\n{}", run.stdout);
                            let others = POST_FOLDERS.iter().filter(|f| **f != folder);
                            assert!(others.clone().all(|f| !job.join(f).exists()), "{case}");
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 48);
}
