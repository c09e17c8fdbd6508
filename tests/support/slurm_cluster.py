"""A throw-away single-node Slurm cluster for the end-to-end test of the Slurm executor.

Debian's packages (``slurmctld slurmd slurm-client munge``) are installed with apt-get when
missing; there is no systemd, so ``munged``, ``slurmctld`` and ``slurmd`` are started by hand
and stopped by their PIDs. Everything the cluster writes (state, spool, logs, the job
completion file) lives in one temporary folder, wiped before each start. ``slurm.conf`` is
written to ``/etc/slurm/slurm.conf`` only while the cluster runs (the job step of the Slurm
executor drops ``SLURM_CONF`` from its environment, so ``srun`` inside a job reads the default
path) and removed when it stops: without it ``scontrol`` fails at once instead of waiting
for a controller that is down, so the executor plugin's probe at Snakemake's import
(``scontrol show config``, about 9 s against a stopped controller) costs the other tests
nothing. An existing ``slurm.conf`` that this module did not write is never touched: the
cluster is then reported unavailable.

There is no slurmdbd: ``sacct`` cannot answer, so the executor must poll with ``squeue``
(``MinJobAge=300`` keeps finished jobs visible to it). Every call into the cluster has a
timeout.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
DAEMONS = ["slurmctld", "slurmd", "munged", "sinfo", "sbatch", "squeue", "scontrol"]


class ClusterUnavailable(RuntimeError):
    """Slurm could not be installed or started here (no root, no apt, ...)."""


def _run(cmd: list[str], timeout: float, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kw)


def ensure_installed(timeout: float = 300) -> None:
    """Install the Slurm and munge packages with apt-get when a daemon or client is missing."""
    if all(shutil.which(d) or Path("/usr/sbin", d).exists() for d in DAEMONS):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ClusterUnavailable("Slurm is not installed and apt-get cannot run as root here")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    proc = _run(["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES],
                timeout, env=env)
    if proc.returncode:  # the package lists may be missing on a fresh machine
        _run(["apt-get", "update", "-q"], timeout, env=env)
        proc = _run(["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES],
                    timeout, env=env)
    if proc.returncode:
        raise ClusterUnavailable(f"apt-get install {' '.join(PACKAGES)} failed:\n"
                                 f"{proc.stderr[-2000:]}")


def _node_line(host: str) -> str:
    """The node's hardware as slurmd sees it (CPUs, sockets, cores, memory)."""
    proc = _run(["slurmd", "-C"], 30)
    first = proc.stdout.splitlines()[0] if proc.returncode == 0 and proc.stdout else ""
    if not first.startswith("NodeName="):
        return f"NodeName={host} CPUs={os.cpu_count() or 1} State=UNKNOWN"
    return f"NodeName={host} " + first.split(" ", 1)[1] + " State=UNKNOWN"


def slurm_conf(root: Path, host: str) -> str:
    return "\n".join([
        "ClusterName=inward-test",
        f"SlurmctldHost={host}",
        "SlurmUser=root",
        "AuthType=auth/munge",
        f"StateSaveLocation={root}/state",
        f"SlurmdSpoolDir={root}/spool",
        f"SlurmctldPidFile={root}/slurmctld.pid",
        f"SlurmdPidFile={root}/slurmd.pid",
        f"SlurmctldLogFile={root}/slurmctld.log",
        f"SlurmdLogFile={root}/slurmd.log",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "DefMemPerCPU=1000",  # without it one job takes the whole node's memory
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/filetxt",
        f"JobCompLoc={root}/jobcomp.txt",
        "MinJobAge=300",  # squeue keeps finished jobs this long: the executor polls with it
        "ReturnToService=2",
        "SchedulerParameters=sched_interval=1",
        _node_line(host),
        "PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
MARK = "# written by inward's tests/slurm_cluster.py; removed when its cluster stops\n"


class SlurmCluster:
    """Start with ``start()``, stop with ``stop()``."""

    def __init__(self, root: Path, conf: Path = SYSTEM_CONF):
        self.root = Path(root)
        self.host = socket.gethostname().split(".")[0]  # NodeName must equal `hostname -s`
        self.conf = conf
        self.pids: dict[str, int] = {}

    def _client_env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k != "SLURM_CONF"}

    def start(self, timeout: float = 60) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)  # stale controller state makes old jobs reappear
        for sub in ("state", "spool"):
            (self.root / sub).mkdir(parents=True)
        if self.conf.exists() and not self.conf.read_text().startswith(MARK):
            raise ClusterUnavailable(f"{self.conf} exists and belongs to a real cluster")
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(MARK + slurm_conf(self.root, self.host))
        self._start_munge()
        for daemon in ("slurmctld", "slurmd"):
            proc = _run(["nice", "-n", "19", daemon, "-f", str(self.conf)], 30,
                        env=self._client_env())
            if proc.returncode:
                raise ClusterUnavailable(f"{daemon} did not start: {proc.stderr[-2000:]}\n"
                                         f"{self.log(daemon)}")
            self.pids[daemon] = self._pid(daemon, timeout=20)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = _run(["sinfo", "-h", "-N", "-o", "%T"], 10, env=self._client_env()).stdout
            if out.strip() in ("idle", "mixed", "allocated"):
                return
            time.sleep(1)
        raise ClusterUnavailable(f"the node never became idle (sinfo: {out.strip()!r})\n"
                                 f"{self.log('slurmctld')}\n{self.log('slurmd')}")

    def _start_munge(self) -> None:
        run_dir = Path("/run/munge")
        if (run_dir / "munge.socket.2").exists() and _run(["munge", "-n"], 10).returncode == 0:
            return  # a munged already serves this machine
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            _run(["mungekey", "--create"], 30)
            shutil.chown(key, "munge", "munge")
        # munged runs as the munge user: its own folder, outside self.root, which may sit in a
        # tree only root can enter (pytest's temporary folders are mode 0700)
        own = self.munge_dir = Path(tempfile.mkdtemp(prefix="inward-munge-"))
        shutil.chown(own, "munge", "munge")
        pidfile = own / "munged.pid"
        proc = _run(["nice", "-n", "19", "runuser", "-u", "munge", "--", "munged", "--force",
                     f"--pid-file={pidfile}", f"--log-file={own / 'munged.log'}"], 30)
        if proc.returncode:
            raise ClusterUnavailable(f"munged did not start: {proc.stderr[-2000:]}")
        self.pids["munged"] = int(pidfile.read_text().split()[0])

    def _pid(self, daemon: str, timeout: float) -> int:
        path = self.root / f"{daemon}.pid"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.is_file() and path.read_text().strip():
                return int(path.read_text().split()[0])
            time.sleep(0.2)
        raise ClusterUnavailable(f"{daemon} wrote no pid file\n{self.log(daemon)}")

    def log(self, daemon: str) -> str:
        path = self.root / f"{daemon}.log"
        return path.read_text()[-3000:] if path.is_file() else f"({path} missing)"

    def completed_jobs(self) -> list[dict[str, str]]:
        """The job completion records (jobcomp/filetxt): one dict of key=value per job."""
        path = self.root / "jobcomp.txt"
        if not path.is_file():
            return []
        return [dict(f.split("=", 1) for f in line.split() if "=" in f)
                for line in path.read_text().splitlines() if line.strip()]

    def stop(self, timeout: float = 20) -> None:
        """Cancel every job still queued or running (their steps would outlive slurmd), then
        stop the daemons this object started and remove the cluster's slurm.conf."""
        if "slurmctld" in self.pids:
            _run(["scancel", "--full", "--user", str(os.getuid())], 20, env=self._client_env())
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                left = _run(["squeue", "-h", "-t", "PD,R,CG", "-o", "%i"], 10,
                            env=self._client_env()).stdout.split()
                if not left:
                    break
                time.sleep(1)
        for daemon in ("slurmd", "slurmctld", "munged"):
            pid = self.pids.pop(daemon, None)
            if pid is None:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.2)
            else:
                os.kill(pid, signal.SIGKILL)
        if getattr(self, "munge_dir", None):
            shutil.rmtree(self.munge_dir, ignore_errors=True)
        if self.conf.is_file() and self.conf.read_text().startswith(MARK):
            self.conf.unlink()
