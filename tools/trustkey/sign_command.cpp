#include "tools/trustkey/sign_command.h"

#include <fstream>
#include <iostream>
#include <memory>

#include <openssl/evp.h>

#include <fmt/format.h>

#include "lib/core/encoding.h"
#include "tools/trustkey/output.h"

namespace trustkey::tools {

namespace pb = proto::pb;

namespace {

// Room left in a frame for everything in a Sign request but the message itself.
constexpr std::size_t kRequestOverhead = 1024;

Bytes read_file(const std::string& path, std::size_t limit) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Failure::failed(fmt::format("cannot open {}", path));
    Bytes data;
    char buf[8192];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        data.insert(data.end(), buf, buf + in.gcount());
        if (data.size() > limit)
            throw Failure::failed(fmt::format("{} is larger than {} bytes, the most one request can carry", path, limit));
    }
    if (in.bad()) throw Failure::failed(fmt::format("cannot read {}", path));
    return data;
}

struct MdCtxFree {
    void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// SHA-256 of a stream of any length, read in blocks.
Bytes sha256_of_stream(std::istream& in, const std::string& path) {
    MdCtx ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
        throw Failure::failed("cannot set up SHA-256");
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        if (EVP_DigestUpdate(ctx.get(), buf, static_cast<std::size_t>(in.gcount())) != 1)
            throw Failure::failed("SHA-256 failed");
    }
    if (in.bad()) throw Failure::failed(fmt::format("cannot read {}", path));
    Bytes digest(EVP_MAX_MD_SIZE);
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), digest.data(), &len) != 1) throw Failure::failed("SHA-256 failed");
    digest.resize(len);
    return digest;
}

} // namespace

SignCommand::SignCommand(CLI::App& app, CommandContext& context) : m_context(context) {
    auto* sign = app.add_subcommand("sign", "Sign a digest or a file; prints the base64 signature");
    sign->add_option("KEY", m_key, "Key id, id prefix (7+ hex digits) or name")->required();
    auto* digest = sign->add_option("--digest", m_digest, "Digest to sign, in hex (message in hex with --hash none)");
    sign->add_option("--hash", m_hash, "What --digest is: a SHA-256 digest, or the whole message (ed25519)")
        ->check(CLI::IsMember({"sha256", "none"}))
        ->capture_default_str();
    auto* file = sign->add_option("--file", m_file, "File to sign (hashed here for ecdsa/rsa, sent whole for ed25519)");
    digest->excludes(file);
    sign->callback([this] {
        if (m_digest.empty() == m_file.empty()) throw CLI::ValidationError("sign", "give exactly one of --digest or --file");
        m_context.action = [this] { run(); };
    });
}

void SignCommand::run() const {
    pb::HashAlgorithm hash = m_hash == "none" ? pb::HASH_NONE : pb::HASH_SHA256;
    Bytes data;
    if (!m_digest.empty()) {
        auto bytes = from_hex(m_digest);
        if (!bytes) throw Failure::usage(fmt::format("--digest must be hex, with an even number of digits"));
        data = std::move(*bytes);
    }
    const auto reply = m_context.with_client(RequestSubject::key(m_key, {}, m_file), [&](proto::Client& c) {
        if (!m_file.empty()) {
            const auto key = c.public_key(m_key);
            const std::size_t max_frame = c.server_hello().max_frame();
            const std::size_t limit = max_frame > kRequestOverhead ? max_frame - kRequestOverhead : 0;
            if (key.type() == pb::KEY_TYPE_ED25519) {
                hash = pb::HASH_NONE;
                data = read_file(m_file, limit);
            } else {
                hash = pb::HASH_SHA256;
                std::ifstream probe(m_file, std::ios::binary);
                if (!probe) throw Failure::failed(fmt::format("cannot open {}", m_file));
                data = sha256_of_stream(probe, m_file);
            }
            // Sign the key that was inspected, even if another key took its name meanwhile.
            return c.sign(key.id(), hash, data);
        }
        return c.sign(m_key, hash, data);
    });
    std::cout << to_base64(as_bytes(reply.signature())) << '\n';
    std::cout.flush();
    if (!std::cout) throw Failure::failed("cannot write to standard output");
}

} // namespace trustkey::tools
