#include "signatures/rule_loader.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

namespace sluice {

void LoadReport::skip(RuleError reason, std::string message, size_t max_messages) {
    ++skipped;
    ++skipped_by_reason[static_cast<size_t>(reason)];
    if (messages.size() < max_messages) messages.push_back(std::move(message));
    else ++messages_dropped;
}

namespace {

namespace fs = std::filesystem;

class Loader {
public:
    explicit Loader(const RuleLoadOptions& o) : opts_(o), md_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(md_, EVP_sha256(), nullptr); }
    ~Loader() { EVP_MD_CTX_free(md_); }
    Loader(const Loader&) = delete;
    Loader& operator=(const Loader&) = delete;

    void path(const std::string& p, int depth) {
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            std::vector<std::string> files;
            for (const auto& e : fs::directory_iterator(p, ec))
                if (e.is_regular_file() && e.path().extension() == ".rules") files.push_back(e.path().string());
            std::sort(files.begin(), files.end());
            for (const auto& f : files) file(f, depth);
            return;
        }
        file(p, depth);
    }

    void text(std::string_view t, std::string_view name, const fs::path& dir, int depth) {
        hash(name);
        hash(t);
        uint32_t line_no = 0;
        std::string joined;
        uint32_t start_line = 0;
        while (!t.empty()) {
            auto nl = t.find('\n');
            std::string_view line = t.substr(0, nl);
            t = nl == std::string_view::npos ? std::string_view{} : t.substr(nl + 1);
            ++line_no;
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (joined.empty()) start_line = line_no;
            if (!line.empty() && line.back() == '\\') {  // continuation
                line.remove_suffix(1);
                joined.append(line);
                if (joined.size() > kMaxRuleBytes) {
                    out_.report.skip(RuleError::syntax, std::string(name) + ":" + std::to_string(start_line) + ": sid 0: rule longer than " + std::to_string(kMaxRuleBytes) + " bytes", opts_.max_messages);
                    joined.clear();
                    // drop the rest of this continued rule
                    while (!t.empty()) {
                        auto n2 = t.find('\n');
                        std::string_view l2 = t.substr(0, n2);
                        t = n2 == std::string_view::npos ? std::string_view{} : t.substr(n2 + 1);
                        ++line_no;
                        if (!l2.empty() && l2.back() == '\r') l2.remove_suffix(1);
                        if (l2.empty() || l2.back() != '\\') break;
                    }
                }
                continue;
            }
            joined.append(line);
            one(joined, name, start_line, dir, depth);
            joined.clear();
        }
        if (!joined.empty()) one(joined, name, start_line, dir, depth);
    }

    LoadedRules finish() {
        if (opts_.vars) out_.vars_fingerprint = opts_.vars->fingerprint();
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        EVP_DigestFinal_ex(md_, d, &len);
        static constexpr char hex[] = "0123456789abcdef";
        for (unsigned i = 0; i < len; ++i) {
            out_.content_sha256.push_back(hex[d[i] >> 4]);
            out_.content_sha256.push_back(hex[d[i] & 15]);
        }
        return std::move(out_);
    }

private:
    void hash(std::string_view s) {
        uint64_t n = s.size();
        EVP_DigestUpdate(md_, &n, sizeof n);
        EVP_DigestUpdate(md_, s.data(), s.size());
    }

    void file(const std::string& p, int depth) {
        std::error_code ec;
        fs::path canon = fs::weakly_canonical(p, ec);
        std::string key = ec ? p : canon.string();
        if (std::find(stack_.begin(), stack_.end(), key) != stack_.end()) {
            out_.report.skip(RuleError::include_error, p + ":0: sid 0: include loop", opts_.max_messages);
            return;
        }
        if (depth > opts_.max_include_depth) {
            out_.report.skip(RuleError::include_error, p + ":0: sid 0: includes nest deeper than " + std::to_string(opts_.max_include_depth), opts_.max_messages);
            return;
        }
        std::ifstream f(p, std::ios::binary);
        if (!f) {
            out_.report.skip(RuleError::io_error, p + ":0: sid 0: cannot read file", opts_.max_messages);
            return;
        }
        std::stringstream ss;
        ss << f.rdbuf();
        ++out_.report.files;
        stack_.push_back(key);
        text(ss.str(), p, fs::path(p).parent_path(), depth);
        stack_.pop_back();
    }

    void one(std::string_view line, std::string_view name, uint32_t line_no, const fs::path& dir, int depth) {
        size_t i = 0;
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        line.remove_prefix(i);
        if (line.empty() || line.front() == '#') return;
        if (line.substr(0, 8) == "include ") {
            std::string_view target = line.substr(8);
            while (!target.empty() && (target.front() == ' ' || target.front() == '\t')) target.remove_prefix(1);
            while (!target.empty() && (target.back() == ' ' || target.back() == '\t')) target.remove_suffix(1);
            if (target.size() >= 2 && target.front() == '"' && target.back() == '"') target = target.substr(1, target.size() - 2);
            constexpr std::string_view rule_path = "$RULE_PATH/";
            if (target.substr(0, rule_path.size()) == rule_path) target.remove_prefix(rule_path.size());
            if (target.empty()) {
                out_.report.skip(RuleError::include_error, std::string(name) + ":" + std::to_string(line_no) + ": sid 0: include without a file", opts_.max_messages);
                return;
            }
            fs::path p(target);
            if (p.is_relative() && !dir.empty()) p = dir / p;
            path(p.string(), depth + 1);
            return;
        }
        RuleParseContext ctx{opts_.vars, opts_.classes, name, line_no};
        RuleParseOutcome o = parse_rule(line, ctx);
        if (!o.rule) {
            out_.report.skip(o.reason, std::string(name) + ":" + std::to_string(line_no) + ": sid " + std::to_string(o.sid) + ": " + o.message, opts_.max_messages);
            return;
        }
        uint64_t key = (uint64_t{o.rule->gid} << 32) | o.rule->sid;
        if (!sids_.insert(key).second) {
            out_.report.skip(RuleError::duplicate_sid, std::string(name) + ":" + std::to_string(line_no) + ": sid " + std::to_string(o.sid) + ": duplicate sid (gid " + std::to_string(o.rule->gid) + ")", opts_.max_messages);
            return;
        }
        out_.rules.push_back(std::move(*o.rule));
        ++out_.report.loaded;
    }

    const RuleLoadOptions& opts_;
    EVP_MD_CTX* md_;
    LoadedRules out_;
    std::vector<std::string> stack_;
    std::set<uint64_t> sids_;
};

}  // namespace

LoadedRules load_rules(std::span<const std::string> paths, const RuleLoadOptions& opts) {
    Loader l(opts);
    for (const auto& p : paths) l.path(p, 0);
    return l.finish();
}

LoadedRules load_rules_text(std::string_view text, std::string_view name, const RuleLoadOptions& opts) {
    Loader l(opts);
    l.text(text, name, {}, 0);
    return l.finish();
}

}  // namespace sluice
