#!/usr/bin/env bash
# Regenerates the seed corpora in tests/fuzz/corpus/: frames, requests and signed
# public keys from fuzz_corpus_gen (built in the fuzz build directory), and private
# keys in every PEM form trustkey imports, made with the openssl command.
# Usage: tests/fuzz/make_corpus.sh <fuzz build dir>
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:?usage: make_corpus.sh <fuzz build dir>}"
corpus="$here/corpus"
pass="trustkey-fuzz"   # the passphrase pem_fuzz tries (pem_fuzz.cpp)

rm -rf "$corpus/frame_fuzz" "$corpus/request_fuzz" "$corpus/spki_fuzz" "$corpus/pem_fuzz"
"$build/tests/fuzz/fuzz_corpus_gen" "$corpus"

pem="$corpus/pem_fuzz"
mkdir -p "$pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pem/ec_pkcs8.pem" 2>/dev/null
openssl ec -in "$pem/ec_pkcs8.pem" -out "$pem/ec_sec1.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pem/rsa_pkcs8.pem" 2>/dev/null
openssl rsa -in "$pem/rsa_pkcs8.pem" -traditional -out "$pem/rsa_pkcs1.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$pem/ed25519.pem" 2>/dev/null
openssl pkcs8 -topk8 -in "$pem/ec_pkcs8.pem" -v2 aes-256-cbc -passout "pass:$pass" -out "$pem/ec_encrypted.pem"
openssl pkcs8 -topk8 -in "$pem/ed25519.pem" -v2 aes-128-cbc -passout "pass:$pass" -out "$pem/ed25519_encrypted.pem"
# docker trust key load: a "role" header line inside the PEM block.
awk 'NR==1{print; print "role: root"; print ""; next} {print}' "$pem/ec_pkcs8.pem" > "$pem/ec_docker_role.pem"
# Key types trustkey refuses: P-384 and RSA-1024.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$pem/ec_p384.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$pem/rsa_1024.pem" 2>/dev/null
echo "make_corpus: wrote $(find "$corpus" -type f | wc -l) seeds under $corpus"
