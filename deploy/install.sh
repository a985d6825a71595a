#!/usr/bin/env bash
# Installs and configures one machine of a nexo cluster on Debian 12 / Ubuntu 22.04+ (run as root).
# The same script serves plain VMs (docs/deploy.md) and the AWS CDK app's user data (infra/).
#
#   ROLE      comma-separated: node, nats, haproxy, sensor, postgres (e.g. ROLE=nats,node)
#   NODES     the nexo nodes' addresses, comma-separated (haproxy backends, NATS routes)
#             default 10.0.1.11,10.0.1.12,10.0.1.13
#   NODE_ID   this node's name (default: the host name)
#   NEXO_SOURCE    where nexo comes from: a git URL, a checkout directory, or an `npm pack` .tgz
#                  (default: the checkout this script sits in)
#   NEXO_REF       git branch or tag when NEXO_SOURCE is a git URL (default: the default branch)
#   POSTGRES_URL   node: postgres://nexo:PASSWORD@HOST:5432/nexo (shared storage)
#   NATS_URLS      node: nats://a:4222,nats://b:4222 (default: port 4222 on each of NODES)
#   NEXO_TOKENS    node: token=role,... accepted tokens (optional)
#   TLS_CERT, TLS_KEY  node: PEM files already on the machine; turns on the TLS port 5443
#   NATS_NAME, NATS_PORT (4222), NATS_CLUSTER_PORT (6222), NATS_MONITOR_PORT (8222),
#             NATS_STORE_DIR, NATS_HOST (listen address, 0.0.0.0)
#   SERVER    sensor: host:port to report to (default 10.0.1.10:5000, the HAProxy)
#   SENSORS   sensor: id:metric:every,... (default s1:temperature:2s,s2:humidity:3s)
#   PG_PASSWORD   postgres: password of the nexo role (required); PG_ALLOW: client CIDR (10.0.1.0/24)
#   NODE_MAJOR    Node.js major version from NodeSource (default 20)
#   PROTOCOL_PORT (5000), TLS_PORT (5443), HTTP_PORT (8080): the nodes' ports, and HAProxy's
#   AGENT_PORT (the nodes' HAProxy agent-check port, 5555),
#   HAPROXY_BIND (address HAProxy listens on; all by default), HAPROXY_SOCKET (runtime API socket),
#   HAPROXY_STATS (stats page, 127.0.0.1:8404), HAPROXY_MAXCONN (20000; needs twice as many file descriptors)
#   DRY_RUN=1     print the commands instead of running them, write files under ROOT (default
#                 ./nexo-dry-run) instead of /; nothing on the machine changes. Used by the tests.
set -euo pipefail

ROLE=${ROLE:?set ROLE=node|nats|haproxy|sensor|postgres (comma-separated for several)}
NODES=${NODES:-10.0.1.11,10.0.1.12,10.0.1.13}
NODE_ID=${NODE_ID:-$(hostname)}
NEXO_REF=${NEXO_REF:-}
NEXO_HOME=${NEXO_HOME:-/opt/nexo}
NATS_PORT=${NATS_PORT:-4222}
NATS_CLUSTER_PORT=${NATS_CLUSTER_PORT:-6222}
NATS_MONITOR_PORT=${NATS_MONITOR_PORT:-8222}
NATS_NAME=${NATS_NAME:-$NODE_ID}
NATS_STORE_DIR=${NATS_STORE_DIR:-/var/lib/nexo-nats}
NATS_HOST=${NATS_HOST:-0.0.0.0}
SERVER=${SERVER:-10.0.1.10:5000}
SENSORS=${SENSORS:-s1:temperature:2s,s2:humidity:3s}
PG_ALLOW=${PG_ALLOW:-10.0.1.0/24}
NODE_MAJOR=${NODE_MAJOR:-20}
PROTOCOL_PORT=${PROTOCOL_PORT:-5000}
TLS_PORT=${TLS_PORT:-5443}
HTTP_PORT=${HTTP_PORT:-8080}
HAPROXY_BIND=${HAPROXY_BIND:-}
AGENT_PORT=${AGENT_PORT:-5555}
HAPROXY_SOCKET=${HAPROXY_SOCKET:-/run/haproxy/admin.sock}
HAPROXY_STATS=${HAPROXY_STATS:-127.0.0.1:8404}
HAPROXY_MAXCONN=${HAPROXY_MAXCONN:-20000}
DRY_RUN=${DRY_RUN:-0}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NEXO_SOURCE=${NEXO_SOURCE:-$(dirname "$SCRIPT_DIR")}

if [ "$DRY_RUN" = 1 ]; then
  ROOT=${ROOT:-./nexo-dry-run}
  mkdir -p "$ROOT"
else
  ROOT=""
  [ "$(id -u)" = 0 ] || { echo "install.sh: run as root (or DRY_RUN=1)" >&2; exit 1; }
fi

# run CMD...: the one place that changes the machine; DRY_RUN prints instead.
run() {
  if [ "$DRY_RUN" = 1 ]; then printf '+ %s\n' "$*"; else "$@"; fi
}

# put PATH MODE: stdin becomes the file ROOT/PATH (written in dry runs too, so tests can check it).
put() {
  local path="$ROOT$1" mode=$2
  mkdir -p "$(dirname "$path")"
  cat >"$path"
  chmod "$mode" "$path"
  printf 'wrote %s\n' "$1"
}

has_role() { case ",$ROLE," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

split() { tr ',' '\n' <<<"$1" | sed '/^$/d'; }

for r in $(split "$ROLE"); do
  case $r in node | nats | haproxy | sensor | postgres) ;; *)
    echo "install.sh: unknown role '$r' (node, nats, haproxy, sensor, postgres)" >&2
    exit 2
    ;;
  esac
done

apt_install() {
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

install_node_js() {
  if [ "$DRY_RUN" != 1 ] && command -v node >/dev/null && node -e \
    "process.exit(+process.versions.node.split('.')[0] >= $NODE_MAJOR ? 0 : 1)"; then
    return
  fi
  apt_install ca-certificates curl gnupg
  run sh -c "curl -fsSL https://deb.nodesource.com/setup_${NODE_MAJOR}.x | bash -"
  # build-essential/python3: better-sqlite3 builds from source when no prebuilt binary matches
  apt_install nodejs build-essential python3 git
}

# Copies (or clones) nexo into NEXO_HOME; builds it when this machine runs nexo itself.
install_nexo() {
  local build=$1
  run mkdir -p "$NEXO_HOME"
  case $NEXO_SOURCE in
    *.tgz | *.tar.gz)
      run tar -xzf "$NEXO_SOURCE" -C "$NEXO_HOME" --strip-components=1
      ;;
    http://* | https://* | git@* | *.git)
      run rm -rf "$NEXO_HOME"
      run git clone --depth 1 ${NEXO_REF:+--branch "$NEXO_REF"} "$NEXO_SOURCE" "$NEXO_HOME"
      ;;
    *)
      [ -f "$NEXO_SOURCE/package.json" ] || {
        echo "install.sh: NEXO_SOURCE=$NEXO_SOURCE is not a nexo checkout" >&2
        exit 2
      }
      if [ "$(cd "$NEXO_SOURCE" && pwd)" != "$NEXO_HOME" ]; then
        # a checkout's node_modules and build output are this machine's: rebuilt below
        run sh -c "tar -C '$NEXO_SOURCE' --exclude=./node_modules --exclude=./dist --exclude=./.git -cf - . | tar -C '$NEXO_HOME' -xf -"
      fi
      ;;
  esac
  if [ "$build" = 1 ]; then
    # npm ci runs `prepare` (the dashboard build); then the server's own build
    run sh -c "cd '$NEXO_HOME' && npm ci --no-audit --no-fund && npm run build"
  fi
}

install_units() {
  local dir="$SCRIPT_DIR/systemd"
  [ -d "$dir" ] || dir="$NEXO_HOME/deploy/systemd"
  for unit in "$@"; do
    put "/etc/systemd/system/$unit" 0644 <"$dir/$unit"
  done
  run systemctl daemon-reload
}

add_user() {
  if ! id "$1" >/dev/null 2>&1 || [ "$DRY_RUN" = 1 ]; then
    run useradd --system --home-dir "/var/lib/$2" --shell /usr/sbin/nologin "$1"
  fi
}

nats_routes() {
  local host
  for host in $(split "$NODES"); do printf '    nats-route://%s:%s\n' "$host" "$NATS_CLUSTER_PORT"; done
}

default_nats_urls() {
  local host out=""
  for host in $(split "$NODES"); do out="$out${out:+,}nats://$host:$NATS_PORT"; done
  printf '%s' "$out"
}

role_nats() {
  apt_install nats-server
  add_user nats nexo-nats
  put /etc/nexo/nats.conf 0644 <<EOF
# written by deploy/install.sh ROLE=nats: one of the nexo cluster's JetStream servers
server_name: "$NATS_NAME"
listen: "$NATS_HOST:$NATS_PORT"
http: "127.0.0.1:$NATS_MONITOR_PORT"
max_payload: 8MB
jetstream {
  store_dir: "$NATS_STORE_DIR"
  max_memory_store: 256MB
  max_file_store: 8GB
}
cluster {
  name: "nexo"
  listen: "$NATS_HOST:$NATS_CLUSTER_PORT"
  routes: [
$(nats_routes)
  ]
}
EOF
  install_units nexo-nats.service
  # Debian's package starts its own nats-server on 4222; this one replaces it.
  run systemctl disable --now nats-server.service
  run systemctl enable --now nexo-nats.service
}

role_node() {
  add_user nexo nexo
  local nats=${NATS_URLS:-$(default_nats_urls)}
  {
    echo "# written by deploy/install.sh ROLE=node; one NEXO_* variable per 'nexo server' flag"
    echo "NEXO_NODE_ID=$NODE_ID"
    if [ -n "${POSTGRES_URL:-}" ]; then
      echo "NEXO_STORAGE=postgres"
      echo "NEXO_POSTGRES=$POSTGRES_URL"
      echo "NEXO_NATS=$nats"
    else
      echo "NEXO_STORAGE=embedded"
    fi
    # HAProxy's agent-check (its config names this port on every server line)
    echo "NEXO_AGENT_PORT=$AGENT_PORT"
    if [ -n "${NEXO_TOKENS:-}" ]; then echo "NEXO_TOKENS=$NEXO_TOKENS"; fi
    if [ -n "${TLS_CERT:-}" ]; then
      echo "NEXO_TLS_CERT=$TLS_CERT"
      echo "NEXO_TLS_KEY=${TLS_KEY:?set TLS_KEY with TLS_CERT}"
      # HTTP stays plain behind HAProxy, whose /readyz checks and HTTP frontend speak plain HTTP
      echo "NEXO_HTTPS=false"
    fi
  } | put /etc/nexo/nexo.env 0640
  run chgrp nexo /etc/nexo/nexo.env
  install_units nexo.service
  run systemctl enable --now nexo.service
}

role_sensor() {
  add_user nexo nexo
  install_units nexo-sensor@.service
  local spec id metric every
  for spec in $(split "$SENSORS"); do
    IFS=: read -r id metric every <<<"$spec"
    [[ $id =~ ^[A-Za-z0-9_.-]+$ && -n $metric && -n $every ]] || {
      echo "install.sh: SENSORS entry '$spec' is not id:metric:every" >&2
      exit 2
    }
    put "/etc/nexo/sensor-$id.env" 0640 <<EOF
NEXO_SERVER=$SERVER
NEXO_SENSOR_METRIC=$metric
NEXO_SENSOR_EVERY=$every
${NEXO_TOKEN:+NEXO_TOKEN=$NEXO_TOKEN}
EOF
    run systemctl enable --now "nexo-sensor@$id.service"
  done
}

# The HAProxy configuration for NODES; deploy/haproxy.cfg.example is its output for the default NODES.
haproxy_config() {
  local host i=0 tcp="" tls="" http="" agent=""
  for host in $(split "$NODES"); do
    i=$((i + 1))
    agent="weight 100 agent-check agent-port $AGENT_PORT agent-inter 2s"
    tcp="$tcp    server node$i $host:$PROTOCOL_PORT check port $HTTP_PORT inter 1s fall 2 rise 2 $agent"$'\n'
    tls="$tls    server node$i $host:$TLS_PORT check port $HTTP_PORT inter 1s fall 2 rise 2 $agent"$'\n'
    http="$http    server node$i $host:$HTTP_PORT check inter 1s fall 2 rise 2 $agent"$'\n'
  done
  cat <<EOF
# HAProxy in front of the nexo nodes (written by nexo haproxy-config; deploy/install.sh ROLE=haproxy
# writes the same). TCP $PROTOCOL_PORT: the binary/text protocol, long-lived connections. HTTP $HTTP_PORT: REST API,
# WebSocket /ws, dashboard. A node is healthy while GET /readyz answers 200; it answers 503 while draining
# or while a shared engine (PostgreSQL, NATS) is down, and HAProxy then sends new clients elsewhere. Each
# node's agent-check answers "up N%" (a weight from its load) or "drain" the moment it starts draining.
global
    log /dev/log local0
    maxconn $HAPROXY_MAXCONN
    # runtime API: echo 'show servers state' | socat stdio $HAPROXY_SOCKET
    stats socket $HAPROXY_SOCKET mode 660 level admin expose-fd listeners
    stats timeout 30s

defaults
    log global
    option dontlognull
    timeout connect 5s
    timeout client 5m
    timeout server 5m
    # protocol sessions and WebSockets stay open for hours; idle ones are closed by the node (5m)
    timeout tunnel 1h
    timeout client-fin 10s
    timeout server-fin 10s

frontend nexo_protocol
    mode tcp
    bind $HAPROXY_BIND:$PROTOCOL_PORT
    option tcplog
    default_backend nexo_nodes_tcp

backend nexo_nodes_tcp
    mode tcp
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    # a node that goes down takes its clients with it: they reconnect through here
    option redispatch
$tcp
# TLS passes through untouched: the nodes hold the certificate (TLS_CERT/TLS_KEY of ROLE=node),
# so client certificates (mTLS) reach them. Nodes without TLS refuse these connections.
frontend nexo_tls
    mode tcp
    bind $HAPROXY_BIND:$TLS_PORT
    option tcplog
    default_backend nexo_nodes_tls

backend nexo_nodes_tls
    mode tcp
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    option redispatch
$tls
frontend nexo_http
    mode http
    bind $HAPROXY_BIND:$HTTP_PORT
    option httplog
    option forwardfor
    default_backend nexo_nodes_http

backend nexo_nodes_http
    mode http
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
$http
listen stats
    mode http
    bind $HAPROXY_STATS
    stats enable
    stats uri /
    stats refresh 5s
    stats show-node
EOF
}

role_haproxy() {
  apt_install haproxy
  haproxy_config | put /etc/haproxy/haproxy.cfg 0644
  run haproxy -c -f /etc/haproxy/haproxy.cfg
  run systemctl enable haproxy.service
  run systemctl reload-or-restart haproxy.service
}

role_postgres() {
  : "${PG_PASSWORD:?set PG_PASSWORD for ROLE=postgres}"
  [[ $PG_PASSWORD =~ ^[A-Za-z0-9_.~-]+$ ]] || {
    echo "install.sh: PG_PASSWORD may hold only letters, digits and _.~- (it goes into URLs)" >&2
    exit 2
  }
  apt_install postgresql
  put /etc/postgresql/nexo.conf 0644 <<EOF
# included from postgresql.conf by deploy/install.sh ROLE=postgres
listen_addresses = '*'
password_encryption = scram-sha-256
EOF
  run sh -c "for f in /etc/postgresql/*/main/postgresql.conf; do grep -q nexo.conf \"\$f\" || echo \"include '/etc/postgresql/nexo.conf'\" >> \"\$f\"; done"
  run sh -c "for f in /etc/postgresql/*/main/pg_hba.conf; do grep -q '$PG_ALLOW' \"\$f\" || echo 'host nexo nexo $PG_ALLOW scram-sha-256' >> \"\$f\"; done"
  run systemctl restart postgresql.service
  run runuser -u postgres -- psql -v ON_ERROR_STOP=1 -c \
    "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'nexo') THEN CREATE ROLE nexo LOGIN PASSWORD '$PG_PASSWORD'; END IF; END\$\$;"
  run sh -c "runuser -u postgres -- psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'nexo'\" | grep -q 1 || runuser -u postgres -- createdb -O nexo nexo"
}

run apt-get update
if has_role postgres; then role_postgres; fi
if has_role node || has_role sensor; then
  install_node_js
  install_nexo 1
elif has_role nats; then
  install_nexo 0 # only for the unit file
fi
if has_role nats; then role_nats; fi
if has_role node; then role_node; fi
if has_role sensor; then role_sensor; fi
if has_role haproxy; then role_haproxy; fi
echo "install.sh: done (ROLE=$ROLE)"
