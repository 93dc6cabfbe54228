// A docker image reference as the docker CLI accepts it: [HOST[:PORT]/]PATH[:TAG][@DIGEST].
// Names without a registry part are on Docker Hub ("docker.io"); one-component
// Docker Hub names get the "library/" prefix; without tag or digest the tag is "latest".
#pragma once

#include <string>
#include <string_view>

namespace trustkey::registry {

struct Reference {
    static constexpr const char* kDockerHub = "docker.io";
    static constexpr const char* kDockerHubApiHost = "registry-1.docker.io";
    static constexpr const char* kDefaultTag = "latest";

    std::string registry;    // "docker.io", "localhost:5000", "ghcr.io" (as written, or kDockerHub)
    std::string repository;  // "library/ubuntu", "team/app"
    std::string tag;         // empty when only a digest was given
    std::string digest;      // "sha256:<64 hex>" or empty

    // Throws trustkey::Error (Errc::invalid_argument) naming the reference and the rule
    // it breaks.
    static Reference parse(std::string_view text);

    // Host (and port) the Registry API is served on: registry-1.docker.io for Docker Hub.
    std::string api_host() const;
    // The tag, or the digest when one was given (what /v2/<repo>/manifests/<x> takes).
    std::string manifest_ref() const { return digest.empty() ? tag : digest; }
    // Normalised full form: "docker.io/library/ubuntu:latest", "host:5000/app@sha256:…".
    std::string str() const;
};

} // namespace trustkey::registry
