// Turns requests into responses. Holds no socket, so tests and fuzzers call it
// directly. Every exception stops here and becomes a status reply; each failure
// is logged once with its details, the client gets one short line.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "lib/backend/key_ring.h"
#include "lib/core/error.h"
#include "daemon/server/caller.h"
#include "daemon/server/key_constraints.h"
#include "daemon/server/lock_state.h"
#include "daemon/server/session.h"
#include "daemon/server/use_confirmer.h"
#include "trustkey/proto/codec.h"
#include "trustkey/proto/frame.h"

namespace trustkey::server {

namespace pb = proto::pb;

class Dispatcher {
public:
    struct Options {
        std::size_t max_frame = proto::kDefaultMaxFrame;
        std::function<std::size_t()> connection_count;  // for GetStatus; may be empty
        std::function<std::uint64_t()> dropped_requests;  // for GetStatus; may be empty
        // Stops the daemon for a Stop request, called once its reply was sent; empty: Stop is refused.
        std::function<void(const Caller&)> stop;
        std::chrono::seconds idle_lock{0};  // for GetStatus: the daemon's idle lock; 0: none
        // [[key_constraint]]s (null: none), and who confirms a use of a key that needs it.
        const KeyConstraints* constraints = nullptr;
        UseConfirmer confirm;
    };

    Dispatcher(backend::KeyRing& ring, Options options);

    // A frame body (version byte and message): checks the version byte, decodes, handles.
    pb::Response handle_frame(std::span<const std::uint8_t> body, const Caller& caller, Session& session) noexcept;
    // The first half of handle_frame(): checks the version byte and decodes into `request`.
    // Returns the error reply when the frame cannot be handled; nullopt when `request` is ready.
    std::optional<pb::Response> decode_frame(std::span<const std::uint8_t> body, const Caller& caller,
                                             const Session& session, pb::Request& request) noexcept;
    // Wipes the secrets (PINs, private keys) a handled request carried.
    static void wipe_secrets(pb::Request& request) noexcept;
    // One decoded request. Never throws.
    // `resolved`: the key the request's reference names, already resolved by the same rule
    // (the scheduler's cache lookup), so it is not resolved again; null resolves it here.
    // `may_ask_pin`: false where no one may be kept waiting for a pinentry prompt (the event
    // loop): a token that needs its PIN then answers STATUS_PIN_REQUIRED at once.
    // `may_ask_pin` false also refuses a key whose use needs confirmation (the loop never asks);
    // `use_confirmed`: the request's use of its key was confirmed already (confirm_batch()).
    pb::Response handle(const pb::Request& request, const Caller& caller, Session& session,
                        const backend::KeyRing::Entry* resolved = nullptr, bool may_ask_pin = true,
                        bool use_confirmed = false) noexcept;

    // Whether a use of `key` is confirmed by the user first ([[key_constraint]] confirm).
    bool needs_confirmation(const backend::KeyInfo& key) const;
    // For a SignBatch signed in parts: asks once for the whole batch (on a worker). Returns the
    // refusal reply, or nullopt when the parts may be signed (handle() with use_confirmed).
    std::optional<pb::Response> confirm_batch(const pb::Request& request, const Caller& caller,
                                              const backend::KeyRing::Entry& key) noexcept;

    // Largest SignBatch for a key type (agent-proto/include/trustkey/proto/frame.h).
    static std::uint32_t batch_limit(backend::KeyType type) noexcept;
    static std::string server_name();

    // After the reply to a Stop request (Session::stop_requested) went out: stops the daemon.
    void stop_after_reply(const Caller& caller) const;

    // Locked or not; the idle lock and the session's lock go through it too.
    LockState& lock_state() noexcept { return m_lock; }

private:
    // What a request is about, for the log line and for PIN details in a failure reply.
    struct Context {
        const char* op = "";
        std::string key_ref;
        std::string key_id;
        backend::Backend* backend = nullptr;
        std::vector<std::string> candidates;  // "<id> <name>" of each key an ambiguous reference names
        const backend::KeyRing::Entry* resolved = nullptr;  // see handle()
        Caller caller;
        bool may_ask = true;          // see handle()
        bool use_confirmed = false;   // see handle()
    };

    void dispatch(const pb::Request& request, const Caller& caller, Session& session, Context& ctx,
                  pb::Response& response);
    void on_hello(const pb::Hello& hello, Session& session, pb::Response& response);
    void on_list_keys(const Caller& caller, pb::Response& response);
    void on_get_public_key(const pb::GetPublicKey& req, Context& ctx, pb::Response& response);
    void on_generate_key(const pb::GenerateKey& req, Context& ctx, pb::Response& response);
    void on_import_key(const pb::ImportKey& req, Context& ctx, pb::Response& response);
    void on_sign(const pb::Sign& req, Context& ctx, pb::Response& response);
    void on_sign_batch(const pb::SignBatch& req, Context& ctx, pb::Response& response);
    // Asks the user to allow this use of `entry` when its constraints say so; throws denied
    // when they do not (or cannot be asked). `first` is the (first) digest, `count` how many.
    void confirm_use(const backend::KeyRing::Entry& entry, Context& ctx, backend::HashAlg hash,
                     std::string_view first, std::size_t count);
    void on_delete_key(const pb::DeleteKey& req, Context& ctx, pb::Response& response);
    void on_get_status(pb::Response& response);
    void on_login(const pb::Login& req, Context& ctx, pb::Response& response);
    void on_stop(Session& session, const Caller& caller, pb::Response& response);
    void on_annotate_key(const pb::AnnotateKey& req, Context& ctx, pb::Response& response);
    void on_lock(const Caller& caller, pb::Response& response);
    void on_unlock(const pb::Unlock& req, const Caller& caller, Context& ctx, pb::Response& response);
    // Throws already_exists naming the key trustkeyd holds under `name` on `b`, or (when
    // `id` is not empty) the key with that id on any backend.
    void check_new_key(backend::Backend& b, const std::string& name, const std::string& id);

    backend::KeyRing::Entry resolve(const std::string& ref, Context& ctx);
    void fail(pb::Response& response, const Error& error, const Caller& caller, const Context& ctx) noexcept;
    void fail(pb::Response& response, const Error& error, pb::Status status, const Caller& caller,
              const Context& ctx) noexcept;
    void add_pin_info(pb::Response& response, const Context& ctx) noexcept;
    static void fill_pin_info(backend::Backend& b, pb::PinInfo& pin) noexcept;
    // One line, no control characters: what the client shows its user.
    static std::string one_line(std::string s);

    backend::KeyRing& m_ring;
    Options m_options;
    std::chrono::steady_clock::time_point m_started;
    LockState m_lock;
};

} // namespace trustkey::server
