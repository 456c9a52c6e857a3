#!/usr/bin/env bash
# A single-node Apache Kafka 4 broker (KRaft: broker and controller in one JVM) for development
# and CI, run from Maven Central jars: the machines this project runs on have Java and Maven but
# no Kafka package and no container engine.
#
#   scripts/kafka/kafka.sh fetch                       jars into .cache/kafka/libs (once)
#   scripts/kafka/kafka.sh start                       fetch if needed, format once, start, wait until it answers
#   scripts/kafka/kafka.sh stop                        graceful, killed after KAFKA_STOP_TIMEOUT seconds
#   scripts/kafka/kafka.sh restart
#   scripts/kafka/kafka.sh status                      exit 0 when running, 3 when not
#   scripts/kafka/kafka.sh logs [-f] [lines]           the broker's log
#   scripts/kafka/kafka.sh reset                       stop and delete the broker's data (jars stay)
#   scripts/kafka/kafka.sh topics-create <name> <partitions>
#   scripts/kafka/kafka.sh topics-list
#
# Environment (defaults in brackets):
#   KAFKA_HOST [127.0.0.1]  KAFKA_PORT [9092]  KAFKA_CONTROLLER_PORT [9093]
#   KAFKA_CACHE_DIR [<repo>/.cache/kafka]  holds libs/, data/, logs/, run/ (config and pid file)
#   KAFKA_LIBS_DIR [$KAFKA_CACHE_DIR/libs]  KAFKA_DATA_DIR [$KAFKA_CACHE_DIR/data]
#   KAFKA_NUM_PARTITIONS [1]  default partition count of topics created without one
#   KAFKA_HEAP_OPTS [-Xms256m -Xmx512m]  KAFKA_START_TIMEOUT [90]  KAFKA_STOP_TIMEOUT [30]
#   KAFKA_EXTRA_PROPERTIES  lines appended to server.properties (later keys win)
#   KAFKA_VERSION [the pom's]  another 4.x release of Maven Central's org.apache.kafka:kafka_2.13
#   KAFKA_MVN_ARGS  extra Maven arguments for fetch (e.g. -Dmaven.repo.local=...)
#   JAVA_HOME / JAVA  the Java (17 or newer) to run with
# A second broker on the same machine needs its own KAFKA_CACHE_DIR and ports.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)

KAFKA_HOST=${KAFKA_HOST:-127.0.0.1}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_CACHE_DIR=${KAFKA_CACHE_DIR:-$ROOT/.cache/kafka}
KAFKA_LIBS_DIR=${KAFKA_LIBS_DIR:-$KAFKA_CACHE_DIR/libs}
KAFKA_DATA_DIR=${KAFKA_DATA_DIR:-$KAFKA_CACHE_DIR/data}
KAFKA_NUM_PARTITIONS=${KAFKA_NUM_PARTITIONS:-1}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
KAFKA_EXTRA_PROPERTIES=${KAFKA_EXTRA_PROPERTIES:-}

# The paths end up in server.properties and the pid file and are used again by later commands,
# possibly from another directory: make them absolute.
absolute() { if [[ $1 == /* ]]; then printf '%s\n' "$1"; else printf '%s/%s\n' "$PWD" "$1"; fi; }
KAFKA_CACHE_DIR=$(absolute "$KAFKA_CACHE_DIR")
KAFKA_LIBS_DIR=$(absolute "$KAFKA_LIBS_DIR")
KAFKA_DATA_DIR=$(absolute "$KAFKA_DATA_DIR")

if [[ -n ${JAVA:-} ]]; then
  :
elif [[ -n ${JAVA_HOME:-} ]]; then
  JAVA=$JAVA_HOME/bin/java
else
  JAVA=java
fi

POM=$SCRIPT_DIR/pom.xml
RUN_DIR=$KAFKA_CACHE_DIR/run
LOG_DIR=$KAFKA_CACHE_DIR/logs
PID_FILE=$RUN_DIR/kafka.pid
SERVER_PROPERTIES=$RUN_DIR/server.properties
CLIENT_PROPERTIES=$RUN_DIR/client.properties
SERVER_LOG=$LOG_DIR/server.log
# The JVM's own stdout/stderr: what happens before logging is configured, and crashes.
CONSOLE_LOG=$LOG_DIR/kafka.out
FETCH_STAMP=$KAFKA_LIBS_DIR/.fetched
BOOTSTRAP=$KAFKA_HOST:$KAFKA_PORT

say() { printf 'kafka: %s\n' "$*"; }
die() {
  printf 'kafka: ERROR: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

# Serialises commands that change state (fetch, start, stop, reset), so that two CI steps or two
# terminals cannot start two brokers on one data directory. flock is util-linux: where it is
# missing (macOS), commands run unserialised.
take_lock() {
  mkdir -p "$KAFKA_CACHE_DIR"
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$KAFKA_CACHE_DIR/.lock"
  flock 9
}

java_major() {
  local line
  line=$("$JAVA" -version 2>&1 | head -n 1) || return 1
  # `openjdk version "17.0.15"`, `java version "1.8.0_392"`, `openjdk version "25"`
  line=${line#*\"}
  line=${line%%\"*}
  [[ $line == 1.* ]] && line=${line#1.}
  printf '%s\n' "${line%%[.+-]*}"
}

check_java() {
  command -v "$JAVA" >/dev/null 2>&1 || die "no Java found ($JAVA); install a JDK 17 or newer or set JAVA_HOME"
  local major
  major=$(java_major) || die "could not run $JAVA -version"
  ((major >= 17)) || die "Kafka 4 needs Java 17 or newer; $JAVA is Java $major (set JAVA_HOME)"
}

pom_stamp() {
  local sum
  if command -v sha256sum >/dev/null 2>&1; then
    sum=$(sha256sum "$POM" | cut -d' ' -f1)
  else
    sum=$(shasum -a 256 "$POM" | cut -d' ' -f1)
  fi
  printf '%s %s\n' "$sum" "${KAFKA_VERSION:-pom}"
}

fetched() { [[ -f $FETCH_STAMP && "$(cat "$FETCH_STAMP")" == "$(pom_stamp)" ]]; }

# The jars land in a temporary folder that is renamed into place only once Maven succeeded, so an
# interrupted fetch never looks complete. The stamp is the pom's hash and KAFKA_VERSION: a changed
# pom or version fetches again.
cmd_fetch() {
  take_lock
  if fetched; then
    say "jars already fetched in $KAFKA_LIBS_DIR"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed to fetch the Kafka jars"
  local tmp=$KAFKA_LIBS_DIR.partial
  rm -rf "$tmp"
  mkdir -p "$tmp"
  say "fetching the broker's jars from Maven Central into $KAFKA_LIBS_DIR"
  # Maven's output is shown only when it fails: even quiet, Maven 3.8 prints colour codes.
  local output
  # shellcheck disable=SC2086 # KAFKA_MVN_ARGS is a list of arguments
  if ! output=$(mvn -q -B -f "$POM" dependency:copy-dependencies \
    -DoutputDirectory="$tmp" -DincludeScope=runtime \
    ${KAFKA_VERSION:+-Dkafka.version=$KAFKA_VERSION} ${KAFKA_MVN_ARGS:-} 2>&1); then
    printf '%s\n' "$output" >&2
    rm -rf "$tmp"
    die "Maven could not fetch the Kafka jars (see above)"
  fi
  pom_stamp >"$tmp/.fetched"
  rm -rf "$KAFKA_LIBS_DIR"
  mv "$tmp" "$KAFKA_LIBS_DIR"
  say "fetched $(find "$KAFKA_LIBS_DIR" -name '*.jar' | wc -l | tr -d ' ') jars ($(du -sh "$KAFKA_LIBS_DIR" | cut -f1))"
}

# run_tool <main class> <args…>: a Kafka command-line tool on the broker's classpath. Short-lived
# JVMs: a small heap and the C1 compiler only, which roughly halves their start-up.
# TOOL_TIMEOUT=<seconds> bounds one call (where coreutils' timeout exists).
run_tool() {
  local main=$1 limit=()
  shift
  if [[ -n ${TOOL_TIMEOUT:-} ]] && command -v timeout >/dev/null 2>&1; then
    limit=(timeout "$TOOL_TIMEOUT")
  fi
  ${limit[@]+"${limit[@]}"} "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$SCRIPT_DIR/tools-log4j2.properties" \
    -cp "$KAFKA_LIBS_DIR/*" "$main" "$@"
}

topic_command() {
  run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
    --command-config "$CLIENT_PROPERTIES" "$@"
}

write_config() {
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$KAFKA_DATA_DIR"
  cat >"$SERVER_PROPERTIES" <<EOF
# Written by scripts/kafka/kafka.sh at every start: change the script or its environment, not this.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DATA_DIR

# One node: every internal topic has one replica.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer partitions of the internal topics than the production default of 50: fewer files and a
# quicker first consumer group, with the same semantics.
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10

# Topics are created on purpose (topics-create, or the code under test), never by a typo.
auto.create.topics.enable=false
num.partitions=$KAFKA_NUM_PARTITIONS
# Tests join consumer groups often: do not wait 3 s for more members before the first rebalance.
group.initial.rebalance.delay.ms=0

# Sized for a 2-core machine.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
  if [[ -n $KAFKA_EXTRA_PROPERTIES ]]; then
    printf '\n# KAFKA_EXTRA_PROPERTIES\n%s\n' "$KAFKA_EXTRA_PROPERTIES" >>"$SERVER_PROPERTIES"
  fi
  # For the tools: fail within seconds instead of the client's default minute when the broker is
  # not (yet) there, so the readiness loop can retry.
  cat >"$CLIENT_PROPERTIES" <<EOF
request.timeout.ms=5000
default.api.timeout.ms=10000
EOF
}

# Storage is formatted once, with a fresh cluster id; later starts reuse it (data survives stop
# and start). The quorum is the static one of controller.quorum.voters, so no --standalone.
format_once() {
  if [[ -f $KAFKA_DATA_DIR/meta.properties ]]; then
    return 0
  fi
  local cluster_id
  cluster_id=$(run_tool kafka.tools.StorageTool random-uuid) || die "could not make a cluster id"
  say "formatting $KAFKA_DATA_DIR (cluster id $cluster_id)"
  run_tool kafka.tools.StorageTool format --cluster-id "$cluster_id" \
    --config "$SERVER_PROPERTIES" --ignore-formatted >/dev/null ||
    die "could not format $KAFKA_DATA_DIR"
}

# The pid in the pid file, when that process is alive and is a Kafka broker (a stale pid file
# whose pid was reused by another program does not count).
broker_pid() {
  [[ -f $PID_FILE ]] || return 1
  local pid stat args
  pid=$(cat "$PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
  [[ $stat == Z* ]] && return 1
  args=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
  [[ $args == *kafka.Kafka* ]] || return 1
  printf '%s\n' "$pid"
}

# Milliseconds since the epoch, for the start-up time (bash 5's EPOCHREALTIME; seconds elsewhere).
now_ms() {
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    local t=${EPOCHREALTIME/[.,]/}
    printf '%s\n' "${t:0:${#t}-3}"
  else
    printf '%s000\n' "$(date +%s)"
  fi
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

rss_mib() { ps -o rss= -p "$1" 2>/dev/null | awk '{ printf "%d", $1 / 1024 }'; }

log_tail() {
  local n=${1:-40}
  if [[ -s $SERVER_LOG ]]; then
    printf -- '--- last %s lines of %s ---\n' "$n" "$SERVER_LOG" >&2
    tail -n "$n" "$SERVER_LOG" >&2
  fi
  if [[ -s $CONSOLE_LOG ]]; then
    printf -- '--- last %s lines of %s ---\n' "$n" "$CONSOLE_LOG" >&2
    tail -n "$n" "$CONSOLE_LOG" >&2
  fi
}

# Ready means more than a listening port: the broker has joined its own quorum and answers a
# metadata request, which is what a client needs.
wait_ready() {
  local pid=$1 deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 2
    if ! port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
      sleep 0.25
    elif TOOL_TIMEOUT=30 topic_command --list >/dev/null 2>&1; then
      return 0
    else
      sleep 1
    fi
  done
  return 1
}

cmd_start() {
  check_java
  cmd_fetch
  # cmd_fetch took the lock: the checks below and the start happen under it.
  local pid
  if pid=$(broker_pid); then
    say "already running (pid $pid) on $BOOTSTRAP"
    return 0
  fi
  rm -f "$PID_FILE"
  if port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
    die "$BOOTSTRAP is taken by another program (set KAFKA_PORT to use another port)"
  fi
  if port_open "$KAFKA_HOST" "$KAFKA_CONTROLLER_PORT"; then
    die "$KAFKA_HOST:$KAFKA_CONTROLLER_PORT is taken by another program (set KAFKA_CONTROLLER_PORT)"
  fi
  write_config
  format_once

  local started
  started=$(now_ms)
  # 9>&-: the broker must not inherit the lock, or it would hold it for as long as it runs.
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of JVM options
  nohup "$JAVA" $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$LOG_DIR" -Dlog4j2.configurationFile="$SCRIPT_DIR/log4j2.properties" \
    -cp "$KAFKA_LIBS_DIR/*" kafka.Kafka "$SERVER_PROPERTIES" >"$CONSOLE_LOG" 2>&1 </dev/null 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"
  say "starting (pid $pid) on $BOOTSTRAP, data in $KAFKA_DATA_DIR"

  local outcome=0
  wait_ready "$pid" || outcome=$?
  if ((outcome == 0)); then
    local took=$(($(now_ms) - started))
    say "ready on $BOOTSTRAP after $((took / 1000)).$(printf '%03d' $((took % 1000))) s (rss $(rss_mib "$pid") MiB)"
    return 0
  fi
  if ((outcome == 2)); then
    printf 'kafka: ERROR: the broker exited during start-up\n' >&2
  else
    printf 'kafka: ERROR: the broker did not answer on %s within %s s; stopping it\n' "$BOOTSTRAP" "$KAFKA_START_TIMEOUT" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  log_tail 40
  exit 1
}

stop_broker() {
  local pid
  if ! pid=$(broker_pid); then
    rm -f "$PID_FILE"
    say "not running"
    return 0
  fi
  say "stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while broker_pid >/dev/null && ((SECONDS < deadline)); do
    sleep 0.5
  done
  if broker_pid >/dev/null; then
    say "no clean shutdown within ${KAFKA_STOP_TIMEOUT} s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while broker_pid >/dev/null; do sleep 0.2; done
  fi
  rm -f "$PID_FILE"
  say "stopped"
}

cmd_stop() {
  take_lock
  stop_broker
}

cmd_status() {
  local pid
  if pid=$(broker_pid); then
    local answering=no
    port_open "$KAFKA_HOST" "$KAFKA_PORT" && answering=yes
    say "running (pid $pid) on $BOOTSTRAP; port accepting: $answering; rss $(rss_mib "$pid") MiB; data in $KAFKA_DATA_DIR"
    return 0
  fi
  say "stopped"
  return 3
}

cmd_logs() {
  local follow=() lines=100
  for arg in "$@"; do
    case $arg in
    -f | --follow) follow=(-F) ;;
    *[!0-9]* | '') die "usage: kafka.sh logs [-f] [lines]" ;;
    *) lines=$arg ;;
    esac
  done
  [[ -f $SERVER_LOG ]] || die "no log yet ($SERVER_LOG)"
  tail -n "$lines" "${follow[@]}" "$SERVER_LOG"
}

cmd_reset() {
  take_lock
  stop_broker
  if [[ -d $KAFKA_DATA_DIR ]]; then
    # A guard against a mistyped KAFKA_DATA_DIR: only a folder Kafka formatted, or an empty one.
    if [[ -f $KAFKA_DATA_DIR/meta.properties || -z "$(ls -A "$KAFKA_DATA_DIR")" ]]; then
      rm -rf "$KAFKA_DATA_DIR"
      say "deleted $KAFKA_DATA_DIR"
    else
      die "$KAFKA_DATA_DIR holds no meta.properties; not deleting it"
    fi
  else
    say "no data to delete"
  fi
}

require_running() {
  broker_pid >/dev/null || port_open "$KAFKA_HOST" "$KAFKA_PORT" ||
    die "no broker on $BOOTSTRAP (run: scripts/kafka/kafka.sh start)"
  fetched || die "the jars are not fetched (run: scripts/kafka/kafka.sh fetch)"
  [[ -f $CLIENT_PROPERTIES ]] || write_config
}

cmd_topics_create() {
  (($# == 2)) || die "usage: kafka.sh topics-create <name> <partitions>"
  [[ $2 =~ ^[1-9][0-9]*$ ]] || die "partitions must be a positive number, not '$2'"
  check_java
  require_running
  topic_command --create --if-not-exists --topic "$1" --partitions "$2" --replication-factor 1
  say "topic $1 exists ($2 partitions requested)"
}

cmd_topics_list() {
  check_java
  require_running
  topic_command --list --exclude-internal
}

main() {
  local cmd=${1:-help}
  (($# > 0)) && shift
  case $cmd in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart)
    cmd_stop
    cmd_start
    ;;
  status) cmd_status ;;
  logs) cmd_logs "$@" ;;
  reset) cmd_reset ;;
  topics-create) cmd_topics_create "$@" ;;
  topics-list) cmd_topics_list ;;
  help | -h | --help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
  esac
}

main "$@"
