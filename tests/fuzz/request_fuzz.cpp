// The daemon's Dispatcher over a real SoftHSM2 token holding one key of each
// type. Each input is handled twice: as one frame body on a fresh connection,
// and as a stream of frames after a Hello (so negotiated requests are reached).
// Every response is checked against what PROTOCOL.md promises.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "lib/backend/key_ring.h"
#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/backend/private_key.h"
#include "lib/core/log.h"
#include "daemon/server/dispatcher.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_keys.h"

namespace {

using namespace trustkey;
namespace pb = proto::pb;

constexpr const char* kPinVariable = "TRUSTKEY_FUZZ_PIN";

// The token, the key ring over it and the names of the keys every input starts with.
struct World {
    test::SoftHsmToken token{"fuzz"};
    backend::KeyRing ring;
    std::unique_ptr<server::Dispatcher> dispatcher;
    std::map<std::string, backend::KeyType> fixed;  // name -> type
    std::map<backend::KeyType, backend::PrivateKey> spare;  // re-imported when a fixed key was deleted
    server::Caller caller{::getpid(), ::getuid(), ::getgid()};

    World() {
        backend::pkcs11::Pkcs11Config pc;
        pc.name = "fuzz";
        pc.module = test::SoftHsmToken::module();
        pc.token_uri = token.uri();
        pc.pin = {backend::pkcs11::PinSource::Kind::env, kPinVariable};
        ::setenv(kPinVariable, token.user_pin().c_str(), 1);
        ring.add(backend::pkcs11::make_pkcs11_backend(pc));
        dispatcher = std::make_unique<server::Dispatcher>(ring, server::Dispatcher::Options{});
        for (const auto type : {backend::KeyType::ecdsa_p256, backend::KeyType::rsa_2048, backend::KeyType::rsa_4096,
                                backend::KeyType::ed25519}) {
            const std::string name = "fuzz-" + std::string(backend::key_type_name(type));
            ring.backend("").generate(name, type);
            fixed.emplace(name, type);
            spare.emplace(type, fuzz::make_private_key(type));
        }
    }

    // Puts the token back as it was before an input that changed it: logged in with the
    // right PIN, the fixed keys present, nothing else.
    void restore() {
        auto& be = ring.backend("");
        be.login(secure_from(token.user_pin()));
        std::set<std::string> present;
        for (const auto& key : be.list_keys()) {
            if (fixed.count(key.name) && fixed.at(key.name) == key.type && !present.count(key.name))
                present.insert(key.name);
            else
                be.remove(key);
        }
        for (const auto& [name, type] : fixed)
            if (!present.count(name)) be.import_key(name, spare.at(type));
    }
};

World* g_world = nullptr;

// What one frame body would be decoded to, independently of the dispatcher.
struct Expected {
    bool decodes = false;
    pb::Request request;
};

Expected expect(std::span<const std::uint8_t> body) {
    Expected e;
    std::string why;
    if (!body.empty()) e.decodes = proto::decode_request(body.subspan(1), e.request, why);
    return e;
}

bool changes_token(const Expected& e) {
    if (!e.decodes) return false;
    switch (e.request.body_case()) {
    case pb::Request::kGenerateKey:
    case pb::Request::kImportKey:
    case pb::Request::kDeleteKey:
    case pb::Request::kLogin: return true;
    default: return false;
    }
}

// RSA-4096 generation takes seconds on SoftHSM2; such inputs are left out.
bool too_slow(const Expected& e) {
    return e.decodes && e.request.has_generate_key() && e.request.generate_key().type() == pb::KEY_TYPE_RSA_4096;
}

void check_response(const pb::Response& resp, const Expected& e) {
    FUZZ_CHECK(pb::Status_IsValid(resp.status()), "a response without a valid status");
    FUZZ_CHECK(resp.id() == 0 || (e.decodes && resp.id() == e.request.id()),
               "the response id is neither 0 nor the request's id");
    if (resp.status() == pb::STATUS_OK) {
        FUZZ_CHECK(e.decodes, "a request that does not decode was answered OK");
        FUZZ_CHECK(resp.message().empty(), "an OK response with a message");
        FUZZ_CHECK(static_cast<int>(resp.body_case()) == static_cast<int>(e.request.body_case()),
                   "an OK response whose body does not answer the request");
    } else {
        FUZZ_CHECK(!resp.message().empty(), "a failed response without a message");
        FUZZ_CHECK(resp.body_case() == pb::Response::BODY_NOT_SET, "a failed response with a body");
        FUZZ_CHECK(resp.message().find('\n') == std::string::npos, "a message of more than one line");
    }
    if (!e.decodes)
        FUZZ_CHECK(resp.status() == pb::STATUS_MALFORMED || resp.status() == pb::STATUS_UNSUPPORTED_VERSION,
                   "an undecodable frame got another status");
    // The reply must fit one frame and pass the client's strict decoding.
    const auto bytes = proto::encode_message(resp);
    FUZZ_CHECK(bytes.size() + 1 <= proto::kDefaultMaxFrame, "a response larger than a frame");
    pb::Response back;
    std::string why;
    FUZZ_CHECK(proto::decode_response(bytes, back, why), "a response the client cannot decode");
}

std::vector<std::uint8_t> hello_body() {
    pb::Request req;
    req.set_id(1);
    req.mutable_hello()->set_min_version(proto::kMinProtocolVersion);
    req.mutable_hello()->set_max_version(proto::kProtocolVersion);
    req.mutable_hello()->set_client("fuzz");
    auto body = proto::encode_message(req);
    body.insert(body.begin(), static_cast<std::uint8_t>(proto::kProtocolVersion));
    return body;
}

// The frames of a byte stream, as a connection would read them (up to a framing error).
std::vector<std::span<const std::uint8_t>> split_frames(std::span<const std::uint8_t> stream) {
    std::vector<std::span<const std::uint8_t>> out;
    std::size_t pos = 0;
    while (stream.size() - pos >= proto::kFrameHeaderSize) {
        const std::span<const std::uint8_t, proto::kFrameHeaderSize> header(stream.data() + pos,
                                                                            proto::kFrameHeaderSize);
        const auto length = proto::parse_frame_header(header);
        if (!length) break;
        pos += proto::kFrameHeaderSize;
        if (stream.size() - pos < *length) break;
        out.push_back(stream.subspan(pos, *length));
        pos += *length;
    }
    return out;
}

// Signs with each fixed key through the dispatcher, so a broken setup is not mistaken
// for inputs that never reach the signing code.
void check_world_signs(World& w) {
    server::Session session;
    std::vector<std::uint8_t> body = hello_body();
    FUZZ_CHECK(w.dispatcher->handle_frame(body, w.caller, session).status() == pb::STATUS_OK, "the Hello failed");
    for (const auto& [name, type] : w.fixed) {
        pb::Request req;
        req.set_id(2);
        req.mutable_sign()->set_key(name);
        req.mutable_sign()->set_hash(type == backend::KeyType::ed25519 ? pb::HASH_NONE : pb::HASH_SHA256);
        req.mutable_sign()->set_data(std::string(32, 'd'));
        const auto resp = w.dispatcher->handle(req, w.caller, session);
        FUZZ_CHECK(resp.status() == pb::STATUS_OK, "a fixed key cannot sign");
        FUZZ_CHECK(resp.sign().signature().size() == backend::signature_size(type), "a signature of the wrong size");
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    log::init("off");  // the dispatcher logs each failure; that is noise here
    g_world = new World();  // lives as long as the process
    check_world_signs(*g_world);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    World& w = *g_world;
    const std::span<const std::uint8_t> input(data, size);

    const Expected whole = expect(input);
    const auto frames = split_frames(input);
    std::vector<Expected> expected;
    expected.reserve(frames.size());
    for (const auto& f : frames) expected.push_back(expect(f));
    if (too_slow(whole)) return -1;
    for (const auto& e : expected)
        if (too_slow(e)) return -1;

    bool dirty = changes_token(whole);

    // 1. The input as the first frame body of a connection.
    {
        server::Session session;
        check_response(w.dispatcher->handle_frame(input, w.caller, session), whole);
    }
    // 2. A Hello, then the input as a stream of frames on the same connection.
    {
        server::Session session;
        const auto hello = w.dispatcher->handle_frame(hello_body(), w.caller, session);
        FUZZ_CHECK(hello.status() == pb::STATUS_OK && session.negotiated, "the Hello was refused");
        for (std::size_t i = 0; i < frames.size(); ++i) {
            check_response(w.dispatcher->handle_frame(frames[i], w.caller, session), expected[i]);
            dirty = dirty || changes_token(expected[i]);
        }
    }
    if (dirty) w.restore();
    return 0;
}
