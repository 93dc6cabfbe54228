// The client's requests that carry a PIN or a key's authorization value (Login, Unlock) and
// Lock: the secret is set into the request once and wiped from it whatever the outcome.
#include "lib/core/secure_bytes.h"
#include "trustkey/proto/client.h"

namespace trustkey::proto {

void Client::login(std::string_view backend, std::string_view pin) {
    pb::Request req;
    req.mutable_login()->set_backend(std::string(backend));
    call_with_secret(req, req.mutable_login()->mutable_pin(), pin);
}

void Client::login_key(std::string_view key_ref, std::string_view auth) {
    pb::Request req;
    req.mutable_login()->set_key(std::string(key_ref));
    call_with_secret(req, req.mutable_login()->mutable_pin(), auth);
}

void Client::lock() {
    pb::Request req;
    req.mutable_lock();
    call(req);
}

std::string Client::unlock(std::string_view backend, std::string_view pin) {
    pb::Request req;
    req.mutable_unlock()->set_backend(std::string(backend));
    return call_with_secret(req, req.mutable_unlock()->mutable_pin(), pin).unlock().backend();
}

pb::Response Client::call_with_secret(pb::Request& request, std::string* field, std::string_view secret) {
    field->assign(secret.data(), secret.size());
    struct Wiper {
        std::string* field;
        ~Wiper() { wipe(*field); }
    } wiper{field};
    return call(request);
}

} // namespace trustkey::proto
