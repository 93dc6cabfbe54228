#include "tools/trustkey/login_command.h"

#include <iostream>

#include <fmt/format.h>

#include "lib/core/secure_bytes.h"
#include "tools/trustkey/pin_prompt.h"

namespace trustkey::tools {

LoginCommand::LoginCommand(CLI::App& app, CommandContext& context) : m_context(context) {
    auto* login = app.add_subcommand("login", "Log in to a token with its user PIN");
    login->add_option("--backend", m_backend, "Token to log in to (default: the first)");
    login->add_option("--key", m_key,
                      "A key with its own authorization value (TPM): give it ($TRUSTKEY_KEY_AUTH or asked for); "
                      "trustkeyd keeps it in memory until it stops")
        ->excludes("--backend");
    login->callback([this] { m_context.action = [this] { run(); }; });
}

void LoginCommand::run() const {
    if (!m_key.empty()) return login_key();
    RequestSubject subject = RequestSubject::key({}, m_backend);
    subject.login = true;
    m_context.with_client(subject, [&](proto::Client& c) {
        // Name the token in the prompt and in errors even when the user did not.
        if (subject.backend.empty()) {
            const auto status = c.status();
            if (status.tokens().empty()) throw Failure::failed("trustkeyd has no token to log in to");
            subject.backend = status.tokens(0).backend();
        }
        SecureBytes pin;
        if (auto env = secret_from_env({"TRUSTKEY_PIN"}))
            pin = std::move(*env);
        else
            pin = read_secret(fmt::format("Enter PIN for token '{}': ", subject.backend));
        if (pin.empty()) throw Failure::failed("empty PIN");
        try {
            c.login(subject.backend, as_string_view(pin));
        } catch (const proto::ClientError& e) {
            throw Failure::from_client_error(e, subject, m_context.socket_path);
        }
    });
    std::cout << fmt::format("logged in to token '{}'\n", subject.backend);
}

void LoginCommand::login_key() const {
    SecureBytes auth;
    if (auto env = secret_from_env({"TRUSTKEY_KEY_AUTH"}))
        auth = std::move(*env);
    else
        auth = read_secret(fmt::format("Authorization value for key '{}': ", m_key));
    if (auth.empty()) throw Failure::failed(fmt::format("empty authorization value for key '{}'", m_key));
    m_context.with_client(RequestSubject::key(m_key),
                          [&](proto::Client& c) { c.login_key(m_key, as_string_view(auth)); });
    std::cout << fmt::format("authorization value of key '{}' given to trustkeyd\n", m_key);
}

} // namespace trustkey::tools
