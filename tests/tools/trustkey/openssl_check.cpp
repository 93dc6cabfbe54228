#include "tests/tools/trustkey/openssl_check.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "tests/fixtures/process.h"

namespace trustkey::test {

namespace fs = std::filesystem;

ByteVec to_bytes(std::string_view s) { return ByteVec(s.begin(), s.end()); }

ByteVec sha256_bytes(std::string_view data) {
    ByteVec out(EVP_MAX_MD_SIZE);
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("EVP_Digest failed");
    out.resize(len);
    return out;
}

std::string sha256_hex(std::string_view data) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string hex;
    for (auto b : sha256_bytes(data)) {
        hex.push_back(kDigits[b >> 4]);
        hex.push_back(kDigits[b & 0xf]);
    }
    return hex;
}

std::string base64_encode(const ByteVec& data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(), static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string expected_tuf_key_id(const std::string& cli_type, const ByteVec& spki_der) {
    std::string keytype = cli_type == "rsa4096" ? "rsa" : cli_type;
    ByteVec pub = spki_der;
    if (cli_type == "ed25519") {
        if (spki_der.size() < 32) throw std::runtime_error("short ed25519 SPKI");
        pub.assign(spki_der.end() - 32, spki_der.end());
    }
    const std::string json =
        R"({"keytype":")" + keytype + R"(","keyval":{"private":null,"public":")" + base64_encode(pub) + R"("}})";
    return sha256_hex(json);
}

ByteVec base64_decode(std::string_view b64) {
    if (b64.empty() || b64.size() % 4 != 0) throw std::runtime_error("base64 length is not a multiple of 4");
    ByteVec out(b64.size() / 4 * 3);
    const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(b64.data()),
                                  static_cast<int>(b64.size()));
    if (n < 0) throw std::runtime_error("bad base64");
    std::size_t pad = 0;
    if (b64.back() == '=') ++pad;
    if (b64.size() > 1 && b64[b64.size() - 2] == '=') ++pad;
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

ByteVec pem_body(std::string_view pem) {
    std::istringstream in{std::string(pem)};
    std::string line, b64;
    bool inside = false;
    while (std::getline(in, line)) {
        if (line.rfind("-----BEGIN ", 0) == 0) inside = true;
        else if (line.rfind("-----END ", 0) == 0) break;
        else if (inside) b64 += line;
    }
    return base64_decode(b64);
}

ByteVec ecdsa_raw_to_der(const ByteVec& raw) {
    if (raw.size() != 64) throw std::runtime_error("ECDSA P-256 signature must be 64 bytes");
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), ECDSA_SIG_free);
    BIGNUM* r = BN_bin2bn(raw.data(), 32, nullptr);
    BIGNUM* s = BN_bin2bn(raw.data() + 32, 32, nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        throw std::runtime_error("ECDSA_SIG_set0 failed");
    }
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(sig.get(), &der);
    if (len <= 0) throw std::runtime_error("i2d_ECDSA_SIG failed");
    ByteVec out(der, der + len);
    OPENSSL_free(der);
    return out;
}

void write_file(const fs::path& path, std::string_view data) {
    std::ofstream out(path, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

void write_file(const fs::path& path, const ByteVec& data) {
    write_file(path, std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

bool openssl_verify(const std::string& type, const fs::path& public_pem, const ByteVec& data,
                    const ByteVec& tuf_signature, const fs::path& work_dir) {
    const fs::path data_file = work_dir / "verify.data";
    const fs::path sig_file = work_dir / "verify.sig";
    write_file(data_file, data);
    std::vector<std::string> argv{"openssl", "pkeyutl", "-verify", "-pubin", "-inkey", public_pem.string(),
                                  "-in", data_file.string(), "-sigfile", sig_file.string()};
    if (type == "ecdsa") {
        write_file(sig_file, ecdsa_raw_to_der(tuf_signature));
    } else if (type == "rsa" || type == "rsa4096") {
        write_file(sig_file, tuf_signature);
        for (const char* opt : {"rsa_padding_mode:pss", "rsa_pss_saltlen:32", "digest:sha256", "rsa_mgf1_md:sha256"}) {
            argv.push_back("-pkeyopt");
            argv.push_back(opt);
        }
    } else if (type == "ed25519") {
        write_file(sig_file, tuf_signature);
        argv.push_back("-rawin");
    } else {
        throw std::runtime_error("unknown key type " + type);
    }
    const auto r = run_process(argv);
    return r.exit_code == 0 && r.out.find("Signature Verified Successfully") != std::string::npos;
}

ByteVec public_der_of_private_key(const fs::path& key_file, const std::string& passphrase) {
    std::vector<std::string> argv{"openssl", "pkey", "-in", key_file.string(), "-pubout", "-outform", "DER"};
    if (!passphrase.empty()) {
        argv.push_back("-passin");
        argv.push_back("pass:" + passphrase);
    }
    const auto r = run_process(argv);
    if (r.exit_code != 0) throw std::runtime_error("openssl pkey failed: " + r.err);
    return to_bytes(r.out);
}

} // namespace trustkey::test
