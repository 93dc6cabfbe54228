#include "tools/trustkey/lock_commands.h"

#include <iostream>

#include <fmt/format.h>

#include "lib/core/secure_bytes.h"
#include "tools/trustkey/pin_prompt.h"

namespace trustkey::tools {

LockCommands::LockCommands(CLI::App& app, CommandContext& context) : m_context(context) {
    auto* lock = app.add_subcommand(
        "lock", "Lock trustkeyd: its tokens are logged out and its keys refused until `trustkey unlock`");
    lock->callback([this] { m_context.action = [this] { this->lock(); }; });
    auto* unlock = app.add_subcommand("unlock", "Unlock trustkeyd with a token's user PIN");
    unlock->add_option("--backend", m_backend, "Token whose PIN unlocks (default: the first that has a PIN)");
    unlock->callback([this] { m_context.action = [this] { this->unlock(); }; });
}

void LockCommands::lock() const {
    m_context.with_client({}, [](proto::Client& c) { c.lock(); });
    std::cout << "trustkeyd is locked\n";
}

void LockCommands::unlock() const {
    RequestSubject subject = RequestSubject::key({}, m_backend);
    subject.login = true;
    std::string unlocked_with;
    m_context.with_client(subject, [&](proto::Client& c) {
        // Name the token in the prompt: the one asked for, else the first that has a PIN.
        if (subject.backend.empty()) {
            const auto status = c.status();
            for (const auto& t : status.tokens())
                if (t.kind() == "pkcs11") {
                    subject.backend = t.backend();
                    break;
                }
        }
        SecureBytes pin;
        if (!subject.backend.empty()) {
            if (auto env = secret_from_env({"TRUSTKEY_PIN"}))
                pin = std::move(*env);
            else
                pin = read_secret(fmt::format("Enter PIN for token '{}' to unlock trustkeyd: ", subject.backend));
            if (pin.empty()) throw Failure::failed("empty PIN");
        }
        try {
            unlocked_with = c.unlock(subject.backend, as_string_view(pin));
        } catch (const proto::ClientError& e) {
            throw Failure::from_client_error(e, subject, m_context.socket_path);
        }
    });
    if (unlocked_with.empty())
        std::cout << "trustkeyd is unlocked (no token of it has a PIN)\n";
    else
        std::cout << fmt::format("trustkeyd is unlocked with the PIN of token '{}'\n", unlocked_with);
}

} // namespace trustkey::tools
