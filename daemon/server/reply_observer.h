// What the event loop tells an observer about the replies it sends, so a service
// beside the socket (the D-Bus interface, daemon/dbus/) can report signatures and
// key changes without a thread or lock of its own. Called on the loop's thread, at
// the one place a connection appends a reply, before the reply is written.
#pragma once

#include <string>
#include <vector>

#include "daemon/server/caller.h"
#include "daemon/server/dispatcher.h"

namespace trustkey::server {

struct SignatureMade {
    std::string key_id;
    Caller caller;
    // The first 8 bytes in hex of each digest signed (of the message for HASH_NONE), in order.
    std::vector<std::string> digest_prefixes;
};

// A token pulled out or put back, as the daemon's presence check saw it.
struct TokenPresence {
    std::string backend;
    std::string label;   // the token as last seen
    std::string serial;
    bool present = false;
};

class ReplyObserver {
public:
    virtual ~ReplyObserver() = default;
    // A Sign or SignBatch was answered with its signatures.
    virtual void signature_made(const SignatureMade& made) = 0;
    // A request that adds, removes or unlocks keys succeeded (GenerateKey, ImportKey,
    // DeleteKey, Login, AnnotateKey).
    virtual void keys_changed() = 0;
    // The daemon was locked or unlocked (a Lock or Unlock answered, the idle lock).
    virtual void lock_changed(bool locked) = 0;
    // A backend's token went away or came back (the daemon's presence check, token_poll_seconds).
    virtual void token_presence_changed(const TokenPresence&) {}
};

// What the observer needs of a request before it goes to the scheduler: the digest prefixes
// of a Sign or SignBatch, empty for any other request.
std::vector<std::string> digest_prefixes(const pb::Request& request);

// Tells `observer` what `response` (to the request `prefixes` were taken from) means for it.
// Never throws: an observer's failure is logged and the reply goes out as before.
void notify_reply(ReplyObserver& observer, const pb::Response& response, const Caller& caller,
                  const std::vector<std::string>& prefixes) noexcept;

} // namespace trustkey::server
