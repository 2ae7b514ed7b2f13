//! What a candidate's calls into the host cost, and how long they may block.
//!
//! Two holes this closes, for every candidate runtime (Python for construction
//! problems, Python and C++ for contests):
//!
//! - **A blocked host call cannot be interrupted.** Epoch interruption and fuel
//!   are checked in Wasm code only; a thread sleeping inside WASI's
//!   `poll_oneoff` sleeps for as long as it asked, past any deadline. So no
//!   runtime here keeps WASI's own `poll_oneoff`: [`poll_oneoff`] reads the
//!   subscriptions and lets the store's [`Clocks`] decide what waiting means.
//!   Under program time (contests) a sleep *is* program time: it is charged as
//!   fuel and never waits on the wall clock, so a sleep longer than what is left
//!   ends the program at its time limit at once. Under wall time (construction
//!   problems) a sleep really waits, but never past the store's deadline, where
//!   it ends the program as a timeout. The candidates' other descriptors
//!   (memory pipes for stdin, captured stdout and stderr) never block, so an
//!   `fd_read`/`fd_write` subscription is ready at once.
//! - **Host calls cost wall time that fuel does not count.** A loop on
//!   `std::random_device` or `clock()` spends most of its time crossing into the
//!   host, where no fuel is consumed: 2 s of program time took 30 s of wall
//!   time. [`charge_host_calls`] charges every call from Wasm into the host
//!   [`HOST_CALL_FUEL`], about what such a call costs on the calibration
//!   machine, so a loop of host calls ends at its program time in about the
//!   same wall time.

use std::time::{Duration, Instant};

use wasmtime::{CallHook, Caller, Extern, Linker, Store, Trap};

/// Fuel charged for each call from a candidate into the host: at
/// [`crate::cpp::run::FUEL_PER_SECOND`] (7.5 fuel per nanosecond), 1,500 fuel is
/// 200 ns of program time. Measured on the machine the clock is calibrated on,
/// a loop of `clock()` or `std::random_device` then spends 116-131 ns of wall
/// time per call for 206-211 ns of program time: 0.56-0.62 s of wall time per
/// second of program time, the ratio of plain Wasm code (BENCHMARKS.md, "Host
/// calls cost program time").
pub const HOST_CALL_FUEL: u64 = 1_500;

/// Fuel charged per byte a host call produces on top of [`HOST_CALL_FUEL`]
/// (`random_get`'s stream: a 1 MiB call costs about a millisecond).
pub const HOST_BYTE_FUEL: u64 = 8;

/// Charge every call from Wasm into the host [`HOST_CALL_FUEL`]; a call that
/// finds less fuel left ends the program as if its fuel ran out in Wasm.
pub fn charge_host_calls<T: 'static>(store: &mut Store<T>) {
    store.call_hook(|mut ctx, hook| {
        if !matches!(hook, CallHook::CallingHost) {
            return Ok(());
        }
        let fuel = ctx.get_fuel()?;
        if fuel < HOST_CALL_FUEL {
            ctx.set_fuel(0)?;
            return Err(Trap::OutOfFuel.into());
        }
        ctx.set_fuel(fuel - HOST_CALL_FUEL)?;
        Ok(())
    });
}

/// Spend `fuel` from inside a host call: a charge larger than what is left
/// empties the store and traps as out of fuel (the program's time limit).
pub fn charge<T>(caller: &mut Caller<'_, T>, fuel: u64) -> wasmtime::Result<()> {
    let left = caller.get_fuel()?;
    if fuel >= left {
        caller.set_fuel(0)?;
        return Err(Trap::OutOfFuel.into());
    }
    caller.set_fuel(left - fuel)?;
    Ok(())
}

/// The clocks a store's program sees, and what waiting on them does.
pub trait Clocks: Sized + 'static {
    /// The value of clock `id` (0 realtime, 1 monotonic, 2 process CPU time,
    /// 3 thread CPU time) in nanoseconds; `None` for an unknown clock.
    fn now(caller: &Caller<'_, Self>, id: u32) -> Option<u64>;

    /// Wait `nanos` on this store's terms: `Ok` when the wait is over, `Err`
    /// (a trap) when the program may not wait that long and must end now.
    fn wait(caller: &mut Caller<'_, Self>, nanos: u64) -> wasmtime::Result<()>;
}

/// Replace WASI's `clock_time_get`, `clock_res_get` and `poll_oneoff` with the
/// store's [`Clocks`].
pub fn add_clocks<T: Clocks>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    linker.allow_shadowing(true);
    linker.func_wrap("wasi_snapshot_preview1", "clock_time_get", clock_time_get::<T>)?;
    linker.func_wrap("wasi_snapshot_preview1", "clock_res_get", clock_res_get)?;
    linker.func_wrap("wasi_snapshot_preview1", "poll_oneoff", poll_oneoff::<T>)?;
    Ok(())
}

/// Wall time with a deadline, for candidates whose limit is wall time: a
/// sleep waits, but at most until `deadline`, where it traps as a timeout.
pub fn wait_until_deadline(deadline: Instant, nanos: u64) -> wasmtime::Result<()> {
    let wanted = Duration::from_nanos(nanos);
    let left = deadline.saturating_duration_since(Instant::now());
    if wanted <= left {
        std::thread::sleep(wanted);
        return Ok(());
    }
    std::thread::sleep(left);
    Err(Trap::Interrupt.into())
}

/// The monotonic clock of wall-time candidates: nanoseconds since this process
/// first asked (any fixed origin will do; programs only take differences).
pub fn monotonic_nanos() -> u64 {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Nanoseconds since the Unix epoch, from the host's clock.
pub fn realtime_nanos() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// WASI errno values used here.
pub(crate) const ERRNO_SUCCESS: i32 = 0;
pub(crate) const ERRNO_FAULT: i32 = 21;
pub(crate) const ERRNO_INVAL: i32 = 28;

/// `subscription` (48 bytes) and `event` (32 bytes) of WASI preview 1.
const SUBSCRIPTION_BYTES: usize = 48;
const EVENT_BYTES: usize = 32;
const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;
const SUBCLOCKFLAGS_ABSTIME: u16 = 1;

fn memory<T>(caller: &mut Caller<'_, T>) -> Option<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Some(m),
        _ => None,
    }
}

pub(crate) fn write_bytes<T>(caller: &mut Caller<'_, T>, ptr: i32, bytes: &[u8]) -> i32 {
    let Some(memory) = memory(caller) else { return ERRNO_FAULT };
    match memory.write(&mut *caller, ptr as u32 as usize, bytes) {
        Ok(()) => ERRNO_SUCCESS,
        Err(_) => ERRNO_FAULT,
    }
}

fn clock_time_get<T: Clocks>(mut caller: Caller<'_, T>, id: i32, _precision: i64, out: i32) -> i32 {
    match T::now(&caller, id as u32) {
        Some(value) => write_bytes(&mut caller, out, &value.to_le_bytes()),
        None => ERRNO_INVAL,
    }
}

fn clock_res_get<T>(mut caller: Caller<'_, T>, id: i32, out: i32) -> i32 {
    if !(0..=3).contains(&id) {
        return ERRNO_INVAL;
    }
    write_bytes(&mut caller, out, &1u64.to_le_bytes())
}

/// One subscription, as far as this module needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Subscription {
    /// Wake at `timeout` (absolute on clock `id` when `absolute`, else relative).
    Clock { userdata: u64, id: u32, timeout: u64, absolute: bool },
    /// Readiness of a descriptor (`kind` is the event type).
    Fd { userdata: u64, kind: u8 },
}

fn parse(bytes: &[u8]) -> Option<Subscription> {
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let userdata = u64_at(0);
    match bytes[8] {
        EVENTTYPE_CLOCK => Some(Subscription::Clock {
            userdata,
            id: u32::from_le_bytes(bytes[16..20].try_into().unwrap()),
            timeout: u64_at(24),
            absolute: u16::from_le_bytes(bytes[40..42].try_into().unwrap()) & SUBCLOCKFLAGS_ABSTIME != 0,
        }),
        kind @ (EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE) => Some(Subscription::Fd { userdata, kind }),
        _ => None,
    }
}

fn event(userdata: u64, kind: u8) -> [u8; EVENT_BYTES] {
    let mut e = [0u8; EVENT_BYTES];
    e[..8].copy_from_slice(&userdata.to_le_bytes());
    // error (u16 at 8) = success; type (u8 at 10); fd_readwrite (nbytes, flags) = 0.
    e[10] = kind;
    e
}

/// What a poll does, decided from its subscriptions and the clocks' now: the
/// events it reports, after waiting `wait` nanoseconds.
fn decide(subscriptions: &[Subscription], now: impl Fn(u32) -> Option<u64>) -> Result<(u64, Vec<[u8; EVENT_BYTES]>), i32> {
    // A descriptor here never blocks: report those at once, without waiting.
    let ready: Vec<_> = subscriptions
        .iter()
        .filter_map(|s| match *s {
            Subscription::Fd { userdata, kind } => Some(event(userdata, kind)),
            Subscription::Clock { .. } => None,
        })
        .collect();
    if !ready.is_empty() {
        return Ok((0, ready));
    }
    // Only clocks: wait for the earliest; every clock due by then fires.
    let mut waits = Vec::with_capacity(subscriptions.len());
    for s in subscriptions {
        if let Subscription::Clock { userdata, id, timeout, absolute } = *s {
            let wait = if absolute { timeout.saturating_sub(now(id).ok_or(ERRNO_INVAL)?) } else { timeout };
            waits.push((userdata, wait));
        }
    }
    let wait = waits.iter().map(|w| w.1).min().ok_or(ERRNO_INVAL)?;
    Ok((wait, waits.iter().filter(|w| w.1 == wait).map(|w| event(w.0, EVENTTYPE_CLOCK)).collect()))
}

fn poll_oneoff<T: Clocks>(mut caller: Caller<'_, T>, subs: i32, events: i32, n: i32, nevents: i32) -> wasmtime::Result<i32> {
    let n = n as u32 as usize;
    if n == 0 {
        return Ok(ERRNO_INVAL);
    }
    let Some(memory) = memory(&mut caller) else { return Ok(ERRNO_FAULT) };
    let mut raw = vec![0u8; n.saturating_mul(SUBSCRIPTION_BYTES)];
    if memory.read(&caller, subs as u32 as usize, &mut raw).is_err() {
        return Ok(ERRNO_FAULT);
    }
    let Some(subscriptions) = raw.chunks_exact(SUBSCRIPTION_BYTES).map(parse).collect::<Option<Vec<_>>>() else {
        return Ok(ERRNO_INVAL);
    };
    let (wait, fired) = match decide(&subscriptions, |id| T::now(&caller, id)) {
        Ok(decided) => decided,
        Err(errno) => return Ok(errno),
    };
    if wait > 0 {
        T::wait(&mut caller, wait)?;
    }
    let out: Vec<u8> = fired.iter().flatten().copied().collect();
    let written = write_bytes(&mut caller, events, &out);
    if written != ERRNO_SUCCESS {
        return Ok(written);
    }
    Ok(write_bytes(&mut caller, nevents, &(fired.len() as u32).to_le_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(userdata: u64, id: u32, timeout: u64, absolute: bool) -> [u8; SUBSCRIPTION_BYTES] {
        let mut s = [0u8; SUBSCRIPTION_BYTES];
        s[..8].copy_from_slice(&userdata.to_le_bytes());
        s[8] = EVENTTYPE_CLOCK;
        s[16..20].copy_from_slice(&id.to_le_bytes());
        s[24..32].copy_from_slice(&timeout.to_le_bytes());
        s[40..42].copy_from_slice(&(absolute as u16).to_le_bytes());
        s
    }

    #[test]
    fn subscriptions_parse_from_their_wasi_layout() {
        assert_eq!(parse(&clock(7, 1, 5_000, true)), Some(Subscription::Clock { userdata: 7, id: 1, timeout: 5_000, absolute: true }));
        let mut fd = [0u8; SUBSCRIPTION_BYTES];
        fd[0] = 3;
        fd[8] = EVENTTYPE_FD_READ;
        assert_eq!(parse(&fd), Some(Subscription::Fd { userdata: 3, kind: EVENTTYPE_FD_READ }));
        fd[8] = 9;
        assert_eq!(parse(&fd), None);
    }

    #[test]
    fn a_poll_waits_for_its_earliest_clock_and_never_for_a_descriptor() {
        let now = |id: u32| (id <= 3).then_some(1_000);
        let subs = [
            Subscription::Clock { userdata: 1, id: 1, timeout: 500, absolute: false },
            // Absolute 1,300 on a clock at 1,000: 300 from now, the earliest.
            Subscription::Clock { userdata: 2, id: 1, timeout: 1_300, absolute: true },
        ];
        let (wait, events) = decide(&subs, now).unwrap();
        assert_eq!(wait, 300);
        assert_eq!(events, vec![event(2, EVENTTYPE_CLOCK)]);
        // An absolute time already past: no wait at all.
        let (wait, _) = decide(&[Subscription::Clock { userdata: 1, id: 0, timeout: 10, absolute: true }], now).unwrap();
        assert_eq!(wait, 0);
        let with_fd = [subs[0], Subscription::Fd { userdata: 9, kind: EVENTTYPE_FD_READ }];
        assert_eq!(decide(&with_fd, now).unwrap(), (0, vec![event(9, EVENTTYPE_FD_READ)]));
        // An unknown clock is the program's error, not a wait.
        assert_eq!(decide(&[Subscription::Clock { userdata: 1, id: 9, timeout: 10, absolute: true }], now), Err(ERRNO_INVAL));
    }

    #[test]
    fn a_wait_past_the_deadline_ends_at_the_deadline() {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(50);
        let err = wait_until_deadline(deadline, 30_000_000_000).unwrap_err();
        assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::Interrupt));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(50) && took < Duration::from_secs(2), "{took:?}");
        assert!(wait_until_deadline(Instant::now() + Duration::from_secs(5), 1_000_000).is_ok());
    }
}
