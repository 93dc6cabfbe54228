// trustkey key load with PEM files made by `openssl genpkey`: plain PKCS#8,
// encrypted PKCS#8, SEC1 and PKCS#1. The id must be the TUF id of the file's
// public key, and the loaded key must sign for it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/tools/trustkey/cli_expect.h"
#include "tests/tools/trustkey/openssl_check.h"
#include "tests/tools/trustkey/cli_daemon.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPassphrase = "correct horse battery";

void openssl(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_process(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
}

fs::path make_ec_key(const fs::path& dir) {
    const auto path = dir / "ec.pem";
    openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path.string()});
    return path;
}

// Loads `file` as `name`, checks the id against the file's public key, and checks
// that the loaded key signs a digest that verifies with that public key.
void load_and_check(const CliDaemon& daemon, const fs::path& file, const std::string& name,
                    const std::string& type, const ProcessOptions& options = {}, const std::string& passphrase = {}) {
    const auto loaded = daemon.trustkey({"key", "load", file.string(), "--name", name}, options);
    ASSERT_TRUE(succeeded(loaded));
    const std::string id = chomp(loaded.out);
    const ByteVec spki = public_der_of_private_key(file, passphrase);
    EXPECT_EQ(id, expected_tuf_key_id(type, spki));

    const auto pem = daemon.trustkey({"key", "public", name});
    ASSERT_TRUE(succeeded(pem));
    EXPECT_EQ(pem_body(pem.out), spki);

    const auto pub_file = daemon.dir() / (name + ".pub.pem");
    write_file(pub_file, pem.out);
    const ByteVec digest = sha256_bytes("loaded key " + name);
    const auto message = "loaded key " + name;
    ProcessResult sig;
    if (type == "ed25519") {
        const auto msg_file = daemon.dir() / "msg";
        write_file(msg_file, message);
        sig = daemon.trustkey({"sign", id, "--file", msg_file.string()});
    } else {
        std::string hex;
        static constexpr char kDigits[] = "0123456789abcdef";
        for (auto b : digest) hex += {kDigits[b >> 4], kDigits[b & 0xf]};
        sig = daemon.trustkey({"sign", id, "--digest", hex});
    }
    ASSERT_TRUE(succeeded(sig));
    EXPECT_TRUE(openssl_verify(type, pub_file, type == "ed25519" ? to_bytes(message) : digest,
                               base64_decode(chomp(sig.out)), daemon.dir()));
}

TEST(KeyLoad, PlainPkcs8Ecdsa) {
    CliDaemon daemon;
    const auto file = make_ec_key(daemon.dir());
    ASSERT_NE(read_file(file).find("BEGIN PRIVATE KEY"), std::string::npos);
    load_and_check(daemon, file, "plain-ec", "ecdsa");
}

TEST(KeyLoad, PlainPkcs8Ed25519) {
    CliDaemon daemon;
    const auto file = daemon.dir() / "ed.pem";
    openssl({"genpkey", "-algorithm", "ED25519", "-out", file.string()});
    load_and_check(daemon, file, "plain-ed", "ed25519");
}

TEST(KeyLoad, EncryptedPkcs8WithPassphraseFromEnvironment) {
    CliDaemon daemon;
    const auto file = daemon.dir() / "enc.pem";
    openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes-256-cbc", "-pass",
             std::string("pass:") + kPassphrase, "-out", file.string()});
    ASSERT_NE(read_file(file).find("BEGIN ENCRYPTED PRIVATE KEY"), std::string::npos);
    load_and_check(daemon, file, "enc-ec", "ecdsa", {.env = {std::string("TRUSTKEY_KEY_PASSPHRASE=") + kPassphrase}},
                   kPassphrase);
}

TEST(KeyLoad, EncryptedPkcs8WithDockerPassphraseVariable) {
    CliDaemon daemon;
    const auto file = daemon.dir() / "enc.pem";
    openssl({"genpkey", "-algorithm", "ED25519", "-aes-256-cbc", "-pass", std::string("pass:") + kPassphrase,
             "-out", file.string()});
    load_and_check(daemon, file, "enc-ed", "ed25519",
                   {.env = {std::string("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE=") + kPassphrase},
                    .unset = {"TRUSTKEY_KEY_PASSPHRASE"}},
                   kPassphrase);
}

TEST(KeyLoad, EncryptedPkcs8WithPassphraseOnStdin) {
    CliDaemon daemon;
    const auto file = daemon.dir() / "enc.pem";
    openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes-256-cbc", "-pass",
             std::string("pass:") + kPassphrase, "-out", file.string()});
    load_and_check(daemon, file, "stdin-ec", "ecdsa",
                   {.unset = {"TRUSTKEY_KEY_PASSPHRASE", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"},
                    .stdin_data = std::string(kPassphrase) + "\n"},
                   kPassphrase);
}

TEST(KeyLoad, EncryptedPkcs8WrongOrMissingPassphraseFails) {
    CliDaemon daemon;
    const auto file = daemon.dir() / "enc.pem";
    openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes-256-cbc", "-pass",
             std::string("pass:") + kPassphrase, "-out", file.string()});
    const auto wrong = daemon.trustkey({"key", "load", file.string(), "--name", "k"},
                                       {.env = {"TRUSTKEY_KEY_PASSPHRASE=wrong"}});
    EXPECT_TRUE(failed_with_one_line(wrong, 1));
    EXPECT_NE(wrong.err.find(file.string()), std::string::npos) << wrong.err;
    const auto missing = daemon.trustkey({"key", "load", file.string(), "--name", "k"},
                                         {.unset = {"TRUSTKEY_KEY_PASSPHRASE", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"}});
    EXPECT_TRUE(failed_with_one_line(missing, 1));
    EXPECT_EQ(daemon.trustkey({"key", "list", "--json"}).out, "[]\n");
}

TEST(KeyLoad, Sec1EcPrivateKey) {
    CliDaemon daemon;
    const auto pkcs8 = make_ec_key(daemon.dir());
    const auto sec1 = daemon.dir() / "sec1.pem";
    openssl({"ec", "-in", pkcs8.string(), "-out", sec1.string()});
    ASSERT_NE(read_file(sec1).find("BEGIN EC PRIVATE KEY"), std::string::npos) << read_file(sec1);
    load_and_check(daemon, sec1, "sec1-ec", "ecdsa");
}

TEST(KeyLoad, Pkcs1RsaPrivateKey) {
    CliDaemon daemon;
    const auto pkcs8 = daemon.dir() / "rsa.pem";
    openssl({"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pkcs8.string()});
    const auto pkcs1 = daemon.dir() / "rsa1.pem";
    openssl({"rsa", "-in", pkcs8.string(), "-traditional", "-out", pkcs1.string()});
    ASSERT_NE(read_file(pkcs1).find("BEGIN RSA PRIVATE KEY"), std::string::npos) << read_file(pkcs1);
    load_and_check(daemon, pkcs1, "pkcs1-rsa", "rsa");
}

TEST(KeyLoad, GarbageAndMissingFilesFailWithOneLine) {
    CliDaemon daemon;
    const auto junk = daemon.dir() / "junk.pem";
    write_file(junk, std::string("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"));
    EXPECT_TRUE(failed_with_one_line(daemon.trustkey({"key", "load", junk.string(), "--name", "j"}), 1));
    EXPECT_TRUE(failed_with_one_line(
        daemon.trustkey({"key", "load", (daemon.dir() / "absent.pem").string(), "--name", "j"}), 1));
    EXPECT_TRUE(failed_with_one_line(daemon.trustkey({"key", "load", junk.string()}), 2));  // --name missing
    EXPECT_EQ(daemon.trustkey({"key", "list", "--json"}).out, "[]\n");
}

TEST(KeyLoad, DuplicateKeyOrNameNamesTheKeyTrustkeydHolds) {
    CliDaemon daemon;
    const auto file = make_ec_key(daemon.dir());
    const auto first = daemon.trustkey({"key", "load", file.string(), "--name", "first"});
    ASSERT_TRUE(succeeded(first));
    const std::string id = chomp(first.out);

    // The same private key again, under another name: the key trustkeyd holds is named.
    const auto again = daemon.trustkey({"key", "load", file.string(), "--name", "second"});
    EXPECT_TRUE(failed_with_one_line(again, 1));
    EXPECT_EQ(again.err, "trustkey: trustkeyd already holds this key: key 'first' " + id + " on backend 'trustkey'\n");

    // Another key under a name in use: the key holding the name is named.
    const auto other = daemon.dir() / "other.pem";
    openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", other.string()});
    const auto taken = daemon.trustkey({"key", "load", other.string(), "--name", "first"});
    EXPECT_TRUE(failed_with_one_line(taken, 1));
    EXPECT_EQ(taken.err, "trustkey: the name 'first' is taken by key 'first' " + id + " on backend 'trustkey'\n");
    const auto generated = daemon.trustkey({"key", "generate", "first"});
    EXPECT_TRUE(failed_with_one_line(generated, 1));
    EXPECT_EQ(generated.err, taken.err);

    const auto keys = daemon.trustkey({"key", "list", "--json"});
    EXPECT_EQ(nlohmann::json::parse(keys.out).size(), 1u) << keys.out;
}

} // namespace
} // namespace trustkey::test
