#include "trustkey/proto/codec.h"

#include <set>
#include <string>

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "trustkey/proto/frame.h"

namespace trustkey::proto {
namespace {

using Bytes = std::vector<std::uint8_t>;
using google::protobuf::util::MessageDifferencer;

pb::KeyInfo sample_key(int n) {
    pb::KeyInfo k;
    k.set_id(std::string(64, static_cast<char>('a' + n)));
    k.set_name("key-" + std::to_string(n));
    k.set_type(pb::KEY_TYPE_ED25519);
    k.set_backend("softhsm");
    k.set_public_key(std::string("\x30\x2a\x00\xff", 4));
    auto* use = k.add_uses();
    use->set_repository("docker.io/library/app");
    use->set_role("root");
    k.add_uses()->set_role("targets/alice");
    k.add_certificate_ids(std::string(64, 'c'));
    return k;
}

std::vector<pb::Request> every_request() {
    std::vector<pb::Request> all;
    auto add = [&all]() -> pb::Request& {
        all.emplace_back();
        all.back().set_id(all.size() + 0xFFFFFFFFull);
        return all.back();
    };
    {
        auto* h = add().mutable_hello();
        h->set_min_version(1);
        h->set_max_version(3);
        h->set_client("trustkey 0.1");
    }
    add().mutable_list_keys();
    add().mutable_get_public_key()->set_key("abcdef0");
    {
        auto* g = add().mutable_generate_key();
        g->set_name("root");
        g->set_type(pb::KEY_TYPE_RSA_4096);
        g->set_backend("yubikey");
    }
    {
        auto* i = add().mutable_import_key();
        i->set_name("imported");
        i->set_pem("-----BEGIN PRIVATE KEY-----\n...\n");
        i->set_passphrase(std::string("p\0w", 3));
        i->set_backend("softhsm");
    }
    {
        auto* s = add().mutable_sign();
        s->set_key("targets");
        s->set_hash(pb::HASH_SHA256);
        s->set_data(std::string(32, '\x11'));
    }
    {
        auto* b = add().mutable_sign_batch();
        b->set_key("snapshot");
        b->set_hash(pb::HASH_NONE);
        b->add_items("first");
        b->add_items("");
        b->add_items(std::string(300, '\x7f'));
    }
    add().mutable_delete_key()->set_key("old");
    add().mutable_get_status();
    {
        auto* l = add().mutable_login();
        l->set_backend("softhsm");
        l->set_pin("1234");
    }
    add().mutable_stop();
    {
        auto* a = add().mutable_annotate_key();
        a->set_key("root-key");
        auto* use = a->add_uses();
        use->set_repository("docker.io/library/app");
        use->set_role("root");
        a->add_certificates("-----BEGIN CERTIFICATE-----\n...\n");
        a->add_certificates(std::string("\x30\x82\x01\x00", 4));
    }
    return all;
}

std::vector<pb::Response> every_response() {
    std::vector<pb::Response> all;
    auto add = [&all]() -> pb::Response& {
        all.emplace_back();
        all.back().set_id(all.size());
        return all.back();
    };
    {
        auto* h = add().mutable_hello();
        h->set_version(1);
        h->set_server("trustkeyd 0.1.0");
        h->set_max_frame(65536);
        auto* l = h->add_batch_limits();
        l->set_key_type(pb::KEY_TYPE_RSA_2048);
        l->set_max_items(kBatchLimitRsa2048);
    }
    {
        auto* l = add().mutable_list_keys();
        *l->add_keys() = sample_key(0);
        *l->add_keys() = sample_key(1);
        auto* u = l->add_unreadable();
        u->set_backend("yubi");
        u->set_status(pb::STATUS_PIN_INCORRECT);
        u->set_message("the token refused the configured PIN");
        u->mutable_pin()->set_count_low(true);
        u->mutable_pin()->set_refused(pb::PIN_ORIGIN_CONFIGURED);
    }
    *add().mutable_get_public_key()->mutable_key() = sample_key(2);
    *add().mutable_generate_key()->mutable_key() = sample_key(3);
    *add().mutable_import_key()->mutable_key() = sample_key(4);
    {
        auto* s = add().mutable_sign();
        s->set_signature(std::string(64, '\x22'));
        s->set_key_id(std::string(64, 'f'));
        s->set_method("ecdsa");
    }
    {
        auto* b = add().mutable_sign_batch();
        b->add_signatures(std::string(256, '\x01'));
        b->add_signatures(std::string(256, '\x02'));
        b->set_key_id(std::string(64, '0'));
        b->set_method("rsapss");
    }
    add().mutable_delete_key()->set_key_id(std::string(64, 'e'));
    {
        auto* st = add().mutable_get_status();
        st->set_server("trustkeyd 0.1.0");
        st->set_version(1);
        st->set_connections(3);
        st->set_uptime_seconds(1ull << 40);
        auto* t = st->add_tokens();
        t->set_backend("softhsm");
        t->set_kind("pkcs11");
        t->set_location("/usr/lib/softhsm/libsofthsm2.so");
        t->set_label("trustkey");
        t->set_manufacturer("SoftHSM project");
        t->set_model("SoftHSM v2");
        t->set_serial("0123456789abcdef");
        t->set_present(true);
        t->set_logged_in(true);
        t->set_pin_count_low(true);
        t->set_pin_final_try(true);
        t->set_pin_locked(true);
        t->set_key_count(4);
        t->set_sessions(2);
        t->set_error("none");
        t->set_pin_refused(pb::PIN_ORIGIN_LOGIN);
    }
    add().mutable_login();
    add().mutable_stop()->set_pid(4242);
    *add().mutable_annotate_key()->mutable_key() = sample_key(5);
    {
        auto& r = add();
        r.set_status(pb::STATUS_AMBIGUOUS_KEY);
        r.set_message("key reference \"ab\" matches 2 keys");
        r.add_candidates("aaaa root");
        r.add_candidates("abab targets");
    }
    {
        auto& r = add();
        r.set_status(pb::STATUS_PIN_INCORRECT);
        r.set_message("PIN incorrect");
        r.mutable_pin()->set_count_low(true);
        r.mutable_pin()->set_final_try(true);
        r.mutable_pin()->set_locked(true);
    }
    return all;
}

Bytes bytes_of(std::initializer_list<int> v) {
    Bytes b;
    for (int x : v) b.push_back(static_cast<std::uint8_t>(x));
    return b;
}

Bytes concat(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// Expects `bytes` to be refused as a Request, with a reason containing `reason`.
void expect_bad_request(const Bytes& bytes, const std::string& reason) {
    pb::Request r;
    std::string why;
    EXPECT_FALSE(decode_request(bytes, r, why));
    EXPECT_NE(why.find(reason), std::string::npos) << "reason was: " << why;
    EXPECT_EQ(r.body_case(), pb::Request::BODY_NOT_SET) << "a refused message must leave nothing behind";
}

Bytes valid_sign_request() {
    pb::Request r;
    r.set_id(5);
    r.mutable_sign()->set_key("k");
    r.mutable_sign()->set_hash(pb::HASH_SHA256);
    r.mutable_sign()->set_data(std::string(32, 'd'));
    return encode_message(r);
}

TEST(Codec, EveryRequestRoundTrips) {
    const auto all = every_request();
    std::set<int> cases;
    for (const auto& req : all) {
        const Bytes bytes = encode_message(req);
        pb::Request back;
        std::string why;
        ASSERT_TRUE(decode_request(bytes, back, why)) << request_name(req) << ": " << why;
        EXPECT_TRUE(MessageDifferencer::Equals(req, back)) << request_name(req);
        cases.insert(static_cast<int>(back.body_case()));
    }
    EXPECT_EQ(cases.size(), 12u) << "every request body must be covered";
}

TEST(Codec, EveryResponseRoundTrips) {
    const auto all = every_response();
    std::set<int> cases;
    for (const auto& resp : all) {
        const Bytes bytes = encode_message(resp);
        pb::Response back;
        std::string why;
        ASSERT_TRUE(decode_response(bytes, back, why)) << resp.id() << ": " << why;
        EXPECT_TRUE(MessageDifferencer::Equals(resp, back)) << resp.id();
        if (back.body_case() != pb::Response::BODY_NOT_SET) cases.insert(static_cast<int>(back.body_case()));
    }
    EXPECT_EQ(cases.size(), 12u) << "every response body must be covered";
}

// The canonical form is checked on the wire, without encoding again; it must agree with
// the definition in PROTOCOL.md: the bytes equal the re-encoding of what they parsed to.
// Every one-byte change, truncation and extension of every sample message is decoded, and
// each acceptance or "non-canonical" refusal is held against a parse and re-encode.
template <typename Message, typename Decode>
void expect_wire_check_agrees(const std::vector<Message>& samples, Decode decode) {
    int accepted = 0, non_canonical = 0;
    const auto check = [&](const Bytes& bytes) {
        Message out;
        std::string why;
        const bool ok = decode(bytes, out, why);
        Message reference;
        const bool parses = reference.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
        const bool canonical = parses && reference.SerializeAsString() ==
                                             std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        if (ok) {
            ++accepted;
            EXPECT_TRUE(canonical) << "accepted a non-canonical encoding of " << reference.ShortDebugString();
        } else if (why.find("non-canonical") != std::string::npos) {
            ++non_canonical;
            EXPECT_FALSE(canonical) << "refused a canonical encoding of " << reference.ShortDebugString();
        }
    };
    for (const auto& sample : samples) {
        const Bytes wire = encode_message(sample);
        check(wire);
        for (std::size_t i = 0; i < wire.size(); ++i) {
            for (const std::uint8_t v : {0x00, 0x01, 0x02, 0x7f, 0x80, 0x81, 0xff, wire[i] ^ 0x01, wire[i] ^ 0x08}) {
                Bytes changed = wire;
                changed[i] = v;
                check(changed);
            }
            check(Bytes(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(i)));
        }
        for (const Bytes& tail : {Bytes{0x00}, Bytes{0x08, 0x01}, Bytes{0x08, 0x00}, Bytes{0x5A, 0x00}}) {
            Bytes longer = wire;
            longer.insert(longer.end(), tail.begin(), tail.end());
            check(longer);
        }
    }
    EXPECT_GT(accepted, static_cast<int>(samples.size()));
    EXPECT_GT(non_canonical, 0);
}

TEST(Codec, WireCheckAgreesWithReencodingForRequests) {
    expect_wire_check_agrees(every_request(), [](const Bytes& b, pb::Request& r, std::string& why) {
        return decode_request(b, r, why);
    });
}

TEST(Codec, WireCheckAgreesWithReencodingForResponses) {
    expect_wire_check_agrees(every_response(), [](const Bytes& b, pb::Response& r, std::string& why) {
        return decode_response(b, r, why);
    });
}

TEST(Codec, BoolAboveOneIsRefused) {
    pb::Response r;
    r.set_id(1);
    r.set_status(pb::STATUS_PIN_INCORRECT);
    r.mutable_pin()->set_count_low(true);
    Bytes wire = encode_message(r);
    ASSERT_EQ(wire.back(), 0x01);  // pin { count_low: 1 } is last
    wire.back() = 0x02;
    pb::Response out;
    std::string why;
    EXPECT_FALSE(decode_response(wire, out, why));
    EXPECT_NE(why.find("non-canonical"), std::string::npos) << why;
}

TEST(Codec, EmptyMessageDecodesToRequestWithoutBody) {
    // Decoding succeeds; the server answers STATUS_UNKNOWN_REQUEST for a request without a body.
    pb::Request r;
    std::string why;
    ASSERT_TRUE(decode_request({}, r, why)) << why;
    EXPECT_EQ(r.body_case(), pb::Request::BODY_NOT_SET);
    EXPECT_STREQ(request_name(r), "none");
}

TEST(Codec, EmptyFrameBodyIsRefused) {
    // A frame whose body has no version byte cannot be split.
    EXPECT_FALSE(split_frame_body({}).has_value());
}

TEST(Codec, TruncatedMessageIsRefused) {
    Bytes b = valid_sign_request();
    b.pop_back();
    expect_bad_request(b, "not a valid Request");
}

TEST(Codec, GarbageIsRefused) {
    expect_bad_request(bytes_of({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}),
                       "not a valid Request");
    expect_bad_request(bytes_of({0xDE, 0xAD, 0xBE, 0xEF}), "Request");
}

TEST(Codec, TrailingZeroBytesAreRefused) {
    expect_bad_request(concat(valid_sign_request(), bytes_of({0x00})), "not a valid Request");
}

TEST(Codec, TrailingFieldAfterBodyIsRefused) {
    // A second id after the body: both out of order and repeated.
    expect_bad_request(concat(valid_sign_request(), bytes_of({0x08, 0x06})), "non-canonical");
}

TEST(Codec, UnknownTopLevelFieldIsRefused) {
    // Field 99, varint 1: tag (99 << 3) | 0 = 792 = 0x98 0x06.
    expect_bad_request(concat(valid_sign_request(), bytes_of({0x98, 0x06, 0x01})), "unknown field 99 in Request");
}

TEST(Codec, UnknownOneofCaseIsRefused) {
    // Field 30 (not a body in the schema), length-delimited, empty: tag (30 << 3) | 2 = 0xF2 0x01.
    expect_bad_request(bytes_of({0x08, 0x01, 0xF2, 0x01, 0x00}), "unknown field 30 in Request");
}

TEST(Codec, UnknownNestedFieldIsRefused) {
    // Sign body (field 15) holding field 9 = 1.
    expect_bad_request(bytes_of({0x08, 0x01, 0x7A, 0x02, 0x48, 0x01}), "unknown field 9 in Sign");
}

TEST(Codec, UnknownFieldDeepInResponseIsRefused) {
    // Response{id 1, list_keys{keys{field 20 = 0}}}: 0x5A len {0x0A len {0xA0 0x01 0x00}}.
    pb::Response r;
    std::string why;
    EXPECT_FALSE(decode_response(bytes_of({0x08, 0x01, 0x5A, 0x05, 0x0A, 0x03, 0xA0, 0x01, 0x00}), r, why));
    EXPECT_NE(why.find("unknown field 20 in KeyInfo"), std::string::npos) << why;
}

TEST(Codec, UnknownFieldInAKeyUseIsRefused) {
    // Request{id 1, annotate_key (21){key "k", uses{field 9 = 1}}}.
    expect_bad_request(bytes_of({0x08, 0x01, 0xAA, 0x01, 0x07, 0x0A, 0x01, 'k', 0x12, 0x02, 0x48, 0x01}),
                       "unknown field 9 in KeyUse");
}

TEST(Codec, UnknownFieldInEachSigningBodyIsRefused) {
    // These bodies are checked without the general walk over the schema; each must still
    // refuse a field it does not know. Field 9 = 1 is 0x48 0x01.
    pb::Request r;
    std::string why;
    // SignBatch body (field 16: tag 0x82 0x01) holding field 9.
    EXPECT_FALSE(decode_request(bytes_of({0x08, 0x01, 0x82, 0x01, 0x02, 0x48, 0x01}), r, why));
    EXPECT_NE(why.find("unknown field 9 in SignBatch"), std::string::npos) << why;
    pb::Response resp;
    // Response{id 1, sign{field 9}}: SignReply is field 15 (0x7A).
    EXPECT_FALSE(decode_response(bytes_of({0x08, 0x01, 0x7A, 0x02, 0x48, 0x01}), resp, why));
    EXPECT_NE(why.find("unknown field 9 in SignReply"), std::string::npos) << why;
    // Response{id 1, sign_batch{field 9}}.
    EXPECT_FALSE(decode_response(bytes_of({0x08, 0x01, 0x82, 0x01, 0x02, 0x48, 0x01}), resp, why));
    EXPECT_NE(why.find("unknown field 9 in SignBatchReply"), std::string::npos) << why;
    // Response{id 1, pin{field 9}, sign{}}: the pin sits beside a signing body.
    EXPECT_FALSE(decode_response(bytes_of({0x08, 0x01, 0x2A, 0x02, 0x48, 0x01, 0x7A, 0x00}), resp, why));
    EXPECT_NE(why.find("unknown field 9 in PinInfo"), std::string::npos) << why;
}

TEST(Codec, SigningBodiesHoldNoNestedMessages) {
    // The decoder looks for unknown fields in these bodies without descending into them; a
    // message field added to one of them must come with a deeper check in codec.cpp.
    for (const auto* d : {pb::Sign::descriptor(), pb::SignBatch::descriptor(), pb::SignReply::descriptor(),
                          pb::SignBatchReply::descriptor()}) {
        for (int i = 0; i < d->field_count(); ++i)
            EXPECT_NE(d->field(i)->cpp_type(), google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE)
                << d->name() << "." << d->field(i)->name();
    }
    // Response's own nested messages outside its body: only `pin`, which the decoder checks.
    const auto* resp = pb::Response::descriptor();
    for (int i = 0; i < resp->field_count(); ++i) {
        const auto* f = resp->field(i);
        if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE && f->real_containing_oneof() == nullptr) {
            EXPECT_EQ(f->name(), "pin");
        }
    }
    const auto* req = pb::Request::descriptor();
    for (int i = 0; i < req->field_count(); ++i) {
        const auto* f = req->field(i);
        EXPECT_FALSE(f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE &&
                     f->real_containing_oneof() == nullptr)
            << "Request." << f->name();
    }
}

TEST(Codec, RepeatedScalarFieldIsRefused) {
    expect_bad_request(bytes_of({0x08, 0x01, 0x08, 0x02, 0x5A, 0x00}), "non-canonical");
}

TEST(Codec, RepeatedBodyIsRefused) {
    // Two get_public_key bodies: the parser would merge them.
    expect_bad_request(bytes_of({0x08, 0x01, 0x62, 0x03, 0x0A, 0x01, 'a', 0x62, 0x03, 0x0A, 0x01, 'b'}),
                       "non-canonical");
}

TEST(Codec, OutOfOrderFieldsAreRefused) {
    // list_keys body before the id.
    expect_bad_request(bytes_of({0x5A, 0x00, 0x08, 0x01}), "non-canonical");
}

TEST(Codec, WrongWireTypeIsRefused) {
    // Field 1 (id, a varint) sent length-delimited.
    expect_bad_request(bytes_of({0x0A, 0x01, 0x00, 0x5A, 0x00}), "unknown field 1 in Request");
}

TEST(Codec, NonMinimalVarintIsRefused) {
    // id = 1 written in two bytes.
    expect_bad_request(bytes_of({0x08, 0x81, 0x00, 0x5A, 0x00}), "non-canonical");
}

TEST(Codec, NonMinimalLengthIsRefused) {
    // list_keys body with a length of 0 written in two bytes.
    expect_bad_request(bytes_of({0x08, 0x01, 0x5A, 0x80, 0x00}), "non-canonical");
}

TEST(Codec, ExplicitDefaultValueIsRefused) {
    expect_bad_request(bytes_of({0x08, 0x00, 0x5A, 0x00}), "non-canonical");
}

TEST(Codec, OversizedInnerLengthIsRefused) {
    // A get_public_key body claiming 100 bytes with 2 present.
    expect_bad_request(bytes_of({0x08, 0x01, 0x62, 0x64, 0x0A, 0x00}), "not a valid Request");
}

TEST(Codec, InvalidUtf8InStringIsRefused) {
    expect_bad_request(bytes_of({0x08, 0x01, 0x62, 0x03, 0x0A, 0x01, 0xC3}), "not a valid Request");
}

TEST(Codec, RefusalLeavesOutputCleared) {
    pb::Request r;
    r.set_id(77);
    r.mutable_list_keys();
    std::string why;
    EXPECT_FALSE(decode_request(bytes_of({0x08, 0x81, 0x00}), r, why));
    EXPECT_EQ(r.id(), 0u);
    EXPECT_EQ(r.body_case(), pb::Request::BODY_NOT_SET);
}

TEST(Codec, ResponseDecodingIsStrictToo) {
    pb::Response r;
    std::string why;
    EXPECT_FALSE(decode_response(bytes_of({0x08, 0x01, 0x08, 0x01}), r, why));
    EXPECT_NE(why.find("non-canonical Response"), std::string::npos) << why;
    EXPECT_FALSE(decode_response(bytes_of({0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}),
                                 r, why));
}

TEST(Codec, HelloFrameMatchesTheSpecExample) {
    // The worked example in PROTOCOL.md.
    pb::Request r;
    r.set_id(1);
    r.mutable_hello()->set_min_version(1);
    r.mutable_hello()->set_max_version(1);
    r.mutable_hello()->set_client("trustkey");
    const Bytes frame = encode_frame(1, encode_message(r));
    const Bytes want = bytes_of({0x00, 0x00, 0x00, 0x13, 0x01, 0x08, 0x01, 0x52, 0x0e, 0x08, 0x01, 0x10, 0x01, 0x1a,
                                 0x08, 't', 'r', 'u', 's', 't', 'k', 'e', 'y'});
    EXPECT_EQ(frame, want);
}

TEST(Codec, StatusNamesAreDistinctAndComplete) {
    std::set<std::string> names;
    for (int s = pb::Status_MIN; s <= pb::Status_MAX; ++s) {
        ASSERT_TRUE(pb::Status_IsValid(s));
        const std::string n = status_name(static_cast<pb::Status>(s));
        EXPECT_NE(n, "unknown_status") << s;
        names.insert(n);
    }
    EXPECT_EQ(names.size(), static_cast<std::size_t>(pb::Status_MAX - pb::Status_MIN + 1));
    EXPECT_STREQ(status_name(pb::STATUS_KEY_NOT_FOUND), "key_not_found");
    EXPECT_STREQ(status_name(static_cast<pb::Status>(999)), "unknown_status");
}

TEST(Codec, RequestNamesFollowTheBody) {
    std::set<std::string> names;
    for (const auto& r : every_request()) names.insert(request_name(r));
    EXPECT_EQ(names.size(), 12u);
    EXPECT_TRUE(names.count("annotate_key"));
    EXPECT_TRUE(names.count("stop"));
    EXPECT_TRUE(names.count("sign_batch"));
    EXPECT_TRUE(names.count("hello"));
}

} // namespace
} // namespace trustkey::proto
