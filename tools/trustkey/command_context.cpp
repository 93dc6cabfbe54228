#include "tools/trustkey/command_context.h"

namespace trustkey::tools {

proto::Client CommandContext::connect() const {
    if (socket_path.empty()) throw Failure::usage("--socket must not be empty");
    return proto::Client::connect(socket_path);
}

} // namespace trustkey::tools
