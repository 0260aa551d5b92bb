#!/bin/sh
# Usage: entrypoint.sh <process> — runs migrations for it, then serves it on :8000.
set -e
name="${1:-gateway}"
case "$name" in
  gateway) factory="gateway.app:create_app" ;;
  identity|matters|cases|certs|eval) factory="services.$name.app:create_app" ;;
  migrate) exec hub migrate --service "$2" ;;
  *) echo "unknown process: $name" >&2; exit 2 ;;
esac
export HUB_SERVICE_NAME="$name"
hub migrate --service "$name"
exec uvicorn "$factory" --factory --host 0.0.0.0 --port 8000 --proxy-headers \
  --forwarded-allow-ips '*' --no-access-log
