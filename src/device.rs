//! `--device` / `SYSTEM.DEVICE`: the burn device a run uses, chosen once at the entry point and
//! passed down. `flex` (pure Rust, CPU) is always built; `tch`, `vulkan` and `cuda` need their
//! cargo feature, and asking for one that is not built is an error saying which feature to
//! build with. This module names devices; it must not decide anything about the model.

use burn::prelude::Device;

/// A device request could not be satisfied.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("device `{name}` needs segsweep built with `--features {feature}`")]
    NotBuilt { name: String, feature: &'static str },
    #[error("device `{name}` is not available: {reason}")]
    Unavailable { name: String, reason: String },
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

    /// The kind recorded in run records and stage keys: what changes the numbers (the backend
    /// and, for libtorch, CPU or CUDA kernels), not which card of a kind.
    fn kind(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::TchCpu => "tch",
            Self::TchCuda(_) => "tch-cuda",
            Self::Vulkan(_) => "vulkan",
            Self::Cuda(_) => "cuda",
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

/// The device kinds this build can run, `flex` first.
pub fn built_kinds() -> Vec<&'static str> {
    let mut kinds = vec!["flex"];
    if cfg!(feature = "tch") {
        kinds.extend(["tch", "tch-cuda"]);
    }
    if cfg!(feature = "vulkan") {
        kinds.push("vulkan");
    }
    if cfg!(feature = "cuda") {
        kinds.push("cuda");
    }
    kinds
}

/// The device kind recorded in run records and stage keys (`flex`, `tch`, `tch-cuda`, `vulkan`,
/// `cuda`); `cpu` is `flex`. A name that does not parse is returned as it is (parsing it for a
/// run reports the error).
pub fn kind(name: &str) -> &str {
    match Request::parse(name) {
        Ok(request) => request.kind(),
        Err(_) => name,
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
pub fn parse(name: &str) -> Result<Device, DeviceError> {
    let request = Request::parse(name)?;
    let device = build(request).ok_or_else(|| DeviceError::NotBuilt {
        name: name.into(),
        feature: request.feature().expect("flex is always built"),
    })?;
    if request != Request::Flex {
        probe(&device).map_err(|reason| DeviceError::Unavailable { name: name.into(), reason })?;
    }
    Ok(device)
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
        assert_eq!(kind("cpu"), "flex");
        assert_eq!(kind("tch:cuda:0"), "tch-cuda");
        assert_eq!(kind("tch:cpu"), "tch");
        assert_eq!(kind("vulkan:1"), "vulkan");
        assert_eq!(kind("gpu"), "gpu");
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
        assert!(parse("flex").is_ok());
        assert_eq!(built_kinds()[0], "flex");
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
