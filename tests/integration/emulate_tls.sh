#!/usr/bin/env bash
# sluice emulate --tls: kubectl trusts the self-signed certificate the kubeconfig carries, and a
# client given another CA (a second emulator's) refuses the server.
set -uo pipefail
command -v kubectl >/dev/null || { echo "kubectl not installed: skipped"; exit 0; }
d=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$d"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export HOME="$d"

start() { # name
  "$SLUICE" emulate --tls --no-backend --kubeconfig "$d/$1.kc" >"$d/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do [ -f "$d/$1.kc" ] && return 0; sleep 0.05; done
  fail "$1: no kubeconfig: $(cat "$d/$1.log")"
}
start a
start b
url=$(sed -n 's/^ *server: //p' "$d/a.kc")
case "$url" in https://127.0.0.1:*) ;; *) fail "not an https URL: $url" ;; esac
out=$(kubectl --kubeconfig "$d/a.kc" get ns default -o jsonpath='{.status.phase}' 2>&1)
[ "$out" = Active ] || fail "kubectl over TLS with the emulator's CA: $out"
sed -n 's/^ *certificate-authority-data: //p' "$d/a.kc" | base64 -d >"$d/a.pem"
openssl x509 -in "$d/a.pem" -noout -ext subjectAltName 2>/dev/null | grep -q 'IP Address:127.0.0.1' ||
  fail "the certificate does not name 127.0.0.1"
curl -sf --cacert "$d/a.pem" "$url/healthz" | grep -qx ok || fail "curl with the CA"
# a's server, b's CA: refused.
ca_b=$(sed -n 's/^ *certificate-authority-data: //p' "$d/b.kc")
sed "s|certificate-authority-data: .*|certificate-authority-data: $ca_b|" "$d/a.kc" >"$d/wrong.kc"
out=$(kubectl --kubeconfig "$d/wrong.kc" get ns 2>&1) && fail "a wrong CA was accepted"
echo "$out" | grep -q 'x509: certificate signed by unknown authority' || fail "wrong CA: $out"
curl -s --cacert "$d/a.pem" -o /dev/null "${url/127.0.0.1/localhost}/healthz" || fail "localhost is in the certificate too"
for p in "${pids[@]}"; do
  kill -TERM "$p"; wait "$p" || fail "emulate exited $? on SIGTERM (sanitizer builds check for leaks)"
done
pids=()
echo ok
