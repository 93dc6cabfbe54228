// Assertions on a finished trustkey run.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "tests/fixtures/process.h"

namespace trustkey::test {

inline std::string describe(const ProcessResult& r) {
    return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") + "\nstdout: " + r.out +
           "\nstderr: " + r.err;
}

// Exit 0 and nothing on stderr.
inline ::testing::AssertionResult succeeded(const ProcessResult& r) {
    if (r.exit_code == 0 && r.err.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << describe(r);
}

// The given exit code, nothing on stdout, exactly one line on stderr starting "trustkey: ".
inline ::testing::AssertionResult failed_with_one_line(const ProcessResult& r, int exit_code) {
    if (r.exit_code == exit_code && r.out.empty() && r.err_lines() == 1 && r.err.rfind("trustkey: ", 0) == 0 &&
        r.err.back() == '\n')
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "wanted exit " << exit_code << " with one stderr line; got "
                                         << describe(r);
}

// Drops one final newline.
inline std::string chomp(std::string s) {
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

} // namespace trustkey::test
