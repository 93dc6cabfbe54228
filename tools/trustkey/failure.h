// What a command reports when it fails: one line for stderr and the exit code
// (1: the operation failed, 2: the command line was wrong).
#pragma once

#include <stdexcept>
#include <string>

#include "trustkey/proto/client.h"

namespace trustkey::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// What a request was about, so an error line can name it.
struct RequestSubject {
    std::string key_ref;   // key reference the user typed
    std::string backend;   // token / backend name
    std::string file;      // file the user named
    bool login = false;    // the request was a Login with a PIN the user gave

    static RequestSubject key(std::string key_ref, std::string backend = {}, std::string file = {}) {
        RequestSubject s;
        s.key_ref = std::move(key_ref);
        s.backend = std::move(backend);
        s.file = std::move(file);
        return s;
    }
};

class Failure : public std::runtime_error {
public:
    static Failure usage(std::string message) { return Failure(kExitUsage, std::move(message)); }
    static Failure failed(std::string message) { return Failure(kExitFailure, std::move(message)); }
    // Turns a client library error into the one line the user sees (one table, in failure.cpp).
    static Failure from_client_error(const proto::ClientError& e, const RequestSubject& subject,
                                     const std::string& socket_path);

    int exit_code() const noexcept { return m_exit_code; }

private:
    Failure(int exit_code, std::string message) : std::runtime_error(std::move(message)), m_exit_code(exit_code) {}
    int m_exit_code;
};

} // namespace trustkey::tools
