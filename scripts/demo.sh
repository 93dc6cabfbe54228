#!/usr/bin/env bash
# The main job on the embedded default: install, build, start trustkeyd on its
# own SoftHSM2 token, generate a key, sign a digest through the socket, and
# verify the signature with OpenSSL against the exported public key.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh" >/dev/null
"$root/scripts/build.sh" >/dev/null
build="${TRUSTKEY_BUILD_DIR:-$root/build}"
trustkeyd="$build/daemon/trustkeyd"
trustkey="$build/tools/trustkey/trustkey"

work="$(mktemp -d)"
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ]; then kill -TERM "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Use the running trustkeyd if there is one; otherwise start one in the foreground.
if ! "$trustkey" status >/dev/null 2>&1; then
  "$trustkeyd" --foreground 2>"$work/trustkeyd.log" &
  daemon_pid=$!
  for _ in $(seq 1 100); do
    if "$trustkey" status >/dev/null 2>&1; then break; fi
    if ! kill -0 "$daemon_pid" 2>/dev/null; then cat "$work/trustkeyd.log" >&2; exit 1; fi
    sleep 0.1
  done
fi

name="demo-$(date +%Y%m%d-%H%M%S)-$$"
key_id="$("$trustkey" key generate "$name" --type ecdsa)"
printf 'trustkey demo: sign me\n' > "$work/message"
digest="$(openssl dgst -sha256 -r "$work/message" | cut -d' ' -f1)"
"$trustkey" sign "$key_id" --digest "$digest" --hash sha256 > "$work/sig.b64"
"$trustkey" key public "$key_id" --format pem > "$work/public.pem"

# TUF carries ECDSA signatures as raw r||s; OpenSSL's CLI verifies DER, so wrap it.
python3 - "$work/sig.b64" "$work/sig.der" <<'PY'
import base64, sys
raw = base64.b64decode(open(sys.argv[1]).read().strip())
assert len(raw) == 64, f"expected 64 bytes (r||s), got {len(raw)}"
def integer(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80: b = b"\0" + b
    return b"\x02" + bytes([len(b)]) + b
body = integer(raw[:32]) + integer(raw[32:])
open(sys.argv[2], "wb").write(b"\x30" + bytes([len(body)]) + body)
PY
openssl dgst -sha256 -binary "$work/message" > "$work/digest.bin"
echo "key id:  $key_id"
if openssl pkeyutl -verify -pubin -inkey "$work/public.pem" -in "$work/digest.bin" -sigfile "$work/sig.der" >/dev/null; then
  echo "verdict: signature verified by OpenSSL"
  "$trustkey" key delete "$key_id" --yes >/dev/null
else
  echo "verdict: signature did NOT verify" >&2
  exit 1
fi
