#include "tests/tools/ceremony/online_targets_key.h"

#include <cstdlib>

#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/keys/public_key.h"
#include "lib/core/encoding.h"
#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/ceremony/ceremony_run.h"
#include "tools/trust/notary/notary_client.h"
#include "tools/trust/tuf/expiry.h"
#include "tools/trust/tuf/signed.h"
#include "tools/trust/tuf/targets.h"

namespace trustkey::test {

OnlineTargetsKey::OnlineTargetsKey() {
    add_softhsm_token("online", "3333");
    ::setenv("CEREMONY_TEST_ONLINE_PIN", "3333", 1);
    backend::pkcs11::Pkcs11Config config;
    config.name = "online";
    config.module = SoftHsmToken::module();
    config.token_uri = "pkcs11:token=online";
    config.pin = {backend::pkcs11::PinSource::Kind::env, "CEREMONY_TEST_ONLINE_PIN"};
    m_backend = backend::pkcs11::make_pkcs11_backend(config);
    m_key = m_backend->generate("targets", backend::KeyType::ecdsa_p256);
}

std::string OnlineTargetsKey::public_pem() const { return backend::spki_to_pem(m_key.spki_der); }

std::string OnlineTargetsKey::targets_file() {
    tuf::Targets targets;
    targets.common.version = 1;
    targets.common.expires = tuf::expiry_after(std::chrono::hours(24 * 365));
    tuf::Signed file("targets", targets.to_json());
    const tuf::SigningKey key{m_key.id, "ecdsa"};
    file.sign(std::span(&key, 1), [&](const std::string&, std::string_view, std::span<const std::uint8_t> msg) {
        return m_backend->sign(m_key, backend::HashAlg::sha256, sha256(msg));
    });
    return file.to_file();
}

NotaryListing OnlineTargetsKey::publish_and_list(const NotaryServer& server, const std::string& gun,
                                                const std::string& root_json) {
    http::ClientOptions tls;
    tls.ca_file = server.ca_cert_path();
    notary::NotaryClient client(server.url(), gun, tls);
    client.publish({{"root", root_json}, {"targets", targets_file()}});
    TempDir trust("ceremony-notary-client");
    NotaryListing out;
    out.list = server.run_notary(trust.path(), {"list", gun});
    const auto pinned = trust / ("tuf/" + gun + "/metadata/root.json");
    if (std::filesystem::exists(pinned)) out.pinned_root = read_file(pinned);
    return out;
}

} // namespace trustkey::test
