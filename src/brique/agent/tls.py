"""How the agent reaches the control plane: HTTPS verified against a pinned CA, or nothing.

Launch orders carry decrypted secrets, so plain HTTP is refused unless the server is on
this machine's loopback or the operator says `--insecure-http` (a test bench, say).
"""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path
from urllib.parse import urlsplit


class InsecureServer(ValueError):
    """The server URL would send secrets in clear text."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, insecure_http: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme != "http":
        raise InsecureServer(f"--server must be an https:// URL, not {url!r}")
    if not insecure_http and not is_loopback(parts.hostname or ""):
        raise InsecureServer(
            f"refusing plain http to {parts.hostname}: launch orders carry decrypted secrets; use an https:// URL "
            "(with --ca-file to pin the server's CA) or, on a trusted test network only, --insecure-http"
        )


def client_context(ca_file: Path | None, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    """Verify the server against `ca_file` (else the system's CAs); present `cert` for mutual TLS."""
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key) if key else None)
    return ctx
