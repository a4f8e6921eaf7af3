//! `--device` / `SYSTEM.DEVICE`: the burn device a run uses, chosen once at the entry point and
//! passed down. `flex` (pure Rust, CPU) is always built; `tch`, `vulkan` and `cuda` need their
//! cargo feature, and asking for one that is not built is an error saying which feature to
//! build with. This module names devices; it must not decide anything about the model.

use burn::prelude::Device;

mod allocator;
mod guard;

pub use allocator::keep_freed_buffers;

pub use guard::{BackendFailure, GuardContext, guard, install_panic_hook};

/// A device request could not be satisfied.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("device `{name}` needs segsweep built with `--features {feature}`")]
    NotBuilt { name: String, feature: &'static str },
    #[error("device `{name}` is not available: {reason}")]
    Unavailable { name: String, reason: String },
    #[error(
        "`{0}` is set: it switches a backend's convolution for benchmarks only, changes the numbers and enters no stage key; unset it to run, train or sweep"
    )]
    MeasurementSwitch(&'static str),
    #[error(
        "unknown device `{0}`: expected `flex` (or `cpu`), `tch`, `tch:cpu`, `tch:cuda:N`, `vulkan`, `vulkan:N`, `cuda` or `cuda:N`"
    )]
    Unknown(String),
}

/// What a device name asks for, before any backend is touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    Flex,
    TchCpu,
    TchCuda(usize),
    Vulkan(Option<usize>),
    Cuda(usize),
}

impl Request {
    fn parse(name: &str) -> Result<Self, DeviceError> {
        let unknown = || DeviceError::Unknown(name.into());
        let index = |text: &str| text.parse::<usize>().map_err(|_| unknown());
        let parts: Vec<&str> = name.split(':').collect();
        match parts.as_slice() {
            ["flex"] | ["cpu"] => Ok(Self::Flex),
            ["tch"] | ["tch", "cpu"] => Ok(Self::TchCpu),
            ["tch", "cuda"] => Ok(Self::TchCuda(0)),
            ["tch", "cuda", i] => Ok(Self::TchCuda(index(i)?)),
            ["vulkan"] => Ok(Self::Vulkan(None)),
            ["vulkan", i] => Ok(Self::Vulkan(Some(index(i)?))),
            ["cuda"] => Ok(Self::Cuda(0)),
            ["cuda", i] => Ok(Self::Cuda(index(i)?)),
            _ => Err(unknown()),
        }
    }

    /// The kind recorded in run records and stage keys.
    fn kind(self) -> DeviceKind {
        match self {
            Self::Flex => DeviceKind::Flex,
            Self::TchCpu => DeviceKind::Tch,
            Self::TchCuda(_) => DeviceKind::TchCuda,
            Self::Vulkan(_) => DeviceKind::Vulkan,
            Self::Cuda(_) => DeviceKind::Cuda,
        }
    }

    /// The cargo feature this request needs (none for `flex`).
    fn feature(self) -> Option<&'static str> {
        match self {
            Self::Flex => None,
            Self::TchCpu | Self::TchCuda(_) => Some("tch"),
            Self::Vulkan(_) => Some("vulkan"),
            Self::Cuda(_) => Some("cuda"),
        }
    }
}

/// What changes the numbers a device computes: the backend and, for libtorch, CPU or CUDA
/// kernels — not which card of a kind. It is part of every train stage key and run record, so a
/// cache holds entries of several kinds side by side.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// burn's pure-Rust CPU backend (BiaPy's `cpu`).
    Flex,
    /// libtorch on the CPU.
    Tch,
    /// libtorch on a CUDA GPU.
    TchCuda,
    /// burn's wgpu backend on Vulkan.
    Vulkan,
    /// CubeCL CUDA.
    Cuda,
}

impl DeviceKind {
    /// Every kind, in the order above.
    pub const ALL: [DeviceKind; 5] = [Self::Flex, Self::Tch, Self::TchCuda, Self::Vulkan, Self::Cuda];

    /// The name written in stage keys and records: `flex`, `tch`, `tch-cuda`, `vulkan`, `cuda`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::Tch => "tch",
            Self::TchCuda => "tch-cuda",
            Self::Vulkan => "vulkan",
            Self::Cuda => "cuda",
        }
    }

    /// A kind's own name (`tch-cuda`) or any device name (`cpu`, `tch:cuda:1`, `vulkan:0`): what
    /// the commands that only compute stage keys (`report`, `check`, `why`) accept as `--device`.
    pub fn from_name(name: &str) -> Result<Self, DeviceError> {
        Self::ALL.into_iter().find(|k| k.name() == name).map_or_else(|| Request::parse(name).map(Request::kind), Ok)
    }

    /// The kinds this build can run, `flex` first.
    pub fn built() -> Vec<DeviceKind> {
        let mut kinds = vec![Self::Flex];
        if cfg!(feature = "tch") {
            kinds.extend([Self::Tch, Self::TchCuda]);
        }
        if cfg!(feature = "vulkan") {
            kinds.push(Self::Vulkan);
        }
        if cfg!(feature = "cuda") {
            kinds.push(Self::Cuda);
        }
        kinds
    }
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DeviceKind {
    type Err = DeviceError;
    fn from_str(name: &str) -> Result<Self, DeviceError> {
        Self::from_name(name)
    }
}

/// A device ready to run on, with its kind: what a run, a training or a sweep is handed.
#[derive(Debug, Clone)]
pub struct RunDevice {
    pub device: Device,
    pub kind: DeviceKind,
    /// The name it was asked for (`tch:cuda:0`), for messages.
    pub name: String,
}

impl RunDevice {
    /// What a guarded stage of `config` on this device reports if the backend fails.
    pub fn context(&self, config: &crate::config::Config, stage: &'static str) -> GuardContext {
        let patch = config.data.patch_size.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
        GuardContext { device: self.name.clone(), stage, batch: config.train.batch_size, patch: format!("({patch})") }
    }
}

/// Environment switches of the vendored backends that restore upstream burn's kernels so that
/// `cargo xtask bench` can measure the patches from one binary (`vendor/*/SEGSWEEP_PATCH.md`).
const MEASUREMENT_SWITCHES: [&str; 2] = ["SEGSWEEP_FLEX_UPSTREAM_CONV", "SEGSWEEP_TCH_CONV_GRAD"];

/// Refuses to compute results while a measurement switch is set: it changes the numbers, and a
/// result cached or recorded under a key that does not say so would be wrong for everyone else.
pub fn refuse_measurement_switches() -> Result<(), DeviceError> {
    match MEASUREMENT_SWITCHES.into_iter().find(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty())) {
        Some(name) => Err(DeviceError::MeasurementSwitch(name)),
        None => Ok(()),
    }
}

/// Applies `SYSTEM.NUM_CPUS` (−1 = all cores) to the thread pool shared by data loading and
/// the `flex` backend. Call once, before any parallel work; a later call has no effect.
pub fn set_threads(num_cpus: i64) {
    if num_cpus > 0 {
        // The global pool can only be built once per process; the first setting wins.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(num_cpus as usize).build_global();
    }
}

/// Parses a device name; `cpu` (BiaPy's `SYSTEM.DEVICE` default) means `flex`. A GPU or
/// libtorch device is tried once here, so a missing card, driver or library is one error now
/// rather than a backend panic in the middle of a run.
pub fn parse(name: &str) -> Result<RunDevice, DeviceError> {
    let request = Request::parse(name)?;
    cuda_index_present(request).map_err(|reason| DeviceError::Unavailable { name: name.into(), reason })?;
    let device = build(request)
        .ok_or_else(|| DeviceError::NotBuilt { name: name.into(), feature: request.feature().unwrap_or("flex") })?;
    if request != Request::Flex {
        probe(&device).map_err(|reason| DeviceError::Unavailable { name: name.into(), reason })?;
    }
    Ok(RunDevice { device, kind: request.kind(), name: name.into() })
}

/// `tch:cuda:N` asks for a card libtorch sees: otherwise libtorch's own error names no device, so
/// this one says which are present.
#[cfg(feature = "tch")]
fn cuda_index_present(request: Request) -> Result<(), String> {
    let Request::TchCuda(index) = request else { return Ok(()) };
    let count = usize::try_from(tch::Cuda::device_count()).unwrap_or(0);
    cuda_index_message(index, count, std::env::var("CUDA_VISIBLE_DEVICES").ok().as_deref())
}

#[cfg(not(feature = "tch"))]
fn cuda_index_present(_: Request) -> Result<(), String> {
    Ok(())
}

/// The reason CUDA device `index` of `count` visible ones (with `CUDA_VISIBLE_DEVICES`) cannot be
/// used, naming the devices that can.
#[cfg_attr(not(feature = "tch"), allow(dead_code))]
fn cuda_index_message(index: usize, count: usize, visible: Option<&str>) -> Result<(), String> {
    if index < count {
        return Ok(());
    }
    let visible = visible.map_or(String::new(), |v| format!(" (CUDA_VISIBLE_DEVICES={v})"));
    Err(match count {
        0 => format!(
            "libtorch sees no CUDA device{visible}: no NVIDIA driver or card, or a CPU-only libtorch (`cargo xtask libtorch --cpu`); use `tch:cpu`"
        ),
        1 => format!("libtorch sees one CUDA device{visible}: `tch:cuda:0`"),
        n => format!("libtorch sees {n} CUDA devices{visible}: `tch:cuda:0` … `tch:cuda:{}`", n - 1),
    })
}

/// A one-element round trip on `device`. Backends report a missing adapter or library by
/// panicking (sometimes on a worker thread): the first panic message becomes the error.
fn probe(device: &Device) -> Result<(), String> {
    use std::sync::{Arc, Mutex};
    let first: Arc<Mutex<Option<String>>> = Arc::default();
    let previous = std::panic::take_hook();
    let seen = Arc::clone(&first);
    std::panic::set_hook(Box::new(move |info| {
        let mut slot = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(panic_text(info.payload()));
        }
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        burn::prelude::Tensor::<1>::zeros([1], device).into_data()
    }));
    std::panic::set_hook(previous);
    match result {
        Ok(_) => Ok(()),
        Err(payload) => {
            let first = first.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
            Err(first.unwrap_or_else(|| panic_text(payload.as_ref())))
        }
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "the backend failed to start".into())
}

/// The burn device for `request`, or `None` when its feature is not built.
#[allow(deprecated)] // burn-tch is deprecated upstream but is the libtorch engine users expect
fn build(request: Request) -> Option<Device> {
    match request {
        Request::Flex => Some(Device::flex()),
        #[cfg(feature = "tch")]
        Request::TchCpu => Some(Device::libtorch()),
        #[cfg(feature = "tch")]
        Request::TchCuda(i) => Some(Device::libtorch_cuda(i)),
        #[cfg(feature = "vulkan")]
        Request::Vulkan(i) => Some(Device::vulkan(match i {
            Some(i) => burn::prelude::DeviceKind::DiscreteGpu(i),
            None => burn::prelude::DeviceKind::DefaultDevice,
        })),
        #[cfg(feature = "cuda")]
        Request::Cuda(i) => Some(Device::cuda(i)),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_to_requests() {
        assert_eq!(Request::parse("cpu").unwrap(), Request::Flex);
        assert_eq!(Request::parse("tch:cpu").unwrap(), Request::TchCpu);
        assert_eq!(Request::parse("tch:cuda:1").unwrap(), Request::TchCuda(1));
        assert_eq!(Request::parse("vulkan").unwrap(), Request::Vulkan(None));
        assert_eq!(Request::parse("vulkan:0").unwrap(), Request::Vulkan(Some(0)));
        assert_eq!(Request::parse("cuda").unwrap(), Request::Cuda(0));
        for bad in ["gpu", "cuda:x", "tch:cuda:0:1", "flex:0", ""] {
            assert!(parse(bad).unwrap_err().to_string().starts_with(&format!("unknown device `{bad}`")), "{bad}");
        }
    }

    #[test]
    fn kinds_are_canonical() {
        let kind = |name: &str| DeviceKind::from_name(name).map(DeviceKind::name);
        assert_eq!(kind("cpu").unwrap(), "flex");
        assert_eq!(kind("tch:cuda:0").unwrap(), "tch-cuda");
        assert_eq!(kind("tch-cuda").unwrap(), "tch-cuda");
        assert_eq!(kind("tch:cpu").unwrap(), "tch");
        assert_eq!(kind("vulkan:1").unwrap(), "vulkan");
        // An unknown name is an error, never a kind of its own (`gc` once kept nothing for it).
        assert!(kind("gpu").unwrap_err().to_string().starts_with("unknown device `gpu`"));
        for k in DeviceKind::ALL {
            assert_eq!(DeviceKind::from_name(k.name()).unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
            assert_eq!(<DeviceKind as clap::ValueEnum>::to_possible_value(&k).unwrap().get_name(), k.name());
        }
    }

    #[test]
    fn a_missing_cuda_index_names_the_devices_present() {
        assert!(cuda_index_message(0, 1, None).is_ok());
        assert_eq!(cuda_index_message(3, 1, None).unwrap_err(), "libtorch sees one CUDA device: `tch:cuda:0`");
        assert_eq!(
            cuda_index_message(4, 4, Some("0,1,2,3")).unwrap_err(),
            "libtorch sees 4 CUDA devices (CUDA_VISIBLE_DEVICES=0,1,2,3): `tch:cuda:0` … `tch:cuda:3`"
        );
        assert!(cuda_index_message(0, 0, None).unwrap_err().starts_with("libtorch sees no CUDA device: "));
    }

    #[test]
    fn a_panicking_backend_is_an_error() {
        let message = String::from("Unable to acquire wgpu device: no adapter");
        assert_eq!(panic_text(&message), message);
        assert_eq!(panic_text(&"static text"), "static text");
        assert_eq!(panic_text(&3u8), "the backend failed to start");
        assert!(probe(&Device::flex()).is_ok());
    }

    #[test]
    fn devices_of_this_build() {
        assert_eq!(parse("flex").unwrap().kind, DeviceKind::Flex);
        assert_eq!(DeviceKind::built()[0], DeviceKind::Flex);
        if !cfg!(feature = "cuda") {
            assert_eq!(
                parse("cuda:0").unwrap_err().to_string(),
                "device `cuda:0` needs segsweep built with `--features cuda`"
            );
        }
        if !cfg!(feature = "tch") {
            assert_eq!(
                parse("tch").unwrap_err().to_string(),
                "device `tch` needs segsweep built with `--features tch`"
            );
        }
    }
}
