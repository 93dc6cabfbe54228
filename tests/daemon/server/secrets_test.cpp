// Secret hygiene of the real trustkeyd: passphrases, PEM bodies, private scalars and PINs
// never reach its log, its files or its replies, and the process cannot be dumped.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include "lib/keys/public_key.h"
#include "lib/core/encoding.h"
#include "tests/daemon/server/trustkeyd_fixture.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/softhsm_token.h"

namespace trustkey::test {
namespace {

namespace fs = std::filesystem;

constexpr uid_t kNobody = 65534;
const std::string kPassphrase = "correct horse battery staple";

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::string to_upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

// A private key made with the openssl command line, in every form a careless daemon could
// write out: the encrypted PEM the client sends, the decrypted PKCS#8 PEM, and the scalar.
struct KeyMaterial {
    std::string encrypted_pem;
    std::string plain_pem;
    Bytes scalar;                            // the private scalar (EC) or seed (Ed25519)
    std::vector<std::string> printed_lines;  // openssl's "xx:xx:…" lines of it
    std::string public_pem;
};

KeyMaterial make_key(const TempDir& dir, const std::string& algorithm_args) {
    KeyMaterial k;
    const auto enc = (dir / "encrypted.pem").string();
    const auto plain = (dir / "plain.pem").string();
    const auto pub = (dir / "public.pem").string();
    const std::string pass = " -passin pass:" + shell_quote(kPassphrase);
    auto r = run_command("openssl genpkey " + algorithm_args + " -aes-256-cbc -pass pass:" + shell_quote(kPassphrase) +
                         " -out " + shell_quote(enc));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    r = run_command("openssl pkey -in " + shell_quote(enc) + pass + " -out " + shell_quote(plain));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    r = run_command("openssl pkey -in " + shell_quote(enc) + pass + " -pubout -out " + shell_quote(pub));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    k.encrypted_pem = read_file(enc);
    k.plain_pem = read_file(plain);
    k.public_pem = read_file(pub);
    EXPECT_NE(k.encrypted_pem.find("BEGIN ENCRYPTED PRIVATE KEY"), std::string::npos) << k.encrypted_pem;

    // "priv:" then lines of colon-separated hex bytes, up to "pub:".
    r = run_command("openssl pkey -in " + shell_quote(enc) + pass + " -text -noout");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    bool in_priv = false;
    std::string hex;
    for (const auto& raw : lines_of(r.output)) {
        const std::string line = trim(raw);
        if (line == "priv:") {
            in_priv = true;
            continue;
        }
        if (!in_priv) continue;
        if (line.empty() || line.find_first_not_of("0123456789abcdefABCDEF:") != std::string::npos) break;
        if (line.size() >= 3 * 8) k.printed_lines.push_back(line.back() == ':' ? line.substr(0, line.size() - 1) : line);
        for (char c : line)
            if (c != ':') hex.push_back(c);
    }
    const auto bytes = from_hex(hex);
    EXPECT_TRUE(bytes) << r.output;
    if (bytes) k.scalar = *bytes;
    while (k.scalar.size() > 32 && k.scalar.front() == 0) k.scalar.erase(k.scalar.begin());
    EXPECT_EQ(k.scalar.size(), 32u) << r.output;
    return k;
}

// The PEM's base64 lines (not the BEGIN/END lines, which are public knowledge).
std::vector<std::string> pem_body_lines(const std::string& pem) {
    std::vector<std::string> out;
    for (const auto& l : lines_of(pem)) {
        const std::string line = trim(l);
        if (line.empty() || line.rfind("-----", 0) == 0 || line.find(':') != std::string::npos) continue;
        out.push_back(line);
    }
    return out;
}

// Every form of `k`'s secrets worth searching for, each with a label for the failure message.
std::vector<std::pair<std::string, std::string>> secret_forms(const KeyMaterial& k) {
    std::vector<std::pair<std::string, std::string>> forms;
    forms.emplace_back("passphrase", kPassphrase);
    for (const auto& l : pem_body_lines(k.encrypted_pem)) forms.emplace_back("encrypted PEM line", l);
    for (const auto& l : pem_body_lines(k.plain_pem)) forms.emplace_back("decrypted PEM line", l);
    forms.emplace_back("scalar bytes", std::string(k.scalar.begin(), k.scalar.end()));
    const std::string hex = to_hex(k.scalar);
    forms.emplace_back("scalar hex", hex);
    forms.emplace_back("scalar HEX", to_upper(hex));
    std::string colons;
    for (std::size_t i = 0; i < hex.size(); i += 2) colons += (i ? ":" : "") + hex.substr(i, 2);
    forms.emplace_back("scalar colon hex", colons);
    forms.emplace_back("scalar colon HEX", to_upper(colons));
    for (const auto& l : k.printed_lines) forms.emplace_back("scalar as openssl prints it", l);
    // Base64 at each of the three alignments the scalar can have inside a longer encoding;
    // the middle characters depend on the scalar only.
    for (std::size_t shift = 0; shift < 3; ++shift) {
        Bytes shifted(shift, 0);
        shifted.insert(shifted.end(), k.scalar.begin(), k.scalar.end());
        const std::string b64 = to_base64(shifted);
        forms.emplace_back("scalar base64 (shift " + std::to_string(shift) + ")", b64.substr(4, b64.size() - 8));
    }
    return forms;
}

// Fails for each secret form found in `haystack`.
void expect_no_secret(const std::string& what, const std::string& haystack,
                      const std::vector<std::pair<std::string, std::string>>& forms) {
    for (const auto& [label, secret] : forms) {
        ASSERT_FALSE(secret.empty()) << label;
        EXPECT_EQ(haystack.find(secret), std::string::npos) << what << " holds the " << label << " \"" << secret << "\"";
    }
}

// Every regular file under `root` (the daemon's home: config, data, runtime, its stderr).
void expect_no_secret_in_files(const fs::path& root, const std::vector<std::pair<std::string, std::string>>& forms) {
    std::size_t files = 0;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        if (!e.is_regular_file()) continue;
        ++files;
        expect_no_secret("file " + e.path().string(), read_file(e.path()), forms);
    }
    EXPECT_GT(files, 0u);
}

using SecretsTest = TrustkeydTest;

// A token with no PIN source that waits for a login (no pinentry).
std::string pkcs11_table_without_pin(const SoftHsmToken& token) {
    return "pinentry = \"none\"\n[[pkcs11]]\nname = \"hsm\"\nmodule = \"" + SoftHsmToken::module() + "\"\ntoken = \"" + token.uri() +
           "\"\nsessions = 2\n";
}

pb::Status import(proto::Client& c, const std::string& name, const std::string& pem, const std::string& passphrase,
                  pb::KeyInfo* out, std::string* message) {
    pb::Request req;
    auto* imp = req.mutable_import_key();
    imp->set_name(name);
    imp->set_pem(pem);
    imp->set_passphrase(passphrase);
    try {
        const auto resp = c.call(req);
        if (out && resp.has_import_key()) *out = resp.import_key().key();
        if (message) *message = resp.message();
        return resp.status();
    } catch (const proto::ClientError& e) {
        if (message) *message = e.what();
        return e.status();
    }
}

TEST_F(SecretsTest, ImportKeepsPassphrasePemAndScalarOutOfTheLog) {
    TempDir keys("trustkeyd-secrets");
    const auto ec = make_key(keys, "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
    ASSERT_FALSE(HasFailure());
    auto forms = secret_forms(ec);

    start({"--log-level", "debug"});
    auto c = client();
    std::string message;
    // A wrong passphrase, then a PEM whose body is damaged: failures are where details get logged.
    EXPECT_EQ(import(c, "wrong-pass", ec.encrypted_pem, "correct horse battery stapler", nullptr, &message),
              pb::STATUS_BAD_PASSPHRASE)
        << message;
    expect_no_secret("the reply to a wrong passphrase", message, forms);
    std::string damaged = ec.encrypted_pem;
    damaged[damaged.size() / 2] = damaged[damaged.size() / 2] == 'A' ? 'B' : 'A';
    EXPECT_NE(import(c, "damaged", damaged, kPassphrase, nullptr, &message), pb::STATUS_OK);
    expect_no_secret("the reply to a damaged PEM", message, forms);

    pb::KeyInfo key;
    ASSERT_EQ(import(c, "imported", ec.encrypted_pem, kPassphrase, &key, &message), pb::STATUS_OK) << message;
    // The scalar searched for is the one the daemon imported: the public keys agree.
    EXPECT_EQ(keys::spki_to_pem(Bytes(key.public_key().begin(), key.public_key().end())), ec.public_pem);
    const auto digest = digest_of("signed after import");
    expect_valid_signature(key, pb::HASH_SHA256, digest, c.sign("imported", pb::HASH_SHA256, digest).signature());
    stop_and_check();

    const std::string log = m_daemon->log();
    // The capture works and holds debug lines about this very import.
    EXPECT_NE(log.find("op=hello"), std::string::npos) << log;
    EXPECT_NE(log.find("op=import_key key_id=" + key.id()), std::string::npos) << log;
    expect_no_secret("the daemon's log (stderr)", log, forms);
    expect_no_secret_in_files(m_home.root(), forms);
}

TEST_F(SecretsTest, LoginKeepsThePinOutOfTheLog) {
    const std::string pin = "pin-4817-3390";
    const std::string wrong_pin = "pin-9051-2264";
    SoftHsmToken token("login-token", pin);
    start(options({"--log-level", "debug", "--config", write_config(pkcs11_table_without_pin(token))}));
    auto c = client();
    try {
        c.login("hsm", wrong_pin);
        ADD_FAILURE() << "login with a wrong PIN succeeded";
    } catch (const proto::ClientError& e) {
        EXPECT_EQ(e.status(), pb::STATUS_PIN_INCORRECT) << e.what();
        EXPECT_EQ(std::string(e.what()).find(wrong_pin), std::string::npos) << e.what();
    }
    c.login("hsm", pin);
    // Logged in: the token works.
    const auto key = c.generate_key("after-login", pb::KEY_TYPE_ECDSA_P256, "hsm");
    const auto digest = digest_of("signed after login");
    expect_valid_signature(key, pb::HASH_SHA256, digest, c.sign(key.id(), pb::HASH_SHA256, digest).signature());
    stop_and_check();

    const std::string log = m_daemon->log();
    EXPECT_NE(log.find("op=login backend=\"hsm\" status=ok"), std::string::npos) << log;
    const std::vector<std::pair<std::string, std::string>> forms{
        {"PIN", pin},
        {"wrong PIN", wrong_pin},
        {"PIN hex", to_hex(as_bytes(pin))},
        {"PIN base64", to_base64(as_bytes(pin))},
    };
    expect_no_secret("the daemon's log (stderr)", log, forms);
    expect_no_secret_in_files(m_home.root(), forms);
}

// The "Max core file size" limits of a process, soft and hard.
std::pair<std::string, std::string> core_limits(pid_t pid) {
    for (const auto& line : lines_of(read_file("/proc/" + std::to_string(pid) + "/limits"))) {
        if (line.rfind("Max core file size", 0) != 0) continue;
        std::istringstream fields(line.substr(std::string("Max core file size").size()));
        std::string soft, hard;
        fields >> soft >> hard;
        return {soft, hard};
    }
    return {};
}

// Effective uid from /proc/PID/status ("Uid: real effective saved fs").
std::optional<uid_t> effective_uid(pid_t pid) {
    for (const auto& line : lines_of(read_file("/proc/" + std::to_string(pid) + "/status"))) {
        if (line.rfind("Uid:", 0) != 0) continue;
        std::istringstream fields(line.substr(4));
        uid_t real = 0, effective = 0;
        if (fields >> real >> effective) return effective;
    }
    return std::nullopt;
}

TEST_F(SecretsTest, DaemonCannotBeDumped) {
    // The kernel gives the /proc/PID files of a process that is not dumpable to root; those
    // of a dumpable one to its own uid. So the daemon must run as a uid other than root.
    auto o = options({"--log-level", "debug"});
    uid_t daemon_uid = ::geteuid();
    if (daemon_uid == 0) {
        daemon_uid = kNobody;
        ::chmod(m_home.root().c_str(), 0755);
        for (const auto& d : {m_home.runtime(), m_home.data(), m_home.config()})
            ASSERT_EQ(::chown(d.c_str(), kNobody, kNobody), 0);
        o.run_as = kNobody;
        o.log_file = m_home / "nobody.log";
        std::ofstream(o.log_file).flush();
        ASSERT_EQ(::chown(o.log_file.c_str(), kNobody, kNobody), 0);
    }
    // Let the daemon inherit a core limit above 0 (limits survive fork and exec), so the
    // check below sees what the daemon did itself.
    rlimit core{};
    ASSERT_EQ(::getrlimit(RLIMIT_CORE, &core), 0);
    core.rlim_cur = core.rlim_max = ::geteuid() == 0 ? RLIM_INFINITY : core.rlim_max;
    ASSERT_EQ(::setrlimit(RLIMIT_CORE, &core), 0);
    if (core.rlim_cur == 0) std::cerr << "note: the core limit of this test is 0, the daemon's own setting is not seen\n";
    start(std::move(o));
    const pid_t pid = m_daemon->pid();
    ASSERT_EQ(effective_uid(pid), std::optional<uid_t>(daemon_uid));

    // No core file, whatever the limit it was started with.
    const auto [soft, hard] = core_limits(pid);
    EXPECT_EQ(soft, "0");
    EXPECT_EQ(hard, "0");

    // Not dumpable: its /proc files belong to root, not to the daemon's uid.
    for (const char* name : {"status", "mem", "environ", "maps"}) {
        struct stat st {};
        const std::string p = "/proc/" + std::to_string(pid) + "/" + name;
        ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
        EXPECT_EQ(st.st_uid, 0u) << p << " is owned by uid " << st.st_uid << ": the daemon is dumpable";
    }
    expect_serves();
}

TEST_F(SecretsTest, RepliesCarryNoPrivateMaterial) {
    TempDir keys_ec("trustkeyd-secrets-ec");
    TempDir keys_ed("trustkeyd-secrets-ed");
    const auto ec = make_key(keys_ec, "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
    const auto ed = make_key(keys_ed, "-algorithm ED25519");
    ASSERT_FALSE(HasFailure());
    auto forms = secret_forms(ec);
    for (auto& f : secret_forms(ed)) forms.emplace_back("Ed25519 " + f.first, f.second);

    start({"--log-level", "debug"});
    auto c = client();
    std::vector<pb::Response> replies;
    auto call = [&](pb::Request req) {
        replies.push_back(c.call(req));
        return replies.back();
    };
    std::vector<std::string> ids;
    for (const auto* k : {&ec, &ed}) {
        pb::Request req;
        req.mutable_import_key()->set_name(k == &ec ? "ec" : "ed");
        req.mutable_import_key()->set_pem(k->encrypted_pem);
        req.mutable_import_key()->set_passphrase(kPassphrase);
        const auto resp = call(req);
        ASSERT_EQ(resp.status(), pb::STATUS_OK) << resp.message();
        EXPECT_EQ(keys::spki_to_pem(Bytes(resp.import_key().key().public_key().begin(),
                                             resp.import_key().key().public_key().end())),
                  k->public_pem);
        ids.push_back(resp.import_key().key().id());
    }
    {
        pb::Request req;
        req.mutable_generate_key()->set_name("generated");
        ASSERT_EQ(call(req).status(), pb::STATUS_OK);
    }
    {
        pb::Request req;
        req.mutable_list_keys();
        const auto resp = call(req);
        ASSERT_EQ(resp.status(), pb::STATUS_OK);
        EXPECT_EQ(resp.list_keys().keys_size(), 3);
    }
    for (const std::string& ref : {ids[0], ids[1], ids[0].substr(0, 7), std::string("ec"), std::string("ed")}) {
        pb::Request req;
        req.mutable_get_public_key()->set_key(ref);
        const auto resp = call(req);
        EXPECT_EQ(resp.status(), pb::STATUS_OK) << ref << ": " << resp.message();
    }
    {
        pb::Request req;
        req.mutable_get_status();
        EXPECT_EQ(call(req).status(), pb::STATUS_OK);
    }
    for (const std::string& ref : {std::string("ec"), std::string("ed")}) {
        pb::Request req;
        req.mutable_sign()->set_key(ref);
        const auto d = digest_of("reply check");
        req.mutable_sign()->set_hash(ref == "ed" ? pb::HASH_NONE : pb::HASH_SHA256);
        req.mutable_sign()->set_data(std::string(d.begin(), d.end()));
        const auto resp = call(req);
        EXPECT_EQ(resp.status(), pb::STATUS_OK) << ref << ": " << resp.message();
    }
    ASSERT_EQ(replies.size(), 12u);
    for (std::size_t i = 0; i < replies.size(); ++i) {
        std::string wire;
        ASSERT_TRUE(replies[i].SerializeToString(&wire));
        ASSERT_FALSE(wire.empty());
        expect_no_secret("reply " + std::to_string(i) + " (" + replies[i].ShortDebugString() + ")", wire, forms);
    }
}

} // namespace
} // namespace trustkey::test
