#include "lib/backend/key_ring.h"

#include <gtest/gtest.h>

#include "lib/core/error.h"

namespace trustkey::backend {
namespace {

// A backend holding a fixed key list: enough for the resolution logic.
class ListBackend final : public Backend {
public:
    ListBackend(std::string name, std::vector<KeyInfo> keys, bool fail = false)
        : m_name(std::move(name)), m_keys(std::move(keys)), m_fail(fail) {
        for (auto& k : m_keys) k.backend = m_name;
    }
    const std::string& name() const noexcept override { return m_name; }
    std::vector<KeyInfo> list_keys() override {
        if (m_fail) throw Error(Errc::token_absent, "token removed");
        return m_keys;
    }
    KeyInfo generate(std::string_view, KeyType) override { throw Error(Errc::internal, "unused"); }
    KeyInfo import_key(std::string_view, const PrivateKey&) override { throw Error(Errc::internal, "unused"); }
    Bytes sign(const KeyInfo&, HashAlg, std::span<const std::uint8_t>) override {
        throw Error(Errc::internal, "unused");
    }
    void remove(const KeyInfo&) override { throw Error(Errc::internal, "unused"); }
    BackendStatus status() override { return {}; }
    void login(const SecureBytes&) override {}

private:
    std::string m_name;
    std::vector<KeyInfo> m_keys;
    bool m_fail;
};

KeyInfo key(std::string id, std::string name) {
    KeyInfo k;
    k.id = std::move(id);
    k.name = std::move(name);
    return k;
}

const std::string kA = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
const std::string kB = "abcdef0f23456789abcdef0123456789abcdef0123456789abcdef0123456789";
const std::string kC = "1234567890123456789012345678901234567890123456789012345678901234";
const std::string kD = "deadbeef00000000000000000000000000000000000000000000000000000000";

class KeyRingTest : public ::testing::Test {
protected:
    void SetUp() override {
        ring.add(std::make_unique<ListBackend>("one", std::vector<KeyInfo>{key(kA, "alice"), key(kB, "bob")}));
        ring.add(std::make_unique<ListBackend>("two", std::vector<KeyInfo>{key(kC, "carol"), key(kD, "alice")}));
        ring.add(std::make_unique<ListBackend>("broken", std::vector<KeyInfo>{key(kC, "x")}, true));
    }
    Error error_of(std::string_view ref) {
        try {
            ring.resolve(ref);
        } catch (const Error& e) {
            return e;
        }
        ADD_FAILURE() << "resolved " << ref;
        return Error(Errc::internal, "none");
    }
    KeyRing ring;
};

TEST_F(KeyRingTest, FullId) {
    auto e = ring.resolve(kC);
    EXPECT_EQ(e.info->name, "carol");
    EXPECT_EQ(e.backend->name(), "two");
}

TEST_F(KeyRingTest, FullIdUpperCase) {
    std::string upper = kD;
    for (auto& c : upper) c = static_cast<char>(std::toupper(c));
    EXPECT_EQ(ring.resolve(upper).info->id, kD);
}

TEST_F(KeyRingTest, UniquePrefixOfSevenOrMore) {
    EXPECT_EQ(ring.resolve("1234567").info->id, kC);
    EXPECT_EQ(ring.resolve("abcdef01").info->id, kA);
    EXPECT_EQ(ring.resolve("deadbee").info->id, kD);
}

TEST_F(KeyRingTest, ShortPrefixIsRefusedAsTooShort) {
    Error e = error_of("123456");
    EXPECT_EQ(e.errc(), Errc::invalid_argument);
    EXPECT_EQ(e.message(), "key id prefix '123456' is too short: give at least 7 hex digits, or the key's name");
    // A short hex string that is a key's name is that key.
    KeyRing named;
    named.add(std::make_unique<ListBackend>("one", std::vector<KeyInfo>{key(kA, "abc")}));
    EXPECT_EQ(named.resolve("abc").info->id, kA);
}

// A root key notary names by the id of its certificate (an x509 key id).
const std::string kCert = "c0ffee0123456789c0ffee0123456789c0ffee0123456789c0ffee0123456789";
const std::string kCert2 = "abcdef0999999999999999999999999999999999999999999999999999999999";

TEST(KeyRingCertificateIds, FullIdAndPrefixOfACertificateIdFindTheKey) {
    KeyRing ring;
    KeyInfo root = key(kC, "root-key");
    root.certificate_ids = {kCert, kCert2};
    ring.add(std::make_unique<ListBackend>("one", std::vector<KeyInfo>{key(kA, "alice"), root}));
    EXPECT_EQ(ring.resolve(kCert).info->id, kC);
    EXPECT_EQ(ring.resolve("C0FFEE01").info->id, kC);
    EXPECT_EQ(ring.resolve(kCert2).info->id, kC);
    // A prefix that is alice's id and the root key's certificate id matches both.
    try {
        ring.resolve("abcdef0");
        ADD_FAILURE() << "abcdef0 resolved";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::ambiguous);
        EXPECT_NE(e.message().find(kA + " alice, " + kC + " root-key"), std::string::npos) << e.message();
    }
    // Both ids of one key are one match, not an ambiguity.
    EXPECT_EQ(ring.matching("c0ffee0").size(), 1u);
    EXPECT_EQ(ring.matching("abcdef0").size(), 2u);
}

TEST_F(KeyRingTest, AmbiguousPrefixListsCandidates) {
    Error e = error_of("abcdef0");
    EXPECT_EQ(e.errc(), Errc::ambiguous);
    EXPECT_NE(e.message().find(kA + " alice, " + kB + " bob"), std::string::npos) << e.message();
}

TEST_F(KeyRingTest, Name) {
    EXPECT_EQ(ring.resolve("bob").info->id, kB);
    EXPECT_EQ(ring.resolve("carol").backend->name(), "two");
}

TEST_F(KeyRingTest, SameNameInTwoBackendsIsAmbiguous) {
    Error e = error_of("alice");
    EXPECT_EQ(e.errc(), Errc::ambiguous);
    EXPECT_NE(e.message().find(kA + " alice, " + kD + " alice"), std::string::npos) << e.message();
}

// One key (a copy made by the ceremony's backup) on two tokens. Resolving by full id used to
// call it ambiguous while the candidate list (and a prefix) named one key; now every form of
// reference takes the first backend's, and the candidates are what resolution saw.
TEST(KeyRingRule, SameKeyOnTwoBackendsIsOneKeyByEveryReference) {
    KeyRing ring;
    ring.add(std::make_unique<ListBackend>("first", std::vector<KeyInfo>{key(kA, "root")}));
    ring.add(std::make_unique<ListBackend>("copy", std::vector<KeyInfo>{key(kA, "root")}));
    for (const std::string& ref : {kA, kA.substr(0, 7), std::string("root")}) {
        const auto matches = ring.matching(ref);
        ASSERT_EQ(matches.size(), 1u) << ref;
        EXPECT_EQ(matches.front().backend->name(), "first") << ref;
        const KeyRing::Entry entry = ring.resolve(ref);
        EXPECT_EQ(entry.info->id, kA) << ref;
        EXPECT_EQ(entry.backend->name(), "first") << ref;
    }
}

// A reference the cache finds twice: the ambiguity and its candidate list come from the
// same look at the keys (the candidates used to come from a fresh listing of their own).
TEST(KeyRingRule, CandidatesAreWhatResolutionSaw) {
    KeyRing ring;
    ring.add(std::make_unique<ListBackend>("one", std::vector<KeyInfo>{key(kA, "dup"), key(kB, "dup")}));
    const auto matches = ring.matching("dup");
    ASSERT_EQ(matches.size(), 2u);
    try {
        KeyRing::only("dup", matches);
        ADD_FAILURE() << "dup resolved";
    } catch (const Error& e) {
        EXPECT_EQ(e.errc(), Errc::ambiguous);
        EXPECT_NE(e.message().find(kA + " dup, " + kB + " dup"), std::string::npos) << e.message();
    }
}

TEST(KeyReferenceRule, IdsPrefixesNamesAndCertificateIds) {
    KeyInfo k = key(kA, "alice");
    k.certificate_ids = {kC};
    EXPECT_TRUE(KeyReference(kA).matches(k));
    EXPECT_TRUE(KeyReference("ABCDEF0").matches(k));
    EXPECT_FALSE(KeyReference("abcdef").matches(k));  // 6 digits: too short for a prefix
    EXPECT_TRUE(KeyReference("alice").matches(k));
    EXPECT_FALSE(KeyReference("Alice").matches(k));   // names are exact
    EXPECT_TRUE(KeyReference("1234567").matches(k));  // certificate id prefix
    EXPECT_TRUE(KeyReference(kA).is_full_id());
    EXPECT_TRUE(KeyReference("abc").is_short_hex());
    EXPECT_FALSE(KeyReference("abcdef0").is_short_hex());
}

TEST_F(KeyRingTest, NotFound) {
    Error e = error_of("nobody");
    EXPECT_EQ(e.errc(), Errc::not_found);
    EXPECT_EQ(e.message(), "no key matches 'nobody'");
    EXPECT_EQ(error_of("fffffff").errc(), Errc::not_found);
    EXPECT_EQ(error_of("").errc(), Errc::invalid_argument);
}

TEST_F(KeyRingTest, ListSkipsFailingBackend) {
    auto all = ring.list();
    ASSERT_EQ(all.size(), 4u);
    EXPECT_EQ(all[0].info->id, kA);
    EXPECT_EQ(all[3].backend->name(), "two");
}

TEST_F(KeyRingTest, BackendByName) {
    EXPECT_EQ(ring.backend("").name(), "one");
    EXPECT_EQ(ring.backend("two").name(), "two");
    EXPECT_THROW(ring.backend("three"), Error);
    KeyRing empty;
    EXPECT_THROW(empty.backend(""), Error);
    EXPECT_EQ(ring.backends().size(), 3u);
}

} // namespace
} // namespace trustkey::backend

namespace trustkey::backend {
namespace {

// A backend with a cache: known_keys() answers from what list_keys() saw last, so a
// key added behind its back is only seen after a fresh list.
class CachingBackend final : public Backend {
public:
    explicit CachingBackend(std::vector<KeyInfo> keys, std::string name = "cached")
        : m_name(std::move(name)), m_token(std::move(keys)) {}
    const std::string& name() const noexcept override { return m_name; }
    std::vector<KeyInfo> list_keys() override {
        ++lists;
        m_cache = m_token;
        m_scanned = true;
        return m_cache;
    }
    std::vector<KeyPtr> known_keys() override {
        if (!m_scanned) return Backend::known_keys();
        std::vector<KeyPtr> out;
        for (const auto& k : m_cache) out.push_back(std::make_shared<const KeyInfo>(k));
        return out;
    }
    std::optional<std::vector<KeyPtr>> cached_keys() override {
        if (!m_scanned) return std::nullopt;
        std::vector<KeyPtr> out;
        for (const auto& k : m_cache) out.push_back(std::make_shared<const KeyInfo>(k));
        return out;
    }
    std::optional<KeyPtr> cached_key(std::string_view id) override {
        if (!m_scanned) return std::nullopt;
        for (const auto& k : m_cache)
            if (k.id == id) return std::make_shared<const KeyInfo>(k);
        return KeyPtr{};
    }
    KeyInfo generate(std::string_view, KeyType) override { throw Error(Errc::internal, "unused"); }
    KeyInfo import_key(std::string_view, const PrivateKey&) override { throw Error(Errc::internal, "unused"); }
    Bytes sign(const KeyInfo&, HashAlg, std::span<const std::uint8_t>) override {
        throw Error(Errc::internal, "unused");
    }
    void remove(const KeyInfo&) override { throw Error(Errc::internal, "unused"); }
    BackendStatus status() override { return {}; }
    void login(const SecureBytes&) override {}

    void add_on_token(KeyInfo k) { m_token.push_back(std::move(k)); }
    int lists = 0;

private:
    std::string m_name;
    std::vector<KeyInfo> m_token, m_cache;
    bool m_scanned = false;
};

TEST(KeyRingCache, HitsDoNotAskTheTokenAndMissesDo) {
    KeyRing ring;
    auto owned = std::make_unique<CachingBackend>(std::vector<KeyInfo>{key(kA, "alice")});
    CachingBackend* b = owned.get();
    ring.add(std::move(owned));

    EXPECT_EQ(ring.resolve("alice").info->id, kA);  // first use fills the cache
    const int after_first = b->lists;
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(ring.resolve(kA).info->name, "alice");
        EXPECT_EQ(ring.resolve(kA.substr(0, 9)).info->name, "alice");
    }
    EXPECT_EQ(b->lists, after_first);

    // Added by another tool: not in the cache, found by asking the token again.
    b->add_on_token(key(kC, "carol"));
    EXPECT_EQ(ring.resolve("carol").info->id, kC);
    EXPECT_EQ(ring.resolve(kC).info->name, "carol");
    EXPECT_GT(b->lists, after_first);

    const int before_unknown = b->lists;
    EXPECT_THROW(ring.resolve("nobody"), Error);
    EXPECT_EQ(b->lists, before_unknown + 1);  // one fresh look, then not found
}

TEST(KeyName, Rules) {
    EXPECT_NO_THROW(check_key_name("releases"));
    EXPECT_NO_THROW(check_key_name(std::string(128, 'a')));
    EXPECT_NO_THROW(check_key_name(kA.substr(0, 63)));
    for (const std::string& bad : {std::string(), std::string(129, 'a'), std::string("a/b"), std::string("a\nb"),
                                  std::string("a\x7f"), kA}) {
        try {
            check_key_name(bad);
            ADD_FAILURE() << "accepted a bad name of " << bad.size() << " bytes";
        } catch (const Error& e) {
            EXPECT_EQ(e.errc(), Errc::invalid_argument);
        }
    }
}

TEST(KeyRingCache, ResolveCachedNeverAsksATokenAndDecidesOnlyOnCompleteLists) {
    KeyRing ring;
    auto first = std::make_unique<CachingBackend>(std::vector<KeyInfo>{key(kA, "alice")}, "first");
    auto second = std::make_unique<CachingBackend>(std::vector<KeyInfo>{key(kC, "carol")}, "second");
    CachingBackend* a = first.get();
    CachingBackend* c = second.get();
    ring.add(std::move(first));
    ring.add(std::move(second));

    // Nothing read yet: no answer, and no token asked.
    EXPECT_FALSE(ring.resolve_cached("alice"));
    EXPECT_FALSE(ring.resolve_cached(kA));
    EXPECT_EQ(a->lists + c->lists, 0);

    // The first backend's list complete: its key by full id (the first backend that holds an
    // id has the key), but a name could still be the second's.
    a->list_keys();
    ASSERT_TRUE(ring.resolve_cached(kA));
    EXPECT_EQ(ring.resolve_cached(kA)->backend, a);
    EXPECT_FALSE(ring.resolve_cached("alice"));
    EXPECT_FALSE(ring.resolve_cached(kC));

    // Both complete: every reference the rule allows, none that it refuses.
    c->list_keys();
    const int lists = a->lists + c->lists;
    EXPECT_EQ(ring.resolve_cached("alice")->info->id, kA);
    EXPECT_EQ(ring.resolve_cached(kC.substr(0, 8))->backend, c);
    EXPECT_EQ(ring.resolve_cached(kC)->info->name, "carol");
    EXPECT_FALSE(ring.resolve_cached("nobody"));
    EXPECT_FALSE(ring.resolve_cached(kA.substr(0, 3)));
    EXPECT_FALSE(ring.resolve_cached(""));

    // A key added behind the caches' back is not looked for: the general path finds it.
    c->add_on_token(key(kD, "dave"));
    EXPECT_FALSE(ring.resolve_cached("dave"));
    EXPECT_EQ(a->lists + c->lists, lists);
    EXPECT_EQ(ring.resolve("dave").info->id, kD);
    EXPECT_EQ(ring.resolve_cached("dave")->info->id, kD);
}

} // namespace
} // namespace trustkey::backend
