#!/usr/bin/env bash
# Install the system packages Brique's tests need (Debian/Ubuntu), non-interactively.
#   - PostgreSQL server: the test suite starts its own private instance from these binaries.
#   - python3-venv: `python3 -m venv` needs it on minimal Debian images.
#   - SoftHSM2: a real PKCS#11 token (private token dir per test session) for the HSM key backend.
#   - Slurm (slurmctld, slurmd, slurm-client) and munge: the test suite starts its own private
#     cluster from these binaries (own config, key, socket and free ports on 127.0.0.1).
#   - chromium and chromium-driver: the console's browser tests (headless, Selenium; no browser download).
#   - haproxy: the failover test puts a private load balancer (own config, free loopback port) in
#     front of several `brique up` replicas.
#   - nodejs and npm: the local OpenID Connect provider of the console's single sign-on tests
#     (scripts/oidc-provider.sh installs its pinned npm package).
#   - bubblewrap, podman, busybox-static: the node agent's job sandbox and container runtimes
#     (tests build a tiny image from busybox-static; no registry is needed).
#   - poppler-utils: pdftoppm renders the sample invoice's first page for docs/billing.md.
#   - gcc and python3-dev: `make core` compiles the scheduler core with mypyc (C extensions).
# As root it installs; otherwise it uses sudo if it can, else says what is missing and carries on
# (outside CI, tests needing a missing service skip with a reason; under CI=true they fail).
set -euo pipefail

need=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need+=(python3-venv)
fi
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have slurmctld || need+=(slurmctld)
have slurmd || need+=(slurmd)
have sbatch || need+=(slurm-client)
have munged || need+=(munge)
have chromium || need+=(chromium)
have chromedriver || need+=(chromium-driver)
have haproxy || need+=(haproxy)
have node || need+=(nodejs)
have npm || need+=(npm)
have softhsm2-util || need+=(softhsm2)  # PKCS#11 token for the HSM key backend tests
have bwrap || need+=(bubblewrap)
have podman || need+=(podman)
[ -x /bin/busybox ] || need+=(busybox-static)
have pdftoppm || need+=(poppler-utils)
have gcc || need+=(gcc)
python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || need+=(python3-dev)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: please install: ${need[*]} (no apt-get here)" >&2
  exit 0
fi
run=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run=(sudo -n)
  else
    echo "system-deps: missing ${need[*]}; run as root: apt-get install -y ${need[*]}" >&2
    exit 0
  fi
fi
echo "system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's package starts a cluster on 5432; the tests use their own, so leave it be.
# Likewise Debian's haproxy service (where systemd runs): the test starts its own on a free port.
# Likewise a system munged or slurmctld (started where systemd runs; slurmctld/slurmd fail for
# want of /etc/slurm/slurm.conf): the test cluster uses its own munge socket and free ports.
