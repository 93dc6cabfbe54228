// trustkey-ceremony: offline root-key ceremonies on PKCS#11 tokens and the TPM, without a daemon and
// without a network. Exit status: 0 success, 1 failure, 2 usage error.
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lib/core/error.h"
#include "tools/ceremony/backup_command.h"
#include "tools/ceremony/ceremony_context.h"
#include "tools/ceremony/export_bundle.h"
#include "tools/ceremony/root_generate.h"
#include "tools/ceremony/root_sign.h"
#include "tools/ceremony/token_init_command.h"
#include "tools/ceremony/transcript.h"
#include "tools/ceremony/transcript_signature.h"

namespace {

using namespace trustkey;
using namespace trustkey::ceremony;

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void no_core_dumps() {
    const rlimit none{0, 0};
    ::setrlimit(RLIMIT_CORE, &none);
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

// Runs a command that writes the transcript; a failure is recorded there before it is reported.
template <typename F>
void with_context(const GlobalOptions& global, const std::string& command, F&& body) {
    CeremonyContext context(global, command);
    try {
        body(context);
    } catch (const std::exception& e) {
        context.record_failure(e.what());
        throw;
    }
}

void print_transcript_summary(const std::vector<nlohmann::json>& lines) {
    for (const nlohmann::json& line : lines) {
        std::cout << line["seq"].get<std::uint64_t>() << "  " << line["time"].get<std::string>() << "  "
                  << line["operator"].get<std::string>() << "  " << line["step"].get<std::string>();
        for (const auto& serial : line["tokens"]) std::cout << "  token " << serial.get<std::string>();
        for (const auto& id : line["keys"]) std::cout << "  key " << id.get<std::string>().substr(0, 12);
        std::cout << "\n";
    }
}

// One line per root key (id, token, certificate), then the summary.
void print_root_keys(const RootKeys& keys, const std::filesystem::path& dir) {
    for (const RootKeyRecord& k : keys.keys)
        std::cout << k.x509_key_id << "  token " << k.token_label << " (serial " << k.token_serial << ")  "
                  << (dir / k.certificate).string() << "\n";
    std::cout << "root keys of " << keys.gun << ": " << keys.keys.size() << ", threshold " << keys.threshold
              << "; written to " << dir.string() << "\n";
}

void add_sign_options(CLI::App& cmd, RootSignOptions& sign, bool rotate) {
    cmd.add_option("--keys", sign.keys_dir, rotate ? "directory `root generate` wrote for the new keys"
                                                   : "directory `root generate` wrote")
        ->required();
    if (rotate)
        cmd.add_option("--previous", sign.previous, "the root.json clients trust now")->required();
    const char* keep = rotate ? " (default: the previous root's)" : "";
    auto* t = cmd.add_option("--targets", sign.targets_key,
                             std::string("targets public key: PEM key, certificate or TUF key JSON") + keep);
    auto* s = cmd.add_option("--snapshot", sign.snapshot_key, std::string("snapshot public key") + keep);
    auto* ts = cmd.add_option("--timestamp", sign.timestamp_key, std::string("timestamp public key") + keep);
    if (!rotate) {
        t->required();
        s->required();
        ts->required();
    }
    cmd.add_option("--version", sign.version, "root.json version (default: 1, or the previous one + 1)");
    cmd.add_option("--expires-days", sign.expires_days, "root.json expiry in days")->capture_default_str();
    cmd.add_option("--token", sign.tokens, "token URI (or tpm) holding a root key, in the order they are inserted")
        ->required();
    cmd.add_option("--out", sign.out, "output file (default: <keys>/root.json)");
}

} // namespace

int main(int argc, char** argv) {
    no_core_dumps();
    // The TPM's errors are reported as one line each; tpm2-tss's own log stays quiet (unless set).
    ::setenv("TSS2_LOG", "all+none", 0);
    CLI::App app{"trustkey-ceremony: offline root-key ceremonies on PKCS#11 tokens and the TPM (no daemon, no network)"};
    app.require_subcommand(1);
    app.fallthrough();
    GlobalOptions global;
    app.add_flag("--allow-network", global.allow_network,
                 "run although a network interface is up (recorded in the transcript)");
    app.add_option("--transcript", global.transcript, "the transcript file (JSON lines, appended)")
        ->capture_default_str();
    app.add_option("--operator", global.operator_name, "the operator's name (else $TRUSTKEY_CEREMONY_OPERATOR)");
    app.add_option("--module", global.module, "PKCS#11 module of the tokens (else $TRUSTKEY_PKCS11_MODULE)");
    app.add_option("--tpm", global.tpm_tcti,
                   "TCTI of the TPM `--token tpm` names (else $TRUSTKEY_TPM_TCTI, else device:/dev/tpmrm0)");
    app.add_option("--tpm-state", global.tpm_state,
                   "directory of the TPM's key blobs (default: <keys directory>/tpm)");

    auto* root = app.add_subcommand("root", "root keys and root.json")->require_subcommand(1);

    RootGenerateOptions gen;
    std::vector<std::string> gen_tokens;
    int validity_days = 3650;
    auto* generate = root->add_subcommand("generate", "an ECDSA P-256 root key and certificate on each token");
    generate->add_option("--gun", gen.gun, "the repository (certificate CN)")->required();
    generate->add_option("--token", gen_tokens, "RFC 7512 URI of a token, or tpm (one per root key)")->required();
    generate->add_option("--threshold", gen.threshold, "signatures root.json needs")->capture_default_str();
    generate->add_option("--validity-days", validity_days, "certificate validity in days")->capture_default_str();
    generate->add_option("--key-name", gen.key_name, "key label on the tokens (default root-<gun hash>)");
    generate->add_option("--out", gen.out_dir, "directory for certificates, public keys and root-keys.json")
        ->required();
    generate->add_flag("--resume", gen.resume,
                       "use the keys an interrupted run made (as its transcript records) instead of new ones");
    generate->add_flag("--no-backup", gen.no_backup, "make keys that can never leave their token (no `backup`)");

    RootCertifyOptions cert;
    std::vector<std::string> cert_tokens;
    int cert_validity_days = 3650;
    auto* certify = root->add_subcommand("certify", "certificates of existing root keys for another repository");
    certify->add_option("--keys", cert.keys_dir, "directory `root generate` wrote for the keys")->required();
    certify->add_option("--gun", cert.gun, "the other repository (certificate CN)")->required();
    certify->add_option("--token", cert_tokens, "token URI (or tpm) holding one of the root keys")->required();
    certify->add_option("--threshold", cert.threshold, "signatures its root.json needs (default: as in --keys)");
    certify->add_option("--validity-days", cert_validity_days, "certificate validity in days")->capture_default_str();
    certify->add_option("--out", cert.out_dir, "directory for the new certificates and root-keys.json")->required();

    RootSignOptions sign;
    auto* sign_cmd = root->add_subcommand("sign", "root.json signed by the root keys on the tokens given");
    add_sign_options(*sign_cmd, sign, false);
    auto* rotate = root->add_subcommand(
        "rotate", "a new root.json for the keys of a new `root generate`, signed by the previous root keys too");
    add_sign_options(*rotate, sign, true);

    auto* token = app.add_subcommand("token", "the tokens of the module")->require_subcommand(1);
    auto* token_list = token->add_subcommand("list", "the slots holding a token");
    TokenInitOptions init;
    auto* token_init_cmd = token->add_subcommand("init", "initialize a token: label, SO PIN, user PIN");
    token_init_cmd->add_option("--slot", init.slot, "slot id (see `token list`)")->required();
    token_init_cmd->add_option("--label", init.label, "the new label (up to 32 bytes)")->required();
    token_init_cmd->add_flag("--yes", init.yes, "erase an initialized token without asking");

    BackupOptions bak;
    auto* backup_cmd = app.add_subcommand(
        "backup", "copy a root key to another token by wrapping it inside the tokens (needs the source's SO PIN)");
    backup_cmd->add_option("--keys", bak.keys_dir, "directory `root generate` wrote")->required();
    backup_cmd->add_option("--from", bak.from, "URI of the token holding the key")->required();
    backup_cmd->add_option("--to", bak.to, "URI of the token receiving the copy")->required();
    backup_cmd->add_option("--key", bak.key, "which root key (1-based, as in root-keys.json; default: the one on --from)")
        ->check(CLI::PositiveNumber);

    ExportOptions exp;
    auto* export_cmd = app.add_subcommand("export", "the public bundle for the online side");
    export_cmd->add_option("--keys", exp.keys_dir, "directory `root generate` and `root sign` wrote")->required();
    export_cmd->add_option("--root", exp.root_json, "root.json to export (default: <keys>/root.json)");
    export_cmd->add_option("DIR", exp.out_dir, "new directory for the bundle")->required();

    auto* transcript = app.add_subcommand("transcript", "the ceremony transcript")->require_subcommand(1);
    std::filesystem::path verify_path;
    auto* verify = transcript->add_subcommand("verify", "check a transcript's hash chain (needs no air gap)");
    verify->add_option("FILE", verify_path, "transcript file")->required();
    std::filesystem::path verify_keys;
    verify->add_option("--keys", verify_keys, "check the root keys' signatures against this root-keys.json directory");
    std::filesystem::path tsign_keys;
    std::vector<std::string> tsign_tokens;
    auto* tsign = transcript->add_subcommand("sign", "sign the transcript's last line with the root keys");
    tsign->add_option("--keys", tsign_keys, "directory `root generate` wrote")->required();
    tsign->add_option("--token", tsign_tokens, "token URI (or tpm) holding a root key")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);  // prints help, or the one-line error
        return code == 0 ? 0 : kExitUsage;
    }

    // The TPM's key blobs live beside the keys of the ceremony unless --tpm-state says otherwise.
    auto tpm_state_in = [&](const std::filesystem::path& keys_dir) {
        if (global.tpm_state.empty()) global.tpm_state = keys_dir / "tpm";
    };
    try {
        if (verify->parsed()) {
            const auto lines = verify_transcript(verify_path);
            print_transcript_summary(lines);
            std::cout << verify_path.string() << ": " << lines.size() << " lines, hash chain intact\n";
            if (!verify_keys.empty()) {
                const TranscriptSignatures sigs =
                    check_transcript_signatures(verify_path, lines, RootKeys::load(verify_keys), verify_keys);
                std::cout << "lines 1-" << sigs.covered_lines << " signed by " << sigs.valid_keys.size()
                          << " root key(s), threshold " << sigs.threshold << "\n";
                if (sigs.covered_lines + 1 < sigs.total_lines)
                    std::cout << "lines " << sigs.covered_lines + 2 << "-" << sigs.total_lines
                              << " come after the last signature\n";
            }
        } else if (tsign->parsed()) {
            tpm_state_in(tsign_keys);
            with_context(global, "transcript sign", [&](CeremonyContext& context) {
                sign_transcript(tsign_keys, tsign_tokens, context);
                std::cout << "transcript signed: " << context.transcript().lines() << " lines\n";
            });
        } else if (generate->parsed()) {
            gen.validity = std::chrono::hours(24) * validity_days;
            check_root_generate(gen, gen_tokens.size());
            tpm_state_in(gen.out_dir);
            with_context(global, "root generate", [&](CeremonyContext& context) {
                std::vector<CeremonyToken> tokens = context.open_tokens(gen_tokens);
                print_root_keys(root_generate(gen, tokens, context.transcript()), gen.out_dir);
            });
        } else if (backup_cmd->parsed()) {
            with_context(global, "backup", [&](CeremonyContext& context) { backup(bak, context); });
        } else if (token_list->parsed()) {
            with_context(global, "token list", [&](CeremonyContext& context) { print_token_slots(context); });
        } else if (token_init_cmd->parsed()) {
            with_context(global, "token init", [&](CeremonyContext& context) { token_init(init, context); });
        } else if (export_cmd->parsed()) {
            with_context(global, "export", [&](CeremonyContext& context) {
                export_bundle(exp, context);
                std::cout << "public bundle written to " << exp.out_dir.string() << "\n";
            });
        } else if (certify->parsed()) {
            if (cert_validity_days < 1) throw Error(Errc::invalid_argument, "--validity-days must be at least 1");
            cert.validity = std::chrono::hours(24) * cert_validity_days;
            tpm_state_in(cert.keys_dir);
            with_context(global, "root certify", [&](CeremonyContext& context) {
                std::vector<CeremonyToken> tokens = context.open_tokens(cert_tokens);
                print_root_keys(root_certify(cert, tokens, context.transcript()), cert.out_dir);
            });
        } else if (sign_cmd->parsed() || rotate->parsed()) {
            tpm_state_in(sign.keys_dir);
            with_context(global, rotate->parsed() ? "root rotate" : "root sign", [&](CeremonyContext& context) {
                const std::filesystem::path out = root_sign(sign, context);
                std::cout << "root.json written to " << out.string() << "\n";
            });
        }
    } catch (const Error& e) {
        std::cerr << "trustkey-ceremony: " << e.what() << "\n";
        return e.errc() == Errc::invalid_argument ? kExitUsage : kExitFailure;
    } catch (const std::exception& e) {
        std::cerr << "trustkey-ceremony: " << e.what() << "\n";
        return kExitFailure;
    }
    return 0;
}
