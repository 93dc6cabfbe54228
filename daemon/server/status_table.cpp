#include "daemon/server/status_table.h"

#include <array>
#include <utility>

namespace trustkey::server {

namespace {

using proto::pb::Status;

constexpr std::array<std::pair<Errc, Status>, 23> kStatusTable{{
    {Errc::internal, Status::STATUS_INTERNAL},
    {Errc::invalid_argument, Status::STATUS_INVALID_ARGUMENT},
    {Errc::not_found, Status::STATUS_KEY_NOT_FOUND},
    {Errc::ambiguous, Status::STATUS_AMBIGUOUS_KEY},
    {Errc::already_exists, Status::STATUS_KEY_EXISTS},
    {Errc::unsupported_algorithm, Status::STATUS_UNSUPPORTED_ALGORITHM},
    {Errc::bad_digest_length, Status::STATUS_BAD_DIGEST_LENGTH},
    {Errc::batch_empty, Status::STATUS_BATCH_EMPTY},
    {Errc::batch_too_large, Status::STATUS_BATCH_TOO_LARGE},
    {Errc::bad_key_format, Status::STATUS_BAD_KEY_FORMAT},
    {Errc::bad_passphrase, Status::STATUS_BAD_PASSPHRASE},
    {Errc::pin_incorrect, Status::STATUS_PIN_INCORRECT},
    {Errc::pin_locked, Status::STATUS_PIN_LOCKED},
    {Errc::pin_required, Status::STATUS_PIN_REQUIRED},
    {Errc::locked, Status::STATUS_LOCKED},
    {Errc::token_absent, Status::STATUS_TOKEN_ABSENT},
    {Errc::token_error, Status::STATUS_TOKEN_ERROR},
    {Errc::key_damaged, Status::STATUS_KEY_DAMAGED},
    {Errc::denied, Status::STATUS_DENIED},
    {Errc::malformed, Status::STATUS_MALFORMED},
    {Errc::unsupported_version, Status::STATUS_UNSUPPORTED_VERSION},
    {Errc::io, Status::STATUS_INTERNAL},
    {Errc::config, Status::STATUS_INTERNAL},
}};

} // namespace

Status to_status(Errc errc) noexcept {
    for (const auto& [e, s] : kStatusTable)
        if (e == errc) return s;
    return Status::STATUS_INTERNAL;
}

} // namespace trustkey::server
