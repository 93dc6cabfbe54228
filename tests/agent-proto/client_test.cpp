#include "trustkey/proto/client.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "test_peer.h"
#include "trustkey/proto/busy_retry.h"

namespace trustkey::proto {
namespace {

using testing::PeerConnection;
using testing::TestPeer;
using Kind = ClientError::Kind;

// Runs `fn` and returns the ClientError it throws; fails the test if it throws none.
template <typename Fn>
ClientError catch_client_error(Fn&& fn) {
    try {
        fn();
    } catch (const ClientError& e) {
        return e;
    }
    ADD_FAILURE() << "no ClientError thrown";
    return ClientError(Kind::protocol, pb::STATUS_OK, "none");
}

pb::Response reply_to(const pb::Request& req) {
    pb::Response r;
    r.set_id(req.id());
    return r;
}

TEST(Client, NegotiatesVersionWithHello) {
    TestPeer peer([](PeerConnection& c) {
        std::uint8_t version = 0;
        auto req = c.read_request(&version);
        if (!req || !req->has_hello()) throw std::runtime_error("expected Hello first");
        if (version != 1) throw std::runtime_error("Hello frame must carry version byte 1");
        if (req->hello().min_version() != 1 || req->hello().max_version() != kProtocolVersion) {
            throw std::runtime_error("Hello range wrong");
        }
        pb::Response r = reply_to(*req);
        r.mutable_hello()->set_version(1);
        r.mutable_hello()->set_server("test peer 9");
        r.mutable_hello()->set_max_frame(65536);
        auto* l = r.mutable_hello()->add_batch_limits();
        l->set_key_type(pb::KEY_TYPE_ECDSA_P256);
        l->set_max_items(7);
        c.write_response(r);

        req = c.read_request(&version);
        if (!req || !req->has_list_keys()) throw std::runtime_error("expected ListKeys");
        if (version != 1) throw std::runtime_error("later frames must carry the negotiated version");
        r = reply_to(*req);
        auto* k = r.mutable_list_keys()->add_keys();
        k->set_name("root");
        k->set_type(pb::KEY_TYPE_ECDSA_P256);
        c.write_response(r);
        c.wait_for_close();
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::seconds(10));
        EXPECT_EQ(client.server_hello().version(), 1u);
        EXPECT_EQ(client.server_hello().server(), "test peer 9");
        EXPECT_EQ(client.batch_limit(pb::KEY_TYPE_ECDSA_P256), 7u);
        EXPECT_EQ(client.batch_limit(pb::KEY_TYPE_RSA_4096), kBatchLimitRsa4096);  // not announced: default
        const auto keys = client.list_keys();
        ASSERT_EQ(keys.size(), 1u);
        EXPECT_EQ(keys[0].name(), "root");
    }
    EXPECT_EQ(peer.finish(), "");
}

TEST(Client, RefusedVersionIsAStatusError) {
    TestPeer peer([](PeerConnection& c) {
        auto req = c.read_request();
        pb::Response r = reply_to(*req);
        r.set_status(pb::STATUS_UNSUPPORTED_VERSION);
        r.set_message("no common protocol version");
        c.write_response(r);
    });
    const ClientError e = catch_client_error([&] { Client::connect(peer.path(), std::chrono::seconds(10)); });
    EXPECT_EQ(e.kind(), Kind::status);
    EXPECT_EQ(e.status(), pb::STATUS_UNSUPPORTED_VERSION);
    EXPECT_STREQ(e.what(), "no common protocol version");
    EXPECT_EQ(peer.finish(), "");
}

TEST(Client, VersionItDoesNotSpeakIsAProtocolError) {
    TestPeer peer([](PeerConnection& c) {
        auto req = c.read_request();
        pb::Response r = reply_to(*req);
        r.mutable_hello()->set_version(kProtocolVersion + 1);
        c.write_response(r);
    });
    const ClientError e = catch_client_error([&] { Client::connect(peer.path(), std::chrono::seconds(10)); });
    EXPECT_EQ(e.kind(), Kind::protocol);
    EXPECT_EQ(peer.finish(), "");
}

TEST(Client, MissingSocketIsNotRunning) {
    const std::string dir = testing::make_temp_dir();
    const std::string path = dir + "/agent.sock";
    const ClientError e = catch_client_error([&] { Client::connect(path, std::chrono::seconds(1)); });
    EXPECT_EQ(e.kind(), Kind::not_running);
    EXPECT_EQ(std::string(e.what()),
              "trustkeyd is not running at " + path + " (start it with: trustkeyd, or set TRUSTKEY_SOCK)");
    std::filesystem::remove_all(dir);
}

TEST(Client, StaleSocketIsNotRunning) {
    // A socket file nobody listens on: connect gets ECONNREFUSED.
    const std::string dir = testing::make_temp_dir();
    const std::string path = dir + "/agent.sock";
    {
        UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        ASSERT_TRUE(s);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    }
    const ClientError e = catch_client_error([&] { Client::connect(path, std::chrono::seconds(1)); });
    EXPECT_EQ(e.kind(), Kind::not_running);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST(Client, DefaultSocketPathFollowsEnvironment) {
    ::setenv("TRUSTKEY_SOCK", "/x/y.sock", 1);
    EXPECT_EQ(Client::default_socket_path(), "/x/y.sock");
    ::unsetenv("TRUSTKEY_SOCK");
    ::setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
    EXPECT_EQ(Client::default_socket_path(), "/run/user/4242/trustkey/agent.sock");
    ::unsetenv("XDG_RUNTIME_DIR");
    const std::string uid = std::to_string(::getuid());
    struct stat st {};
    const bool has_run_user = ::stat(("/run/user/" + uid).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    EXPECT_EQ(Client::default_socket_path(),
              has_run_user ? "/run/user/" + uid + "/trustkey/agent.sock" : "/tmp/trustkey-" + uid + "/agent.sock");
}

TEST(Client, ResponseIdMismatchIsAProtocolError) {
    TestPeer peer([](PeerConnection& c) {
        c.accept_hello();
        auto req = c.read_request();
        pb::Response r = reply_to(*req);
        r.set_id(req->id() + 100);
        r.mutable_get_status();
        c.write_response(r);
        c.wait_for_close();
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::seconds(10));
        const ClientError e = catch_client_error([&] { client.status(); });
        EXPECT_EQ(e.kind(), Kind::protocol);
        EXPECT_NE(std::string(e.what()).find("expected"), std::string::npos) << e.what();
        // The stream can no longer be trusted: the client has closed it.
        EXPECT_EQ(catch_client_error([&] { client.status(); }).kind(), Kind::io);
    }
    EXPECT_EQ(peer.finish(), "");
}

TEST(Client, WrongReplyTypeIsAProtocolError) {
    TestPeer peer([](PeerConnection& c) {
        c.accept_hello();
        auto req = c.read_request();
        pb::Response r = reply_to(*req);
        r.mutable_list_keys();
        c.write_response(r);
        c.wait_for_close();
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::seconds(10));
        EXPECT_EQ(catch_client_error([&] { client.delete_key("k"); }).kind(), Kind::protocol);
    }
    EXPECT_EQ(peer.finish(), "");
}

TEST(Client, StatusErrorCarriesCandidatesAndPinInfo) {
    TestPeer peer([](PeerConnection& c) {
        c.accept_hello();
        auto req = c.read_request();
        pb::Response r = reply_to(*req);
        r.set_status(pb::STATUS_AMBIGUOUS_KEY);
        r.set_message("ambiguous");
        r.add_candidates("aaaa one");
        r.add_candidates("aaab two");
        c.write_response(r);
        req = c.read_request();
        if (!req || req->login().pin() != "123456" || req->login().backend() != "tok") {
            throw std::runtime_error("Login did not carry backend and PIN");
        }
        r = reply_to(*req);
        r.set_status(pb::STATUS_PIN_INCORRECT);
        r.mutable_pin()->set_final_try(true);
        c.write_response(r);
        c.wait_for_close();
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::seconds(10));
        ClientError e = catch_client_error([&] { client.public_key("aaa"); });
        EXPECT_EQ(e.kind(), Kind::status);
        EXPECT_EQ(e.status(), pb::STATUS_AMBIGUOUS_KEY);
        EXPECT_EQ(e.candidates(), (std::vector<std::string>{"aaaa one", "aaab two"}));
        // A status error leaves the connection usable.
        e = catch_client_error([&] { client.login("tok", "123456"); });
        EXPECT_EQ(e.status(), pb::STATUS_PIN_INCORRECT);
        EXPECT_TRUE(e.pin().final_try());
        EXPECT_FALSE(e.pin().locked());
        EXPECT_EQ(std::string(e.what()), "trustkeyd answered pin_incorrect");
    }
    EXPECT_EQ(peer.finish(), "");
}

TEST(Client, PipelinedSignsKeepOrderAndOverlap) {
    constexpr std::size_t kWindow = 4;
    constexpr std::size_t kItems = 25;
    TestPeer peer([](PeerConnection& c) {
        c.accept_hello();
        // Read a whole window before answering anything: a client that waited for each
        // reply before sending the next request would stall here and fail.
        std::vector<pb::Request> pending;
        std::uint64_t last_id = 0;
        std::size_t answered = 0;
        while (answered < kItems) {
            while (pending.size() < kWindow && answered + pending.size() < kItems) {
                auto req = c.read_request();
                if (!req || !req->has_sign()) throw std::runtime_error("expected Sign");
                if (req->id() <= last_id) throw std::runtime_error("ids must increase");
                last_id = req->id();
                pending.push_back(*req);
            }
            pb::Response r = reply_to(pending.front());
            r.mutable_sign()->set_signature("sig:" + pending.front().sign().data());
            r.mutable_sign()->set_method("ecdsa");
            c.write_response(r);
            pending.erase(pending.begin());
            ++answered;
        }
        c.wait_for_close();
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::seconds(10));
        std::vector<std::vector<std::uint8_t>> items;
        for (std::size_t i = 0; i < kItems; ++i) {
            const std::string s = "digest-" + std::to_string(i);
            items.emplace_back(s.begin(), s.end());
        }
        const auto sigs = client.sign_pipelined("k", pb::HASH_SHA256, items, kWindow);
        ASSERT_EQ(sigs.size(), kItems);
        for (std::size_t i = 0; i < kItems; ++i) {
            EXPECT_EQ(std::string(sigs[i].begin(), sigs[i].end()), "sig:digest-" + std::to_string(i));
        }
    }
    EXPECT_EQ(peer.finish(), "");
}

TEST(Client, PipelinedRefusalDrainsThenThrows) {
    TestPeer peer([](PeerConnection& c) {
        c.accept_hello();
        for (int i = 0;; ++i) {
            auto req = c.read_request();
            if (!req) return;
            pb::Response r = reply_to(*req);
            if (req->has_sign() && i == 2) {
                r.set_status(pb::STATUS_BAD_DIGEST_LENGTH);
                r.set_message("digest must be 32 bytes");
            } else if (req->has_sign()) {
                r.mutable_sign()->set_signature("ok");
            } else {
                r.mutable_get_status()->set_server("still here");
            }
            c.write_response(r);
        }
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::seconds(10));
        const std::vector<std::vector<std::uint8_t>> items(10, std::vector<std::uint8_t>(32, 1));
        const ClientError e = catch_client_error([&] { client.sign_pipelined("k", pb::HASH_SHA256, items, 3); });
        EXPECT_EQ(e.kind(), Kind::status);
        EXPECT_EQ(e.status(), pb::STATUS_BAD_DIGEST_LENGTH);
        // Every reply in flight was read: the next call gets its own reply.
        EXPECT_EQ(client.status().server(), "still here");
    }
    EXPECT_EQ(peer.finish(), "");
}

TEST(Client, ServerClosingMidReplyIsAnIoError) {
    TestPeer peer([](PeerConnection& c) {
        c.accept_hello();
        auto req = c.read_request();
        pb::Response r = reply_to(*req);
        r.mutable_get_status()->set_server("a reply that will be cut short");
        auto frame = encode_frame(1, encode_message(r));
        frame.resize(frame.size() / 2);
        c.write_raw(frame);  // then the connection closes
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::seconds(10));
        const ClientError e = catch_client_error([&] { client.status(); });
        EXPECT_EQ(e.kind(), Kind::io);
        EXPECT_NE(std::string(e.what()).find("middle of a reply"), std::string::npos) << e.what();
    }
    EXPECT_EQ(peer.finish(), "");
}

TEST(Client, LargeReplyInPiecesIsPutTogether) {
    // Larger than the reader's own 1 KiB buffer, and sent in three writes with pauses: the
    // header alone, then the body in two parts.
    const std::string server(5000, 's');
    TestPeer peer([&server](PeerConnection& c) {
        c.accept_hello();
        auto req = c.read_request();
        if (!req) throw std::runtime_error("no request");
        pb::Response r = reply_to(*req);
        r.mutable_get_status()->set_server(server);
        const auto frame = encode_frame(1, encode_message(r));
        const auto part = [&](std::size_t from, std::size_t to) {
            c.write_raw(std::vector<std::uint8_t>(frame.begin() + static_cast<std::ptrdiff_t>(from),
                                                  frame.begin() + static_cast<std::ptrdiff_t>(to)));
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        };
        part(0, 4);
        part(4, 2000);
        part(2000, frame.size());
        c.wait_for_close();
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::seconds(10));
        EXPECT_EQ(client.status().server(), server);
    }
    EXPECT_EQ(peer.finish(), "");
}

TEST(Client, PipelinedRepliesArrivingTogetherAreAllTaken) {
    // Three replies in one write: the reader takes the second and third from what it
    // already holds instead of waiting for more to arrive.
    TestPeer peer([](PeerConnection& c) {
        c.accept_hello();
        std::vector<std::uint8_t> all;
        for (int i = 0; i < 3; ++i) {
            auto req = c.read_request();
            if (!req || !req->has_sign()) throw std::runtime_error("expected Sign");
            pb::Response r = reply_to(*req);
            r.mutable_sign()->set_signature("sig:" + req->sign().data());
            const auto frame = encode_frame(1, encode_message(r));
            all.insert(all.end(), frame.begin(), frame.end());
        }
        c.write_raw(all);
        c.wait_for_close();
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::seconds(10));
        const std::vector<std::vector<std::uint8_t>> items{{'a'}, {'b'}, {'c'}};
        const auto sigs = client.sign_pipelined("k", pb::HASH_SHA256, items, 3);
        ASSERT_EQ(sigs.size(), 3u);
        EXPECT_EQ(std::string(sigs[2].begin(), sigs[2].end()), "sig:c");
    }
    EXPECT_EQ(peer.finish(), "");
}

TEST(Client, MoreThanTheReplyDueIsAProtocolError) {
    // One request, two replies in one write: the second answers nothing that was asked.
    TestPeer peer([](PeerConnection& c) {
        c.accept_hello();
        auto req = c.read_request();
        if (!req) throw std::runtime_error("no request");
        pb::Response r = reply_to(*req);
        r.mutable_get_status()->set_server("one");
        auto frames = encode_frame(1, encode_message(r));
        const auto again = encode_frame(1, encode_message(r));
        frames.insert(frames.end(), again.begin(), again.end());
        c.write_raw(frames);
        c.wait_for_close();
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::seconds(10));
        const ClientError e = catch_client_error([&] { client.status(); });
        EXPECT_EQ(e.kind(), Kind::protocol);
        EXPECT_NE(std::string(e.what()).find("more than the one reply due"), std::string::npos) << e.what();
    }
    EXPECT_EQ(peer.finish(), "");
}

TEST(Client, BadFrameLengthFromServerIsAProtocolError) {
    TestPeer peer([](PeerConnection& c) {
        c.accept_hello();
        c.read_request();
        c.write_raw({0x00, 0x01, 0x00, 0x01});  // 65537: over the limit
        c.wait_for_close();
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::seconds(10));
        EXPECT_EQ(catch_client_error([&] { client.list_keys(); }).kind(), Kind::protocol);
    }
    EXPECT_EQ(peer.finish(), "");
}

TEST(Client, SilentServerTimesOut) {
    TestPeer peer([](PeerConnection& c) {
        c.accept_hello();
        c.read_request();
        c.wait_for_close();  // never answers
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::milliseconds(200));
        const ClientError e = catch_client_error([&] { client.list_keys(); });
        EXPECT_EQ(e.kind(), Kind::io);
        EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
    }
    EXPECT_EQ(peer.finish(), "");
}

TEST(Client, OversizedRequestIsRefusedBeforeSending) {
    TestPeer peer([](PeerConnection& c) {
        c.accept_hello(1024);
        auto req = c.read_request();
        if (!req || !req->has_get_status()) throw std::runtime_error("the oversized request reached the server");
        pb::Response r = reply_to(*req);
        r.mutable_get_status()->set_server("fine");
        c.write_response(r);
        c.wait_for_close();
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::seconds(10));
        const std::vector<std::uint8_t> big(2000, 0x42);
        const ClientError e = catch_client_error([&] { client.sign("k", pb::HASH_NONE, big); });
        EXPECT_EQ(e.kind(), Kind::status);
        EXPECT_EQ(e.status(), pb::STATUS_INVALID_ARGUMENT);
        EXPECT_EQ(client.status().server(), "fine");
    }
    EXPECT_EQ(peer.finish(), "");
}

} // namespace
} // namespace trustkey::proto

namespace trustkey::proto {
namespace {

using testing::PeerConnection;
using testing::TestPeer;

pb::Response busy_reply(const pb::Request& req) {
    pb::Response r;
    r.set_id(req.id());
    r.set_status(pb::STATUS_BUSY);
    r.set_message("trustkeyd's queue for this key is full; retry later");
    return r;
}

TEST(ClientBusy, ARequestRefusedBusyIsSentAgainAndItsLaterReplyIsReturned) {
    std::vector<std::uint64_t> ids;
    TestPeer peer([&ids](PeerConnection& c) {
        c.accept_hello();
        for (int i = 0; i < 2; ++i) {
            auto req = c.read_request();
            ASSERT_TRUE(req && req->has_sign());
            ids.push_back(req->id());
            c.write_response(busy_reply(*req));
        }
        auto req = c.read_request();
        ASSERT_TRUE(req && req->has_sign());
        ids.push_back(req->id());
        pb::Response ok;
        ok.set_id(req->id());
        ok.mutable_sign()->set_signature(std::string(64, 's'));
        ok.mutable_sign()->set_key_id(std::string(64, 'a'));
        ok.mutable_sign()->set_method("ecdsa");
        c.write_response(ok);
        c.wait_for_close();
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::seconds(10));
        const std::vector<std::uint8_t> digest(32, 7);
        const pb::SignReply reply = client.sign("k", pb::HASH_SHA256, digest);
        EXPECT_EQ(reply.signature(), std::string(64, 's'));
    }
    EXPECT_EQ(peer.finish(), "");
    ASSERT_EQ(ids.size(), 3u);  // refused twice, answered the third time, on the same connection
    EXPECT_NE(ids[0], ids[1]);
    EXPECT_NE(ids[1], ids[2]);
}

TEST(ClientBusy, BusyEachTimeIsReportedAfterTheBoundedNumberOfTries) {
    int seen = 0;
    TestPeer peer([&seen](PeerConnection& c) {
        c.accept_hello();
        while (auto req = c.read_request()) {
            ++seen;
            c.write_response(busy_reply(*req));
        }
    });
    {
        Client client = Client::connect(peer.path(), std::chrono::seconds(10));
        const std::vector<std::uint8_t> digest(32, 7);
        try {
            client.sign("k", pb::HASH_SHA256, digest);
            ADD_FAILURE() << "no error after every try was refused";
        } catch (const ClientError& e) {
            EXPECT_EQ(e.status(), pb::STATUS_BUSY);
            EXPECT_NE(std::string(e.what()).find("queue for this key is full"), std::string::npos) << e.what();
        }
    }
    EXPECT_EQ(peer.finish(), "");
    EXPECT_EQ(seen, static_cast<int>(BusyRetry{}.attempts));
}

} // namespace
} // namespace trustkey::proto
