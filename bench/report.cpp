#include "bench/report.h"

#include <fmt/core.h>

namespace trustkey::bench {

void Report::add_throughput(const std::string& path, const std::string& mode, const Throughput& t) {
    m_rates.push_back({path, mode, t});
}

void Report::add_latency(const std::string& path, const Latency& l) { m_latencies.emplace_back(path, l); }

void Report::add_memory(const std::string& what, double mib) { m_memory.emplace_back(what, mib); }

std::optional<double> Report::rate(const std::string& path, const std::string& mode, std::size_t threads) const {
    for (const auto& r : m_rates)
        if (r.path == path && r.mode == mode && r.t.threads == threads) return r.t.per_second();
    return std::nullopt;
}

const Latency* Report::latency(const std::string& path, std::size_t clients) const {
    for (const auto& [p, l] : m_latencies)
        if (p == path && l.clients == clients) return &l;
    return nullptr;
}

void Report::add_ratio(const std::string& name, double value, double target, bool below, const std::string& unit) {
    add_check(name, value, below ? "<" : ">=", target, unit);
}

void Report::add_check(const std::string& name, double value, const std::string& op, double target,
                       const std::string& unit, int decimals) {
    m_checks.push_back({name, value, target, op, unit, decimals});
}

bool Report::Check::pass() const noexcept {
    if (op == "<") return value < target;
    if (op == "<=") return value <= target;
    if (op == ">") return value > target;
    if (op == "==") return value == target;
    return value >= target;
}

void Report::print(std::FILE* out) const {
    fmt::print(out, "\nECDSA P-256 signatures per second\n");
    fmt::print(out, "{:<16} {:<11} {:>7} {:>12} {:>10} {:>8}\n", "path", "mode", "threads", "signatures", "seconds",
               "sig/s");
    for (const auto& r : m_rates)
        fmt::print(out, "{:<16} {:<11} {:>7} {:>12} {:>10.2f} {:>8.0f}\n", r.path, r.mode, r.t.threads,
                   r.t.signatures, r.t.seconds, r.t.per_second());
    if (!m_latencies.empty()) {
        fmt::print(out, "\nSingle-sign latency, concurrent clients (each its own connection or session, one request "
                        "outstanding)\n");
        fmt::print(out, "{:<16} {:>7} {:>9} {:>9} {:>6} {:>8} {:>8} {:>8} {:>8}\n", "path", "clients", "sent",
                   "ok", "lost", "ok/s", "p50 ms", "p99 ms", "max ms");
        for (const auto& [path, l] : m_latencies)
            fmt::print(out, "{:<16} {:>7} {:>9} {:>9} {:>6} {:>8.0f} {:>8.3f} {:>8.3f} {:>8.3f}\n", path, l.clients,
                       l.requests, l.ok, l.lost(), l.per_second(), l.p50_ms, l.p99_ms, l.max_ms);
        for (const auto& [path, l] : m_latencies)
            for (const auto& [what, n] : l.failures)
                fmt::print(out, "  {} {} clients: {} x{}\n", path, l.clients, what, n);
        // trustkeyd beside p11-kit server at each client count both ran.
        bool header = false;
        for (const auto& [path, t] : m_latencies) {
            if (path != "trustkeyd") continue;
            const Latency* p = latency("p11-kit-server", t.clients);
            if (!p || t.ok == 0 || p->ok == 0) continue;
            if (!header) {
                fmt::print(out, "\nSide by side: ok/s trustkeyd / p11-kit-server; p50, p99, max p11-kit-server / trustkeyd "
                                "(above 1: trustkeyd is better)\n");
                fmt::print(out, "{:>7} {:>8} {:>8} {:>8} {:>8}\n", "clients", "ok/s", "p50", "p99", "max");
                header = true;
            }
            auto r = [](double a, double b) { return b > 0 ? a / b : 0.0; };
            fmt::print(out, "{:>7} {:>8.2f} {:>8.2f} {:>8.2f} {:>8.2f}\n", t.clients, r(t.per_second(), p->per_second()),
                       r(p->p50_ms, t.p50_ms), r(p->p99_ms, t.p99_ms), r(p->max_ms, t.max_ms));
        }
    }
    if (!m_memory.empty() || !m_figures.empty()) {
        fmt::print(out, "\ntrustkeyd memory and threads\n");
        for (const auto& [what, mib] : m_memory) fmt::print(out, "{:<60} {:>8.2f} MiB\n", what, mib);
        for (const auto& [what, value] : m_figures) fmt::print(out, "{:<60} {:>8}\n", what, value);
    }
    if (!m_checks.empty()) {
        fmt::print(out, "\nTargets\n");
        for (const auto& c : m_checks)
            fmt::print(out, "{:<58} {:>9.{}f}{:<4} target {:>2} {:<7.4g} {}\n", c.name, c.value, c.decimals, c.unit,
                       c.op, c.target, c.pass() ? "PASS" : "MISS");
    }
    if (!m_notes.empty()) {
        fmt::print(out, "\nNotes\n");
        for (const auto& n : m_notes) fmt::print(out, "- {}\n", n);
    }
}

nlohmann::json Report::to_json() const {
    nlohmann::json j;
    j["throughput"] = nlohmann::json::array();
    for (const auto& r : m_rates)
        j["throughput"].push_back({{"path", r.path},
                                   {"mode", r.mode},
                                   {"threads", r.t.threads},
                                   {"signatures", r.t.signatures},
                                   {"seconds", r.t.seconds},
                                   {"per_second", r.t.per_second()}});
    j["latency"] = nlohmann::json::array();
    for (const auto& [path, l] : m_latencies)
        j["latency"].push_back({{"path", path},
                                {"clients", l.clients},
                                {"requests", l.requests},
                                {"ok", l.ok},
                                {"unanswered", l.unanswered},
                                {"lost", l.lost()},
                                {"failures", l.failures},
                                {"client_cpu_seconds", l.client_cpu_seconds},
                                {"server_cpu_seconds", l.server_cpu_seconds},
                                {"seconds", l.seconds},
                                {"per_second", l.per_second()},
                                {"p50_ms", l.p50_ms},
                                {"p99_ms", l.p99_ms},
                                {"max_ms", l.max_ms}});
    j["memory_mib"] = nlohmann::json::object();
    for (const auto& [what, mib] : m_memory) j["memory_mib"][what] = mib;
    j["figures"] = nlohmann::json::object();
    for (const auto& [what, value] : m_figures) j["figures"][what] = value;
    j["targets"] = nlohmann::json::array();
    for (const auto& c : m_checks)
        j["targets"].push_back({{"name", c.name},
                                {"value", c.value},
                                {"target", c.target},
                                {"comparison", c.op},
                                {"pass", c.pass()}});
    j["notes"] = m_notes;
    return j;
}

} // namespace trustkey::bench
