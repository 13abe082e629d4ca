"""A tiny OCI image built here (no registry is reachable): busybox-static in a rootfs, `podman import`ed."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import NoReturn

import pytest

OS_NAME = "Brique test busybox"
APPLETS = ("sh", "ls", "cat", "id", "echo", "sleep", "env", "sort", "tr", "head", "grep", "true", "wc")


def missing(message: str) -> NoReturn:
    """Skip the test for want of a system part, or fail it under CI=true (where nothing may skip)."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require(tool: str) -> str:
    """The tool's path; see `missing`."""
    return shutil.which(tool) or missing(f"{tool} is not installed: run scripts/system-deps.sh")


def podman_store(base: Path) -> list[str]:
    """podman's options for a private store under `base` (vfs: works on any filesystem).

    podman refuses a runroot path over 50 characters, so that one lives in a short /tmp path.
    """
    runroot = Path("/tmp") / f"brq-run-{hashlib.sha1(str(base).encode()).hexdigest()[:12]}"
    return ["--root", str(base / "root"), "--runroot", str(runroot), "--storage-driver", "vfs"]


def build_busybox_image(base: Path, ref: str = "localhost/brique-test/busybox:1") -> str:
    """Import a busybox rootfs as `ref` into the private store; returns the image's content id."""
    require("podman")
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        missing("/bin/busybox is not installed (Debian's busybox-static): run scripts/system-deps.sh")
    rootfs = base / "rootfs"
    (rootfs / "bin").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc").mkdir(exist_ok=True)
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    for applet in APPLETS:
        link = rootfs / "bin" / applet
        if not link.is_symlink():
            link.symlink_to("busybox")
    (rootfs / "etc" / "os-release").write_text(f'NAME="{OS_NAME}"\nID=brique-busybox\n')
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/:/bin/sh\n")
    tar = base / "rootfs.tar"
    with tarfile.open(tar, "w") as out:
        out.add(rootfs, arcname=".")
    subprocess.run(["podman", *podman_store(base), "import", str(tar), ref], check=True, capture_output=True)
    inspect = ["podman", *podman_store(base), "image", "inspect", "--format", "{{.Id}}", ref]
    return subprocess.run(inspect, check=True, capture_output=True, text=True).stdout.strip()
