// Text helpers shared by the parsers of configuration, rules, rule keywords and
// policies: trimming, and quoting a piece of input for an error message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {

// Without leading and trailing white space (space, tab, CR, LF, VT, FF).
constexpr std::string_view trim_space(std::string_view s) {
    constexpr std::string_view kSpace = " \t\r\n\v\f";
    const auto first = s.find_first_not_of(kSpace);
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

// Without leading and trailing blanks (spaces and tabs only).
constexpr std::string_view trim_blanks(std::string_view s) {
    constexpr std::string_view kBlank = " \t";
    const auto first = s.find_first_not_of(kBlank);
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(kBlank) - first + 1);
}

// trim_blanks, and enclosing double quotes taken off (with the blanks inside
// them), as often as they enclose it: a rule keyword's value, quoted or not.
constexpr std::string_view trim_blanks_and_quotes(std::string_view s) {
    s = trim_blanks(s);
    while (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = trim_blanks(s.substr(1, s.size() - 2));
    return s;
}

// A piece of input for an error message ("got ..."): in double quotes, with
// '"' and '\' escaped, control bytes as \xNN, cut after `shown` bytes ("...").
inline std::string quote_for_message(std::string_view s, size_t shown = 60) {
    constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    size_t n = 0;
    for (char ch : s) {
        if (++n > shown) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (u < 0x20 || u == 0x7f) {
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 0xf];
        } else {
            out += ch;
        }
    }
    out += '"';
    return out;
}

}  // namespace sluice
