#include "trustkey/proto/codec.h"

#include "trustkey/proto/frame.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/unknown_field_set.h>

namespace trustkey::proto {
namespace {

namespace gp = google::protobuf;

// Where, in a message type, nested messages can sit: plain message fields, and the oneofs
// that hold at least one message field (only the member that is set needs a look).
struct NestedFields {
    std::vector<const gp::FieldDescriptor*> fields;
    std::vector<const gp::OneofDescriptor*> oneofs;
};

NestedFields nested_fields_of(const gp::Descriptor* d) {
    NestedFields n;
    for (int i = 0; i < d->field_count(); ++i) {
        const gp::FieldDescriptor* f = d->field(i);
        if (f->cpp_type() != gp::FieldDescriptor::CPPTYPE_MESSAGE) continue;
        const gp::OneofDescriptor* o = f->real_containing_oneof();
        if (o == nullptr)
            n.fields.push_back(f);
        else if (std::find(n.oneofs.begin(), n.oneofs.end(), o) == n.oneofs.end())
            n.oneofs.push_back(o);
    }
    return n;
}

// The nested fields of every message type of the schema, worked out once: the strict
// decoder runs on every request and reply, and walking all fields by reflection each
// time costs more than the rest of a small request's handling.
const NestedFields& nested_fields(const gp::Descriptor* d) {
    static const std::unordered_map<const gp::Descriptor*, NestedFields> table = [] {
        std::unordered_map<const gp::Descriptor*, NestedFields> t;
        std::vector<const gp::Descriptor*> unvisited{pb::Request::descriptor(), pb::Response::descriptor()};
        while (!unvisited.empty()) {
            const gp::Descriptor* m = unvisited.back();
            unvisited.pop_back();
            if (t.contains(m)) continue;
            t.emplace(m, nested_fields_of(m));
            for (int i = 0; i < m->field_count(); ++i)
                if (const gp::Descriptor* sub = m->field(i)->message_type()) unvisited.push_back(sub);
        }
        return t;
    }();
    static const NestedFields none;
    const auto it = table.find(d);
    return it != table.end() ? it->second : none;
}

bool check_nested(const gp::Message& msg, const gp::FieldDescriptor* f, std::string& why);

// Finds the first unknown field in `msg` or any message nested in it. Returns false and
// fills `why` when there is one.
bool has_no_unknown_fields(const gp::Message& msg, std::string& why) {
    const gp::Reflection* refl = msg.GetReflection();
    const gp::UnknownFieldSet& unknown = refl->GetUnknownFields(msg);
    if (!unknown.empty()) {
        why = "unknown field " + std::to_string(unknown.field(0).number()) + " in " +
              msg.GetDescriptor()->name();
        return false;
    }
    const NestedFields& nested = nested_fields(msg.GetDescriptor());
    for (const gp::OneofDescriptor* o : nested.oneofs) {
        const gp::FieldDescriptor* set = refl->GetOneofFieldDescriptor(msg, o);
        if (set != nullptr && set->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE &&
            !check_nested(msg, set, why))
            return false;
    }
    for (const gp::FieldDescriptor* f : nested.fields)
        if (!check_nested(msg, f, why)) return false;
    return true;
}

bool check_nested(const gp::Message& msg, const gp::FieldDescriptor* f, std::string& why) {
    const gp::Reflection* refl = msg.GetReflection();
    if (f->is_repeated()) {
        const int n = refl->FieldSize(msg, f);
        for (int i = 0; i < n; ++i)
            if (!has_no_unknown_fields(refl->GetRepeatedMessage(msg, f, i), why)) return false;
        return true;
    }
    return !refl->HasField(msg, f) || has_no_unknown_fields(refl->GetMessage(msg, f), why);
}

// The canonical-form check, made on the wire bytes themselves (no second encoding): the
// form a proto3 encoder writes. Fields in ascending field-number order, each singular
// field at most once and at most one member of a oneof; varints (tags, values, lengths)
// in their fewest bytes; no singular field without presence carrying its default value;
// repeated scalars packed into one non-empty record; values the parser would change
// (a bool above 1, an int32 or uint32 out of range) refused. Nested messages are walked
// the same way. Unknown fields and wrong wire types are rule 2's (has_no_unknown_fields).
class CanonicalWalker {
public:
    explicit CanonicalWalker(std::span<const std::uint8_t> wire) : m_p(wire.data()), m_end(wire.data() + wire.size()) {}

    bool message(const gp::Descriptor* d, int depth = 0) {
        if (depth > kMaxDepth) return false;
        int last = 0;
        std::array<const gp::OneofDescriptor*, 8> oneofs_seen{};
        std::size_t oneof_count = 0;
        while (m_p != m_end) {
            std::uint64_t tag = 0;
            if (!varint(tag) || tag > 0xffffffffu) return false;
            const int number = static_cast<int>(tag >> 3);
            const int wire_type = static_cast<int>(tag & 7);
            const gp::FieldDescriptor* f = d->FindFieldByNumber(number);
            if (f == nullptr || wire_type != expected_wire_type(f)) return false;
            if (number < last) return false;
            // The same field again: only the elements of a repeated field not packed.
            if (number == last && !(f->is_repeated() && wire_type == kLen && !f->is_packable())) return false;
            if (number != last) {
                if (const gp::OneofDescriptor* o = f->real_containing_oneof()) {
                    for (std::size_t i = 0; i < oneof_count; ++i)
                        if (oneofs_seen[i] == o) return false;
                    if (oneof_count == oneofs_seen.size()) return false;
                    oneofs_seen[oneof_count++] = o;
                }
            }
            last = number;
            if (!value(f, wire_type, depth)) return false;
        }
        return true;
    }

private:
    static constexpr int kLen = 2;
    static constexpr int kMaxDepth = 32;

    // The wire type a field arrives with: a packed repeated field is one length-delimited run.
    static int expected_wire_type(const gp::FieldDescriptor* f) {
        return f->is_packed() ? kLen : element_wire_type(f);
    }

    // The wire type of one value of the field (an element of a packed run is a varint, or
    // fixed 64 or 32 bits).
    static int element_wire_type(const gp::FieldDescriptor* f) {
        switch (f->type()) {
        case gp::FieldDescriptor::TYPE_FIXED64:
        case gp::FieldDescriptor::TYPE_SFIXED64:
        case gp::FieldDescriptor::TYPE_DOUBLE: return 1;
        case gp::FieldDescriptor::TYPE_FIXED32:
        case gp::FieldDescriptor::TYPE_SFIXED32:
        case gp::FieldDescriptor::TYPE_FLOAT: return 5;
        case gp::FieldDescriptor::TYPE_STRING:
        case gp::FieldDescriptor::TYPE_BYTES:
        case gp::FieldDescriptor::TYPE_MESSAGE: return kLen;
        case gp::FieldDescriptor::TYPE_GROUP: return 3;
        default: return 0;
        }
    }

    // A field's default value may be written only where the field has presence.
    static bool default_allowed(const gp::FieldDescriptor* f) { return f->is_repeated() || f->has_presence(); }

    // The parser keeps a varint of these types unchanged only within their range.
    static bool scalar_in_range(const gp::FieldDescriptor* f, std::uint64_t v) {
        switch (f->type()) {
        case gp::FieldDescriptor::TYPE_BOOL: return v <= 1;
        case gp::FieldDescriptor::TYPE_UINT32: return v <= 0xffffffffu;
        case gp::FieldDescriptor::TYPE_INT32:
        case gp::FieldDescriptor::TYPE_ENUM:
            return v <= 0x7fffffffu || v >= 0xffffffff80000000u;  // negatives are sign-extended
        case gp::FieldDescriptor::TYPE_SINT32: return v <= 0xffffffffu;
        default: return true;
        }
    }

    bool value(const gp::FieldDescriptor* f, int wire_type, int depth) {
        switch (wire_type) {
        case 0: {
            std::uint64_t v = 0;
            if (!varint(v) || !scalar_in_range(f, v)) return false;
            return v != 0 || default_allowed(f);
        }
        case 1:
        case 5: {
            const std::size_t n = wire_type == 1 ? 8 : 4;
            if (static_cast<std::size_t>(m_end - m_p) < n) return false;
            const bool zero = std::all_of(m_p, m_p + n, [](std::uint8_t b) { return b == 0; });
            m_p += n;
            return !zero || default_allowed(f);
        }
        case kLen: {
            std::uint64_t len = 0;
            if (!varint(len) || len > static_cast<std::uint64_t>(m_end - m_p)) return false;
            const std::uint8_t* body = m_p;
            m_p += len;
            if (f->is_packed()) return len > 0 && packed(f, {body, static_cast<std::size_t>(len)});
            if (f->type() == gp::FieldDescriptor::TYPE_MESSAGE) {
                CanonicalWalker inner({body, static_cast<std::size_t>(len)});
                return inner.message(f->message_type(), depth + 1);
            }
            return len != 0 || default_allowed(f);
        }
        default: return false;
        }
    }

    bool packed(const gp::FieldDescriptor* f, std::span<const std::uint8_t> body) {
        const int element = element_wire_type(f);
        CanonicalWalker inner(body);
        while (inner.m_p != inner.m_end) {
            if (element == 0) {
                std::uint64_t v = 0;
                if (!inner.varint(v) || !scalar_in_range(f, v)) return false;
            } else {
                const std::size_t n = element == 1 ? 8 : 4;
                if (static_cast<std::size_t>(inner.m_end - inner.m_p) < n) return false;
                inner.m_p += n;
            }
        }
        return true;
    }

    // A varint in its fewest bytes: no final 0x00 byte after the first, at most 10 bytes.
    bool varint(std::uint64_t& out) {
        std::uint64_t v = 0;
        for (int i = 0; i < 10; ++i) {
            if (m_p == m_end) return false;
            const std::uint8_t b = *m_p++;
            if (i == 9 && b > 1) return false;
            v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
            if ((b & 0x80) == 0) {
                if (i > 0 && b == 0) return false;
                out = v;
                return true;
            }
        }
        return false;
    }

    const std::uint8_t* m_p;
    const std::uint8_t* m_end;
};

bool is_canonical(const gp::Descriptor* d, std::span<const std::uint8_t> wire) {
    return CanonicalWalker(wire).message(d);
}

bool no_unknown_here(const gp::Message& m) { return m.GetReflection()->GetUnknownFields(m).empty(); }

// Signing requests and their replies, what trustkeyd handles most, have bodies without
// nested messages (codec_test checks that), so they are checked without the general walk
// over the schema; every other message takes it.
bool has_no_unknown_fields(const pb::Request& r, std::string& why) {
    if (no_unknown_here(r)) {
        if (r.has_sign() && no_unknown_here(r.sign())) return true;
        if (r.has_sign_batch() && no_unknown_here(r.sign_batch())) return true;
    }
    return has_no_unknown_fields(static_cast<const gp::Message&>(r), why);
}

bool has_no_unknown_fields(const pb::Response& r, std::string& why) {
    if (no_unknown_here(r) && (!r.has_pin() || no_unknown_here(r.pin()))) {
        if (r.has_sign() && no_unknown_here(r.sign())) return true;
        if (r.has_sign_batch() && no_unknown_here(r.sign_batch())) return true;
    }
    return has_no_unknown_fields(static_cast<const gp::Message&>(r), why);
}

template <typename Message>
bool decode_strict(std::span<const std::uint8_t> message, Message& out, std::string& why) {
    out.Clear();
    if (message.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
        why = "message too large";
        return false;
    }
    bool parsed;
    {
        // Bad input is reported through `why`; keep the parser from logging client data to stderr.
        google::protobuf::LogSilencer quiet;
        parsed = out.ParseFromArray(message.data(), static_cast<int>(message.size()));
    }
    if (!parsed) {
        why = "not a valid " + out.GetDescriptor()->name() + " message (truncated, bad wire data or invalid UTF-8)";
        out.Clear();
        return false;
    }
    if (!has_no_unknown_fields(out, why)) {
        out.Clear();
        return false;
    }
    if (!message.empty() && !is_canonical(out.GetDescriptor(), message)) {
        why = "non-canonical " + out.GetDescriptor()->name() +
              " encoding (trailing bytes, repeated or out-of-order fields, explicit default values or "
              "over-long varints)";
        out.Clear();
        return false;
    }
    return true;
}

} // namespace

std::vector<std::uint8_t> encode_message(const google::protobuf::MessageLite& msg) {
    std::vector<std::uint8_t> bytes(msg.ByteSizeLong());
    if (!bytes.empty()) msg.SerializeWithCachedSizesToArray(bytes.data());
    return bytes;
}

void append_frame(std::vector<std::uint8_t>& out, std::uint8_t version, const google::protobuf::MessageLite& msg) {
    append_frame(out, version, msg, msg.ByteSizeLong());
}

void append_frame(std::vector<std::uint8_t>& out, std::uint8_t version, const google::protobuf::MessageLite& msg,
                  std::size_t size) {
    const std::size_t body = size + 1;
    const std::size_t at = out.size();
    out.resize(at + kFrameHeaderSize + body);
    std::uint8_t* p = out.data() + at;
    p[0] = static_cast<std::uint8_t>(body >> 24);
    p[1] = static_cast<std::uint8_t>(body >> 16);
    p[2] = static_cast<std::uint8_t>(body >> 8);
    p[3] = static_cast<std::uint8_t>(body);
    p[4] = version;
    if (size > 0) msg.SerializeWithCachedSizesToArray(p + kFrameHeaderSize + 1);
}

bool decode_request(std::span<const std::uint8_t> message, pb::Request& out, std::string& why) {
    return decode_strict(message, out, why);
}

bool decode_response(std::span<const std::uint8_t> message, pb::Response& out, std::string& why) {
    return decode_strict(message, out, why);
}

const char* status_name(pb::Status s) noexcept {
    switch (s) {
    case pb::STATUS_OK: return "ok";
    case pb::STATUS_MALFORMED: return "malformed";
    case pb::STATUS_UNSUPPORTED_VERSION: return "unsupported_version";
    case pb::STATUS_UNKNOWN_REQUEST: return "unknown_request";
    case pb::STATUS_NOT_NEGOTIATED: return "not_negotiated";
    case pb::STATUS_INVALID_ARGUMENT: return "invalid_argument";
    case pb::STATUS_KEY_NOT_FOUND: return "key_not_found";
    case pb::STATUS_AMBIGUOUS_KEY: return "ambiguous_key";
    case pb::STATUS_KEY_EXISTS: return "key_exists";
    case pb::STATUS_UNSUPPORTED_ALGORITHM: return "unsupported_algorithm";
    case pb::STATUS_BAD_DIGEST_LENGTH: return "bad_digest_length";
    case pb::STATUS_BATCH_EMPTY: return "batch_empty";
    case pb::STATUS_BATCH_TOO_LARGE: return "batch_too_large";
    case pb::STATUS_BAD_KEY_FORMAT: return "bad_key_format";
    case pb::STATUS_BAD_PASSPHRASE: return "bad_passphrase";
    case pb::STATUS_PIN_INCORRECT: return "pin_incorrect";
    case pb::STATUS_PIN_LOCKED: return "pin_locked";
    case pb::STATUS_PIN_REQUIRED: return "pin_required";
    case pb::STATUS_TOKEN_ABSENT: return "token_absent";
    case pb::STATUS_TOKEN_ERROR: return "token_error";
    case pb::STATUS_DENIED: return "denied";
    case pb::STATUS_INTERNAL: return "internal";
    case pb::STATUS_KEY_DAMAGED: return "key_damaged";
    case pb::STATUS_BUSY: return "busy";
    case pb::STATUS_LOCKED: return "locked";
    default: return "unknown_status";
    }
}

const char* request_name(const pb::Request& r) noexcept {
    switch (r.body_case()) {
    case pb::Request::kHello: return "hello";
    case pb::Request::kListKeys: return "list_keys";
    case pb::Request::kGetPublicKey: return "get_public_key";
    case pb::Request::kGenerateKey: return "generate_key";
    case pb::Request::kImportKey: return "import_key";
    case pb::Request::kSign: return "sign";
    case pb::Request::kSignBatch: return "sign_batch";
    case pb::Request::kDeleteKey: return "delete_key";
    case pb::Request::kGetStatus: return "get_status";
    case pb::Request::kLogin: return "login";
    case pb::Request::kStop: return "stop";
    case pb::Request::kAnnotateKey: return "annotate_key";
    case pb::Request::kLock: return "lock";
    case pb::Request::kUnlock: return "unlock";
    case pb::Request::BODY_NOT_SET: return "none";
    }
    return "unknown";
}

} // namespace trustkey::proto
