#include "tools/ceremony/backup_command.h"

#include <iostream>

#include "lib/backend/pkcs11/key_backup.h"
#include "lib/core/atomic_file.h"
#include "lib/core/encoding.h"
#include "lib/core/error.h"
#include "tools/ceremony/ceremony_context.h"
#include "tools/ceremony/root_keys.h"
#include "tools/ceremony/token_init_command.h"
#include "tools/trustkey/pin_prompt.h"

namespace trustkey::ceremony {

namespace {

using backend::pkcs11::TokenSlot;

std::string describe(const TokenSlot& s) { return "token " + s.label + " (serial " + s.serial + ")"; }

bool holds(const RootKeyRecord& r, const std::string& serial) {
    if (r.token_serial == serial) return true;
    for (const BackupCopy& b : r.backups)
        if (b.token_serial == serial) return true;
    return false;
}

// The position (0-based) of the key to copy: --key N, else the one key root-keys.json puts on `from`.
std::size_t pick_key(const BackupOptions& options, const RootKeys& keys, const TokenSlot& from) {
    const std::filesystem::path file = options.keys_dir / kRootKeysFile;
    if (options.key != 0) {
        if (options.key > keys.keys.size())
            throw Error(Errc::invalid_argument, "--key " + std::to_string(options.key) + ": " + file.string() +
                                                    " lists " + std::to_string(keys.keys.size()) + " root key(s)");
        return options.key - 1;
    }
    std::vector<std::size_t> on_token;
    for (std::size_t i = 0; i < keys.keys.size(); ++i)
        if (holds(keys.keys[i], from.serial)) on_token.push_back(i);
    if (on_token.empty())
        throw Error(Errc::not_found, file.string() + " lists no root key on " + describe(from) + " (give --key N)");
    if (on_token.size() > 1)
        throw Error(Errc::ambiguous, file.string() + " lists " + std::to_string(on_token.size()) + " root keys on " +
                                         describe(from) + "; give --key N");
    return on_token.front();
}

SecureBytes user_pin(std::size_t position, const TokenSlot& token) {
    const std::string own = std::string(kPinEnv) + "_" + std::to_string(position);
    if (auto pin = tools::secret_from_env({own.c_str(), kPinEnv})) return std::move(*pin);
    return tools::read_secret("User PIN for " + describe(token) + ": ");
}

SecureBytes so_pin(const TokenSlot& token) {
    if (auto pin = tools::secret_from_env({kSoPinEnv})) return std::move(*pin);
    return tools::read_secret("SO PIN for " + describe(token) + ": ");
}

} // namespace

void backup(const BackupOptions& options, CeremonyContext& context) {
    for (const std::string* uri : {&options.from, &options.to})
        if (*uri == kTpmToken)
            throw Error(Errc::denied, "backup copies keys between PKCS#11 tokens; a TPM's keys are bound to that TPM "
                                      "and cannot be copied (keep the other root keys on tokens); refusing");
    RootKeys keys = RootKeys::load(options.keys_dir);
    const std::filesystem::path module = context.module();
    const TokenSlot from = backend::pkcs11::find_token(module, options.from);
    const TokenSlot to = backend::pkcs11::find_token(module, options.to);
    if (from.serial == to.serial)
        throw Error(Errc::invalid_argument, options.from + " and " + options.to + " are the same token (serial " +
                                                from.serial + ")");
    const std::size_t index = pick_key(options, keys, from);
    RootKeyRecord& record = keys.keys[index];
    const std::string which = "root key " + std::to_string(index + 1) + " (" + record.key_id + ")";
    if (record.backup_allowed == false)
        throw Error(Errc::denied, which + " was made with --no-backup and cannot leave its token; refusing");
    if (holds(record, to.serial))
        throw Error(Errc::already_exists, (options.keys_dir / kRootKeysFile).string() + " already lists " +
                                              describe(to) + " for " + which + "; refusing");

    backend::pkcs11::KeyBackupRequest request{module, options.from, options.to, record.key_id, {}, {}, {}};
    request.from_user_pin = user_pin(1, from);
    request.from_so_pin = so_pin(from);
    request.to_user_pin = user_pin(2, to);
    backend::pkcs11::KeyBackupResult result;
    try {
        result = backend::pkcs11::backup_key(request);
    } catch (const Error& e) {
        if (e.errc() == Errc::denied) throw Error(Errc::denied, which + ": " + e.message());
        throw;
    }
    context.transcript().append(TranscriptEntry{"backup: key copied",
                                                {result.from.serial, result.to.serial},
                                                {record.key_id, record.x509_key_id},
                                                {{"gun", keys.gun},
                                                 {"key_name", result.key_label},
                                                 {"from_label", result.from.label},
                                                 {"to_label", result.to.label},
                                                 {"transport", result.transport},
                                                 {"leftovers_removed", result.leftovers_removed}}});

    record.backups.push_back(BackupCopy{result.to.serial, result.to.label});
    const std::string text = keys.to_json_text();
    write_file_atomically(options.keys_dir / kRootKeysFile, text);
    context.transcript().append(TranscriptEntry{"backup: done", {result.from.serial, result.to.serial},
                                                {record.x509_key_id},
                                                {{"gun", keys.gun}, {"root_keys_sha256", to_hex(sha256(as_bytes(text)))}}});
    std::cout << which << " copied from " << describe(result.from) << " to " << describe(result.to) << " ("
              << result.transport << ")\n";
    if (result.leftovers_removed > 0)
        std::cout << "removed " << result.leftovers_removed << " transport object(s) an interrupted run left\n";
}

} // namespace trustkey::ceremony
