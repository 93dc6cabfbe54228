#include "tools/ceremony/root_generate.h"


#include "daemon/backend/public_key.h"
#include "daemon/core/encoding.h"
#include "daemon/core/error.h"
#include "tools/ceremony/atomic_file.h"
#include "tools/trust/tuf/certificate.h"

namespace trustkey::ceremony {

std::string default_root_key_name(const std::string& gun) {
    return "root-" + to_hex(sha256(as_bytes(gun))).substr(0, 8);
}

void check_root_generate(const RootGenerateOptions& options, std::size_t token_count) {
    if (options.gun.empty()) throw Error(Errc::invalid_argument, "--gun must not be empty");
    for (unsigned char c : options.gun)
        if (c < 0x21 || c == 0x7f) throw Error(Errc::invalid_argument, "--gun must not hold spaces or control characters");
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
    for (CeremonyToken& token : tokens)
        for (const backend::KeyInfo& k : token.backend().list_keys())
            if (k.name == name)
                throw Error(Errc::already_exists,
                            token.description() + " already has a key named " + name + " (give another --key-name)");
    std::filesystem::create_directories(options.out_dir);

    RootKeys result;
    result.gun = options.gun;
    result.threshold = options.threshold;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        CeremonyToken& token = tokens[i];
        const backend::KeyInfo key = token.backend().generate(name, backend::KeyType::ecdsa_p256);
        tuf::CertificateRequest request;
        request.common_name = options.gun;
        request.spki_der = key.spki_der;
        request.validity = options.validity;
        const std::string pem = tuf::make_root_certificate(request, [&](std::span<const std::uint8_t> digest) {
            return token.backend().sign(key, backend::HashAlg::sha256, digest);
        });
        const tuf::Key x509 = tuf::Key::from_certificate_pem(pem);
        const std::string n = std::to_string(i + 1);
        RootKeyRecord record{token.serial(), token.label(), name, key.id, x509.id(),
                             "root-" + n + ".crt", "root-" + n + ".pub"};
        write_file_atomically(options.out_dir / record.certificate, pem);
        write_file_atomically(options.out_dir / record.public_key, backend::spki_to_pem(key.spki_der));
        transcript.append(TranscriptEntry{
            "root generate: key", {token.serial()}, {key.id, x509.id()},
            {{"gun", options.gun}, {"token_label", token.label()}, {"key_name", name},
             {"certificate", record.certificate}, {"certificate_sha256", to_hex(sha256(as_bytes(pem)))},
             {"validity_seconds", options.validity.count()}}});
        result.keys.push_back(std::move(record));
    }
    write_file_atomically(options.out_dir / kRootKeysFile, result.to_json_text());
    std::vector<std::string> serials, ids;
    for (const RootKeyRecord& r : result.keys) {
        serials.push_back(r.token_serial);
        ids.push_back(r.x509_key_id);
    }
    transcript.append(TranscriptEntry{"root generate: done", serials, ids,
                                      {{"gun", options.gun}, {"threshold", options.threshold},
                                       {"root_keys_sha256", to_hex(sha256(as_bytes(result.to_json_text())))}}});
    return result;
}

} // namespace trustkey::ceremony
