#include "tools/ceremony/root_generate.h"

#include <optional>

#include "lib/keys/public_key.h"
#include "lib/core/atomic_file.h"
#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/trust/tuf/certificate.h"

namespace trustkey::ceremony {

namespace {

// Makes the certificate of `key` for `gun`, writes it and the public key as the n-th root key
// of out_dir, and records it in the transcript.
RootKeyRecord certify(CeremonyToken& token, const backend::KeyInfo& key, const std::string& gun,
                      std::chrono::seconds validity, const std::filesystem::path& out_dir, std::size_t n,
                      Transcript& transcript, const std::string& step) {
    tuf::CertificateRequest request;
    request.common_name = gun;
    request.spki_der = key.spki_der;
    request.validity = validity;
    const std::string pem = tuf::make_root_certificate(request, [&](std::span<const std::uint8_t> digest) {
        return token.sign(key, digest);
    });
    const tuf::Key x509 = tuf::Key::from_certificate_pem(pem);
    RootKeyRecord record{token.serial(), token.label(), key.name, key.id, x509.id(),
                         "root-" + std::to_string(n) + ".crt", "root-" + std::to_string(n) + ".pub", {}, {}};
    write_file_atomically(out_dir / record.certificate, pem);
    write_file_atomically(out_dir / record.public_key, backend::spki_to_pem(key.spki_der));
    transcript.append(TranscriptEntry{step, {token.serial()}, {key.id, x509.id()},
                                      {{"gun", gun}, {"token_label", token.label()}, {"key_name", key.name},
                                       {"certificate", record.certificate},
                                       {"certificate_sha256", to_hex(sha256(as_bytes(pem)))},
                                       {"validity_seconds", validity.count()}}});
    return record;
}

void finish(const RootKeys& keys, const std::filesystem::path& out_dir, Transcript& transcript,
            const std::string& step) {
    const std::string text = keys.to_json_text();
    write_file_atomically(out_dir / kRootKeysFile, text);
    std::vector<std::string> serials, ids;
    for (const RootKeyRecord& r : keys.keys) {
        serials.push_back(r.token_serial);
        ids.push_back(r.x509_key_id);
    }
    transcript.append(TranscriptEntry{step, serials, ids,
                                      {{"gun", keys.gun}, {"threshold", keys.threshold},
                                       {"root_keys_sha256", to_hex(sha256(as_bytes(text)))}}});
}

constexpr const char* kKeyMadeStep = "root generate: key made";

// Whether the transcript records key `key_id` as made on token `serial` for `gun` by a run
// that did not finish (no later "root generate: done" for that GUN lists the token).
bool made_earlier(const Transcript& transcript, const std::string& serial, const std::string& key_id,
                  const std::string& gun) {
    bool made = false;
    for (const nlohmann::json& line : transcript.history()) {
        if (line["details"].value("gun", "") != gun) continue;
        if (line["step"] == kKeyMadeStep && line["tokens"] == nlohmann::json::array({serial}) &&
            line["keys"] == nlohmann::json::array({key_id}))
            made = true;
        if (made && line["step"] == "root generate: done")
            for (const nlohmann::json& s : line["tokens"])
                if (s == serial) made = false;
    }
    return made;
}

void check_gun(const std::string& gun) {
    if (gun.empty()) throw Error(Errc::invalid_argument, "--gun must not be empty");
    for (unsigned char c : gun)
        if (c < 0x21 || c == 0x7f) throw Error(Errc::invalid_argument, "--gun must not hold spaces or control characters");
}

} // namespace

std::string default_root_key_name(const std::string& gun) {
    return "root-" + to_hex(sha256(as_bytes(gun))).substr(0, 8);
}

void check_root_generate(const RootGenerateOptions& options, std::size_t token_count) {
    check_gun(options.gun);
    if (token_count == 0) throw Error(Errc::invalid_argument, "give at least one --token");
    if (options.threshold < 1)
        throw Error(Errc::invalid_argument, "--threshold must be at least 1");
    if (static_cast<std::size_t>(options.threshold) > token_count)
        throw Error(Errc::invalid_argument, "threshold " + std::to_string(options.threshold) + " is larger than the " +
                                                std::to_string(token_count) + " root key" +
                                                (token_count > 1 ? "s" : "") + " (one per --token)");
    if (options.validity.count() <= 0) throw Error(Errc::invalid_argument, "the certificate validity must be positive");
    if (std::filesystem::exists(options.out_dir / kRootKeysFile))
        throw Error(Errc::already_exists, (options.out_dir / kRootKeysFile).string() +
                                              " exists: this directory holds an earlier ceremony's keys");
}

RootKeys root_generate(const RootGenerateOptions& options, std::vector<CeremonyToken>& tokens, Transcript& transcript) {
    check_root_generate(options, tokens.size());
    const std::string name = options.key_name.empty() ? default_root_key_name(options.gun) : options.key_name;
    backend::check_key_name(name);
    std::vector<std::optional<backend::KeyInfo>> reused(tokens.size());
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        CeremonyToken& token = tokens[i];
        for (const backend::KeyInfo& k : token.backend().list_keys()) {
            if (k.name != name) continue;
            const bool ours = made_earlier(transcript, token.serial(), k.id, options.gun);
            if (ours && options.resume) {
                reused[i] = k;
                continue;
            }
            if (ours)
                throw Error(Errc::already_exists, token.description() + " holds root key " + k.id + " of " +
                                                      options.gun + " from an interrupted run (give --resume to use "
                                                                    "it, or another --key-name)");
            throw Error(Errc::already_exists,
                        token.description() + " already has a key named " + name + " (give another --key-name)");
        }
    }
    std::filesystem::create_directories(options.out_dir);

    RootKeys result;
    result.gun = options.gun;
    result.threshold = options.threshold;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        backend::KeyInfo key;
        // A TPM's keys are bound to that TPM: they are never made for copying.
        const bool backup = !options.no_backup && !tokens[i].is_tpm();
        if (reused[i]) {
            key = *reused[i];
        } else {
            key = tokens[i].generate_key(name, backup);
            transcript.append(TranscriptEntry{kKeyMadeStep, {tokens[i].serial()}, {key.id},
                                              {{"gun", options.gun}, {"key_name", name},
                                               {"token_label", tokens[i].label()}, {"backup", backup}}});
        }
        result.keys.push_back(certify(tokens[i], key, options.gun, options.validity, options.out_dir, i + 1,
                                      transcript, "root generate: key"));
        if (!reused[i]) result.keys.back().backup_allowed = backup;
    }
    finish(result, options.out_dir, transcript, "root generate: done");
    return result;
}

RootKeys root_certify(const RootCertifyOptions& options, std::vector<CeremonyToken>& tokens, Transcript& transcript) {
    check_gun(options.gun);
    const RootKeys source = RootKeys::load(options.keys_dir);
    const std::int64_t threshold = options.threshold == 0 ? source.threshold : options.threshold;
    if (threshold < 1 || static_cast<std::size_t>(threshold) > tokens.size())
        throw Error(Errc::invalid_argument, "threshold " + std::to_string(threshold) + " does not fit the " +
                                                std::to_string(tokens.size()) + " root key(s) given (one per --token)");
    if (std::filesystem::exists(options.out_dir / kRootKeysFile))
        throw Error(Errc::already_exists, (options.out_dir / kRootKeysFile).string() +
                                              " exists: this directory holds an earlier ceremony's keys");
    // Find every key before writing anything.
    std::vector<backend::KeyInfo> found;
    for (CeremonyToken& token : tokens) {
        std::optional<backend::KeyInfo> key;
        for (const backend::KeyInfo& k : token.backend().list_keys())
            for (const RootKeyRecord& r : source.keys)
                if (k.id == r.key_id) key = k;
        if (!key) throw Error(Errc::not_found, token.description() + " holds none of the root keys of " + source.gun);
        for (const backend::KeyInfo& other : found)
            if (other.id == key->id)
                throw Error(Errc::invalid_argument, token.description() + " holds root key " + key->id +
                                                        " again (a token given twice?)");
        found.push_back(*key);
    }
    std::filesystem::create_directories(options.out_dir);
    RootKeys result;
    result.gun = options.gun;
    result.threshold = threshold;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        result.keys.push_back(certify(tokens[i], found[i], options.gun, options.validity, options.out_dir, i + 1,
                                      transcript, "root certify: key"));
        for (const RootKeyRecord& r : source.keys)
            if (r.key_id == found[i].id) {
                result.keys.back().backup_allowed = r.backup_allowed;
                result.keys.back().backups = r.backups;
            }
    }
    finish(result, options.out_dir, transcript, "root certify: done");
    return result;
}

} // namespace trustkey::ceremony
