#include "lib/backend/pin_asker.h"

#include <algorithm>

namespace trustkey::backend {

namespace {

thread_local PinPurpose::State t_state;

} // namespace

PinPurpose::PinPurpose(std::string what) : m_outer(std::move(t_state)) {
    t_state = State{std::move(what), {}};
}

PinPurpose::~PinPurpose() { t_state = std::move(m_outer); }

std::optional<std::string> PinPurpose::current() { return t_state.what; }

bool PinPurpose::first_ask(const std::string& token) {
    if (!t_state.what) return false;
    if (std::find(t_state.asked.begin(), t_state.asked.end(), token) != t_state.asked.end()) return false;
    t_state.asked.push_back(token);
    return true;
}

} // namespace trustkey::backend
