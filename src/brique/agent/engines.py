"""Engines turn a `JobPlan` into one command line; the plan is the same for all of them.

    bwrap   bubblewrap: new user, PID, mount, IPC, UTS, cgroup (and network) namespaces;
            a root built from read-only binds (the host's system dirs, or the image's root
            from the node's image store), a private /tmp, the scratch dir at /work, only the
            job's GPU device nodes. The way Apptainer and Enroot run images on HPC sites.
    podman  a full OCI container (`podman run`): per-job user namespace, read-only root,
            scratch at /work, CDI GPU devices, memory and CPU limits, --network per need.
    none    the command as a plain process (development only).

Arguments that carry the job's environment never appear on a command line (visible in
/proc to every host user): bwrap reads them from a pipe (`--args FD`), podman from an
env file on a pipe.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from brique.agent.sandbox import SCRATCH, USERNS_SIZE, JobPlan, container_uid_base
from brique.executors.base import ExecutorError

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt")
# Enough of /etc for a shell, libc, TLS and Python; nothing of the agent's own configuration.
SYSTEM_ETC = ("passwd", "group", "hosts", "resolv.conf", "nsswitch.conf", "ld.so.cache", "ld.so.conf",
              "ld.so.conf.d", "alternatives", "ssl", "ca-certificates", "localtime", "os-release",
              "mime.types", "protocols", "services")  # fmt: skip
NVIDIA_SHARED = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")
SKIP_IN_IMAGE = {"proc", "dev", "sys", "tmp", "work", "run"}


@dataclass
class Prepared:
    """A command ready to start: argv, fds the child must inherit, and data for its pipe."""

    argv: list[str]
    pass_fds: list[int] = field(default_factory=list)
    stdin_data: bytes | None = None  # written to the pipe named in argv (`--args` / `--env-file`)
    pipe_fd_slot: int | None = None  # index in argv of the placeholder for the pipe's fd


def bwrap(plan: JobPlan, command: str, env: dict[str, str]) -> Prepared:
    """bwrap argv; every option travels through `--args` (a pipe), the environment included."""
    args = ["--unshare-all", "--die-with-parent", "--cap-drop", "ALL"]
    if plan.network:
        args.append("--share-net")
    if plan.uid is not None:
        args += ["--uid", str(plan.uid), "--gid", str(plan.gid)]
    args += _image_root(plan.rootfs) if plan.rootfs else _host_root(plan.expose)
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", plan.scratch, SCRATCH]
    for dev in [f"nvidia{i}" for i in plan.gpus] + list(NVIDIA_SHARED):
        args += ["--dev-bind-try", f"/dev/{dev}", f"/dev/{dev}"]
    if plan.gpus and os.path.exists("/dev/nvidiactl"):  # CUDA reads PCI topology from /sys
        args += ["--ro-bind", "/sys", "/sys"]
    args += ["--remount-ro", "/", "--chdir", SCRATCH, "--clearenv"]
    for k, v in env.items():
        args += ["--setenv", k, v]
    payload = b"".join(a.encode() + b"\0" for a in args)
    # bwrap takes the command from its real argv only; the command is the tenant's own text
    return Prepared(["bwrap", "--args", "PIPE", "--", "/bin/sh", "-c", command], [], payload, pipe_fd_slot=2)


def _host_root(expose: tuple[str, ...]) -> list[str]:
    args = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):  # merged /usr: /bin -> usr/bin
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for name in SYSTEM_ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for d in expose:
        args += ["--ro-bind", d, d]
    return args


def _image_root(rootfs: str) -> list[str]:
    """The image's top-level entries bound read-only onto a fresh root (mount points stay creatable)."""
    args = []
    for entry in sorted(os.scandir(rootfs), key=lambda e: e.name):
        if entry.name in SKIP_IN_IMAGE:
            continue
        if entry.is_symlink():
            args += ["--symlink", os.readlink(entry.path), f"/{entry.name}"]
        else:
            args += ["--ro-bind", entry.path, f"/{entry.name}"]
    return args


@dataclass(frozen=True)
class Podman:
    """The podman CLI with this node's storage options (a private store in tests)."""

    root: str | None = None
    runroot: str | None = None
    storage_driver: str | None = None

    def base(self) -> list[str]:
        argv = ["podman"]
        for flag, value in (("--root", self.root), ("--runroot", self.runroot),
                            ("--storage-driver", self.storage_driver)):  # fmt: skip
            if value:
                argv += [flag, value]
        return argv

    def inspect(self, image: str) -> tuple[str, str | None]:
        """(content id, registry digest or None) of an image in the node's store."""
        [data] = json.loads(self._run("image", "inspect", image))
        digest = data.get("Digest") or None
        return data["Id"], digest if data.get("RepoDigests") else None

    def export_rootfs(self, image_id: str, dest: Path) -> None:
        """Copy the image's root to `dest` once (the image store itself is readable by root only)."""
        if dest.exists():
            return
        mounted = self._run("image", "mount", image_id).strip()
        tmp = dest.with_name(f"{dest.name}.tmp{os.getpid()}")
        try:
            shutil.copytree(mounted, tmp, symlinks=True)
            os.chmod(tmp, 0o755)
            os.replace(tmp, dest)
        except OSError:
            if not dest.exists():  # else another agent on this host unpacked it first
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            self._run("image", "unmount", image_id)

    def _run(self, *args: str) -> str:
        try:
            done = subprocess.run([*self.base(), *args], capture_output=True, text=True, timeout=120, check=False,
                                  env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})  # fmt: skip
        except FileNotFoundError:
            raise ExecutorError(
                "podman is not installed on this node (needed for jobs with an image)"
            ) from None
        if done.returncode != 0:
            raise ExecutorError(f"podman {args[0]} {args[1]} failed: {done.stderr.strip()[-300:]}")
        return done.stdout

    def run_argv(self, plan: JobPlan, command: str, container: str) -> list[str]:
        """`podman run` for one attempt; the env comes from an env file on a pipe (`ENVFILE`)."""
        argv = [*self.base(), "run", "--rm", "--name", container, "--pull=never", *_userns(plan),
                "--read-only", "--read-only-tmpfs", "--tmpfs", "/tmp:rw,nosuid,nodev,size=1g",
                "--cap-drop=all", "--security-opt=no-new-privileges", "--init=false",
                "--mount", f"type=bind,src={plan.scratch},dst={SCRATCH},rw", "--workdir", SCRATCH,
                "--network", "host" if plan.network else "none", "--env-file", "ENVFILE",
                *_ulimits(), "--log-driver=none", "--stop-signal=TERM"]  # fmt: skip
        if plan.memory_bytes:
            argv += ["--memory", str(plan.memory_bytes), "--memory-swap", str(plan.memory_bytes)]
        if plan.cpus:
            argv += ["--cpus", f"{plan.cpus:g}"]
        argv += _podman_gpus(plan.gpus)
        return [*argv, plan.image_id or plan.image or "", "/bin/sh", "-c", command]


def _userns(plan: JobPlan) -> list[str]:
    if plan.uid is None:  # rootless podman: a range from the agent user's /etc/subuid
        return ["--userns=auto"]
    base = container_uid_base(plan.uid)
    return ["--uidmap", f"0:{base}:{USERNS_SIZE}", "--gidmap", f"0:{base}:{USERNS_SIZE}"]


def _ulimits() -> list[str]:
    """The agent's own current limits: some kernels refuse a runtime that raises them (crun's default)."""
    out = []
    for name, which in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        soft, _hard = resource.getrlimit(which)
        cap = min(soft if soft != resource.RLIM_INFINITY else 1 << 20, 1 << 20)
        out += ["--ulimit", f"{name}={cap}:{cap}"]
    return out


def _podman_gpus(gpus: tuple[int, ...]) -> list[str]:
    """CDI names where the NVIDIA container toolkit wrote a spec, else the raw device nodes present."""
    if any(Path(d, "nvidia.yaml").exists() for d in ("/etc/cdi", "/var/run/cdi")):
        return [a for i in gpus for a in ("--device", f"nvidia.com/gpu={i}")]
    nodes = [f"/dev/nvidia{i}" for i in gpus] + [f"/dev/{n}" for n in NVIDIA_SHARED]
    return [a for n in nodes if Path(n).exists() for a in ("--device", n)]


def env_file(env: dict[str, str]) -> bytes:
    for k, v in env.items():
        if "\n" in v:
            raise ExecutorError(f"environment variable {k} holds a newline; podman env files cannot carry it")
    return "".join(f"{k}={v}\n" for k, v in env.items()).encode()


def probe_bwrap() -> str | None:
    """Why bubblewrap cannot sandbox on this machine (e.g. user namespaces refused), or None if it can.

    Run as an unprivileged uid when the agent is root, the way jobs will run.
    """
    drop = {"user": 65534, "group": 65534, "extra_groups": []} if os.geteuid() == 0 else {}
    argv = ["bwrap", "--unshare-all", "--die-with-parent", *_host_root(()), "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--", "/bin/true"]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False, cwd="/", **drop)
    except FileNotFoundError:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    if done.returncode != 0:
        return f"bubblewrap cannot create the job sandbox here: {done.stderr.strip() or done.returncode}"
    return None
