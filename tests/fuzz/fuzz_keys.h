// Private keys made in memory with OpenSSL, for the fuzz targets' token and seeds.
#pragma once

#include <string>

#include "lib/backend/private_key.h"

namespace trustkey::fuzz {

// A fresh key of `type` as unencrypted PKCS#8 PEM.
std::string make_private_key_pem(backend::KeyType type);
// The same, parsed by trustkey's own importer.
backend::PrivateKey make_private_key(backend::KeyType type);

} // namespace trustkey::fuzz
