#include "tools/trustkey/trust/public_key_file.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "lib/core/encoding.h"
#include "tools/trustkey/failure.h"
#include "tools/trustkey/trust/publisher_steps.h"

namespace trustkey::tools::trust {

namespace {

std::string read_small_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Failure::failed(fmt::format("cannot open {}", path));
    std::string data(kMaxKeyFile + 1, '\0');
    in.read(data.data(), static_cast<std::streamsize>(data.size()));
    data.resize(static_cast<std::size_t>(in.gcount()));
    if (data.size() > kMaxKeyFile) throw Failure::failed(fmt::format("{} is too large for a key file", path));
    return data;
}

} // namespace

tuf::Key read_public_key(const std::string& path) {
    const std::string text = read_small_file(path);
    try {
        if (text.find("-----BEGIN CERTIFICATE-----") != std::string::npos) return tuf::Key::from_certificate_pem(text);
        const std::string begin = "-----BEGIN PUBLIC KEY-----";
        const auto start = text.find(begin);
        const auto end = text.find("-----END PUBLIC KEY-----");
        if (start == std::string::npos || end == std::string::npos || end < start)
            throw Failure::failed(fmt::format("{} holds neither a PUBLIC KEY PEM nor a certificate", path));
        std::istringstream body(text.substr(start + begin.size(), end - start - begin.size()));
        std::string line;
        std::string b64;
        while (std::getline(body, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty() || line.find(':') != std::string::npos) continue; // PEM headers
            b64 += line;
        }
        const auto der = from_base64(b64);
        if (!der) throw Failure::failed(fmt::format("{}: the PEM body is not base64", path));
        return tuf::Key::from_spki(*der);
    } catch (const Failure&) {
        throw;
    } catch (const std::exception& e) {
        throw Failure::failed(fmt::format("{}: not a usable public key: {}", path, e.what()));
    }
}

} // namespace trustkey::tools::trust
