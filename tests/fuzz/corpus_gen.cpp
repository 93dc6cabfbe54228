// Writes the generated seed inputs of the fuzz targets: frames and requests made
// with the real codec, and public keys with real signatures made by OpenSSL.
// Usage: fuzz_corpus_gen <corpus dir>   (writes <dir>/frame_fuzz, request_fuzz, spki_fuzz)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "lib/core/encoding.h"
#include "tests/fuzz/fuzz_keys.h"
#include "tests/fuzz/spki_input.h"
#include "trustkey/proto/codec.h"
#include "trustkey/proto/frame.h"

namespace {

using namespace trustkey;
namespace fs = std::filesystem;
namespace pb = proto::pb;

void write_file(const fs::path& path, std::span<const std::uint8_t> bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::vector<std::uint8_t> frame_of(const pb::Request& r) {
    return proto::encode_frame(static_cast<std::uint8_t>(proto::kProtocolVersion), proto::encode_message(r));
}

std::vector<std::uint8_t> body_of(const pb::Request& r) {
    auto body = proto::encode_message(r);
    body.insert(body.begin(), static_cast<std::uint8_t>(proto::kProtocolVersion));
    return body;
}

// One request of each kind, naming the keys the request fuzzer's token holds.
std::vector<std::pair<std::string, pb::Request>> sample_requests() {
    std::vector<std::pair<std::string, pb::Request>> out;
    std::uint64_t id = 1;
    auto add = [&](std::string name) -> pb::Request& {
        pb::Request r;
        r.set_id(id++);
        out.emplace_back(std::move(name), std::move(r));
        return out.back().second;
    };
    auto& hello = add("hello");
    hello.mutable_hello()->set_min_version(1);
    hello.mutable_hello()->set_max_version(1);
    hello.mutable_hello()->set_client("trustkey");
    add("list_keys").mutable_list_keys();
    add("get_public_key").mutable_get_public_key()->set_key("fuzz-ecdsa");
    auto* gen = add("generate_key").mutable_generate_key();
    gen->set_name("fuzz-new");
    gen->set_type(pb::KEY_TYPE_ED25519);
    auto* imp = add("import_key").mutable_import_key();
    imp->set_name("fuzz-imported");
    imp->set_pem(fuzz::make_private_key_pem(backend::KeyType::ecdsa_p256));
    const Bytes digest = sha256(std::vector<std::uint8_t>{'t', 'u', 'f'});
    for (const char* key : {"fuzz-ecdsa", "fuzz-rsa", "fuzz-rsa4096"}) {
        auto* s = add(std::string("sign_") + key).mutable_sign();
        s->set_key(key);
        s->set_hash(pb::HASH_SHA256);
        s->set_data(digest.data(), digest.size());
    }
    auto* ed = add("sign_ed25519").mutable_sign();
    ed->set_key("fuzz-ed25519");
    ed->set_hash(pb::HASH_NONE);
    ed->set_data("{\"signed\":{}}");
    auto* batch = add("sign_batch").mutable_sign_batch();
    batch->set_key("fuzz-ecdsa");
    batch->set_hash(pb::HASH_SHA256);
    for (int i = 0; i < 3; ++i) batch->add_items(digest.data(), digest.size());
    add("delete_key").mutable_delete_key()->set_key("fuzz-new");
    add("get_status").mutable_get_status();
    auto* login = add("login").mutable_login();
    login->set_pin("1234");
    auto* annotate = add("annotate_key").mutable_annotate_key();
    annotate->set_key("fuzz-ecdsa");
    auto* use = annotate->add_uses();
    use->set_repository("docker.io/library/fuzz");
    use->set_role("root");
    annotate->add_certificates("-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n");
    add("no_body");
    return out;
}

Bytes sign_with(const backend::PrivateKey& key, std::span<const std::uint8_t> data) {
    Bytes sig(1024);
    std::size_t len = sig.size();
    if (key.type() == backend::KeyType::ed25519) {
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        const bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key.get()) == 1 &&
                        EVP_DigestSign(ctx, sig.data(), &len, data.data(), data.size()) == 1;
        EVP_MD_CTX_free(ctx);
        if (!ok) throw std::runtime_error("Ed25519 signing failed");
        sig.resize(len);
        return sig;
    }
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key.get(), nullptr);
    bool ok = ctx && EVP_PKEY_sign_init(ctx) == 1 && EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1;
    if (ok && key.type() != backend::KeyType::ecdsa_p256)
        ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1 && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32) == 1;
    ok = ok && EVP_PKEY_sign(ctx, sig.data(), &len, data.data(), data.size()) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) throw std::runtime_error("signing failed");
    sig.resize(len);
    if (key.type() != backend::KeyType::ecdsa_p256) return sig;
    // DER ECDSA-Sig-Value to TUF's raw r || s.
    const std::uint8_t* p = sig.data();
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    if (!es) throw std::runtime_error("cannot read an ECDSA signature");
    Bytes raw(64);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), raw.data(), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw.data() + 32, 32);
    ECDSA_SIG_free(es);
    return raw;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: fuzz_corpus_gen <corpus dir>\n";
        return 2;
    }
    try {
        const fs::path root = argv[1];
        for (const char* t : {"frame_fuzz", "request_fuzz", "spki_fuzz"}) fs::create_directories(root / t);

        const auto requests = sample_requests();
        std::vector<std::uint8_t> stream;
        for (const auto& [name, req] : requests) {
            const auto frame = frame_of(req);
            write_file(root / "request_fuzz" / ("body_" + name), body_of(req));
            write_file(root / "request_fuzz" / ("stream_" + name), frame);
            write_file(root / "frame_fuzz" / name, frame);
            if (name != "hello" && name != "login" && name.rfind("sign_rsa4096", 0) != 0)
                stream.insert(stream.end(), frame.begin(), frame.end());
        }
        write_file(root / "request_fuzz" / "stream_pipelined", stream);
        write_file(root / "frame_fuzz" / "pipelined", stream);
        // A frame whose version byte is not the negotiated one, and a partial frame.
        auto other = proto::encode_frame(2, proto::encode_message(requests[1].second));
        write_file(root / "request_fuzz" / "stream_other_version", other);
        stream.resize(stream.size() - 3);
        write_file(root / "frame_fuzz" / "partial", stream);

        const std::vector<std::uint8_t> message{'{', '"', 's', '"', ':', '1', '}'};
        const Bytes digest = sha256(message);
        for (const auto type : {backend::KeyType::ecdsa_p256, backend::KeyType::rsa_2048, backend::KeyType::rsa_4096,
                                backend::KeyType::ed25519}) {
            const auto key = fuzz::make_private_key(type);
            const bool whole = type == backend::KeyType::ed25519;
            const std::span<const std::uint8_t> data = whole ? std::span<const std::uint8_t>(message) : digest;
            const auto input = fuzz::write_spki_input(type, whole ? backend::HashAlg::none : backend::HashAlg::sha256,
                                                      key.spki_der(), data, sign_with(key, data));
            write_file(root / "spki_fuzz" / std::string(backend::key_type_name(type)), input);
        }
    } catch (const std::exception& e) {
        std::cerr << "fuzz_corpus_gen: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
