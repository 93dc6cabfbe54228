// trustkey::notary::NotaryClient against the real notary-server and notary-signer,
// with repositories made and published by the real notary CLI.
#include "tools/trust/notary/notary_client.h"
#include "tests/fixtures/expect_error.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/temp_dir.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;
using notary::NotaryClient;

constexpr const char* kGun = "example.com/app";

std::string describe(const ProcessResult& r) {
    return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") + "\nstdout:\n" + r.out +
           "\nstderr:\n" + r.err;
}

using test::expect_error;

std::string type_of(const std::string& bytes) {
    const auto doc = nlohmann::json::parse(bytes, nullptr, false);
    if (!doc.is_object() || !doc.contains("signed") || !doc["signed"].is_object()) return "<not TUF metadata>";
    return doc["signed"].value("_type", "<no _type>");
}

class NotaryClientTest : public ::testing::Test {
protected:
    ProcessResult notary(const std::vector<std::string>& args) {
        ProcessResult r = m_server.run_notary(m_trust, args);
        std::string line = "notary";
        for (const auto& a : args) line += " " + a;
        EXPECT_EQ(r.exit_code, 0) << line << ": " << describe(r) << "\n" << m_server.log_tail(10);
        return r;
    }

    NotaryClient client(const std::string& gun = kGun) {
        http::ClientOptions options;
        options.ca_file = m_server.ca_cert_path();
        options.timeout = std::chrono::seconds(30);
        return NotaryClient(m_server.url(), gun, options);
    }

    // init + a target + publish, then a targets/releases delegation with a target of
    // its own, published.
    void make_repository_with_delegation() {
        const fs::path file = m_work / "v1.bin";
        std::ofstream(file, std::ios::binary) << "first release\n";
        notary({"init", kGun});
        notary({"add", kGun, "v1", file.string()});
        notary({"publish", kGun});
        const fs::path key = m_work / "releases.key";
        const fs::path cert = m_work / "releases.crt";
        make_self_signed_ec_cert(key, cert, "releases", 3650);
        notary({"delegation", "add", kGun, "targets/releases", cert.string(), "--all-paths"});
        notary({"publish", kGun});
        notary({"key", "import", key.string(), "--role", "targets/releases"});
        notary({"add", kGun, "v2", file.string(), "--roles", "targets/releases"});
        notary({"publish", kGun});
    }

    std::string tuf_path(const std::string& file) const { return std::string("/v2/") + kGun + "/_trust/tuf/" + file; }

    NotaryServer m_server;
    TempDir m_work{"trustkey-notary-client"};
    fs::path m_trust = m_work / "trust";
};

TEST_F(NotaryClientTest, FetchesEveryRoleExactlyAsServed) {
    make_repository_with_delegation();
    NotaryClient c = client();
    const std::vector<std::pair<std::string, std::string>> roles = {{"root", "Root"},
                                                                    {"targets", "Targets"},
                                                                    {"snapshot", "Snapshot"},
                                                                    {"timestamp", "Timestamp"},
                                                                    {"targets/releases", "Targets"}};
    for (const auto& [role, type] : roles) {
        const auto bytes = c.get_role(role);
        ASSERT_TRUE(bytes.has_value()) << role;
        EXPECT_EQ(type_of(*bytes), type) << role << ": " << *bytes;
        // The same bytes curl gets: nothing re-serialized.
        const ProcessResult raw = m_server.https_get(tuf_path(role + ".json"));
        ASSERT_EQ(raw.exit_code, 0) << describe(raw);
        EXPECT_EQ(*bytes, raw.out) << role;
    }
    const auto releases = nlohmann::json::parse(*c.get_role("targets/releases"));
    EXPECT_TRUE(releases["signed"]["targets"].contains("v2")) << releases.dump();
}

TEST_F(NotaryClientTest, FetchesByVersionAndByChecksum) {
    make_repository_with_delegation();
    NotaryClient c = client();

    const auto root = c.get_role("root");
    ASSERT_TRUE(root.has_value());
    const auto root_v1 = c.get_role_version("root", 1);
    ASSERT_TRUE(root_v1.has_value());
    EXPECT_EQ(*root_v1, *root); // root was never rotated
    // `init` + `add` + `publish` uploads targets version 2 first (init staged version 1).
    const auto targets_v1 = c.get_role_version("targets", 2);
    const auto targets = c.get_role("targets");
    ASSERT_TRUE(targets.has_value());
    ASSERT_TRUE(targets_v1.has_value() && targets.has_value());
    EXPECT_EQ(nlohmann::json::parse(*targets_v1)["signed"]["version"], 2);
    EXPECT_GT(nlohmann::json::parse(*targets)["signed"]["version"].get<int>(), 2);
    EXPECT_FALSE(c.get_role_version("targets", 1).has_value());
    EXPECT_FALSE(c.get_role_version("root", 99).has_value());

    // The snapshot named in timestamp's meta, by its SHA-256 (base64 in the metadata).
    const auto timestamp = nlohmann::json::parse(*c.get_role("timestamp"));
    const std::string b64 = timestamp["signed"]["meta"]["snapshot"]["hashes"]["sha256"];
    const auto digest = from_base64(b64);
    ASSERT_TRUE(digest.has_value()) << b64;
    const std::string hex = to_hex(*digest);
    const auto snapshot = c.get_role_by_hash("snapshot", hex);
    ASSERT_TRUE(snapshot.has_value());
    EXPECT_EQ(to_hex(sha256(as_bytes(*snapshot))), hex);
    EXPECT_EQ(*snapshot, *c.get_role("snapshot"));
    EXPECT_EQ(timestamp["signed"]["meta"]["snapshot"]["length"].get<std::size_t>(), snapshot->size());

    // Upper-case hex is sent lower-case, which is what the store matches.
    std::string upper = hex;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    EXPECT_EQ(c.get_role_by_hash("snapshot", upper), snapshot);

    EXPECT_FALSE(c.get_role_by_hash("snapshot", std::string(64, '0')).has_value());
    EXPECT_EQ(expect_error([&] { (void)c.get_role_by_hash("snapshot", "abc"); }).errc(), Errc::invalid_argument);
    EXPECT_EQ(expect_error([&] { (void)c.get_role_by_hash("snapshot", std::string(64, 'g')); }).errc(),
              Errc::invalid_argument);
}

TEST_F(NotaryClientTest, MissingMetadataIsNullopt) {
    NotaryClient none = client("example.com/never-published");
    EXPECT_FALSE(none.get_role("root").has_value());
    EXPECT_FALSE(none.get_role("timestamp").has_value());

    notary({"init", kGun});
    notary({"publish", kGun});
    NotaryClient c = client();
    EXPECT_TRUE(c.get_role("root").has_value());
    EXPECT_FALSE(c.get_role("targets/nobody").has_value());
}

TEST_F(NotaryClientTest, ServerKeysParseAsTufKeysAndRotate) {
    notary({"init", kGun});
    notary({"publish", kGun});
    NotaryClient c = client();

    const auto key = nlohmann::json::parse(c.get_key("timestamp"));
    EXPECT_EQ(key.value("keytype", ""), "ecdsa");
    const std::string pub = key["keyval"].value("public", "");
    ASSERT_TRUE(from_base64(pub).has_value()) << key.dump();
    EXPECT_TRUE(key["keyval"]["private"].is_null());
    // Once a root lists it, the same key comes back every time, and it is the
    // timestamp key in root.json.
    EXPECT_EQ(nlohmann::json::parse(c.get_key("timestamp")), key);
    const auto root = nlohmann::json::parse(*c.get_role("root"));
    bool listed = false;
    for (const auto& id : root["signed"]["roles"]["timestamp"]["keyids"])
        listed = listed || root["signed"]["keys"][id.get<std::string>()]["keyval"]["public"] == pub;
    EXPECT_TRUE(listed) << root.dump();

    const auto snapshot_key = nlohmann::json::parse(c.get_key("snapshot"));
    EXPECT_EQ(snapshot_key.value("keytype", ""), "ecdsa");

    // A rotation makes a new pending key.
    const auto rotated = nlohmann::json::parse(c.rotate_key("timestamp"));
    EXPECT_EQ(rotated.value("keytype", ""), "ecdsa");
    EXPECT_NE(rotated["keyval"].value("public", ""), pub);

    for (const char* role : {"root", "targets", "targets/releases", ""}) {
        EXPECT_EQ(expect_error([&] { (void)c.get_key(role); }).errc(), Errc::invalid_argument) << role;
        EXPECT_EQ(expect_error([&] { (void)c.rotate_key(role); }).errc(), Errc::invalid_argument) << role;
    }
}

TEST_F(NotaryClientTest, GarbageUploadIsRefusedWithTheServersCode) {
    NotaryClient c = client();
    const Error e = expect_error([&] { c.publish({{"root", "this is not json"}}); });
    EXPECT_EQ(e.code(), 400u) << e.what();
    EXPECT_EQ(e.errc(), Errc::invalid_argument);
    EXPECT_EQ(e.code_name(), "MALFORMED_JSON") << e.what();
    EXPECT_NE(e.message().find("HTTP 400"), std::string::npos) << e.what();
    EXPECT_NE(e.message().find("MALFORMED_JSON"), std::string::npos) << e.what();
    EXPECT_NE(e.message().find(c.tuf_url("")), std::string::npos) << e.what();
    EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.what();
    // Nothing was stored.
    EXPECT_FALSE(c.get_role("root").has_value());
}

TEST_F(NotaryClientTest, StaleRootIsRefused) {
    notary({"init", kGun});
    notary({"publish", kGun});
    NotaryClient c = client();
    const auto root = c.get_role("root");
    const auto snapshot = c.get_role("snapshot");
    const auto targets = c.get_role("targets");
    ASSERT_TRUE(root && snapshot && targets);

    // The current files again, all together: refused as not newer than what is stored.
    const Error all = expect_error([&] { c.publish({{"root", *root}, {"snapshot", *snapshot}, {"targets", *targets}}); });
    EXPECT_EQ(all.code(), 400u) << all.what();
    EXPECT_EQ(all.code_name(), "VERSION") << all.what();
    EXPECT_NE(all.message().find("HTTP 400: VERSION: "), std::string::npos) << all.what();
    EXPECT_EQ(all.message().find("{}"), std::string::npos) << all.what(); // no empty detail shown

    // root.json alone while the snapshot key is the client's: the server would have to
    // sign a new snapshot, cannot, and says so before it compares versions.
    const Error alone = expect_error([&] { c.publish({{"root", *root}}); });
    EXPECT_EQ(alone.code(), 400u) << alone.what();
    EXPECT_EQ(alone.code_name(), "INVALID_UPDATE") << alone.what();
    EXPECT_NE(alone.message().find("(ErrValidation: "), std::string::npos) << alone.what();

    // With a server-managed snapshot the same upload reaches the version check.
    notary({"key", "rotate", kGun, "snapshot", "-r"});
    const auto rotated_root = c.get_role("root");
    ASSERT_TRUE(rotated_root.has_value());
    EXPECT_NE(*rotated_root, *root);
    const Error stale = expect_error([&] { c.publish({{"root", *rotated_root}}); });
    EXPECT_EQ(stale.code(), 400u) << stale.what();
    EXPECT_EQ(stale.code_name(), "VERSION") << stale.what();
    // Nothing changed on the server.
    EXPECT_EQ(c.get_role("root"), rotated_root);
}

TEST_F(NotaryClientTest, DeleteRemovesTheRepository) {
    notary({"init", kGun});
    notary({"publish", kGun});
    NotaryClient c = client();
    ASSERT_TRUE(c.get_role("root").has_value());
    c.delete_repository();
    EXPECT_FALSE(c.get_role("root").has_value());
    EXPECT_FALSE(c.get_role("timestamp").has_value());
}

TEST_F(NotaryClientTest, GunWithPortAndSlashesIsKeptAsAPath) {
    const std::string gun = "127.0.0.1:5000/library/app";
    notary({"init", gun});
    notary({"publish", gun});
    NotaryClient c = client(gun);
    EXPECT_EQ(c.tuf_url("root.json"), m_server.url() + "/v2/127.0.0.1:5000/library/app/_trust/tuf/root.json");
    const auto root = c.get_role("root");
    ASSERT_TRUE(root.has_value());
    EXPECT_EQ(type_of(*root), "Root");
    EXPECT_FALSE(client("127.0.0.1:5000/library").get_role("root").has_value());
}

TEST(NotaryClientInput, BadUrlGunRoleAndEmptyPublishAreRefusedLocally) {
    // Port 1 on loopback: nothing here may reach the network.
    const std::string url = "http://127.0.0.1:1";
    for (const std::string gun : {"", "a//b", "/a", "a/", "../x", "a/./b", "a b", "a\nb", "a/*"})
        EXPECT_EQ(expect_error([&] { NotaryClient(url, gun); }).errc(), Errc::invalid_argument) << gun;
    for (const std::string base : {"ftp://h", "h:4443", "", "https://h/?q"})
        EXPECT_EQ(expect_error([&] { NotaryClient(base, "g"); }).errc(), Errc::invalid_argument) << base;

    NotaryClient c(url + "/", "example.com/app");
    EXPECT_EQ(c.base_url(), url);
    // Characters outside a path segment's set are escaped.
    EXPECT_EQ(NotaryClient(url, "a%b/c@d").tuf_url("x"), url + "/v2/a%25b/c@d/_trust/tuf/x");
    for (const std::string role : {"", "foo", "targets/", "targets//a", "targets/../root", "Root", "targets/a b"}) {
        EXPECT_FALSE(NotaryClient::is_valid_role(role)) << role;
        EXPECT_EQ(expect_error([&] { (void)c.get_role(role); }).errc(), Errc::invalid_argument) << role;
        EXPECT_EQ(expect_error([&] { c.publish({{role, "{}"}}); }).errc(), Errc::invalid_argument) << role;
    }
    for (const std::string role : {"root", "targets", "snapshot", "timestamp", "targets/releases", "targets/a/b"})
        EXPECT_TRUE(NotaryClient::is_valid_role(role)) << role;
    EXPECT_EQ(expect_error([&] { c.publish({}); }).errc(), Errc::invalid_argument);
}

TEST(NotaryClientInput, UnreachableServerIsAnIoErrorNamingTheServerOnce) {
    NotaryClient c("http://127.0.0.1:1", "example.com/app", {}, {"tls hint", "failure hint"});
    const Error e = expect_error([&] { (void)c.get_role("root"); });
    EXPECT_EQ(e.errc(), Errc::io);
    const std::string line = e.user_message();
    EXPECT_EQ(line.rfind("cannot reach the trust server http://127.0.0.1:1 for root.json: ", 0), 0u) << line;
    EXPECT_EQ(line.find("http://", line.find("http://") + 1), std::string::npos) << line;  // the URL once
    EXPECT_EQ(line.find("curl_easy_perform"), std::string::npos) << line;
    // Not a TLS failure: only the caller's words for any failure.
    EXPECT_EQ(line.find("tls hint"), std::string::npos) << line;
    EXPECT_NE(line.find(" (failure hint)"), std::string::npos) << line;
}

TEST_F(NotaryClientTest, TlsFailureCarriesTheCaHint) {
    NotaryClient c(m_server.url(), kGun, {}, {"the CA goes here", {}});  // the system CAs only
    const Error e = expect_error([&] { (void)c.get_role("root"); });
    EXPECT_EQ(e.errc(), Errc::io);
    EXPECT_NE(e.user_message().find(" (the CA goes here)"), std::string::npos) << e.user_message();
}

TEST_F(NotaryClientTest, SignerDownIsAServerFailureNamingTheServerOnce) {
    m_server.stop_signer();
    NotaryClient c = client("example.com/signer-down");
    const Error e = expect_error([&] { (void)c.get_key("timestamp"); });
    EXPECT_EQ(e.errc(), Errc::io);
    EXPECT_EQ(e.code(), 500u);
    const std::string line = e.user_message();
    EXPECT_EQ(line.rfind("notary server " + m_server.url() + " failed with server error 500", 0), 0u) << line;
    EXPECT_NE(line.find(" on GET timestamp.key: its signer or storage back end may be down"), std::string::npos)
        << line;
    EXPECT_EQ(line.find("https://", line.find("https://") + 1), std::string::npos) << line;
}

} // namespace
} // namespace trustkey::test
