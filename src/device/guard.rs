//! Backend failures that arrive as panics. libtorch reports its errors — out of memory on a GPU
//! above all — through `tch`, which burn-tch unwraps: a panic in the middle of a step. A guarded
//! stage turns that panic into an error naming the device, the stage and the batch and patch
//! size, so `run` ends with one message, a sweep records that run as failed and goes on with the
//! others, and no stage is recorded as finished. This module catches and words; it must not
//! retry, shrink batches or decide anything else about the run.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What was running when the backend failed.
#[derive(Clone, Debug)]
pub struct GuardContext {
    /// `tch:cuda:0`-style device name (its kind when the index is not known).
    pub device: String,
    /// `training`, `inference`.
    pub stage: &'static str,
    pub batch: usize,
    /// `DATA.PATCH_SIZE` as written in the config, e.g. `(256, 256, 1)`.
    pub patch: String,
}

/// A backend panic, as an error.
#[derive(Debug, thiserror::Error)]
pub enum BackendFailure {
    #[error(
        "{} ran out of memory during {} with batches of {} patches of {}: lower `TRAIN.BATCH_SIZE` or `DATA.PATCH_SIZE`, or run fewer runs on the card at once (`--jobs`); the backend said: {message}",
        context.device, context.stage, context.batch, context.patch
    )]
    OutOfMemory { context: GuardContext, message: String },
    #[error(
        "the {} backend failed during {} (batches of {} patches of {}): {message}",
        context.device, context.stage, context.batch, context.patch
    )]
    Panicked { context: GuardContext, message: String },
}

thread_local! {
    /// Set while this thread runs guarded work: the panic hook keeps the message here instead of
    /// printing it, since the guard turns it into the run's error.
    static CAUGHT: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

/// Installs (once, from the binary's `main`) the panic hook the guards rely on: a panic on a
/// thread inside [`guard`] is kept for its error; any other panic is printed as before.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let kept = CAUGHT.with(|slot| match slot.borrow_mut().as_mut() {
            Some(first) => {
                first.get_or_insert_with(|| super::panic_text(info.payload()));
                true
            }
            None => false,
        });
        if !kept {
            previous(info);
        }
    }));
}

/// Runs `work`; a panic inside it (on this thread) becomes a [`BackendFailure`] converted into
/// `E`. Errors `work` returns pass through unchanged.
pub fn guard<R, E: From<BackendFailure>>(context: &GuardContext, work: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
    let outer = CAUGHT.with(|slot| slot.replace(Some(None)));
    let result = catch_unwind(AssertUnwindSafe(work));
    let caught = CAUGHT.with(|slot| slot.replace(outer)).flatten();
    match result {
        Ok(result) => result,
        Err(payload) => {
            let message = caught.unwrap_or_else(|| super::panic_text(payload.as_ref()));
            Err(classify(context.clone(), message).into())
        }
    }
}

/// Out of memory when the message says so, in the words of libtorch's CUDA and CPU allocators
/// (`CUDA out of memory`, `DefaultCPUAllocator: can't allocate memory`) or a wgpu/CubeCL one.
fn classify(context: GuardContext, message: String) -> BackendFailure {
    let lower = message.to_lowercase();
    let oom = ["out of memory", "can't allocate memory", "cannot allocate memory", "outofmemory"]
        .iter()
        .any(|needle| lower.contains(needle));
    let message = message.trim().to_string();
    if oom { BackendFailure::OutOfMemory { context, message } } else { BackendFailure::Panicked { context, message } }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> GuardContext {
        GuardContext { device: "tch:cuda:0".into(), stage: "training", batch: 8, patch: "(256, 256, 1)".into() }
    }

    #[derive(Debug)]
    enum Error {
        Backend(BackendFailure),
        Own,
    }
    impl From<BackendFailure> for Error {
        fn from(e: BackendFailure) -> Self {
            Self::Backend(e)
        }
    }

    #[test]
    fn an_out_of_memory_panic_names_batch_and_patch() {
        let result: Result<(), Error> = guard(&context(), || {
            panic!(
                "called `Result::unwrap()` on an `Err` value: Torch(\"CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB\")"
            )
        });
        let Err(Error::Backend(failure)) = result else { panic!("an error expected") };
        assert!(matches!(failure, BackendFailure::OutOfMemory { .. }));
        let text = failure.to_string();
        assert!(text.starts_with("tch:cuda:0 ran out of memory during training with batches of 8 patches of (256, 256, 1): lower `TRAIN.BATCH_SIZE`"), "{text}");
        assert!(text.contains("Tried to allocate 2.00 GiB"), "{text}");
    }

    #[test]
    fn other_panics_and_errors() {
        let cpu: Result<(), Error> =
            guard(&context(), || panic!("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes"));
        assert!(matches!(cpu, Err(Error::Backend(BackendFailure::OutOfMemory { .. }))));
        let other: Result<(), Error> = guard(&context(), || panic!("{}", String::from("shape mismatch")));
        let Err(Error::Backend(failure @ BackendFailure::Panicked { .. })) = other else {
            panic!("a failure expected")
        };
        assert_eq!(
            failure.to_string(),
            "the tch:cuda:0 backend failed during training (batches of 8 patches of (256, 256, 1)): shape mismatch"
        );
        assert!(matches!(guard(&context(), || Err::<(), _>(Error::Own)), Err(Error::Own)));
        assert_eq!(guard(&context(), || Ok::<_, Error>(3)).unwrap(), 3);
    }

    #[test]
    fn guards_nest_and_leave_the_thread_unguarded() {
        let inner: Result<Result<(), Error>, Error> = guard(&context(), || Ok(guard(&context(), || panic!("inner"))));
        assert!(matches!(inner, Ok(Err(Error::Backend(BackendFailure::Panicked { .. })))));
        assert!(CAUGHT.with(|slot| slot.borrow().is_none()));
    }
}
