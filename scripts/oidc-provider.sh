#!/usr/bin/env bash
# Install the local OpenID Connect provider the console's single sign-on tests run
# (scripts/oidc-provider: oidc-provider pinned in package-lock.json) with the machine's Node.js and npm.
set -euo pipefail
cd "$(dirname "$0")/oidc-provider"
if [ -f node_modules/oidc-provider/package.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
