// Asking the user to confirm one use of a key whose every use needs it
// ([[key_constraint]] confirm = true), through their pinentry program's CONFIRM as
// gpg-agent asks for an ssh key added with `ssh-add -c`: the question names the caller's
// executable, pid and uid, the key and its token, and what is signed (the digest's
// algorithm and first bytes; for a batch the count and the first digest).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace trustkey::server {

struct UseQuestion {
    std::string program;  // the caller's executable (/proc/PID/exe), empty when unknown
    pid_t pid = 0;
    uid_t uid = 0;
    std::string key_name;
    std::string key_id;   // the full TUF key id (shown shortened)
    std::string token;    // the token's label, else its backend's name
    std::string hash;     // "SHA-256", or "message" for a key that signs the whole message
    std::string first;    // hex of the first bytes of the (first) digest
    std::size_t count = 1;  // digests in the request
};

// True when the user allowed the use, false when they refused or cancelled. Throws Error
// (denied) saying why nobody could be asked: no pinentry, it failed, or no answer in time.
using UseConfirmer = std::function<bool(const UseQuestion&)>;

// Through `program` (a path or a name in PATH; "none": every use is refused, as nobody can
// be asked), one question at a time, each answered within `timeout`.
UseConfirmer make_pinentry_confirmer(std::string program, std::chrono::seconds timeout);

// The text pinentry shows (SETDESC).
std::string confirm_description(const UseQuestion& question);

// The executable of process `pid` (/proc/PID/exe), empty when it cannot be read.
std::string executable_of(pid_t pid);

} // namespace trustkey::server
