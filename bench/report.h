// The benchmark's figures: measured rows, ratios against targets, and notes; printed
// as a table and optionally written as JSON.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/latency.h"
#include "bench/throughput.h"

namespace trustkey::bench {

class Report {
public:
    void add_throughput(const std::string& path, const std::string& mode, const Throughput& t);
    void add_latency(const std::string& path, const Latency& l);
    void add_memory(const std::string& what, double mib);
    void add_figure(const std::string& what, const std::string& value) { m_figures.emplace_back(what, value); }
    void add_note(std::string note) { m_notes.push_back(std::move(note)); }

    // The signatures/s recorded for (path, mode, threads), if measured.
    std::optional<double> rate(const std::string& path, const std::string& mode, std::size_t threads) const;

    // The latency run of `path` with this many clients, if measured.
    const Latency* latency(const std::string& path, std::size_t clients) const;

    // `value` against `target`: PASS when value >= target (or < target when `below` is set).
    void add_ratio(const std::string& name, double value, double target, bool below, const std::string& unit = "");
    // The same with the comparison spelled out: ">=", ">", "<=", "<" or "==".
    void add_check(const std::string& name, double value, const std::string& op, double target,
                   const std::string& unit = "", int decimals = 3);

    void print(std::FILE* out) const;
    nlohmann::json to_json() const;

private:
    struct Rate {
        std::string path, mode;
        Throughput t;
    };
    struct Check {
        std::string name;
        double value, target;
        std::string op;
        std::string unit;
        int decimals;
        bool pass() const noexcept;
    };
    std::vector<Rate> m_rates;
    std::vector<std::pair<std::string, Latency>> m_latencies;
    std::vector<std::pair<std::string, double>> m_memory;
    std::vector<std::pair<std::string, std::string>> m_figures;
    std::vector<Check> m_checks;
    std::vector<std::string> m_notes;
};

} // namespace trustkey::bench
