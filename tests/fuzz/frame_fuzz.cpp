// Splits an arbitrary byte stream into frames the way a connection does, and
// checks that every length is respected and that each frame re-encodes to the
// bytes it was read from.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <span>

#include "tests/fuzz/fuzz_check.h"
#include "trustkey/proto/frame.h"

namespace {

using namespace trustkey;

// The header's value computed here independently of parse_frame_header.
std::uint32_t read_be32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
           static_cast<std::uint32_t>(p[2]) << 8 | static_cast<std::uint32_t>(p[3]);
}

// Splits `stream` with the given limit; returns how many whole frames it held.
std::size_t split_stream(std::span<const std::uint8_t> stream, std::size_t max_frame) {
    std::size_t frames = 0;
    std::size_t pos = 0;
    while (stream.size() - pos >= proto::kFrameHeaderSize) {
        const std::span<const std::uint8_t, proto::kFrameHeaderSize> header(stream.data() + pos,
                                                                            proto::kFrameHeaderSize);
        const std::uint32_t raw = read_be32(header.data());
        const auto length = proto::parse_frame_header(header, max_frame);
        if (!length) {
            FUZZ_CHECK(raw == 0 || raw > max_frame, "a valid length was refused");
            break;  // framing error: a connection is closed here
        }
        FUZZ_CHECK(*length == raw, "the parsed length differs from the header");
        FUZZ_CHECK(*length >= 1 && *length <= max_frame, "a length out of range was accepted");
        pos += proto::kFrameHeaderSize;
        if (stream.size() - pos < *length) break;  // partial frame: wait for more bytes
        const auto body = stream.subspan(pos, *length);
        const auto split = proto::split_frame_body(body);
        FUZZ_CHECK(split.has_value(), "a non-empty body was refused");
        FUZZ_CHECK(split->version == body[0], "the version byte is not the body's first byte");
        FUZZ_CHECK(split->message.size() == body.size() - 1, "the message length is not the body's minus one");
        FUZZ_CHECK(split->message.data() == body.data() + 1, "the message does not follow the version byte");

        const auto again = proto::encode_frame(split->version, split->message);
        FUZZ_CHECK(again.size() == proto::kFrameHeaderSize + body.size(), "re-encoded frame has another size");
        FUZZ_CHECK(std::equal(again.begin(), again.end(), stream.begin() + static_cast<std::ptrdiff_t>(pos - 4)),
                   "re-encoded frame differs from the bytes read");
        pos += *length;
        ++frames;
    }
    FUZZ_CHECK(pos <= stream.size(), "read past the end of the stream");
    return frames;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> stream(data, size);
    FUZZ_CHECK(!proto::split_frame_body({}).has_value(), "an empty body was accepted");
    split_stream(stream, proto::kDefaultMaxFrame);
    // A smaller limit, as a receiver configured with a lower max_frame would use.
    const std::size_t small = size == 0 ? 1 : 1 + data[0] % 64;
    split_stream(stream, small);
    return 0;
}
