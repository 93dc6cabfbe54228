#include "tests/systemd/activation_support.h"

#include <cstdlib>
#include <thread>

namespace trustkey::test {

std::string comm_of(pid_t pid) {
    std::string name = read_file("/proc/" + std::to_string(pid) + "/comm");
    while (!name.empty() && name.back() == '\n') name.pop_back();
    return name;
}

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

std::vector<std::string> activator_env_args(const TrustkeydHome& home, const std::vector<std::string>& extra) {
    std::vector<std::string> env = home.env();
    env.insert(env.end(), extra.begin(), extra.end());
    for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"})
        if (const char* value = std::getenv(name)) env.push_back(std::string(name) + "=" + value);
    std::vector<std::string> args;
    for (const auto& e : env) {
        args.push_back("-E");
        args.push_back(e);
    }
    return args;
}

bool has_sanitizer_report(const std::string& log) {
    for (const char* marker : {"ThreadSanitizer:", "AddressSanitizer:", "LeakSanitizer:", ": runtime error: "})
        if (log.find(marker) != std::string::npos) return true;
    return false;
}

} // namespace trustkey::test
