# Shared by the integration tests that run against `sluice emulate` (sourced, not run): a
# temporary directory, processes stopped by PID on exit (also on failure), a failure that shows
# the logs, polling with a bound, free loopback ports, and the emulator itself.
d=$(mktemp -d)
pids=()
on_cleanup=true # a test may name a function to run first (e.g. to stop a restarted server)
cleanup() {
  "$on_cleanup"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  if [ -n "${KEEP:-}" ]; then echo "kept $d"; else rm -rf "$d"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$d"/*.log "$d"/*.out; do [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
  exit 1
}
wait_for() { # what, command...
  local what=$1; shift
  for _ in $(seq 600); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "timed out waiting for $what"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export HOME="$d" KUBECONFIG="$d/kubeconfig"

# start_emulator [FLAGS...]: on a free port, with the instant-pod backend unless FLAGS choose.
start_emulator() {
  local backend=""
  case " $* " in
  *" --backend "* | *" --speed "*) ;; # the caller chose the simulated pods
  *) "$SLUICE" emulate --help 2>&1 | grep -q -- '--backend' && backend="--backend simple" ;;
  esac
  "$SLUICE" emulate $backend --port 0 --kubeconfig "$KUBECONFIG" "$@" >"$d/emu.log" 2>&1 &
  pids+=("$!")
  wait_for "the kubeconfig" test -f "$KUBECONFIG"
}

# managed_deployment NAME MODEL [NAMESPACE]: a one-replica Deployment sluice discovers.
managed_deployment() {
  cat <<YAML | kubectl apply -f - >/dev/null || fail "apply $1"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
  namespace: ${3:-llm}
  annotations: {llm-d.ai/managed: "true", llm-d.ai/model-id: $2}
spec:
  replicas: 1
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      containers:
      - {name: vllm, image: vllm/vllm-openai, resources: {limits: {nvidia.com/gpu: "1"}}}
YAML
}

# metrics_port LOG: the port `sluice run --metrics-bind-address ...:0` says it serves on.
metrics_port() { sed -n 's/.*serving \/metrics.* on port \([0-9]*\).*/\1/p' "$1" | head -1; }

# A real Prometheus, restartable: start_prometheus serves $d/prometheus.yml on $prom_port with
# its data in $d/tsdb; stop_prometheus stops it by PID (also run on exit: set on_cleanup to it).
prom_pid=
stop_prometheus() { [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null; prom_pid=; }
start_prometheus() {
  prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >>"$d/prometheus.log" 2>&1 &
  prom_pid=$!
  wait_for "Prometheus ready" curl -fsS "http://127.0.0.1:$prom_port/-/ready"
}
