#!/usr/bin/env bash
# Make sure a Mosquitto broker listens on 127.0.0.1:1883 (the integration
# tests of community_iot and `make bench-iot` need one, and so does CI).
# Installs the Debian package when the binary is missing and we are root,
# starts `mosquitto -d` with a minimal configuration when nothing listens.
set -euo pipefail
PORT=${MQTT_PORT:-1883}
listening() {
    (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && exec 3>&- 3<&-
}
if listening; then
    exit 0
fi
BIN=$(command -v mosquitto || true)
[ -z "$BIN" ] && [ -x /usr/sbin/mosquitto ] && BIN=/usr/sbin/mosquitto
if [ -z "$BIN" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q mosquitto \
            >/dev/null || { apt-get update -q >/dev/null && \
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q mosquitto \
            >/dev/null; }
        BIN=$(command -v mosquitto || echo /usr/sbin/mosquitto)
    else
        echo "ensure_mosquitto: mosquitto missing; install it (apt-get install mosquitto)" >&2
        exit 1
    fi
fi
DIR="$(cd "$(dirname "$0")/.." && pwd)/.local/mosquitto"
mkdir -p "$DIR"
# mosquitto started as root runs as user "mosquitto": persistence needs
# a writable directory
chmod 777 "$DIR"
cat > "$DIR/mosquitto.conf" <<CONF
listener $PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $DIR/
max_queued_messages 0
max_inflight_messages 1000
CONF
"$BIN" -d -c "$DIR/mosquitto.conf"
for _ in $(seq 50); do
    listening && exit 0
    sleep 0.1
done
echo "ensure_mosquitto: mosquitto did not start on $PORT" >&2
exit 1
