// The dispatcher called directly (no socket), over a real SoftHSM2 token.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "lib/backend/key_ring.h"
#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/keys/public_key.h"
#include "daemon/server/dispatcher.h"
#include "daemon/server/status_table.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::server {
namespace {

class DispatcherTest : public ::testing::Test {
protected:
    DispatcherTest() {
        backend::pkcs11::Pkcs11Config pc;
        pc.name = "hsm";
        pc.module = test::SoftHsmToken::module();
        pc.token_uri = m_token.uri();
        pc.pin = {backend::pkcs11::PinSource::Kind::env, "DISPATCHER_TEST_PIN"};
        ::setenv("DISPATCHER_TEST_PIN", m_token.user_pin().c_str(), 1);
        m_ring.add(backend::pkcs11::make_pkcs11_backend(pc));
        m_dispatcher = std::make_unique<Dispatcher>(m_ring, Dispatcher::Options{});
    }

    pb::Response call(pb::Request req) { return m_dispatcher->handle(req, m_caller, m_session); }
    pb::Response hello() {
        pb::Request req;
        req.set_id(1);
        req.mutable_hello()->set_min_version(1);
        req.mutable_hello()->set_max_version(1);
        return call(req);
    }

    test::SoftHsmToken m_token{"dispatch"};
    backend::KeyRing m_ring;
    std::unique_ptr<Dispatcher> m_dispatcher;
    Caller m_caller{::getpid(), ::getuid(), ::getgid()};
    Session m_session;
};

TEST(StatusTableTest, EveryErrcHasAStatus) {
    EXPECT_EQ(to_status(Errc::not_found), pb::STATUS_KEY_NOT_FOUND);
    EXPECT_EQ(to_status(Errc::ambiguous), pb::STATUS_AMBIGUOUS_KEY);
    EXPECT_EQ(to_status(Errc::pin_incorrect), pb::STATUS_PIN_INCORRECT);
    EXPECT_EQ(to_status(Errc::pin_locked), pb::STATUS_PIN_LOCKED);
    EXPECT_EQ(to_status(Errc::batch_too_large), pb::STATUS_BATCH_TOO_LARGE);
    EXPECT_EQ(to_status(Errc::io), pb::STATUS_INTERNAL);
    // Distinct Errc values other than io/config/internal map to distinct statuses.
    std::set<int> seen;
    for (int e = 0; e <= static_cast<int>(Errc::config); ++e) {
        const auto errc = static_cast<Errc>(e);
        if (errc == Errc::io || errc == Errc::config || errc == Errc::internal) continue;
        EXPECT_TRUE(seen.insert(to_status(errc)).second) << errc_name(errc);
        EXPECT_NE(to_status(errc), pb::STATUS_INTERNAL) << errc_name(errc);
    }
}

TEST_F(DispatcherTest, StopIsAnsweredAndTheStopHappensAfterTheReply) {
    ASSERT_EQ(hello().status(), pb::STATUS_OK);
    pb::Request req;
    req.set_id(7);
    req.mutable_stop();
    // Without a way to stop (as here), Stop is refused.
    auto refused = call(req);
    EXPECT_EQ(refused.status(), pb::STATUS_DENIED);
    EXPECT_FALSE(m_session.stop_requested);

    std::vector<Caller> stopped;
    Dispatcher::Options options;
    options.stop = [&](const Caller& c) { stopped.push_back(c); };
    Dispatcher with_stop(m_ring, std::move(options));
    Session session;
    pb::Request h;
    h.set_id(1);
    h.mutable_hello()->set_min_version(1);
    h.mutable_hello()->set_max_version(1);
    ASSERT_EQ(with_stop.handle(h, m_caller, session).status(), pb::STATUS_OK);
    const auto reply = with_stop.handle(req, m_caller, session);
    ASSERT_EQ(reply.status(), pb::STATUS_OK) << reply.message();
    EXPECT_EQ(reply.stop().pid(), static_cast<std::uint32_t>(::getpid()));
    EXPECT_TRUE(session.stop_requested);
    EXPECT_TRUE(stopped.empty()) << "stopped before the reply went out";
    with_stop.stop_after_reply(m_caller);
    ASSERT_EQ(stopped.size(), 1u);
    EXPECT_EQ(stopped[0].pid, m_caller.pid);
}

TEST_F(DispatcherTest, HelloNegotiatesAndAdvertisesLimits) {
    const auto resp = hello();
    ASSERT_EQ(resp.status(), pb::STATUS_OK) << resp.message();
    EXPECT_EQ(resp.hello().version(), 1u);
    EXPECT_EQ(resp.hello().max_frame(), proto::kDefaultMaxFrame);
    EXPECT_EQ(resp.hello().batch_limits_size(), 4);
    EXPECT_TRUE(m_session.negotiated);
    EXPECT_EQ(hello().status(), pb::STATUS_NOT_NEGOTIATED);
}

TEST_F(DispatcherTest, RequestsNeedHello) {
    pb::Request req;
    req.set_id(5);
    req.mutable_list_keys();
    const auto resp = call(req);
    EXPECT_EQ(resp.status(), pb::STATUS_NOT_NEGOTIATED);
    EXPECT_EQ(resp.id(), 5u);
}

TEST_F(DispatcherTest, GenerateSignListDelete) {
    ASSERT_EQ(hello().status(), pb::STATUS_OK);
    pb::Request gen;
    gen.set_id(2);
    gen.mutable_generate_key()->set_name("k1");
    const auto g = call(gen);
    ASSERT_EQ(g.status(), pb::STATUS_OK) << g.message();
    EXPECT_EQ(g.generate_key().key().type(), pb::KEY_TYPE_ECDSA_P256);  // the default type
    const std::string id = g.generate_key().key().id();

    pb::Request sign;
    sign.set_id(3);
    sign.mutable_sign()->set_key(id.substr(0, 12));  // a unique prefix
    sign.mutable_sign()->set_hash(pb::HASH_SHA256);
    const Bytes digest = sha256(as_bytes("hello"));
    sign.mutable_sign()->set_data(digest.data(), digest.size());
    const auto s = call(sign);
    ASSERT_EQ(s.status(), pb::STATUS_OK) << s.message();
    const auto& spki_s = g.generate_key().key().public_key();
    const Bytes spki(spki_s.begin(), spki_s.end());
    const Bytes sig(s.sign().signature().begin(), s.sign().signature().end());
    EXPECT_TRUE(backend::verify_signature(backend::KeyType::ecdsa_p256, spki, backend::HashAlg::sha256, digest, sig));

    pb::Request short_ref = sign;
    short_ref.mutable_sign()->set_key(id.substr(0, 3));
    EXPECT_NE(call(short_ref).status(), pb::STATUS_OK);

    pb::Request list;
    list.mutable_list_keys();
    EXPECT_EQ(call(list).list_keys().keys_size(), 1);

    pb::Request del;
    del.mutable_delete_key()->set_key(id);
    ASSERT_EQ(call(del).status(), pb::STATUS_OK);
    EXPECT_EQ(call(sign).status(), pb::STATUS_KEY_NOT_FOUND);
}

// A certificate (PEM, made by the openssl command line) for the public key `spki`.
std::string certificate_for(const std::string& spki, const std::filesystem::path& dir) {
    const auto pub = dir / "pub.der", issuer = dir / "issuer.pem", cert = dir / "cert.pem";
    std::ofstream(pub, std::ios::binary) << spki;
    const auto q = [](const std::filesystem::path& p) { return test::shell_quote(p.string()); };
    const auto r = test::run_command(
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + q(issuer) +
        " && openssl pkey -pubin -inform DER -in " + q(pub) + " -out " + q(dir / "pub.pem") +
        " && openssl x509 -new -subj /CN=repo -key " + q(issuer) + " -force_pubkey " + q(dir / "pub.pem") +
        " -days 30 -out " + q(cert) + " && cat " + q(cert));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
}

TEST_F(DispatcherTest, AnnotateKeyChecksWhatItRecords) {
    ASSERT_EQ(hello().status(), pb::STATUS_OK);
    pb::Request gen;
    gen.mutable_generate_key()->set_name("root");
    const auto root = call(gen).generate_key().key();
    gen.mutable_generate_key()->set_name("other");
    const auto other = call(gen).generate_key().key();
    test::TempDir dir;
    const std::string cert = certificate_for(root.public_key(), dir.path());

    pb::Request ann;
    ann.mutable_annotate_key()->set_key("root");
    EXPECT_EQ(call(ann).status(), pb::STATUS_INVALID_ARGUMENT);  // nothing to record
    ann.mutable_annotate_key()->add_certificates("not a certificate");
    EXPECT_EQ(call(ann).status(), pb::STATUS_INVALID_ARGUMENT);
    ann.mutable_annotate_key()->clear_certificates();
    ann.mutable_annotate_key()->add_uses()->set_repository("repo");  // no role
    EXPECT_EQ(call(ann).status(), pb::STATUS_INVALID_ARGUMENT);
    ann.mutable_annotate_key()->mutable_uses(0)->set_role(std::string("root\n", 5));
    EXPECT_EQ(call(ann).status(), pb::STATUS_INVALID_ARGUMENT);
    ann.mutable_annotate_key()->mutable_uses(0)->set_role("root");

    // A certificate of another key is refused, and nothing is recorded.
    pb::Request wrong = ann;
    wrong.mutable_annotate_key()->set_key("other");
    wrong.mutable_annotate_key()->add_certificates(cert);
    const auto refused = call(wrong);
    EXPECT_EQ(refused.status(), pb::STATUS_INVALID_ARGUMENT);
    EXPECT_NE(refused.message().find("another public key"), std::string::npos) << refused.message();

    ann.mutable_annotate_key()->add_certificates(cert);
    const auto done = call(ann);
    ASSERT_EQ(done.status(), pb::STATUS_OK) << done.message();
    ASSERT_EQ(done.annotate_key().key().uses_size(), 1);
    EXPECT_EQ(done.annotate_key().key().uses(0).repository(), "repo");
    ASSERT_EQ(done.annotate_key().key().certificate_ids_size(), 1);
    const std::string cert_id = done.annotate_key().key().certificate_ids(0);

    // The certificate id names the key; the list carries the records; other keys have none.
    pb::Request pub;
    pub.mutable_get_public_key()->set_key(cert_id.substr(0, 9));
    EXPECT_EQ(call(pub).get_public_key().key().id(), root.id());
    pb::Request list;
    list.mutable_list_keys();
    const auto listed = call(list);
    ASSERT_EQ(listed.list_keys().keys_size(), 2);
    for (const auto& k : listed.list_keys().keys())
        EXPECT_EQ(k.certificate_ids_size(), k.id() == root.id() ? 1 : 0) << k.name();
    EXPECT_NE(other.id(), root.id());
}

TEST_F(DispatcherTest, BadFramesGetStatusesNotExceptions) {
    const std::vector<std::uint8_t> empty;
    EXPECT_EQ(m_dispatcher->handle_frame(empty, m_caller, m_session).status(), pb::STATUS_MALFORMED);
    const std::vector<std::uint8_t> wrong_version{9, 0x08, 0x01};
    EXPECT_EQ(m_dispatcher->handle_frame(wrong_version, m_caller, m_session).status(),
              pb::STATUS_UNSUPPORTED_VERSION);
    const std::vector<std::uint8_t> junk{1, 0xff, 0xff, 0xff};
    EXPECT_EQ(m_dispatcher->handle_frame(junk, m_caller, m_session).status(), pb::STATUS_MALFORMED);
    pb::Request req;
    req.set_id(77);
    auto msg = proto::encode_message(req);
    msg.insert(msg.begin(), 1);
    const auto resp = m_dispatcher->handle_frame(msg, m_caller, m_session);
    EXPECT_EQ(resp.status(), pb::STATUS_UNKNOWN_REQUEST);
    EXPECT_EQ(resp.id(), 77u);
}

TEST_F(DispatcherTest, InvalidFieldsAreRefused) {
    ASSERT_EQ(hello().status(), pb::STATUS_OK);
    pb::Request gen;
    gen.mutable_generate_key()->set_name("");
    EXPECT_EQ(call(gen).status(), pb::STATUS_INVALID_ARGUMENT);
    gen.mutable_generate_key()->set_name("bad\nname");
    EXPECT_EQ(call(gen).status(), pb::STATUS_INVALID_ARGUMENT);
    gen.mutable_generate_key()->set_name("ok");
    gen.mutable_generate_key()->set_type(static_cast<pb::KeyType>(42));
    EXPECT_EQ(call(gen).status(), pb::STATUS_UNSUPPORTED_ALGORITHM);
    gen.mutable_generate_key()->set_type(pb::KEY_TYPE_ECDSA_P256);
    gen.mutable_generate_key()->set_backend("nope");
    EXPECT_EQ(call(gen).status(), pb::STATUS_KEY_NOT_FOUND);
    pb::Request imp;
    imp.mutable_import_key()->set_name("imp");
    imp.mutable_import_key()->set_pem("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n");
    EXPECT_EQ(call(imp).status(), pb::STATUS_BAD_KEY_FORMAT);
    pb::Request login;
    login.mutable_login();
    EXPECT_EQ(call(login).status(), pb::STATUS_INVALID_ARGUMENT);
    pb::Request st;
    st.mutable_get_status();
    const auto s = call(st);
    ASSERT_EQ(s.status(), pb::STATUS_OK);
    ASSERT_EQ(s.get_status().tokens_size(), 1);
    EXPECT_EQ(s.get_status().tokens(0).backend(), "hsm");
    EXPECT_TRUE(s.get_status().tokens(0).logged_in());
}

} // namespace
} // namespace trustkey::server
