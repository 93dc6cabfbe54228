// How results are printed: aligned tables for people, JSON for programs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "trustkey/proto/codec.h"

namespace trustkey::tools {

// The first 12 hex digits of a key id, as docker shows them.
std::string short_id(std::string_view id);

// Columns padded to their widest cell, two spaces apart, one row a line.
// Control characters in cells are shown as '?' so a key name cannot rewrite the terminal.
std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// Key forms. Throw Failure when the daemon sent a key this tool cannot read.
std::string public_key_pem(const proto::pb::KeyInfo& key);
std::string tuf_key_json(const proto::pb::KeyInfo& key);

// What the key serves: "REPOSITORY ROLE" items joined by ", "; "-" for nothing recorded.
std::string key_uses_text(const proto::pb::KeyInfo& key);
// One row per key (ID NAME TYPE BACKEND USE), and under it one line per certificate id.
std::string key_table(const std::vector<proto::pb::KeyInfo>& keys);
nlohmann::json key_json(const proto::pb::KeyInfo& key);

std::string status_text(const proto::pb::StatusReply& status);
nlohmann::json status_json(const proto::pb::StatusReply& status);

// JSON text, indented, invalid UTF-8 replaced, final newline.
std::string dump_json(const nlohmann::json& j);

} // namespace trustkey::tools
