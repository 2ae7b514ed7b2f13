//! `--executor slurm` on a real single-machine SLURM cluster that this test
//! starts (munge, slurmctld and slurmd from Debian's slurm-wlm, a slurm.conf
//! written here, no systemd) and stops at the end.
//!
//! One test, one cluster, the scenarios in order: a run outside an
//! allocation (sbatch --wait) and one inside (salloc + srun) give exactly
//! the local run's buffer; a job step killed mid-batch and one cancelled
//! with scancel are launched again and the run still matches; the host
//! killed with SIGKILL resumes by waiting for its job and collecting its
//! results (launched once); Ctrl-C of the host cancels its job; workers that
//! die every time leave typed failures after the retries; a job that cannot
//! run stops the run at its start-up check.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

/// A one-node SLURM cluster in a temporary directory.
struct Cluster {
    dir: tempfile::TempDir,
    daemons: Vec<Child>,
}

impl Cluster {
    fn start() -> Cluster {
        assert!(
            Path::new("/usr/sbin/slurmctld").exists() && Path::new("/usr/sbin/munged").exists(),
            "SLURM is not installed (apt-get install slurm-wlm munge; .ci/run does)"
        );
        // munge authenticates every SLURM message; start it if it is not running.
        let munge_ok = || Command::new("munge").arg("-n").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
        if !munge_ok() {
            let _ = std::fs::create_dir_all("/run/munge");
            let _ = Command::new("chown").args(["munge:munge", "/run/munge"]).status();
            sh(Command::new("runuser").args(["-u", "munge", "--", "/usr/sbin/munged"]));
            let start = Instant::now();
            while !munge_ok() {
                assert!(start.elapsed() < Duration::from_secs(10), "munged did not start");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["state", "spool"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        // slurmd finds its node by this name; addresses are loopback, so the
        // machine's name need not resolve.
        let host = sh(Command::new("hostname").arg("-s")).trim().to_string();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let conf = format!(
            "ClusterName=discovertest\nSlurmctldHost={host}(127.0.0.1)\nSlurmUser=root\nSlurmdUser=root\nAuthType=auth/munge\n\
             StateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\nSlurmctldPidFile={d}/slurmctld.pid\nSlurmdPidFile={d}/slurmd.pid\n\
             SlurmctldLogFile={d}/slurmctld.log\nSlurmdLogFile={d}/slurmd.log\nSlurmctldPort={}\nSlurmdPort={}\n\
             ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nSelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n\
             MpiDefault=none\nReturnToService=2\nJobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n\
             SchedulerType=sched/backfill\nMinJobAge=300\nNodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN\n\
             PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
            free_port(),
            free_port(),
            d = d.display()
        );
        let conf_path = d.join("slurm.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let daemon = |name: &str| {
            Command::new(format!("/usr/sbin/{name}"))
                .args(["-D", "-f"])
                .arg(&conf_path)
                .env("SLURM_CONF", &conf_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let cluster = Cluster { daemons: vec![daemon("slurmctld"), daemon("slurmd")], dir };
        let start = Instant::now();
        loop {
            let out = cluster.cmd("sinfo").args(["-h", "-o", "%T"]).output().unwrap();
            if text(&out.stdout).trim() == "idle" {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "the node never became idle: {}", text(&out.stdout));
            std::thread::sleep(Duration::from_millis(200));
        }
        cluster
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("slurm.conf")
    }

    /// A command that talks to this cluster.
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", self.conf());
        c
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.cmd("scancel").args(["--user", "root"]).output();
        for d in &mut self.daemons {
            let _ = d.kill();
            let _ = d.wait();
        }
    }
}

fn discover_exe() -> &'static str {
    env!("CARGO_BIN_EXE_discover")
}

/// `discover run circle-packing-26 --steps 3 --seed 5 --json --executor slurm
/// [extra] --out dir` started in the background; its output piped (to read
/// at the end) or dropped (for a process the test kills).
fn spawn_run(cluster: &Cluster, dir: &Path, extra: &[&str], piped: bool) -> Child {
    let io = || if piped { Stdio::piped() } else { Stdio::null() };
    cluster
        .cmd(discover_exe())
        .args(["run", "circle-packing-26", "--steps", "3", "--seed", "5", "--json", "--executor", "slurm"])
        .args(extra)
        .arg("--out")
        .arg(dir)
        .stdout(io())
        .stderr(io())
        .spawn()
        .unwrap()
}

/// The job id of step 2's batch, once the run has recorded sbatch's answer.
fn step2_job(dir: &Path) -> String {
    let jobs = dir.join("batches/step-000002/jobs.txt");
    let start = Instant::now();
    loop {
        let launches = std::fs::read_to_string(&jobs).unwrap_or_default();
        if let Some(id) = launches.lines().find_map(|l| l.split("submitted ").nth(1)) {
            return id.trim().to_string();
        }
        assert!(start.elapsed() < Duration::from_secs(120), "step 2 was never submitted");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `discover run circle-packing-26 --steps 3 --seed 5` with `extra` flags,
/// through `launcher` (salloc or nothing); the run directory.
fn run(cluster: &Cluster, dir: &Path, extra: &[&str], launcher: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = launcher.iter().map(|s| s.to_string()).collect();
    args.push(discover_exe().to_string());
    for a in ["run", "circle-packing-26", "--steps", "3", "--seed", "5", "--json", "--out"] {
        args.push(a.to_string());
    }
    args.push(dir.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut cmd = cluster.cmd(&args[0]);
    cmd.args(&args[1..]);
    cmd.output().unwrap()
}

fn buffer(dir: &Path) -> Value {
    let v: Value = serde_json::from_slice(&std::fs::read(dir.join("buffer.json")).unwrap()).unwrap();
    v["buffer"].clone()
}

fn jobs(dir: &Path) -> String {
    (1..=3).map(|s| std::fs::read_to_string(dir.join(format!("batches/step-{s:06}/jobs.txt"))).unwrap_or_default()).collect()
}

#[test]
fn slurm_runs_match_local_runs_and_survive_killed_and_cancelled_job_steps() {
    let cluster = Cluster::start();
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    let out = run(&cluster, &local, &[], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = buffer(&local);

    // Outside an allocation: sbatch --wait per batch.
    let batch = tmp.path().join("sbatch");
    let out = run(&cluster, &batch, &["--executor", "slurm", "--slurm-batches", "2"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(buffer(&batch), expected, "the same seed gives the same buffer");
    let config = std::fs::read_to_string(batch.join("config.toml")).unwrap();
    assert!(config.contains("[executor]") && config.contains("kind = \"slurm\""), "{config}");
    // Two parts a step, each launch recorded when submitted and when it ended.
    assert_eq!(jobs(&batch).matches("submitted").count(), 6, "{}", jobs(&batch));
    assert_eq!(jobs(&batch).matches("ended: exit status: 0").count(), 6, "{}", jobs(&batch));

    // Inside one: srun job steps.
    let steps = tmp.path().join("srun");
    let out = run(&cluster, &steps, &["--executor", "slurm", "--slurm-batches", "2"], &["salloc", "-N1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(buffer(&steps), expected);
    assert!(jobs(&steps).contains("(job step)"), "{}", jobs(&steps));

    // A job step killed in the middle (its worker dies), and one cancelled:
    // launched again for their missing rollouts; the run still matches.
    for (name, how) in [("killed", "kill"), ("cancelled", "scancel")] {
        let dir = tmp.path().join(name);
        let child = spawn_run(&cluster, &dir, &[], true);
        let start = Instant::now();
        loop {
            // The worker's own command line (sbatch's quotes its words).
            let done = match how {
                "kill" => Command::new("pkill").args(["-9", "-f", "evaluate-batch /.*step-000002"]).status().unwrap().success(),
                _ => {
                    // The job id, as the run recorded it when sbatch printed it.
                    let launches = std::fs::read_to_string(dir.join("batches/step-000002/jobs.txt")).unwrap_or_default();
                    match launches.lines().find_map(|l| l.split("submitted ").nth(1)) {
                        Some(id) => cluster.cmd("scancel").arg(id.trim()).status().unwrap().success(),
                        None => false,
                    }
                }
            };
            if done {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(120), "{name}: step 2 never ran");
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        assert_eq!(buffer(&dir), expected, "{name}");
        assert!(jobs(&dir).contains("part 0 attempt 1"), "{name}: relaunched: {}", jobs(&dir));
    }

    // Workers of step 2 that die every time: after the retries its rollouts
    // are the host's failures (kind `sandbox`: not the program's fault) with
    // reward 0, and the run goes on. (Killed by polling: under load a worker
    // can write a result or two between kills, and those stand as results.)
    let crashing = tmp.path().join("crashing");
    let mut child = spawn_run(&cluster, &crashing, &["--slurm-retries", "1"], true);
    while child.try_wait().unwrap().is_none() {
        let _ = Command::new("pkill").args(["-9", "-f", "evaluate-batch /.*step-000002"]).status();
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: Vec<Value> = std::fs::read_to_string(crashing.join("events.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let step2: Vec<&Value> = events.iter().filter(|e| e["type"] == "rollout" && e["step"] == 2).collect();
    assert_eq!(step2.len(), 128);
    let failed = step2.iter().filter(|r| !r["failure"].is_null()).count();
    assert!(failed > 0, "no rollout of step 2 failed: the workers were never killed");
    for r in &step2 {
        let evaluated = r["failure"].is_null() && r["score"].is_number();
        assert!(evaluated || (r["failure"]["kind"] == "sandbox" && r["reward"] == 0.0), "{r:?}");
    }
    assert!(jobs(&crashing).contains("part 0 attempt 1"));
    let step3 = events.iter().filter(|e| e["type"] == "rollout" && e["step"] == 3 && e["failure"].is_null()).count();
    assert!(step3 > 0, "step 3 ran normally");

    // The host process killed (SIGKILL) while step 2's job runs: the job goes
    // on; `resume` waits for it and collects its results instead of
    // launching the rollouts again, and ends with the same buffer.
    let resumed = tmp.path().join("resumed");
    let mut child = spawn_run(&cluster, &resumed, &[], false);
    step2_job(&resumed);
    child.kill().unwrap();
    child.wait().unwrap();
    let out = cluster.cmd(discover_exe()).args(["resume", "--json"]).arg(&resumed).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(buffer(&resumed), expected);
    let launches = std::fs::read_to_string(resumed.join("batches/step-000002/jobs.txt")).unwrap();
    assert_eq!(launches.matches("submitted").count(), 1, "step 2 was launched once, by the killed process: {launches}");
    let results = std::fs::read_dir(resumed.join("batches/step-000002/results")).unwrap().count();
    assert_eq!(results, 128);

    // Ctrl-C (SIGINT) of the host while step 2's job runs cancels the job.
    let interrupted = tmp.path().join("interrupted");
    let mut child = spawn_run(&cluster, &interrupted, &[], false);
    let id = step2_job(&interrupted);
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait().unwrap();
    // The controller keeps finished jobs' records (MinJobAge=300): its state says who ended it.
    let start = Instant::now();
    loop {
        let job = text(&cluster.cmd("scontrol").args(["show", "job", "-o", id.trim()]).output().unwrap().stdout);
        if job.contains("JobState=CANCELLED") {
            break;
        }
        assert!(!job.contains("JobState=COMPLETED"), "job {id} ran to its end: {job}");
        assert!(start.elapsed() < Duration::from_secs(30), "job {id} was not cancelled after Ctrl-C: {job}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A job that can never run (a node that does not exist): the check at
    // start says so, before any step.
    let dead = tmp.path().join("dead");
    let out = run(&cluster, &dead, &["--executor", "slurm", "--slurm-retries", "1", "--slurm-extra=--nodelist=nowhere"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("a SLURM job step could not read and answer a file in the run directory"), "{}", text(&out.stderr));
}
