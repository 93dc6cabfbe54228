#include "tools/ceremony/token_init_command.h"

#include <cstdlib>
#include <iostream>

#include "lib/backend/pkcs11/token_init.h"
#include "lib/core/error.h"
#include "tools/ceremony/ceremony_context.h"
#include "tools/trustkey/pin_prompt.h"

namespace trustkey::ceremony {

namespace {

using backend::pkcs11::TokenSlot;

SecureBytes secret(const char* env, const std::string& prompt, bool confirm) {
    const char* v = std::getenv(env);
    if (v != nullptr && *v != '\0') return secure_from(v);
    SecureBytes first = tools::read_secret(prompt);
    if (confirm && tools::stdin_is_terminal()) {
        const SecureBytes again = tools::read_secret("Again: ");
        if (again != first) throw Error(Errc::invalid_argument, "the two PINs typed differ");
    }
    if (first.empty()) throw Error(Errc::invalid_argument, "an empty PIN");
    return first;
}

std::string describe(const TokenSlot& s) {
    return "token " + s.label + " (serial " + s.serial + ") in slot " + std::to_string(s.id);
}

} // namespace

void print_token_slots(CeremonyContext& context) {
    for (const TokenSlot& s : backend::pkcs11::list_token_slots(context.module()))
        std::cout << "slot " << s.id << "  " << (s.initialized ? "initialized" : "not initialized") << "  label \""
                  << s.label << "\"  serial " << s.serial << "  " << s.manufacturer << " " << s.model << "\n";
}

void token_init(const TokenInitOptions& options, CeremonyContext& context) {
    const auto slots = backend::pkcs11::list_token_slots(context.module());
    const TokenSlot* slot = nullptr;
    for (const TokenSlot& s : slots)
        if (s.id == options.slot) slot = &s;
    if (slot == nullptr)
        throw Error(Errc::not_found, "no token in slot " + std::to_string(options.slot) + " (see `token list`)");
    if (slot->initialized && !options.yes) {
        if (!tools::stdin_is_terminal())
            throw Error(Errc::denied, describe(*slot) +
                                          " is initialized; initializing it erases every key on it (give --yes to "
                                          "do that without a terminal)");
        if (!tools::ask_yes_no("Initializing " + describe(*slot) + " erases every key on it. Erase it? [y/N] "))
            throw Error(Errc::denied, describe(*slot) + " left as it was");
    }
    const SecureBytes so_pin = secret(kSoPinEnv, "SO PIN for slot " + std::to_string(slot->id) + ": ", !slot->initialized);
    const SecureBytes user_pin = secret(kNewPinEnv, "New user PIN for " + options.label + ": ", true);
    TokenSlot done;
    try {
        done = backend::pkcs11::init_token(context.module(), slot->id, options.label, so_pin, user_pin);
    } catch (const Error& e) {
        if (e.errc() == Errc::pin_incorrect || e.errc() == Errc::pin_locked)
            throw Error(e.errc(), std::string(e.errc() == Errc::pin_locked ? "the SO PIN is locked for "
                                                                           : "wrong SO PIN for ") +
                                      describe(*slot) + "; nothing was changed");
        throw;
    }
    context.transcript().append(TranscriptEntry{
        "token init", {done.serial}, {},
        {{"slot", slot->id}, {"label", done.label}, {"erased", slot->initialized},
         {"previous_serial", slot->serial}, {"previous_label", slot->label}}});
    std::cout << "initialized token " << done.label << " (serial " << done.serial << ") in slot " << done.id << "\n";
}

} // namespace trustkey::ceremony
