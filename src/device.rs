//! `--device` / `SYSTEM.DEVICE`: the burn device a run uses, chosen once at the entry point and
//! passed down. `flex` (pure Rust, CPU) is always built; the others need their cargo feature,
//! and asking for one that is not built is an error saying which feature to build with.

use burn::prelude::Device;

/// A device request could not be satisfied.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("device `{name}` needs segsweep built with `--features {feature}`")]
    NotBuilt { name: String, feature: &'static str },
    #[error("unknown device `{0}`: expected `flex`, `cpu`, `tch`, `tch:cuda:N`, `vulkan:N` or `cuda:N`")]
    Unknown(String),
}

/// The device kind recorded in run records and stage keys (`flex`, `tch`, …).
pub fn kind(name: &str) -> &str {
    name.split(':').next().unwrap_or(name)
}

/// Applies `SYSTEM.NUM_CPUS` (−1 = all cores) to the thread pool shared by data loading and
/// the `flex` backend. Call once, before any parallel work; a later call has no effect.
pub fn set_threads(num_cpus: i64) {
    if num_cpus > 0 {
        // The global pool can only be built once per process; the first setting wins.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(num_cpus as usize).build_global();
    }
}

/// Parses a device name; `cpu` (BiaPy's `SYSTEM.DEVICE` default) means `flex`.
pub fn parse(name: &str) -> Result<Device, DeviceError> {
    match kind(name) {
        "flex" | "cpu" => Ok(Device::flex()),
        "tch" => Err(DeviceError::NotBuilt { name: name.into(), feature: "tch" }),
        "vulkan" => Err(DeviceError::NotBuilt { name: name.into(), feature: "vulkan" }),
        "cuda" => Err(DeviceError::NotBuilt { name: name.into(), feature: "cuda" }),
        _ => Err(DeviceError::Unknown(name.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(parse("flex").is_ok());
        assert!(parse("cpu").is_ok());
        assert_eq!(
            parse("cuda:0").unwrap_err().to_string(),
            "device `cuda:0` needs segsweep built with `--features cuda`"
        );
        assert!(parse("gpu").unwrap_err().to_string().starts_with("unknown device `gpu`"));
        assert_eq!(kind("tch:cuda:0"), "tch");
    }
}
