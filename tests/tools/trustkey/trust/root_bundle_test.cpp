// Repositories rooted offline: `trustkey trust key prepare-root` on the online side, the
// real trustkey-ceremony (root generate / sign / rotate / export on SoftHSM2 tokens, in a
// network namespace of its own), then `trust signer add|sign --root-bundle` and
// `trust key rotate REPO root --root-bundle` against a real trustkeyd and notary server;
// the real notary CLI and Debian's `docker trust inspect` read the result, before and after
// the offline rotation with caches made before it. Bad bundles are refused with one line
// and leave the server and the trust directory untouched.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lib/core/encoding.h"
#include "tests/fixtures/fixture_io.h"
#include "tests/fixtures/notary_server.h"
#include "tests/fixtures/softhsm_token.h"
#include "tests/fixtures/temp_dir.h"
#include "tests/tools/ceremony/ceremony_run.h"
#include "tests/tools/trustkey/cli_daemon.h"
#include "tests/tools/trustkey/trust/docker_trust.h"
#include "tools/trust/tuf/canonical_json.h"
#include "tools/trust/tuf/signed.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;

const std::string kDigestHex(64, 'c');
constexpr const char* kGun = "registry.example.com/team/offline";
constexpr const char* kOtherGun = "registry.example.com/team/elsewhere";

class RootBundleTest : public ::testing::Test {
protected:
    void SetUp() override {
        add_softhsm_token("root-b", "2222");
        add_softhsm_token("root-c", "3333");
        add_softhsm_token("root-d", "4444");
    }

    std::string image(const std::string& tag = {}) const { return std::string(kGun) + (tag.empty() ? "" : ":" + tag); }

    // `trustkey trust …` against the fixtures, with m_trust_dir; `prefix` runs first (faketime).
    ProcessResult trust(const std::vector<std::string>& args, const std::vector<std::string>& prefix = {}) const {
        std::vector<std::string> argv = prefix;
        argv.insert(argv.end(), {trustkey_cli_path(), "--socket", m_daemon.socket_path().string(), "trust", "--server",
                                 m_notary.url(), "--tlscacert", m_notary.ca_cert_path().string(), "--trust-dir",
                                 m_trust_dir.string()});
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessOptions o;
        o.env = {"DOCKER_CONFIG=" + (m_work / "docker").string()};
        // faketime preloads its library, which AddressSanitizer refuses unless told otherwise.
        const char* asan = std::getenv("ASAN_OPTIONS");
        o.env.push_back(std::string("ASAN_OPTIONS=") + (asan ? std::string(asan) + ":" : "") +
                        "verify_asan_link_order=0");
        o.unset = {"DOCKER_CONTENT_TRUST_SERVER", "TRUSTKEY_SOCK"};
        return run_process(argv, o);
    }

    std::string describe(const ProcessResult& r) const {
        return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err + "\n" +
               m_notary.log_tail(10);
    }

    // trustkey-ceremony with the shared transcript and the PIN of each --token, under `unshare -n`.
    void ceremony(std::vector<std::string> args) {
        static const std::map<std::string, std::string> pins = {
            {"root-a", "1111"}, {"root-b", "2222"}, {"root-c", "3333"}, {"root-d", "4444"}};
        CeremonyRun run;
        for (std::size_t i = 0, n = 0; i + 1 < args.size(); ++i)
            if (args[i] == "--token")
                run.env.push_back("TRUSTKEY_CEREMONY_PIN_" + std::to_string(++n) + "=" +
                                  pins.at(args[i + 1].substr(std::string("pkcs11:token=").size())));
        args.insert(args.begin(), {"--transcript", (m_work / "transcript.jsonl").string()});
        const ProcessResult r = run_ceremony(args, run);
        ASSERT_EQ(r.exit_code, 0) << describe(r);
    }
    static std::vector<std::string> tokens(const std::vector<std::string>& labels) {
        std::vector<std::string> out;
        for (const auto& label : labels) out.insert(out.end(), {"--token", "pkcs11:token=" + label});
        return out;
    }

    // `trust key prepare-root` into m_online; expects success and returns its output.
    std::string prepare(const std::vector<std::string>& extra = {}) {
        std::vector<std::string> args{"key", "prepare-root", image(), "--out", m_online.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        const ProcessResult r = trust(args);
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        return r.out;
    }

    // root generate (2 of `labels`) for `gun` into `keys`, then sign and export to `bundle`.
    void make_bundle(const std::string& gun, const fs::path& keys, const fs::path& bundle,
                     const std::vector<std::string>& labels, const std::vector<std::string>& generate_extra = {}) {
        std::vector<std::string> gen{"root", "generate", "--gun", gun, "--threshold", "2", "--out", keys.string()};
        for (const auto& t : tokens(labels)) gen.push_back(t);
        gen.insert(gen.end(), generate_extra.begin(), generate_extra.end());
        ceremony(gen);
        sign_and_export(keys, bundle, labels);
    }
    // root sign with the prepared online keys (`online` replaces a role's file), then export.
    void sign_and_export(const fs::path& keys, const fs::path& bundle, const std::vector<std::string>& labels,
                         const std::map<std::string, std::string>& online = {},
                         const std::vector<std::string>& extra = {}) {
        const fs::path out = keys / ("root-" + bundle.filename().string() + ".json");
        std::vector<std::string> sign{"root", "sign", "--keys", keys.string(), "--out", out.string()};
        for (const std::string role : {"targets", "snapshot", "timestamp"}) {
            const auto given = online.find(role);
            sign.insert(sign.end(), {"--" + role, given == online.end() ? online_file(role) : given->second});
        }
        for (const auto& t : tokens(labels)) sign.push_back(t);
        sign.insert(sign.end(), extra.begin(), extra.end());
        ceremony(sign);
        ceremony({"export", "--keys", keys.string(), "--root", out.string(), bundle.string()});
    }
    // root rotate from `previous` (signed on `labels`: the previous keys' tokens, then the
    // new ones of `keys`), then export to `bundle`.
    void rotate_and_export(const fs::path& keys, const fs::path& previous, const fs::path& bundle,
                           const std::vector<std::string>& labels,
                           const std::map<std::string, std::string>& online = {}) {
        const fs::path out = keys / ("root-" + bundle.filename().string() + ".json");
        std::vector<std::string> rotate{"root", "rotate", "--previous", previous.string(), "--keys", keys.string(),
                                        "--out", out.string()};
        for (const auto& [role, file] : online) rotate.insert(rotate.end(), {"--" + role, file});
        for (const auto& t : tokens(labels)) rotate.push_back(t);
        ceremony(rotate);
        ceremony({"export", "--keys", keys.string(), "--root", out.string(), bundle.string()});
    }
    // The prepared file of `role` (targets.pub, snapshot.key or snapshot.pub, timestamp.key).
    std::string online_file(const std::string& role) const {
        const auto note = nlohmann::json::parse(read_file(m_online / "online-keys.json"));
        return (m_online / note.at("keys").at(role).at("file").get<std::string>()).string();
    }

    ProcessResult signer_add(const fs::path& bundle) {
        if (!fs::exists(m_work / "alice.pub")) {
            const ProcessResult gen = trust({"key", "generate", "alice", "--dir", m_work.path().string()});
            EXPECT_EQ(gen.exit_code, 0) << describe(gen);
        }
        return trust({"signer", "add", "--key", (m_work / "alice.pub").string(), "alice", image(), "--root-bundle",
                      bundle.string()});
    }
    void sign(const std::string& tag) {
        const ProcessResult r = trust({"sign", image(tag), "--digest", "sha256:" + kDigestHex, "--size", "42"});
        ASSERT_EQ(r.exit_code, 0) << describe(r);
    }

    // The role's file as the server serves it; "absent" when it serves none.
    std::string served(const std::string& role) const {
        const ProcessResult r = m_notary.https_get("/v2/" + std::string(kGun) + "/_trust/tuf/" + role + ".json");
        return r.exit_code == 0 ? r.out : std::string("absent");
    }
    static std::vector<std::string> signature_ids(const std::string& file) {
        std::vector<std::string> ids;
        const nlohmann::json parsed = nlohmann::json::parse(file);
        for (const auto& sig : parsed.at("signatures")) ids.push_back(sig.at("keyid"));
        std::sort(ids.begin(), ids.end());
        return ids;
    }
    static std::vector<std::string> root_key_ids(const std::string& root_file) {
        std::vector<std::string> ids =
            nlohmann::json::parse(root_file).at("signed").at("roles").at("root").at("keyids");
        std::sort(ids.begin(), ids.end());
        return ids;
    }

    // Whether `notary list` with the trust directory `dir` lists `tag` with the signed digest.
    bool listed_in(const fs::path& dir, const std::string& tag) {
        const ProcessResult r = m_notary.run_notary(dir, {"list", kGun});
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        std::istringstream lines(r.out);
        for (std::string line; std::getline(lines, line);)
            if (line.rfind(tag + " ", 0) == 0) return line.find(kDigestHex) != std::string::npos;
        return false;
    }

    // Debian's `docker trust inspect REPO`, with its trust cache in m_work/docker.
    nlohmann::json docker_inspect() const {
        return docker_trust_inspect(m_notary, m_work / "docker", m_work.path(), kGun);
    }

    static std::int64_t cached_root_version(const fs::path& dir) {
        std::ifstream in(dir / "tuf" / kGun / "metadata" / "root.json");
        const nlohmann::json root = nlohmann::json::parse(in, nullptr, false);
        return root.is_discarded() ? -1 : root.at("signed").at("version").get<std::int64_t>();
    }

    // Every file under `dir` with its content ("" for a directory), to compare before and after.
    static std::map<std::string, std::string> tree(const fs::path& dir) {
        std::map<std::string, std::string> out;
        if (!fs::exists(dir)) return out;
        for (const auto& entry : fs::recursive_directory_iterator(dir))
            out[entry.path().string()] = entry.is_regular_file() ? read_file(entry.path()) : std::string();
        return out;
    }

    // Names of the keys trustkeyd holds.
    std::vector<std::string> agent_key_names() const {
        const ProcessResult r = m_daemon.trustkey({"key", "list", "--json"});
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        std::vector<std::string> names;
        for (const auto& k : nlohmann::json::parse(r.out, nullptr, false)) names.push_back(k.value("name", ""));
        return names;
    }

    SoftHsmToken m_root_a{"root-a", "1111"};
    NotaryServer m_notary;
    CliDaemon m_daemon;
    TempDir m_work{"trustkey-root-bundle"};
    fs::path m_trust_dir = m_work / "trust";
    fs::path m_online = m_work / "online";
};

TEST_F(RootBundleTest, InitializedOfflineThenReRootedOffline) {
    const std::string prepared = prepare();
    const auto note = nlohmann::json::parse(read_file(m_online / "online-keys.json"));
    EXPECT_EQ(note.at("gun"), kGun);
    EXPECT_EQ(note.at("keys").at("targets").at("held_by"), "trustkeyd");
    EXPECT_EQ(note.at("keys").at("snapshot").at("held_by"), "notary server");
    EXPECT_EQ(note.at("keys").at("timestamp").at("held_by"), "notary server");
    const std::string targets_id = note.at("keys").at("targets").at("key_id");
    EXPECT_EQ(m_daemon.trustkey({"key", "public", targets_id}).exit_code, 0);
    // The key it made records the repository and role it is for.
    const ProcessResult listed = m_daemon.trustkey({"key", "list", "--json"});
    ASSERT_EQ(listed.exit_code, 0) << describe(listed);
    bool recorded = false;
    for (const auto& k : nlohmann::json::parse(listed.out))
        if (k.at("id") == targets_id) {
            EXPECT_EQ(k.at("uses"),
                      nlohmann::json::parse(R"([{"repository":")" + std::string(kGun) + R"(","role":"targets"}])"));
            recorded = true;
        }
    EXPECT_TRUE(recorded) << listed.out;
    EXPECT_NE(prepared.find("targets key " + targets_id + " (trustkeyd key \"" +
                            note.at("keys").at("targets").at("trustkeyd_key").get<std::string>() + "\", new): " +
                            (m_online / "targets.pub").string()),
              std::string::npos)
        << prepared;
    // An existing directory is not written into.
    const ProcessResult exists = trust({"key", "prepare-root", image(), "--out", m_online.string()});
    EXPECT_EQ(exists.exit_code, 1) << describe(exists);
    EXPECT_NE(exists.err.find(m_online.string() + " exists"), std::string::npos) << exists.err;
    // Run again, it reuses the targets key trustkeyd holds (the server makes new keys for a
    // repository it does not have yet, and takes any of them).
    fs::remove_all(m_online);
    EXPECT_NE(prepare().find("reused"), std::string::npos);
    const auto again = nlohmann::json::parse(read_file(m_online / "online-keys.json"));
    EXPECT_EQ(again.at("keys").at("targets").at("key_id"), targets_id);
    EXPECT_EQ(again.at("keys").at("targets").at("trustkeyd_key"), note.at("keys").at("targets").at("trustkeyd_key"));

    const fs::path bundle = m_work / "bundle";
    make_bundle(kGun, m_work / "keys", bundle, {"root-a", "root-b"});
    ASSERT_FALSE(HasFatalFailure());
    const ProcessResult added = signer_add(bundle);
    ASSERT_EQ(added.exit_code, 0) << describe(added);
    EXPECT_NE(added.out.find("Successfully initialized"), std::string::npos) << added.out;
    // root.json is the one signed offline, byte for byte; targets is signed online.
    const std::string root_v1 = read_file(bundle / "root.json");
    EXPECT_EQ(served("root"), root_v1);
    EXPECT_EQ(signature_ids(served("targets")), std::vector<std::string>{targets_id});
    sign("v1");
    // No root key was made online.
    for (const std::string& name : agent_key_names()) EXPECT_NE(name.rfind("root-", 0), 0u) << name;

    // The real notary client and docker read the repository.
    const fs::path notary_cache = m_work / "notary-cached";
    EXPECT_TRUE(listed_in(notary_cache, "v1"));
    const nlohmann::json inspected = docker_inspect();
    ASSERT_TRUE(inspected.is_array() && inspected.size() == 1) << inspected.dump();
    EXPECT_EQ(inspected[0].at("SignedTags").size(), 1u) << inspected.dump();
    for (const std::string& id : root_key_ids(root_v1))
        EXPECT_NE(inspected.dump().find(id), std::string::npos) << id << inspected.dump();

    // The first bundle again is no rotation.
    const ProcessResult same = trust({"key", "rotate", image(), "root", "--root-bundle", bundle.string()});
    EXPECT_EQ(same.exit_code, 1) << describe(same);
    EXPECT_EQ(same.err_lines(), 1u) << same.err;
    EXPECT_NE(same.err.find("the next root must be version 2"), std::string::npos) << same.err;

    // New root keys on two other tokens; a root.json of version 2 signed by them alone is
    // not followed by clients of version 1, so it is refused.
    const fs::path keys2 = m_work / "keys2";
    ceremony({"root", "generate", "--gun", kGun, "--threshold", "2", "--out", keys2.string(), "--token",
              "pkcs11:token=root-c", "--token", "pkcs11:token=root-d"});
    const fs::path unchained = m_work / "unchained";
    sign_and_export(keys2, unchained, {"root-c", "root-d"}, {}, {"--version", "2"});
    ASSERT_FALSE(HasFatalFailure());
    const ProcessResult refused = trust({"key", "rotate", image(), "root", "--root-bundle", unchained.string()});
    EXPECT_EQ(refused.exit_code, 1) << describe(refused);
    EXPECT_EQ(refused.err_lines(), 1u) << refused.err;
    EXPECT_NE(refused.err.find("not signed by the keys of version 1"), std::string::npos) << refused.err;
    EXPECT_EQ(served("root"), root_v1);

    // `root rotate` signs with the previous keys and the new ones.
    const fs::path rotated = m_work / "rotated";
    rotate_and_export(keys2, bundle / "root.json", rotated, {"root-a", "root-b", "root-c", "root-d"});
    ASSERT_FALSE(HasFatalFailure());
    const ProcessResult r = trust({"key", "rotate", image(), "root", "--root-bundle", rotated.string()});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_NE(r.out.find("root.json version 2"), std::string::npos) << r.out;
    const std::string root_v2 = read_file(rotated / "root.json");
    EXPECT_EQ(served("root"), root_v2);
    EXPECT_EQ(cached_root_version(m_trust_dir), 2);
    sign("v2");

    // Clients that cached version 1 follow the chain to version 2.
    EXPECT_TRUE(listed_in(notary_cache, "v1"));
    EXPECT_TRUE(listed_in(notary_cache, "v2"));
    EXPECT_EQ(cached_root_version(notary_cache), 2);
    const nlohmann::json reinspected = docker_inspect();
    ASSERT_TRUE(reinspected.is_array() && reinspected.size() == 1) << reinspected.dump();
    EXPECT_EQ(reinspected[0].at("SignedTags").size(), 2u) << reinspected.dump();
    for (const std::string& id : root_key_ids(root_v2))
        EXPECT_NE(reinspected.dump().find(id), std::string::npos) << id << reinspected.dump();
    EXPECT_EQ(cached_root_version(m_work / "docker" / "trust"), 2);
    for (const std::string& name : agent_key_names()) EXPECT_NE(name.rfind("root-", 0), 0u) << name;
}

TEST_F(RootBundleTest, ReRootedOfflineWithANewTargetsKey) {
    prepare();
    const fs::path bundle = m_work / "bundle";
    make_bundle(kGun, m_work / "keys", bundle, {"root-a", "root-b"});
    ASSERT_FALSE(HasFatalFailure());
    const ProcessResult added = signer_add(bundle);
    ASSERT_EQ(added.exit_code, 0) << describe(added);
    sign("v1");
    const fs::path notary_cache = m_work / "notary-cached";
    EXPECT_TRUE(listed_in(notary_cache, "v1"));
    const fs::path keys2 = m_work / "keys2";
    ceremony({"root", "generate", "--gun", kGun, "--threshold", "2", "--out", keys2.string(), "--token",
              "pkcs11:token=root-c", "--token", "pkcs11:token=root-d"});

    // A targets key trustkeyd does not hold: refused, naming it; nothing changes.
    const fs::path foreign_key = m_work / "foreign";
    make_self_signed_ec_cert(foreign_key.string() + ".key", foreign_key.string() + ".crt", "foreign");
    const fs::path foreign = m_work / "foreign-targets";
    rotate_and_export(keys2, bundle / "root.json", foreign, {"root-a", "root-b", "root-c", "root-d"},
                      {{"targets", foreign_key.string() + ".crt"}});
    ASSERT_FALSE(HasFatalFailure());
    const std::string foreign_id =
        nlohmann::json::parse(read_file(foreign / "root.json")).at("signed").at("roles").at("targets").at("keyids")[0];
    const auto trust_before = tree(m_trust_dir);
    const std::string root_before = served("root");
    const ProcessResult refused = trust({"key", "rotate", image(), "root", "--root-bundle", foreign.string()});
    EXPECT_EQ(refused.exit_code, 1) << describe(refused);
    EXPECT_EQ(refused.err_lines(), 1u) << refused.err;
    EXPECT_NE(refused.err.find("targets key " + foreign_id), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("not a key trustkeyd holds"), std::string::npos) << refused.err;
    EXPECT_EQ(served("root"), root_before);
    EXPECT_EQ(tree(m_trust_dir), trust_before);

    // A new targets key in trustkeyd: targets.json is re-signed with it in the same upload.
    const ProcessResult made = m_daemon.trustkey({"key", "generate", "next-targets"});
    ASSERT_EQ(made.exit_code, 0) << describe(made);
    const std::string next_id = made.out.substr(0, 64);
    const ProcessResult pem = m_daemon.trustkey({"key", "public", "next-targets", "--format", "pem"});
    ASSERT_EQ(pem.exit_code, 0) << describe(pem);
    write_file(m_work / "next-targets.pub", pem.out);
    const fs::path rotated = m_work / "rotated";
    rotate_and_export(keys2, bundle / "root.json", rotated, {"root-a", "root-b", "root-c", "root-d"},
                      {{"targets", (m_work / "next-targets.pub").string()}});
    ASSERT_FALSE(HasFatalFailure());
    const ProcessResult r = trust({"key", "rotate", image(), "root", "--root-bundle", rotated.string()});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(served("root"), read_file(rotated / "root.json"));
    EXPECT_EQ(signature_ids(served("targets")), std::vector<std::string>{next_id});
    EXPECT_EQ(cached_root_version(m_trust_dir), 2);
    // The notary client with the version-1 cache follows; publishing goes on with the new key.
    EXPECT_TRUE(listed_in(notary_cache, "v1"));
    sign("v2");
    EXPECT_TRUE(listed_in(notary_cache, "v2"));
    EXPECT_EQ(cached_root_version(notary_cache), 2);
    const ProcessResult verified = trust({"verify", image("v2")});
    EXPECT_EQ(verified.exit_code, 0) << describe(verified);
    EXPECT_EQ(verified.out, "sha256:" + kDigestHex + "\n");
}

TEST_F(RootBundleTest, SignInitializesWithASnapshotKeyInTrustkeyd) {
    prepare({"--local-snapshot"});
    const auto note = nlohmann::json::parse(read_file(m_online / "online-keys.json"));
    ASSERT_EQ(note.at("keys").at("snapshot").at("held_by"), "trustkeyd");
    const std::string snapshot_id = note.at("keys").at("snapshot").at("key_id");
    const fs::path bundle = m_work / "bundle";
    make_bundle(kGun, m_work / "keys", bundle, {"root-a", "root-b"});
    ASSERT_FALSE(HasFatalFailure());

    const ProcessResult r = trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "42",
                                   "--root-bundle", bundle.string()});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(served("root"), read_file(bundle / "root.json"));
    // The server cannot sign this snapshot: trustkeyd did.
    EXPECT_EQ(signature_ids(served("snapshot")), std::vector<std::string>{snapshot_id});
    EXPECT_TRUE(listed_in(m_work / "notary-fresh", "v1"));
}

TEST_F(RootBundleTest, BadBundlesAreRefusedAndNothingIsPublished) {
    prepare();
    const fs::path good = m_work / "good";
    make_bundle(kGun, m_work / "keys", good, {"root-a", "root-b"});
    // The same keys with a targets key trustkeyd does not hold.
    const fs::path foreign_key = m_work / "foreign";
    make_self_signed_ec_cert(foreign_key.string() + ".key", foreign_key.string() + ".crt", "foreign");
    // openssl writes the public key PEM the ceremony takes for --targets.
    run_checked({"openssl", "pkey", "-in", foreign_key.string() + ".key", "-pubout", "-out",
                 foreign_key.string() + ".pub"});
    const fs::path foreign = m_work / "foreign-targets";
    sign_and_export(m_work / "keys", foreign, {"root-a", "root-b"}, {{"targets", foreign_key.string() + ".pub"}});
    // … and with a timestamp key the notary server does not hold.
    const fs::path foreign_ts = m_work / "foreign-timestamp";
    sign_and_export(m_work / "keys", foreign_ts, {"root-a", "root-b"}, {{"timestamp", foreign_key.string() + ".pub"}});
    // Root keys of another repository.
    const fs::path other = m_work / "other";
    make_bundle(kOtherGun, m_work / "keys-other", other, {"root-a", "root-b"});
    // Certificates valid for one day.
    const fs::path short_lived = m_work / "short";
    make_bundle(kGun, m_work / "keys-short", short_lived, {"root-c", "root-d"}, {"--validity-days", "1"});
    ASSERT_FALSE(HasFatalFailure());

    const auto copy_of = [&](const fs::path& from, const std::string& name) {
        const fs::path to = m_work / name;
        fs::copy(from, to, fs::copy_options::recursive);
        return to;
    };
    const auto rehash = [](const fs::path& bundle, const std::string& file) {
        auto manifest = nlohmann::json::parse(read_file(bundle / "bundle.json"));
        const std::string content = read_file(bundle / file);
        manifest["files"][file] = to_hex(sha256(as_bytes(content)));
        write_file(bundle / "bundle.json", manifest.dump(2));
    };

    const fs::path edited = copy_of(good, "edited");
    write_file(edited / "root-1.crt", read_file(edited / "root-1.crt") + "\n");

    const fs::path one_signature = copy_of(good, "one-signature");
    const tuf::Signed full = tuf::Signed::parse(read_file(good / "root.json"), "root");
    ASSERT_EQ(full.signatures().size(), 2u);
    write_file(one_signature / "root.json", tuf::file_form(full.canonical(), std::vector{full.signatures()[0]}));
    rehash(one_signature, "root.json");

    // bundle.json claims our repository, the certificates say otherwise.
    const fs::path relabelled = copy_of(other, "relabelled");
    auto manifest = nlohmann::json::parse(read_file(relabelled / "bundle.json"));
    manifest["gun"] = kGun;
    write_file(relabelled / "bundle.json", manifest.dump(2));

    const std::string foreign_id =
        nlohmann::json::parse(read_file(foreign / "root.json")).at("signed").at("roles").at("targets").at("keyids")[0];

    const std::string foreign_ts_id = nlohmann::json::parse(read_file(foreign_ts / "root.json"))
                                          .at("signed").at("roles").at("timestamp").at("keyids")[0];

    struct Case {
        fs::path bundle;
        std::vector<std::string> words;
        std::vector<std::string> prefix;
    };
    const std::vector<Case> cases = {
        {edited, {edited.string(), "root-1.crt", "SHA-256", "changed after export"}, {}},
        {one_signature, {"root.json", "threshold not met: 1 of 2"}, {}},
        {other, {other.string(), "is for " + std::string(kOtherGun), kGun}, {}},
        {relabelled, {"common name \"" + std::string(kOtherGun) + "\"", "not for the GUN"}, {}},
        {foreign, {"targets key " + foreign_id, "not a key trustkeyd holds"}, {}},
        {short_lived, {short_lived.string(), "expired"}, {"faketime", "+3 days"}},
        {foreign_ts, {"timestamp key " + foreign_ts_id, "not a key the notary server holds"}, {}},
    };
    const auto trust_before = tree(m_trust_dir);
    const std::size_t keys_before = agent_key_names().size();
    for (const Case& c : cases) {
        const ProcessResult add = trust({"signer", "add", "--key", (m_online / "targets.pub").string(), "alice",
                                         image(), "--root-bundle", c.bundle.string()},
                                        c.prefix);
        EXPECT_EQ(add.exit_code, 1) << c.bundle << describe(add);
        EXPECT_EQ(add.err_lines(), 1u) << add.err;
        for (const std::string& word : c.words)
            EXPECT_NE(add.err.find(word), std::string::npos) << word << "\n" << add.err;
        const ProcessResult sign = trust({"sign", image("v1"), "--digest", "sha256:" + kDigestHex, "--size", "42",
                                          "--root-bundle", c.bundle.string()},
                                         c.prefix);
        EXPECT_EQ(sign.exit_code, 1) << c.bundle << describe(sign);
        // Checks that need no server come before sign's note on a repository without a signer.
        EXPECT_EQ(sign.err_lines(), c.bundle == foreign_ts ? 2u : 1u) << sign.err;
        EXPECT_NE(sign.err.find(c.words.back()), std::string::npos) << sign.err;
        EXPECT_EQ(served("root"), "absent") << c.bundle;
        EXPECT_EQ(tree(m_trust_dir), trust_before) << c.bundle;
    }
    EXPECT_EQ(agent_key_names().size(), keys_before);
    // Usage: a bundle rotates root alone, and the root keys of a bundle are offline.
    EXPECT_EQ(trust({"key", "rotate", image(), "targets", "--root-bundle", good.string()}).exit_code, 2);
    EXPECT_EQ(trust({"key", "rotate", image(), "root", "--key", "x", "--root-bundle", good.string()}).exit_code, 2);
    EXPECT_EQ(trust({"signer", "add", "--key", (m_online / "targets.pub").string(), "alice", image(), "--root-key",
                     "x", "--root-bundle", good.string()})
                  .exit_code,
              2);
    EXPECT_EQ(served("root"), "absent");

    // The control: the good bundle goes through.
    const ProcessResult ok = trust({"signer", "add", "--key", (m_online / "targets.pub").string(), "alice", image(),
                                    "--root-bundle", good.string()});
    EXPECT_EQ(ok.exit_code, 0) << describe(ok);
    EXPECT_EQ(served("root"), read_file(good / "root.json"));
}

} // namespace
} // namespace trustkey::test
