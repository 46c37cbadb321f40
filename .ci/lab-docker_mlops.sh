#!/usr/bin/env bash
# nginx for the docker_mlops lab: the replica demo runs it as the lab's own process (config, pid and
# logs in a temp folder, 127.0.0.1 only) and `nginx -t` checks the generated config. The Debian
# service is never started by the lab. Idempotent: installs only when nginx is missing.
set -euo pipefail
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
locked() { if command -v flock >/dev/null; then flock /tmp/apt.lock "$@"; else "$@"; fi; }
if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
  as_root env RUNLEVEL=1 bash -c "$(declare -f locked); locked apt-get update -q && locked apt-get install -y -q --no-install-recommends nginx"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
"$NGINX" -v
