// An invariant check for fuzz targets: when it fails, the target aborts so
// libFuzzer records the input as a crash. Unlike assert() it stays on in release builds.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, what)                                                                \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            std::fprintf(stderr, "%s:%d: invariant failed: %s (%s)\n", __FILE__, __LINE__,    \
                         what, #cond);                                                        \
            std::abort();                                                                     \
        }                                                                                     \
    } while (false)
