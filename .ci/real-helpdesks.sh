#!/usr/bin/env bash
# Set up / start / stop the real helpdesk servers used by tests/real (loopback only, no mail sent).
#
#   .ci/real-helpdesks.sh setup|reset|start|stop|env  rt|django_helpdesk  [INSTANCE]
#
# reset = setup on an emptied instance (its data wiped; packages and venv kept).
#
# INSTANCE (default "main") lets tests run a second, independent server of the same system
# (e.g. "target" for an RT -> jsonl -> fresh RT round trip); each instance has its own workdir
# and port. `env` prints the instance's credentials.env path.
#
# The install recipes are the shared ones in ../shared/real-helpdesks (HDM_SHARED_DIR overrides):
# RT 5.0.3 from Debian packages (needs root + apt-get), django-helpdesk 2.6.1 from PyPI in a venv.
# Both work on a fresh Debian bookworm machine. Everything is idempotent: a second `setup` keeps
# packages, venv and data, and (re)starts the server.
#
# Env: HDM_REAL_DIR (workdirs, default /tmp/hdmigrate-ci), HDM_SHARED_DIR.
# Ports: rt main 8712, rt target 8713, django_helpdesk main 8711, django_helpdesk target 8714.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${HDM_SHARED_DIR:-$REPO/../shared}/real-helpdesks"
REAL_DIR="${HDM_REAL_DIR:-/tmp/hdmigrate-ci}"
ACTION="${1:?usage: $0 setup|start|stop|env rt|django_helpdesk [INSTANCE]}"
SYSTEM="${2:?usage: $0 setup|start|stop|env rt|django_helpdesk [INSTANCE]}"
INSTANCE="${3:-main}"
[ -d "$SHARED" ] || { echo "shared recipes not found at $SHARED (set HDM_SHARED_DIR)" >&2; exit 2; }

case "$SYSTEM:$INSTANCE" in
  rt:main)                  PORT=8712 ;;
  rt:target)                PORT=8713 ;;
  django_helpdesk:main)     PORT=8711 ;;
  django_helpdesk:target)   PORT=8714 ;;
  rt:contract)              PORT=8715 ;;   # tests/contract/test_rt.py
  django_helpdesk:contract) PORT=8716 ;;   # tests/contract/test_django_helpdesk.py
  *) echo "unknown system/instance $SYSTEM/$INSTANCE" >&2; exit 2 ;;
esac
WORKDIR="$REAL_DIR/$SYSTEM-$INSTANCE"
mkdir -p "$WORKDIR"

if [ "$ACTION" = reset ]; then   # setup on an emptied instance (data wiped, packages/venv kept)
  export RT_RESET=1 HD_RESET=1; ACTION=setup
fi
case "$SYSTEM:$ACTION" in
  rt:setup)
    [ "$(id -u)" = 0 ] || { echo "rt setup needs root (apt-get)" >&2; exit 3; }
    # No custom field is applied: the rt adapter finds its tickets by their urn:hdmigrate: link.
    RT_PORT=$PORT "$SHARED/request-tracker/setup.sh" "$WORKDIR" >/dev/null
    echo "$WORKDIR/credentials.env" ;;
  rt:start)  RT_PORT=$PORT "$SHARED/request-tracker/start.sh" "$WORKDIR" >/dev/null; echo "$WORKDIR/credentials.env" ;;
  rt:stop)   "$SHARED/request-tracker/stop.sh" "$WORKDIR" ;;
  django_helpdesk:setup)
    HD_PORT=$PORT "$SHARED/django-helpdesk/setup.sh" "$WORKDIR" >/dev/null
    # The ticket custom field the django_helpdesk adapter stamps migrated tickets with (the API
    # cannot create custom fields).
    "$SHARED/django-helpdesk/manage.sh" "$WORKDIR" shell -c "from helpdesk.models import CustomField; CustomField.objects.get_or_create(name='hdmigrate_source_id', defaults={'label': 'hdmigrate source id', 'data_type': 'varchar', 'max_length': 200, 'required': False, 'staff_only': True})" >/dev/null
    echo "$WORKDIR/credentials.env" ;;
  django_helpdesk:start) HD_PORT=$PORT "$SHARED/django-helpdesk/start.sh" "$WORKDIR" >/dev/null; echo "$WORKDIR/credentials.env" ;;
  django_helpdesk:stop)  "$SHARED/django-helpdesk/stop.sh" "$WORKDIR" ;;
  *:env) echo "$WORKDIR/credentials.env" ;;
  *) echo "unknown action $ACTION" >&2; exit 2 ;;
esac
