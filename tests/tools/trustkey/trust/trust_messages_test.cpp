// The error lines of the trust verbs point at the fix: the real trustkey binary, trustkeyd,
// notary server (and notary-signer) and registry. Each failure is one stderr line that names
// the server once, without internal call names, and says what to set or run.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/fixtures/process.h"
#include "tests/tools/trustkey/trust/trust_verbs_fixture.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;

const std::string kDigest = "sha256:" + std::string(64, 'a');

std::size_t count_of(const std::string& text, const std::string& word) {
    std::size_t n = 0;
    for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + word.size())) ++n;
    return n;
}

std::string describe_run(const ProcessResult& r) {
    return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// One clean line: exit 1, nothing on stdout but `out`, no internal call names.
void expect_one_line(const ProcessResult& r, const std::string& out = {}) {
    EXPECT_EQ(r.exit_code, 1) << describe_run(r);
    EXPECT_EQ(r.out, out) << describe_run(r);
    EXPECT_EQ(r.err_lines(), 1u) << r.err;
    for (const char* internal : {"curl_easy_perform", "(notary server)", "(notary transport)", "(HEAD)", "(GET)"})
        EXPECT_EQ(r.err.find(internal), std::string::npos) << internal << " in " << r.err;
}

class TrustMessagesTest : public TrustVerbsFixture {
protected:
    // `trustkey trust args…` with only the options given here (no --server, --tlscacert or
    // --insecure-registry from the fixture) and without DOCKER_CONTENT_TRUST_SERVER.
    ProcessResult bare_trust(std::vector<std::string> args, ProcessOptions options = {}) const {
        args.insert(args.begin(), "trust");
        options.env.push_back("DOCKER_CONFIG=" + docker_config().string());
        options.env.push_back("HOME=" + m_work.path().string());
        options.unset.push_back("DOCKER_CONTENT_TRUST_SERVER");
        options.unset.push_back("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE");
        options.unset.push_back("TRUSTKEY_KEY_PASSPHRASE");
        return m_daemon.trustkey(args, options);
    }

    // An encrypted PKCS#8 EC key only its owner may read.
    fs::path encrypted_key() const {
        const fs::path key = m_work / "encrypted.key";
        const ProcessResult r = run_process({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                                             "ec_paramgen_curve:P-256", "-aes256", "-pass", "pass:key-pass-1", "-out",
                                             key.string()});
        EXPECT_EQ(r.exit_code, 0) << describe(r);
        ::chmod(key.c_str(), 0600);
        return key;
    }
};

TEST_F(TrustMessagesTest, LoopbackRegistryIsInsecureWithoutTheFlag) {
    write_registry_credentials();
    const auto pushed = m_registry.push_image("team/app", "v1");
    // A plain-HTTP registry on 127.0.0.1, no --insecure-registry: reached as docker reaches it.
    const ProcessResult sign = bare_trust(
        {"--server", m_notary.url(), "--tlscacert", m_notary.ca_cert_path().string(), "sign", image("v1")});
    ASSERT_EQ(sign.exit_code, 0) << describe(sign);
    EXPECT_NE(listed("v1").find(pushed.digest.substr(7)), std::string::npos);
}

TEST_F(TrustMessagesTest, NotaryTlsFailureSaysWhereTheCaGoes) {
    const std::string host = "127.0.0.1:" + std::to_string(m_notary.port());
    for (const auto& verb : std::vector<std::vector<std::string>>{
             {"verify", image("v1")}, {"sign", image("v1"), "--digest", kDigest, "--size", "1"}}) {
        std::vector<std::string> args{"--server", m_notary.url()};
        args.insert(args.end(), verb.begin(), verb.end());
        const ProcessResult r = bare_trust(args);
        SCOPED_TRACE(verb.front());
        expect_one_line(r);
        EXPECT_NE(r.err.find("cannot reach the trust server " + m_notary.url()), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("the notary server's CA certificate goes in --tlscacert or " +
                             (docker_config() / "tls" / host / "ca.crt").string()),
                  std::string::npos)
            << r.err;
        EXPECT_EQ(count_of(r.err, m_notary.url()), 1u) << r.err;
    }
}

TEST_F(TrustMessagesTest, DefaultServerFailureNamesTheVariable) {
    // No --server and no DOCKER_CONTENT_TRUST_SERVER: the registry itself is asked, and it
    // is no notary server.
    const std::string registry_url = "https://" + m_registry.host();
    const ProcessResult verify = bare_trust({"verify", image("v1")});
    expect_one_line(verify);
    EXPECT_NE(verify.err.find("no notary server was named, so the registry itself was asked: give the notary server "
                              "with --server or DOCKER_CONTENT_TRUST_SERVER"),
              std::string::npos)
        << verify.err;
    EXPECT_EQ(count_of(verify.err, registry_url), 1u) << verify.err;
    const ProcessResult inspect = bare_trust({"inspect", gun()});
    expect_one_line(inspect, "[]\n");
    EXPECT_NE(inspect.err.find("DOCKER_CONTENT_TRUST_SERVER"), std::string::npos) << inspect.err;
    const ProcessResult sign = bare_trust({"sign", image("v1"), "--digest", kDigest, "--size", "1"});
    expect_one_line(sign);
    EXPECT_NE(sign.err.find("DOCKER_CONTENT_TRUST_SERVER"), std::string::npos) << sign.err;

    // Named by the variable, the server is not the default: no such words.
    ProcessOptions named;
    named.env.push_back("DOCKER_CONTENT_TRUST_SERVER=https://127.0.0.1:1");
    std::vector<std::string> args{"trust", "verify", image("v1")};
    named.env.push_back("DOCKER_CONFIG=" + docker_config().string());
    const ProcessResult down = m_daemon.trustkey(args, named);
    expect_one_line(down);
    EXPECT_EQ(down.err.find("DOCKER_CONTENT_TRUST_SERVER"), std::string::npos) << down.err;
}

TEST_F(TrustMessagesTest, NotarySignerDownIsAServerFailure) {
    write_registry_credentials();
    m_notary.stop_signer();
    // A new repository needs the server's snapshot and timestamp keys, which notary-signer makes.
    const ProcessResult sign = trust({"sign", image("v1"), "--digest", kDigest, "--size", "1"});
    expect_one_line(sign, "Initializing signed repository for " + gun() + "...\n");
    EXPECT_NE(sign.err.find("notary server " + m_notary.url() + " failed with server error 500"), std::string::npos)
        << sign.err;
    EXPECT_NE(sign.err.find("its signer or storage back end may be down"), std::string::npos) << sign.err;
    EXPECT_EQ(count_of(sign.err, m_notary.url()), 1u) << sign.err;
    EXPECT_EQ(sign.err.find("HTTP 500: UNKNOWN"), std::string::npos) << sign.err;
    EXPECT_EQ(server_version("root"), 0);
}

TEST_F(TrustMessagesTest, EncryptedKeyWithoutTerminalNamesThePassphraseVariable) {
    const fs::path key = encrypted_key();
    ProcessOptions no_input;  // stdin: empty, not a terminal
    const ProcessResult trust_load = bare_trust({"key", "load", key.string(), "--name", "alice"}, no_input);
    EXPECT_EQ(trust_load.exit_code, 1) << describe(trust_load);
    EXPECT_EQ(trust_load.err_lines(), 1u) << trust_load.err;
    EXPECT_NE(trust_load.err.find(key.string() + " is encrypted and there is no terminal to ask for its passphrase: "
                                                 "set DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"),
              std::string::npos)
        << trust_load.err;

    ProcessOptions options;
    options.unset = {"TRUSTKEY_KEY_PASSPHRASE", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"};
    const ProcessResult load = m_daemon.trustkey({"key", "load", key.string(), "--name", "alice"}, options);
    EXPECT_EQ(load.exit_code, 1) << describe(load);
    EXPECT_EQ(load.err_lines(), 1u) << load.err;
    EXPECT_NE(load.err.find(key.string() + " is encrypted and there is no terminal to ask for its passphrase: set "
                                           "TRUSTKEY_KEY_PASSPHRASE"),
              std::string::npos)
        << load.err;

    // With the variable the same file loads.
    options.env = {"TRUSTKEY_KEY_PASSPHRASE=key-pass-1"};
    const ProcessResult loaded = m_daemon.trustkey({"key", "load", key.string(), "--name", "alice"}, options);
    EXPECT_EQ(loaded.exit_code, 0) << describe(loaded);
}

TEST_F(TrustMessagesTest, FromFileTagMissingInTheRegistryNamesTheLine) {
    write_registry_credentials();
    m_registry.push_image("team/app", "v1");
    const fs::path list = m_work / "tags.txt";
    std::ofstream(list) << "# release\n" << image("v1") << "\n" << image("nope") << "\n";
    const ProcessResult sign = trust({"sign", "--from-file", list.string()});
    expect_one_line(sign);
    EXPECT_NE(sign.err.find(list.string() + ":3: resolving " + image("nope") + " in the registry"), std::string::npos)
        << sign.err;
    EXPECT_EQ(server_version("root"), 0);

    // A list that cannot be opened says why.
    const ProcessResult missing = trust({"sign", "--from-file", (m_work / "absent.txt").string()});
    expect_one_line(missing);
    EXPECT_NE(missing.err.find("cannot open " + (m_work / "absent.txt").string() + ": No such file or directory"),
              std::string::npos)
        << missing.err;
}

// trustkeyd goes away while a publish is being signed: a Unix socket in front of the real
// trustkeyd that closes the connection at the client's sixth request, once the new
// repository's keys are made and its metadata is being signed.
TEST_F(TrustMessagesTest, TrustkeydStoppingMidPublishSaysSo) {
    write_registry_credentials();
    const fs::path cut_socket = m_work / "cut.sock";
    const fs::path script = m_work / "cut_proxy.py";
    std::ofstream(script) << R"PY(
import os, socket, struct, sys, threading
listen, upstream, cut_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
server = socket.socket(socket.AF_UNIX)
server.bind(listen)
server.listen(8)
def close(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
def to_client(daemon, client):
    try:
        while True:
            data = daemon.recv(65536)
            if not data:
                break
            client.sendall(data)
    except OSError:
        pass
def serve(client):
    daemon = socket.socket(socket.AF_UNIX)
    daemon.connect(upstream)
    threading.Thread(target=to_client, args=(daemon, client), daemon=True).start()
    buf, frames = b"", 0
    try:
        while True:
            data = client.recv(65536)
            if not data:
                break
            buf += data
            while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
                n = 4 + struct.unpack(">I", buf[:4])[0]
                frames += 1
                if frames >= cut_at:
                    close(client, daemon)
                    return
                daemon.sendall(buf[:n])
                buf = buf[n:]
    except OSError:
        pass
    close(client, daemon)
while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
)PY";
    BackgroundProcess proxy({"python3", script.string(), cut_socket.string(), m_daemon.socket_path().string(), "6"});
    for (int i = 0; i < 100 && !fs::exists(cut_socket); ++i) ::usleep(50 * 1000);
    ASSERT_TRUE(fs::exists(cut_socket));

    std::vector<std::string> args{"--socket", cut_socket.string(), "trust", "--server", m_notary.url(),
                                  "--tlscacert", m_notary.ca_cert_path().string(), "sign", image("v1"),
                                  "--digest", kDigest, "--size", "1"};
    ProcessOptions options;
    options.env = {"DOCKER_CONFIG=" + docker_config().string()};
    options.unset = {"DOCKER_CONTENT_TRUST_SERVER"};
    const ProcessResult sign = run_trustkey(args, options);
    expect_one_line(sign, "Initializing signed repository for " + gun() + "...\n");
    EXPECT_NE(sign.err.find("trustkeyd stopped during the step (the connection was lost"), std::string::npos)
        << sign.err;
    EXPECT_NE(sign.err.find("what it was signing was not published: start trustkeyd and run the command again"),
              std::string::npos)
        << sign.err;
    EXPECT_EQ(server_version("root"), 0);
}

} // namespace
} // namespace trustkey::test
