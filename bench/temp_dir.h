// A private temporary directory (0700) removed with everything in it on destruction.
#pragma once

#include <filesystem>
#include <string_view>

namespace trustkey::bench {

class TempDir {
public:
    // Creates $TMPDIR/<prefix>XXXXXX (TMPDIR defaults to /tmp). Throws Errc::io.
    explicit TempDir(std::string_view prefix);
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir();

    const std::filesystem::path& path() const noexcept { return m_path; }

private:
    std::filesystem::path m_path;
};

} // namespace trustkey::bench
