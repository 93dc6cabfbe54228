// A stand-in pinentry for tests: speaks enough Assuan to answer GETPIN with a given
// PIN, or misbehaves in one chosen way. Set through the environment (a daemon passes
// it on to the pinentry it starts):
//   FAKE_PINENTRY_MODE  answer (default) | cancel | overlong | garbage | exit-early |
//                       exit-at-start | no-greeting | hang | data
//   FAKE_PINENTRY_PIN   the PIN GETPIN answers (answer mode), sent %-escaped
//   FAKE_PINENTRY_PIN_FILE  a file whose content is that PIN, read at each GETPIN
//                       (a test changes the answer while a daemon runs)
//   FAKE_PINENTRY_DATA  the raw text of the D line GETPIN sends (data mode)
//   FAKE_PINENTRY_LOG   a file each received line is appended to, after "PID <pid>"
//   FAKE_PINENTRY_CONFIRM  how CONFIRM is answered: yes (default; "cancel" in cancel mode) |
//                       no (GPG_ERR_NOT_CONFIRMED) | cancel | hang
//   FAKE_PINENTRY_CONFIRM_FILE  a file holding that answer, read at each CONFIRM
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

namespace {

std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v != nullptr ? v : fallback;
}

void reply(const std::string& line) {
    std::cout << line << '\n' << std::flush;
}

std::string escaped(const std::string& s) {
    static const char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : s) {
        const auto b = static_cast<unsigned char>(c);
        if (c == '%' || b < 0x20) {
            out += '%';
            out += kHex[b >> 4];
            out += kHex[b & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

} // namespace

int main() {
    const std::string mode = env_or("FAKE_PINENTRY_MODE", "answer");
    const std::string log_path = env_or("FAKE_PINENTRY_LOG", "");
    std::ofstream log;
    if (!log_path.empty()) {
        log.open(log_path, std::ios::app);
        log << "PID " << ::getpid() << '\n' << std::flush;
    }
    if (mode == "exit-at-start") return 3;
    if (mode == "no-greeting") {
        reply("Hello, I am not Assuan");
        std::this_thread::sleep_for(std::chrono::seconds(30));
        return 0;
    }
    reply("OK Pleased to meet you");
    std::string line;
    while (std::getline(std::cin, line)) {
        if (log.is_open()) log << line << '\n' << std::flush;
        const std::string word = line.substr(0, line.find(' '));
        if (word == "BYE") {
            reply("OK closing connection");
            return 0;
        }
        if (word == "CONFIRM") {
            std::string answer = env_or("FAKE_PINENTRY_CONFIRM", mode == "cancel" ? "cancel" : "yes");
            if (const std::string file = env_or("FAKE_PINENTRY_CONFIRM_FILE", ""); !file.empty()) {
                std::ifstream in(file);
                std::getline(in, answer);
            }
            if (answer == "no") {
                reply("ERR 83886194 Not confirmed <Pinentry>");
            } else if (answer == "cancel") {
                reply("ERR 83886179 Operation cancelled <Pinentry>");
            } else if (answer == "hang") {
                std::this_thread::sleep_for(std::chrono::seconds(60));
                return 0;
            } else {
                reply("OK");
            }
            continue;
        }
        if (word != "GETPIN") {
            reply("OK");
            continue;
        }
        if (mode == "answer") {
            std::string pin = env_or("FAKE_PINENTRY_PIN", "");
            if (const std::string file = env_or("FAKE_PINENTRY_PIN_FILE", ""); !file.empty()) {
                std::ifstream in(file);
                std::getline(in, pin);
            }
            if (!pin.empty()) reply("D " + escaped(pin));
            reply("OK");
        } else if (mode == "cancel") {
            reply("ERR 83886179 Operation cancelled <Pinentry>");
        } else if (mode == "overlong") {
            reply("D " + std::string(1200, '7'));
            reply("OK");
        } else if (mode == "garbage") {
            reply("PIN IS 1234");
        } else if (mode == "exit-early") {
            return 4;
        } else if (mode == "hang") {
            std::this_thread::sleep_for(std::chrono::seconds(60));
            return 0;
        } else if (mode == "data") {
            reply("D " + env_or("FAKE_PINENTRY_DATA", ""));
            reply("OK");
        }
    }
    return 0;
}
