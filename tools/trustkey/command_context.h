// State every command shares: the global options and the connection to trustkeyd.
#pragma once

#include <functional>
#include <string>

#include "tools/trustkey/failure.h"
#include "trustkey/proto/client.h"

namespace trustkey::tools {

class CommandContext {
public:
    std::string socket_path = proto::Client::default_socket_path();
    // The command the parser selected; run after parsing succeeded.
    std::function<void()> action;

    // Connects to trustkeyd; throws Failure (naming the socket) when it cannot.
    proto::Client connect() const;

    // Runs `request` against the daemon and turns any ClientError into a Failure
    // worded for `subject`.
    template <typename F>
    auto with_client(const RequestSubject& subject, F&& request) const {
        try {
            auto client = connect();
            return request(client);
        } catch (const proto::ClientError& e) {
            throw Failure::from_client_error(e, subject, socket_path);
        }
    }
};

} // namespace trustkey::tools
