//! Claims: which process computes a cache entry, safe with several machines writing one cache on
//! a shared filesystem (NFS, Lustre, GPFS), where `flock` is unreliable or absent.
//!
//! Owns: the claim file `<stage>/<key>.claim`, its heartbeat and its stale take-over. Must not:
//! decide what is finished (that is the entry's `record.json`, [`super::cache`]) or run stages.
//!
//! # The argument
//! 1. **Acquire** writes its [`Holder`] (a unique id, host, process id, Slurm job) into a draft
//!    file and hard-links the draft to the claim's name. `link` fails when the name exists and
//!    NFSv3+, Lustre and GPFS perform it atomically on the server: of several processes on any
//!    machines, exactly one creates the claim, and a claim is never seen half written (a kill
//!    between an exclusive create and its write would leave an empty claim that blocks for the
//!    whole stale time). Without hard links, an exclusive create (`O_EXCL`) and a write.
//! 2. **Heartbeat**: while it holds the claim, a thread of the holder touches the file's
//!    modification time every [`ClaimPolicy::heartbeat`]. A waiter never compares that time with
//!    its own clock (machines' clocks differ); it only notices whether the file *changed*, and
//!    counts, on its own monotonic clock, how long it has not.
//! 3. **Stale**: a claim whose file has not changed for [`ClaimPolicy::stale_after`] (90 s by
//!    default, six missed heartbeats) belongs to a dead process or machine and is taken over.
//!    Without waiting: a claim of this machine whose process is gone (a killed local run), and a
//!    claim of this process's own Slurm job and task (the task was requeued: its previous
//!    incarnation is dead).
//! 4. **Take-over** renames the stale file aside to a name of the taker's own (a rename is atomic;
//!    of several takers one succeeds, the others see it gone), reads what it moved: if that is
//!    the stale holder, it removes it and competes for a fresh `O_EXCL` create like anyone else;
//!    if it moved a claim that had just been made fresh by another taker, it links it back
//!    (`link` fails rather than overwrite, so it cannot clobber a third one) and waits again.
//! 5. **Loss**: the heartbeat also reads the claim back. If the file is gone or holds another id,
//!    the claim was taken over (the holder was wrongly judged dead: stalled longer than
//!    `stale_after`), [`Claim::held`] turns false and the holder must not commit.
//! 6. **Commit** is a rename of the finished partial folder onto the entry's name, which fails if
//!    a finished entry is already there (rename onto a non-empty folder): a finished entry is
//!    never rewritten except by an explicit `--force` or because its record is corrupt.
//!
//! The remaining risk is stated, not hidden: a holder stalled for longer than `stale_after`
//! (heartbeat thread starved, filesystem hung) and then revived may write into the partial
//! folder of its successor until its next heartbeat notices the loss; it never commits.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

/// How often a holder shows it lives and how long a silent claim is respected.
#[derive(Clone, Copy, Debug)]
pub struct ClaimPolicy {
    /// The holder touches its claim this often.
    pub heartbeat: Duration,
    /// A claim unchanged for this long (on the waiter's clock) is taken over.
    pub stale_after: Duration,
    /// The longest pause between two looks at a claim being waited for.
    pub max_poll: Duration,
}

impl Default for ClaimPolicy {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(15),
            stale_after: Duration::from_secs(90),
            max_poll: Duration::from_secs(2),
        }
    }
}

/// What a claim file holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    /// Unique among all claims ever made: host, process id and the time of the claim.
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// `<job>_<task>` (or `<job>`) when the holder is a Slurm task.
    pub job: Option<String>,
    /// How often Slurm had requeued that task (`SLURM_RESTART_COUNT`) when it claimed.
    #[serde(default)]
    pub restart: u32,
}

impl Holder {
    fn of_this_process() -> Self {
        let host = host_name();
        let pid = std::process::id();
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        Self { id: format!("{host}-{pid}-{nanos}-{serial}"), host, pid, job: slurm_task(), restart: slurm_restarts() }
    }
}

static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// This machine's host name (`/proc/sys/kernel/hostname`, then `$HOSTNAME`).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// `<array job>_<task>` or `<job>` when this process runs as a Slurm task; the same across a
/// requeue, so a requeued task recognises its own earlier claim.
pub fn slurm_task() -> Option<String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (var("SLURM_ARRAY_JOB_ID"), var("SLURM_ARRAY_TASK_ID")) {
        (Some(job), Some(task)) => Some(format!("{job}_{task}")),
        _ => var("SLURM_JOB_ID"),
    }
}

/// How often Slurm has requeued this task (`SLURM_RESTART_COUNT`, 0 outside Slurm).
pub fn slurm_restarts() -> u32 {
    std::env::var("SLURM_RESTART_COUNT").ok().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// A held claim: released (its file removed) when dropped.
pub struct Claim {
    path: PathBuf,
    holder: Holder,
    held: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    heartbeat: Option<std::thread::JoinHandle<()>>,
}

impl Claim {
    /// Waits until this process holds the claim file `path`, taking over a stale one.
    pub fn acquire(path: &Path, policy: &ClaimPolicy) -> io::Result<Claim> {
        let holder = Holder::of_this_process();
        let mut watched: Option<(Signature, Instant)> = None;
        let mut poll = Duration::from_millis(20);
        remove_dead_drafts(path);
        let text = serde_json::to_string(&holder).map_err(io::Error::other)?;
        loop {
            if let Some(file) = create_whole(path, &text)? {
                return Ok(Claim::start(path, holder, file, policy));
            }
            let Some(signature) = Signature::of(path) else { continue };
            let current = read_holder(path);
            let unchanged_since = match watched {
                Some((seen, since)) if seen == signature => since,
                _ => {
                    watched = Some((signature, Instant::now()));
                    Instant::now()
                }
            };
            let stale = match &current {
                Some(other) => is_stale(other, &holder, unchanged_since.elapsed(), policy),
                // Unreadable: being written just now, or garbage that never changes.
                None => unchanged_since.elapsed() >= policy.stale_after,
            };
            if stale {
                take_over(path, current.as_ref().map(|h| h.id.as_str()), &holder.id)?;
                watched = None;
                continue;
            }
            std::thread::sleep(poll);
            poll = (poll * 2).min(policy.max_poll);
        }
    }

    fn start(path: &Path, holder: Holder, file: File, policy: &ClaimPolicy) -> Claim {
        let held = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_path, thread_id, thread_held, thread_stop) =
            (path.to_path_buf(), holder.id.clone(), held.clone(), stop.clone());
        let beat = policy.heartbeat;
        let heartbeat = std::thread::Builder::new()
            .name("claim-heartbeat".into())
            .spawn(move || {
                let step = Duration::from_millis(20).min(beat);
                let mut waited = Duration::ZERO;
                while !thread_stop.load(Ordering::SeqCst) {
                    std::thread::sleep(step);
                    waited += step;
                    if waited < beat {
                        continue;
                    }
                    waited = Duration::ZERO;
                    if read_holder(&thread_path).is_none_or(|h| h.id != thread_id) {
                        thread_held.store(false, Ordering::SeqCst);
                        return;
                    }
                    let _ = file.set_modified(SystemTime::now());
                }
            })
            .ok();
        Claim { path: path.to_path_buf(), holder, held, stop, heartbeat }
    }

    /// Whether this process still holds the claim (false once another took it over).
    pub fn held(&self) -> bool {
        self.held.load(Ordering::SeqCst) && read_holder(&self.path).is_some_and(|h| h.id == self.holder.id)
    }

    pub fn holder(&self) -> &Holder {
        &self.holder
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.heartbeat.take() {
            let _ = thread.join();
        }
        if read_holder(&self.path).is_some_and(|h| h.id == self.holder.id) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether `other`'s claim, unchanged for `silent` on `me`'s clock, is to be taken over.
fn is_stale(other: &Holder, me: &Holder, silent: Duration, policy: &ClaimPolicy) -> bool {
    // A process of this machine that is gone.
    (other.host == me.host && !crate::atomic::process_alive(other.pid))
        // An earlier incarnation of this requeued Slurm task (two processes of one incarnation,
        // `srun -n2`, wait for each other as usual).
        || (other.job.is_some() && other.job == me.job && other.restart < me.restart)
        || silent >= policy.stale_after
}

/// Creates the claim file `path` holding `text` if no claim is there, never leaving it half
/// written: the text goes into a draft (named after this process) that is then hard-linked to
/// `path` — `link` fails if `path` exists, atomically, on NFS and Lustre too. Where the
/// filesystem has no hard links, an exclusive create and a write. `None` when a claim exists.
fn create_whole(path: &Path, text: &str) -> io::Result<Option<File>> {
    // Named after this process (so a killed one's draft can be told) and this attempt (threads
    // of one process may claim at once).
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    let draft = path.with_file_name(format!(".{stem}.tmp-{}.{serial}.claim", std::process::id()));
    std::fs::write(&draft, text)?;
    File::open(&draft)?.sync_all()?;
    let linked = std::fs::hard_link(&draft, path);
    let _ = std::fs::remove_file(&draft);
    match linked {
        Ok(()) => File::options().write(true).open(path).map(Some),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
        Err(_) => match File::options().write(true).create_new(true).open(path) {
            Ok(mut file) => {
                file.write_all(text.as_bytes())?;
                file.sync_all()?;
                Ok(Some(file))
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(e),
        },
    }
}

/// Removes the drafts of `path`'s claims left by killed processes of this machine.
fn remove_dead_drafts(path: &Path) {
    let (Some(dir), Some(stem)) = (path.parent(), path.file_stem()) else { return };
    let prefix = format!(".{}.tmp-", stem.to_string_lossy());
    for entry in std::fs::read_dir(dir).into_iter().flatten().filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let owner = name.starts_with(&prefix).then(|| crate::atomic::temporary_owner(&name)).flatten();
        if owner.is_some_and(|pid| !crate::atomic::process_alive(pid)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// What tells a waiter that a claim file changed: its inode, size and modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Signature {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl Signature {
    fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Self { inode, len: meta.len(), modified: meta.modified().ok() })
    }
}

/// The holder written in a claim file, `None` when it is missing or unreadable.
pub fn read_holder(path: &Path) -> Option<Holder> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// Removes the stale claim `path` (held by `stale_id`, or unreadable when `None`): see the
/// module's argument, step 4.
fn take_over(path: &Path, stale_id: Option<&str>, taker: &str) -> io::Result<()> {
    let aside = path.with_file_name(format!(
        "{}.taken-{}",
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        taker
    ));
    match std::fs::rename(path, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    let moved = read_holder(&aside);
    if moved.as_ref().map(|h| h.id.as_str()) != stale_id {
        // A fresh claim made by another taker since we looked: put it back unless a third
        // process already claimed the name (then that one's heartbeat reports the loss).
        let _ = std::fs::hard_link(&aside, path);
    }
    std::fs::remove_file(&aside)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> ClaimPolicy {
        ClaimPolicy {
            heartbeat: Duration::from_millis(40),
            stale_after: Duration::from_millis(400),
            max_poll: Duration::from_millis(20),
        }
    }

    #[test]
    fn a_second_claimant_waits_for_the_first_to_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.claim");
        let first = Claim::acquire(&path, &quick()).unwrap();
        assert!(first.held());
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let waiter = {
            let (path, order) = (path.clone(), order.clone());
            std::thread::spawn(move || {
                let claim = Claim::acquire(&path, &quick()).unwrap();
                order.lock().unwrap().push("second");
                assert!(claim.held());
            })
        };
        // Heartbeats keep the claim alive well past `stale_after`.
        std::thread::sleep(Duration::from_millis(900));
        assert!(first.held(), "a beating claim is never taken over");
        order.lock().unwrap().push("first released");
        drop(first);
        waiter.join().unwrap();
        assert_eq!(*order.lock().unwrap(), ["first released", "second"]);
        assert!(!path.exists(), "a released claim leaves no file");
    }

    #[test]
    fn a_silent_claim_of_another_machine_is_taken_over_after_the_stale_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.claim");
        let ghost = Holder { id: "node7-1-1-0".into(), host: "node7".into(), pid: 1, job: None, restart: 0 };
        std::fs::write(&path, serde_json::to_string(&ghost).unwrap()).unwrap();
        let start = Instant::now();
        let claim = Claim::acquire(&path, &quick()).unwrap();
        assert!(start.elapsed() >= quick().stale_after, "waited {:?}", start.elapsed());
        assert!(claim.held());
        assert_eq!(read_holder(&path).unwrap().host, host_name());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["k.claim"], "the stale claim moved aside is removed");
    }

    #[test]
    fn a_dead_local_process_claim_is_taken_over_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.claim");
        // Process ids above the kernel's maximum (4 194 304) never run.
        let dead = Holder { id: "x".into(), host: host_name(), pid: 99_999_999, job: None, restart: 0 };
        std::fs::write(&path, serde_json::to_string(&dead).unwrap()).unwrap();
        // A draft the dead process never linked goes too.
        let draft = dir.path().join(".k.tmp-99999999.claim");
        std::fs::write(&draft, "{").unwrap();
        let policy = ClaimPolicy { stale_after: Duration::from_secs(3600), ..quick() };
        let start = Instant::now();
        let claim = Claim::acquire(&path, &policy).unwrap();
        assert!(start.elapsed() < Duration::from_secs(60));
        assert!(claim.held());
        assert!(!draft.exists());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["k.claim"], "no draft of this process is left either");
    }

    #[test]
    fn only_an_earlier_incarnation_of_the_same_slurm_task_is_stale_at_once() {
        let holder = |host: &str, job: Option<&str>, restart| Holder {
            id: String::new(),
            host: host.into(),
            pid: 1,
            job: job.map(String::from),
            restart,
        };
        let me = holder("node2", Some("40_3"), 1);
        let fresh = Duration::ZERO;
        assert!(is_stale(&holder("node1", Some("40_3"), 0), &me, fresh, &quick()), "requeued: take it");
        assert!(!is_stale(&holder("node1", Some("40_3"), 1), &me, fresh, &quick()), "same incarnation: wait");
        assert!(!is_stale(&holder("node1", Some("40_4"), 0), &me, fresh, &quick()), "another task: wait");
        assert!(!is_stale(&holder("node1", None, 0), &holder("node2", None, 0), fresh, &quick()));
        assert!(is_stale(&holder("node1", None, 0), &me, quick().stale_after, &quick()), "silent too long");
    }

    #[test]
    fn a_holder_whose_claim_was_taken_over_knows_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.claim");
        let claim = Claim::acquire(&path, &quick()).unwrap();
        let usurper = Holder { id: "other".into(), host: "node2".into(), pid: 5, job: None, restart: 0 };
        std::fs::write(&path, serde_json::to_string(&usurper).unwrap()).unwrap();
        assert!(!claim.held());
        std::thread::sleep(Duration::from_millis(150));
        assert!(!claim.held.load(Ordering::SeqCst), "the heartbeat noticed the loss");
        drop(claim);
        assert_eq!(read_holder(&path).unwrap().id, "other", "releasing a lost claim leaves the new holder's file");
    }

    #[test]
    fn of_many_takers_of_one_stale_claim_exactly_one_holds_it_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.claim");
        let ghost = Holder { id: "ghost".into(), host: "node9".into(), pid: 1, job: None, restart: 0 };
        std::fs::write(&path, serde_json::to_string(&ghost).unwrap()).unwrap();
        let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (path, inside, most) = (path.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    // Staleness well above the heartbeat: on two loaded cores (the whole suite
                    // running) a holder's heartbeat was once late by more than `quick()`'s
                    // 400 ms and its claim was rightly taken over, failing this test.
                    let policy = ClaimPolicy { stale_after: Duration::from_secs(2), ..quick() };
                    let claim = Claim::acquire(&path, &policy).unwrap();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(30));
                    assert!(claim.held());
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }
}
