#!/usr/bin/env bash
# Debian packages the end-to-end tests use: tmux (the wizard in a real terminal) and Chromium
# (rendering the HTML report). The real helpdesks (RT, django-helpdesk) are installed by their
# own test fixtures through .ci/real-helpdesks.sh.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
    echo "system-packages: not root, skipping apt-get" >&2
    exit 0
fi
missing=()
command -v tmux >/dev/null || missing+=(tmux)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core fonts-liberation >/dev/null
fi
