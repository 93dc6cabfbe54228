// `root sign` through the real binary on real SoftHSM2 tokens (in a network namespace of
// its own): root.json signed by K of N root keys, checked with the TUF library and then
// uploaded to the real notary-server and read by the real notary client.
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/backend/key_ring.h"
#include "lib/backend/pkcs11/pkcs11_config.h"
#include "lib/keys/public_key.h"
#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/ceremony/ceremony_run.h"
#include "tests/tools/ceremony/online_targets_key.h"
#include "tools/trust/notary/notary_client.h"
#include "tools/trust/tuf/canonical_json.h"
#include "tools/trust/tuf/certificate.h"
#include "tools/trust/tuf/expiry.h"
#include "tools/trust/tuf/root.h"
#include "tools/trust/tuf/signed.h"
#include "tools/trust/tuf/targets.h"

namespace trustkey::test {
namespace {

class RootSignTest : public ::testing::Test {
protected:
    void SetUp() override {
        add_softhsm_token("root-b", "2222");
        write_file(m_dir / "targets.pub", m_online.public_pem());
    }

    ProcessResult generate(const std::string& threshold) {
        return run_ceremony({"--transcript", m_transcript.string(), "root", "generate", "--gun", m_gun, "--token",
                             "pkcs11:token=root-a", "--token", "pkcs11:token=root-b", "--threshold", threshold,
                             "--out", m_keys.string()},
                            m_pins);
    }
    // Server-held snapshot and timestamp keys, as the notary server gives them out.
    void fetch_server_keys(const NotaryServer& server) {
        for (const char* role : {"snapshot", "timestamp"}) {
            const ProcessResult r = server.https_get("/v2/" + m_gun + "/_trust/tuf/" + role + ".key");
            ASSERT_EQ(r.exit_code, 0) << r.err;
            write_file(m_dir / (std::string(role) + ".key.json"), r.out);
        }
    }
    void write_local_role_keys() {
        // No server: the online side's snapshot and timestamp keys as certificates.
        make_self_signed_ec_cert(m_dir / "snapshot.key", m_dir / "snapshot.key.json", "snapshot");
        make_self_signed_ec_cert(m_dir / "timestamp.key", m_dir / "timestamp.key.json", "timestamp");
    }
    ProcessResult sign(const std::vector<std::string>& tokens, const CeremonyRun& run) {
        std::vector<std::string> args = {"--transcript", m_transcript.string(), "root", "sign", "--keys",
                                         m_keys.string(), "--targets", (m_dir / "targets.pub").string(),
                                         "--snapshot", (m_dir / "snapshot.key.json").string(), "--timestamp",
                                         (m_dir / "timestamp.key.json").string()};
        for (const auto& t : tokens) {
            args.push_back("--token");
            args.push_back(t);
        }
        return run_ceremony(args, run);
    }
    tuf::Signed root_file() const { return tuf::Signed::parse(read_file(m_keys / "root.json"), "root"); }

    SoftHsmToken m_a{"root-a", "1111"};
    OnlineTargetsKey m_online;
    TempDir m_dir{"ceremony-sign"};
    std::filesystem::path m_keys = m_dir / "keys";
    std::filesystem::path m_transcript = m_dir / "transcript.jsonl";
    std::string m_gun = "registry.example.com/ceremony/app";
    CeremonyRun m_pins{.env = {"TRUSTKEY_CEREMONY_PIN_1=1111", "TRUSTKEY_CEREMONY_PIN_2=2222"}};
};

TEST_F(RootSignTest, TwoOfTwoIsAcceptedByNotary) {
    NotaryServer server;
    fetch_server_keys(server);
    ASSERT_EQ(generate("2").exit_code, 0);
    const ProcessResult r = sign({"pkcs11:token=root-a", "pkcs11:token=root-b"}, m_pins);
    ASSERT_EQ(r.exit_code, 0) << r.err;

    const tuf::Signed file = root_file();
    const tuf::Root root = tuf::Root::from_json(file.body());
    EXPECT_EQ(root.common.version, 1);
    EXPECT_EQ(root.role("root").threshold, 2);
    EXPECT_EQ(root.role("root").keyids.size(), 2u);
    EXPECT_EQ(file.verify(root.role_key_map("root"), 2).size(), 2u);
    const auto keys = nlohmann::json::parse(read_file(m_keys / "root-keys.json"));
    for (const auto& k : keys["keys"])
        EXPECT_EQ(root.keys.at(k["x509_key_id"].get<std::string>()).keytype(), "ecdsa-x509");

    // The real notary-server takes root.json with a targets.json from the online side, and
    // the real notary client trusts it on first use and reads the repository.
    const NotaryListing seen = m_online.publish_and_list(server, m_gun, read_file(m_keys / "root.json"));
    EXPECT_EQ(seen.list.exit_code, 0) << seen.list.out << seen.list.err;
    EXPECT_NE(seen.list.out.find("No targets present in this repository"), std::string::npos) << seen.list.out;
    EXPECT_EQ(seen.pinned_root, read_file(m_keys / "root.json"));

    const ProcessResult v = run_ceremony({"transcript", "verify", m_transcript.string()}, {.isolated = false});
    EXPECT_EQ(v.exit_code, 0) << v.err;
    EXPECT_NE(v.out.find("root sign: done"), std::string::npos) << v.out;
}

TEST_F(RootSignTest, NotaryRefusesARootShortOfItsThreshold) {
    // The control for the test above: the same kind of root.json with one of its two
    // signatures removed is refused by the real server, so acceptance above means something.
    NotaryServer server;
    fetch_server_keys(server);
    ASSERT_EQ(generate("2").exit_code, 0);
    ASSERT_EQ(sign({"pkcs11:token=root-a", "pkcs11:token=root-b"}, m_pins).exit_code, 0);
    const tuf::Signed full = root_file();
    ASSERT_EQ(full.signatures().size(), 2u);
    const std::string short_file = tuf::file_form(full.canonical(), std::vector{full.signatures()[0]});
    http::ClientOptions tls;
    tls.ca_file = server.ca_cert_path();
    notary::NotaryClient client(server.url(), m_gun, tls);
    try {
        client.publish({{"root", short_file}, {"targets", m_online.targets_file()}});
        ADD_FAILURE() << "the server took a root.json with 1 of 2 signatures";
    } catch (const Error& e) {
        EXPECT_EQ(e.code_name(), "INVALID_UPDATE") << e.what();
    }
}

TEST_F(RootSignTest, OneOfTwoWithTheSecondToken) {
    write_local_role_keys();
    ASSERT_EQ(generate("1").exit_code, 0);
    const ProcessResult r = sign({"pkcs11:token=root-b"}, {.env = {"TRUSTKEY_CEREMONY_PIN_1=2222"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const tuf::Signed file = root_file();
    const tuf::Root root = tuf::Root::from_json(file.body());
    const auto keys = nlohmann::json::parse(read_file(m_keys / "root-keys.json"));
    const auto valid = file.verify(root.role_key_map("root"), 1);
    ASSERT_EQ(valid.size(), 1u);
    EXPECT_EQ(valid[0], keys["keys"][1]["x509_key_id"]);
    EXPECT_EQ(root.role("snapshot").keyids.size(), 1u);
    EXPECT_EQ(root.keys.at(root.role("snapshot").keyids[0]).keytype(), "ecdsa-x509");
}

TEST_F(RootSignTest, FewerTokensThanTheThresholdIsRefused) {
    write_local_role_keys();
    ASSERT_EQ(generate("2").exit_code, 0);
    const ProcessResult r = sign({"pkcs11:token=root-a"}, m_pins);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("needs 2 root signatures; only 1 --token given"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(m_keys / "root.json"));
}

TEST_F(RootSignTest, TokenWithoutARootKeyIsNamed) {
    write_local_role_keys();
    ASSERT_EQ(generate("1").exit_code, 0);
    const ProcessResult r = sign({"pkcs11:token=online"}, {.env = {"TRUSTKEY_CEREMONY_PIN=3333"}});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("token online (serial "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("holds none of the root keys of " + m_gun), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(m_keys / "root.json"));
}

TEST_F(RootSignTest, BadRoleKeyFileIsNamed) {
    write_local_role_keys();
    ASSERT_EQ(generate("1").exit_code, 0);
    write_file(m_dir / "timestamp.key.json", "not a key\n");
    const ProcessResult r = sign({"pkcs11:token=root-a"}, m_pins);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("timestamp key " + (m_dir / "timestamp.key.json").string()), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(m_keys / "root.json"));
}

TEST_F(RootSignTest, CertificateForAnotherGunIsRefused) {
    write_local_role_keys();
    ASSERT_EQ(generate("1").exit_code, 0);
    auto keys = nlohmann::json::parse(read_file(m_keys / "root-keys.json"));
    keys["gun"] = "registry.example.com/other";
    write_file(m_keys / "root-keys.json", keys.dump());
    const ProcessResult r = sign({"pkcs11:token=root-a"}, m_pins);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("root certificate " + (m_keys / "root-1.crt").string() +
                         " has a certificate for common name \"" + m_gun + "\""),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(std::filesystem::exists(m_keys / "root.json"));
}

TEST_F(RootSignTest, ExpiredCertificateIsRefused) {
    write_local_role_keys();
    ASSERT_EQ(generate("1").exit_code, 0);
    // An old ceremony's certificate for the same token key: valid for a day, two days ago.
    auto keys = nlohmann::json::parse(read_file(m_keys / "root-keys.json"));
    ::setenv("CEREMONY_TEST_ROOT_A_PIN", "1111", 1);
    backend::pkcs11::Pkcs11Config config{"root-a", SoftHsmToken::module(), "pkcs11:token=root-a",
                                         {backend::pkcs11::PinSource::Kind::env, "CEREMONY_TEST_ROOT_A_PIN"}, 1};
    auto token = backend::pkcs11::make_pkcs11_backend(config);
    const std::string key_id = keys["keys"][0]["key_id"];
    std::optional<backend::KeyInfo> key;
    for (const auto& k : token->list_keys())
        if (k.id == key_id) key = k;
    ASSERT_TRUE(key.has_value());
    tuf::CertificateRequest request;
    request.common_name = m_gun;
    request.spki_der = key->spki_der;
    request.not_before = std::chrono::system_clock::now() - std::chrono::hours(48);
    request.validity = std::chrono::hours(24);
    const std::string pem = tuf::make_root_certificate(request, [&](std::span<const std::uint8_t> digest) {
        return token->sign(*key, backend::HashAlg::sha256, digest);
    });
    write_file(m_keys / "root-1.crt", pem);
    keys["keys"][0]["x509_key_id"] = tuf::Key::from_certificate_pem(pem).id();
    write_file(m_keys / "root-keys.json", keys.dump());

    const ProcessResult r = sign({"pkcs11:token=root-a"}, m_pins);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("root certificate " + (m_keys / "root-1.crt").string() + " has a certificate that expired"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(std::filesystem::exists(m_keys / "root.json"));
}

TEST_F(RootSignTest, CertificateOfAnotherKeyIsRefused) {
    write_local_role_keys();
    ASSERT_EQ(generate("2").exit_code, 0);
    std::filesystem::copy_file(m_keys / "root-2.crt", m_keys / "root-1.crt",
                               std::filesystem::copy_options::overwrite_existing);
    const ProcessResult r = sign({"pkcs11:token=root-a", "pkcs11:token=root-b"}, m_pins);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find((m_keys / "root-1.crt").string() + " is not the certificate of root key "), std::string::npos)
        << r.err;
    EXPECT_FALSE(std::filesystem::exists(m_keys / "root.json"));
}

// Root rotation: new keys from a second `root generate`, root.json version 2 signed by
// the previous 2-of-2 and the new key, published; the real notary client that trusted
// version 1 follows the chain to version 2.
TEST_F(RootSignTest, RotationIsFollowedByTheNotaryClient) {
    NotaryServer server;
    fetch_server_keys(server);
    ASSERT_EQ(generate("2").exit_code, 0);
    ASSERT_EQ(sign({"pkcs11:token=root-a", "pkcs11:token=root-b"}, m_pins).exit_code, 0);
    http::ClientOptions tls;
    tls.ca_file = server.ca_cert_path();
    notary::NotaryClient client(server.url(), m_gun, tls);
    client.publish({{"root", read_file(m_keys / "root.json")}, {"targets", m_online.targets_file()}});
    TempDir trust("ceremony-notary-client");
    ASSERT_EQ(server.run_notary(trust.path(), {"list", m_gun}).exit_code, 0);

    add_softhsm_token("root-c", "4444");
    const std::filesystem::path new_keys = m_dir / "keys-2";
    const ProcessResult g = run_ceremony({"--transcript", m_transcript.string(), "root", "generate", "--gun", m_gun,
                                          "--token", "pkcs11:token=root-c", "--out", new_keys.string()},
                                         {.env = {"TRUSTKEY_CEREMONY_PIN_1=4444"}});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    const ProcessResult r = run_ceremony(
        {"--transcript", m_transcript.string(), "root", "rotate", "--keys", new_keys.string(), "--previous",
         (m_keys / "root.json").string(), "--token", "pkcs11:token=root-a", "--token", "pkcs11:token=root-b",
         "--token", "pkcs11:token=root-c"},
        {.env = {"TRUSTKEY_CEREMONY_PIN_1=1111", "TRUSTKEY_CEREMONY_PIN_2=2222", "TRUSTKEY_CEREMONY_PIN_3=4444"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;

    const tuf::Signed v1 = root_file();
    const tuf::Signed v2 = tuf::Signed::parse(read_file(new_keys / "root.json"), "root");
    const tuf::Root old_root = tuf::Root::from_json(v1.body());
    const tuf::Root new_root = tuf::Root::from_json(v2.body());
    EXPECT_EQ(new_root.common.version, 2);
    EXPECT_EQ(new_root.role("root").keyids.size(), 1u);
    EXPECT_EQ(v2.verify(old_root.role_key_map("root"), 2).size(), 2u);
    EXPECT_EQ(v2.verify(new_root.role_key_map("root"), 1).size(), 1u);
    EXPECT_EQ(new_root.role("targets").keyids, old_root.role("targets").keyids);
    EXPECT_EQ(new_root.role("timestamp").keyids, old_root.role("timestamp").keyids);

    client.publish({{"root", read_file(new_keys / "root.json")}});
    const ProcessResult list = server.run_notary(trust.path(), {"list", m_gun});
    EXPECT_EQ(list.exit_code, 0) << list.out << list.err;
    EXPECT_EQ(read_file(trust / ("tuf/" + m_gun + "/metadata/root.json")), read_file(new_keys / "root.json"));
}

TEST_F(RootSignTest, RotationWithoutThePreviousThresholdIsRefused) {
    write_local_role_keys();
    ASSERT_EQ(generate("2").exit_code, 0);
    ASSERT_EQ(sign({"pkcs11:token=root-a", "pkcs11:token=root-b"}, m_pins).exit_code, 0);
    add_softhsm_token("root-c", "4444");
    const std::filesystem::path new_keys = m_dir / "keys-2";
    ASSERT_EQ(run_ceremony({"--transcript", m_transcript.string(), "root", "generate", "--gun", m_gun, "--token",
                            "pkcs11:token=root-c", "--out", new_keys.string()},
                           {.env = {"TRUSTKEY_CEREMONY_PIN_1=4444"}})
                  .exit_code,
              0);
    // Only one of the two previous keys signs.
    const ProcessResult r = run_ceremony(
        {"--transcript", m_transcript.string(), "root", "rotate", "--keys", new_keys.string(), "--previous",
         (m_keys / "root.json").string(), "--token", "pkcs11:token=root-a", "--token", "pkcs11:token=root-c"},
        {.env = {"TRUSTKEY_CEREMONY_PIN_1=1111", "TRUSTKEY_CEREMONY_PIN_2=4444"}});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("previous root's threshold of 2"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(new_keys / "root.json"));
}

TEST_F(RootSignTest, ExportWritesTheWholePublicBundle) {
    write_local_role_keys();
    ASSERT_EQ(generate("2").exit_code, 0);
    ASSERT_EQ(sign({"pkcs11:token=root-a", "pkcs11:token=root-b"}, m_pins).exit_code, 0);
    const std::filesystem::path bundle = m_dir / "bundle";
    const ProcessResult r =
        run_ceremony({"--transcript", m_transcript.string(), "export", "--keys", m_keys.string(), bundle.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;

    const auto manifest = nlohmann::json::parse(read_file(bundle / "bundle.json"));
    std::set<std::string> names;
    for (const auto& [name, digest] : manifest["files"].items()) {
        names.insert(name);
        const CommandResult sum = run_command("sha256sum " + shell_quote((bundle / name).string()));
        EXPECT_EQ(sum.output.substr(0, 64), digest.get<std::string>()) << name;
        EXPECT_EQ(read_file(bundle / name).find("PRIVATE"), std::string::npos) << name;
    }
    EXPECT_EQ(names, (std::set<std::string>{"root.json", "root-keys.json", "root-1.crt", "root-1.pub", "root-2.crt",
                                            "root-2.pub", "transcript.jsonl"}));
    EXPECT_EQ(read_file(bundle / "root.json"), read_file(m_keys / "root.json"));
    // The bundle's transcript is the whole one, export included, and its chain holds.
    EXPECT_EQ(read_file(bundle / "transcript.jsonl"), read_file(m_transcript));
    const ProcessResult v = run_ceremony({"transcript", "verify", (bundle / "transcript.jsonl").string()},
                                         {.isolated = false});
    EXPECT_EQ(v.exit_code, 0) << v.err;
    EXPECT_NE(v.out.find("export"), std::string::npos) << v.out;

    // A second export into the same directory changes nothing.
    const std::string before = read_file(bundle / "bundle.json");
    const ProcessResult again =
        run_ceremony({"--transcript", m_transcript.string(), "export", "--keys", m_keys.string(), bundle.string()});
    EXPECT_EQ(again.exit_code, 1);
    EXPECT_NE(again.err.find(bundle.string() + " exists"), std::string::npos) << again.err;
    EXPECT_EQ(read_file(bundle / "bundle.json"), before);
}

TEST_F(RootSignTest, ExportRefusesARootShortOfItsThreshold) {
    write_local_role_keys();
    ASSERT_EQ(generate("2").exit_code, 0);
    ASSERT_EQ(sign({"pkcs11:token=root-a", "pkcs11:token=root-b"}, m_pins).exit_code, 0);
    const tuf::Signed full = root_file();
    write_file(m_keys / "root.json", tuf::file_form(full.canonical(), std::vector{full.signatures()[1]}));
    const std::filesystem::path bundle = m_dir / "bundle";
    const ProcessResult r =
        run_ceremony({"--transcript", m_transcript.string(), "export", "--keys", m_keys.string(), bundle.string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    EXPECT_NE(r.err.find("root: 1 valid signature(s), threshold 2"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(bundle));
    for (const auto& entry : std::filesystem::directory_iterator(m_dir.path()))
        EXPECT_EQ(entry.path().filename().string().find("bundle.tmp"), std::string::npos) << entry.path();
}

// The same root keys for a second repository: `root certify` makes certificates with that
// GUN, and the root.json signed from them is accepted by the real notary server and client.
TEST_F(RootSignTest, CertifiedForAnotherRepository) {
    NotaryServer server;
    ASSERT_EQ(generate("2").exit_code, 0);
    const std::string other = "registry.example.com/ceremony/other";
    const std::filesystem::path other_keys = m_dir / "other";
    const ProcessResult c = run_ceremony({"--transcript", m_transcript.string(), "root", "certify", "--keys",
                                          m_keys.string(), "--gun", other, "--token", "pkcs11:token=root-a",
                                          "--token", "pkcs11:token=root-b", "--out", other_keys.string()},
                                         m_pins);
    ASSERT_EQ(c.exit_code, 0) << c.err;
    const auto first = nlohmann::json::parse(read_file(m_keys / "root-keys.json"));
    const auto second = nlohmann::json::parse(read_file(other_keys / "root-keys.json"));
    EXPECT_EQ(second["gun"], other);
    EXPECT_EQ(second["threshold"], 2);
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(second["keys"][i]["key_id"], first["keys"][i]["key_id"]);  // the same token keys
        EXPECT_NE(second["keys"][i]["x509_key_id"], first["keys"][i]["x509_key_id"]);
        const CommandResult subject = run_command(
            "openssl x509 -noout -subject -in " + shell_quote((other_keys / second["keys"][i]["certificate"].get<std::string>()).string()));
        EXPECT_NE(subject.output.find("CN = " + other), std::string::npos) << subject.output;
    }

    for (const char* role : {"snapshot", "timestamp"}) {
        const ProcessResult r = server.https_get("/v2/" + other + "/_trust/tuf/" + role + ".key");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        write_file(m_dir / (std::string(role) + ".key.json"), r.out);
    }
    const ProcessResult r = run_ceremony(
        {"--transcript", m_transcript.string(), "root", "sign", "--keys", other_keys.string(), "--targets",
         (m_dir / "targets.pub").string(), "--snapshot", (m_dir / "snapshot.key.json").string(), "--timestamp",
         (m_dir / "timestamp.key.json").string(), "--token", "pkcs11:token=root-a", "--token", "pkcs11:token=root-b"},
        m_pins);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const NotaryListing seen = m_online.publish_and_list(server, other, read_file(other_keys / "root.json"));
    EXPECT_EQ(seen.list.exit_code, 0) << seen.list.out << seen.list.err;
    EXPECT_EQ(seen.pinned_root, read_file(other_keys / "root.json"));
}

TEST_F(RootSignTest, CertifyWithATokenWithoutTheKeysIsRefused) {
    ASSERT_EQ(generate("1").exit_code, 0);
    const std::filesystem::path other_keys = m_dir / "other";
    const ProcessResult c = run_ceremony({"--transcript", m_transcript.string(), "root", "certify", "--keys",
                                          m_keys.string(), "--gun", "example.com/other", "--token",
                                          "pkcs11:token=online", "--out", other_keys.string()},
                                         {.env = {"TRUSTKEY_CEREMONY_PIN=3333"}});
    EXPECT_EQ(c.exit_code, 1);
    EXPECT_EQ(c.err_lines(), 1u) << c.err;
    EXPECT_NE(c.err.find("token online (serial "), std::string::npos) << c.err;
    EXPECT_NE(c.err.find("holds none of the root keys of " + m_gun), std::string::npos) << c.err;
    EXPECT_FALSE(std::filesystem::exists(other_keys));
}

} // namespace
} // namespace trustkey::test
