#!/usr/bin/env bash
# Installs everything trustkey needs to build, run and test on Debian 12.
# Usage: scripts/install-deps.sh            (run as root, or with sudo available)
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # libraries
  libssl-dev libp11-kit-dev libprotobuf-dev protobuf-compiler
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  # sd-event (trustkeyd's event loop)
  libsystemd-dev
  # trustkeyd's D-Bus interface: sdbus-c++ and its xml2cpp generator; for the tests a session
  # bus (dbus-run-session), busctl (systemd) and gdbus (libglib2.0-bin)
  libsdbus-c++-dev libsdbus-c++-bin dbus dbus-daemon systemd libglib2.0-bin
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # bench/plot_latency.sh draws sign_bench's latency figure
  gnuplot-nox
  # systemd-analyze (the user units are verified and rated) and systemd-socket-activate (tests
  # start trustkeyd through socket activation)
  systemd
  # tokens and tools used at run time and in tests
  softhsm2 opensc p11-kit p11-kit-modules openssl
  # TPM 2.0: tpm2-tss (ESYS, TCTIs), a software TPM for tests and benchmarks, and tpm2-tools
  libtss2-dev swtpm swtpm-tools tpm2-tools
  # real notary-server, notary-signer and notary CLI (trust tests), and curl to query them
  notary curl libcurl4-openssl-dev
  # real Docker registry (distribution 2.8) and htpasswd for its basic auth (registry tests)
  docker-registry apache2-utils
  # Debian's docker CLI (20.10), to compare `trust inspect` and run trustkey as a CLI plugin
  docker.io
  # python for small helper scripts in tests (the tampering proxy; python3-cryptography signs the
  # test token server's JWTs), and faketime to run the CLI with its clock moved past a metadata expiry
  python3 python3-cryptography faketime
  # pinentry programs: the tests ask a PIN through pinentry-tty on a pseudo-terminal
  pinentry-tty
  # clang and its sanitizer runtimes for the libFuzzer targets (scripts/fuzz.sh)
  clang libclang-rt-14-dev
  # gcc's ThreadSanitizer runtime (scripts/test-tsan.sh)
  libtsan2
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all packages present"
