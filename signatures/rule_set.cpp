#include "signatures/rule_set.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

namespace sluice {

void HsDatabaseFree::operator()(hs_database* db) const { hs_free_database(db); }
void HsScratchFree::operator()(hs_scratch* s) const { hs_free_scratch(s); }

RuleSet::~RuleSet() = default;

std::span<const uint32_t> AddressIndex::lookup(const IpAddr& a) const {
    auto it = std::upper_bound(starts.begin(), starts.end(), a);
    if (it == starts.begin()) return {};
    size_t i = static_cast<size_t>(it - starts.begin()) - 1;
    return {rules.data() + begin[i], begin[i + 1] - begin[i]};
}

namespace {

constexpr uint32_t kCacheFormat = 1;
constexpr char kCacheMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'H', 'S'};
std::atomic<uint64_t> g_generation{0};

// Buffers whose values repeat across most traffic: a literal there makes a poor prefilter.
int buffer_priority(int16_t buffer) {
    if (buffer == kPayloadBuffer) return 2;
    switch (static_cast<AppBuffer>(buffer)) {
        case AppBuffer::http_method:
        case AppBuffer::http_protocol:
        case AppBuffer::http_stat_code:
        case AppBuffer::http_content_len:
        case AppBuffer::http_connection:
        case AppBuffer::http_accept:
        case AppBuffer::tls_version:
            return 1;
        default:
            return 2;
    }
}

std::string literal_of(const PayloadElem& e) {
    if (e.has_fp_chop) return e.bytes.substr(e.fp_offset, e.fp_length);
    return e.bytes;
}

size_t distinct_bytes(std::string_view s) {
    std::array<bool, 256> seen{};
    size_t n = 0;
    for (unsigned char c : s)
        if (!seen[c]) {
            seen[c] = true;
            ++n;
        }
    return n;
}

struct Sha256 {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    Sha256() { EVP_DigestInit_ex(md, EVP_sha256(), nullptr); }
    ~Sha256() { EVP_MD_CTX_free(md); }
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void add(std::string_view s) {
        uint64_t n = s.size();
        EVP_DigestUpdate(md, &n, sizeof n);
        EVP_DigestUpdate(md, s.data(), s.size());
    }
    void add_u64(uint64_t v) { EVP_DigestUpdate(md, &v, sizeof v); }
    std::string hex() {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        EVP_DigestFinal_ex(md, d, &len);
        static constexpr char h[] = "0123456789abcdef";
        std::string out;
        for (unsigned i = 0; i < len; ++i) {
            out.push_back(h[d[i] >> 4]);
            out.push_back(h[d[i] & 15]);
        }
        return out;
    }
};

// One Hyperscan database to build: literal group or pcre.
struct DbJob {
    enum class Kind : uint8_t { literals, pcre } kind = Kind::literals;
    unsigned mode = HS_MODE_BLOCK;
    std::vector<std::string> literals;
    std::vector<unsigned> flags;
    std::string pattern;  // pcre
    unsigned pcre_flags = 0;
    HsDatabase* target = nullptr;
    int32_t pcre_index = -1;
    std::string error;
};

// Accumulates a group's rules and literals before compilation.
struct GroupBuilder {
    std::map<std::pair<std::string, bool>, uint32_t> ids;
    std::vector<std::vector<uint32_t>> rules_of;
    std::vector<std::pair<std::string, bool>> lits;
    std::vector<uint32_t> always;
    size_t rules = 0;

    void add(uint32_t rule, const std::optional<FastPatternChoice>& fp) {
        ++rules;
        if (!fp) {
            always.push_back(rule);
            return;
        }
        auto key = std::make_pair(fp->caseless ? lower(fp->literal) : fp->literal, fp->caseless);
        auto [it, fresh] = ids.emplace(key, static_cast<uint32_t>(lits.size()));
        if (fresh) {
            lits.push_back(key);
            rules_of.emplace_back();
        }
        rules_of[it->second].push_back(rule);
    }
    static std::string lower(std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    }
    void finish(RuleGroup& g, unsigned mode, std::vector<DbJob>& jobs) {
        g.rule_count = rules;
        g.literal_count = lits.size();
        g.always = std::move(always);
        g.lit_begin.clear();
        g.lit_rules.clear();
        g.lit_begin.push_back(0);
        for (auto& v : rules_of) {
            g.lit_rules.insert(g.lit_rules.end(), v.begin(), v.end());
            g.lit_begin.push_back(static_cast<uint32_t>(g.lit_rules.size()));
        }
        if (lits.empty()) return;
        DbJob j;
        j.mode = mode;
        for (auto& [s, caseless] : lits) {
            j.literals.push_back(s);
            unsigned f = caseless ? HS_FLAG_CASELESS : 0;
            if (mode == HS_MODE_BLOCK) f |= HS_FLAG_SINGLEMATCH;
            j.flags.push_back(f);
        }
        j.target = &g.db;
        jobs.push_back(std::move(j));
    }
};

Status compile_job(DbJob& j, hs_database_t** out) {
    hs_compile_error_t* err = nullptr;
    hs_error_t rc;
    if (j.kind == DbJob::Kind::literals) {
        std::vector<const char*> ptrs;
        std::vector<size_t> lens;
        std::vector<unsigned> ids;
        for (size_t i = 0; i < j.literals.size(); ++i) {
            ptrs.push_back(j.literals[i].data());
            lens.push_back(j.literals[i].size());
            ids.push_back(static_cast<unsigned>(i));
        }
        rc = hs_compile_lit_multi(ptrs.data(), j.flags.data(), ids.data(), lens.data(), static_cast<unsigned>(ptrs.size()),
                                  j.mode, nullptr, out, &err);
    } else {
        rc = hs_compile(j.pattern.c_str(), j.pcre_flags, j.mode, nullptr, out, &err);
    }
    if (rc != HS_SUCCESS) {
        std::string msg = err && err->message ? err->message : "hyperscan compile error";
        hs_free_compile_error(err);
        return make_error(msg);
    }
    return {};
}

void hash_job(Sha256& h, const DbJob& j) {
    h.add_u64(static_cast<uint64_t>(j.kind));
    h.add_u64(j.mode);
    if (j.kind == DbJob::Kind::literals) {
        h.add_u64(j.literals.size());
        for (size_t i = 0; i < j.literals.size(); ++i) {
            h.add(j.literals[i]);
            h.add_u64(j.flags[i]);
        }
    } else {
        h.add(j.pattern);
        h.add_u64(j.pcre_flags);
    }
}

bool read_file(const std::string& path, std::string& out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    std::stringstream ss;
    ss << f.rdbuf();
    out = ss.str();
    return true;
}

// Cache file: magic, format, count, then per database (u64 length, bytes), then
// a SHA-256 of everything before it.
bool load_cache(const std::string& path, std::vector<DbJob>& jobs, std::string& note) {
    std::string data;
    if (!read_file(path, data)) {
        note = "no cache file";
        return false;
    }
    if (data.size() < 8 + 8 + 64) {
        note = "cache file too short";
        return false;
    }
    std::string_view body(data.data(), data.size() - 64);
    Sha256 h;
    h.add(body);
    if (h.hex() != std::string_view(data).substr(data.size() - 64)) {
        note = "cache file checksum mismatch";
        return false;
    }
    if (std::memcmp(data.data(), kCacheMagic, 8) != 0) {
        note = "cache file magic mismatch";
        return false;
    }
    uint32_t fmt, count;
    std::memcpy(&fmt, data.data() + 8, 4);
    std::memcpy(&count, data.data() + 12, 4);
    if (fmt != kCacheFormat || count != jobs.size()) {
        note = "cache file is stale";
        return false;
    }
    size_t pos = 16;
    std::vector<HsDatabase> dbs;
    for (uint32_t i = 0; i < count; ++i) {
        uint64_t len;
        if (pos + 8 > body.size()) {
            note = "cache file truncated";
            return false;
        }
        std::memcpy(&len, data.data() + pos, 8);
        pos += 8;
        if (len > body.size() - pos) {
            note = "cache file truncated";
            return false;
        }
        hs_database_t* db = nullptr;
        if (hs_deserialize_database(data.data() + pos, len, &db) != HS_SUCCESS) {
            note = "cache database does not deserialize";
            return false;
        }
        dbs.emplace_back(db);
        pos += len;
    }
    if (pos != body.size()) {
        note = "cache file has trailing bytes";
        return false;
    }
    for (size_t i = 0; i < jobs.size(); ++i) *jobs[i].target = std::move(dbs[i]);
    return true;
}

bool write_cache(const std::string& path, const std::vector<DbJob>& jobs, std::string& note) {
    std::string out(kCacheMagic, 8);
    uint32_t fmt = kCacheFormat, count = static_cast<uint32_t>(jobs.size());
    out.append(reinterpret_cast<const char*>(&fmt), 4);
    out.append(reinterpret_cast<const char*>(&count), 4);
    for (const auto& j : jobs) {
        char* bytes = nullptr;
        size_t len = 0;
        if (hs_serialize_database(j.target->get(), &bytes, &len) != HS_SUCCESS) {
            note = "hs_serialize_database failed";
            return false;
        }
        uint64_t l = len;
        out.append(reinterpret_cast<const char*>(&l), 8);
        out.append(bytes, len);
        std::free(bytes);
    }
    Sha256 h;
    h.add(out);
    out += h.hex();
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) {
            note = "cannot write " + tmp;
            return false;
        }
        f.write(out.data(), static_cast<std::streamsize>(out.size()));
        if (!f) {
            note = "cannot write " + tmp;
            return false;
        }
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        note = "cannot rename cache file: " + ec.message();
        std::filesystem::remove(tmp, ec);
        return false;
    }
    return true;
}

}  // namespace

std::optional<FastPatternChoice> choose_fast_pattern(const Rule& rule) {
    std::optional<FastPatternChoice> best;
    int best_explicit = -1, best_prio = -1;
    size_t best_score = 0;
    for (size_t b = 0; b < rule.buffers.size(); ++b) {
        const auto& list = rule.buffers[b];
        const int prio = buffer_priority(list.buffer);
        for (size_t e = 0; e < list.elems.size(); ++e) {
            const auto& el = list.elems[e];
            if (el.kind != ElemKind::content || el.negated) continue;
            // a content whose position depends on a byte_extract variable is still a literal
            std::string lit = literal_of(el);
            if (list.dotprefix && e == 0 && lit.empty()) continue;
            const int expl = el.fast_pattern ? 1 : 0;
            const size_t score = std::min<size_t>(lit.size(), 255) * 4 + distinct_bytes(lit);
            if (expl > best_explicit || (expl == best_explicit && (prio > best_prio || (prio == best_prio && score > best_score)))) {
                best_explicit = expl;
                best_prio = prio;
                best_score = score;
                best = FastPatternChoice{b, e, std::move(lit), el.nocase};
            }
        }
    }
    return best;
}

class RuleCompiler {
public:
    static Result<std::shared_ptr<const RuleSet>> run(LoadedRules loaded, const ClassificationTable& classes,
                                                      const RuleSetOptions& opts, const RuleSet* previous);
};

Result<std::shared_ptr<const RuleSet>> RuleSet::compile(LoadedRules loaded, const ClassificationTable& classes,
                                                        const RuleSetOptions& opts, const RuleSet* previous) {
    return RuleCompiler::run(std::move(loaded), classes, opts, previous);
}

Result<std::shared_ptr<const RuleSet>> RuleCompiler::run(LoadedRules loaded, const ClassificationTable& classes,
                                                         const RuleSetOptions& opts, const RuleSet* previous) {
    const auto t0 = std::chrono::steady_clock::now();
    std::shared_ptr<RuleSet> rs(new RuleSet());
    rs->generation_ = ++g_generation;
    rs->report_ = std::move(loaded.report);
    rs->classtypes_ = classes.entries();

    // Flowbit numbering: continue the previous set's names so per-flow bits stay valid.
    auto assign = [&](std::vector<Rule>& rules, std::vector<std::string> names) {
        std::map<std::string, uint16_t, std::less<>> idx;
        for (size_t i = 0; i < names.size(); ++i) idx.emplace(names[i], static_cast<uint16_t>(i));
        std::vector<Rule> kept;
        kept.reserve(rules.size());
        size_t overflow = 0;
        for (auto& r : rules) {
            bool ok = true;
            for (auto& op : r.flowbits) {
                op.bits.clear();
                for (const auto& n : op.names) {
                    auto it = idx.find(n);
                    if (it == idx.end()) {
                        if (names.size() >= kMaxFlowbits) {
                            ok = false;
                            break;
                        }
                        it = idx.emplace(n, static_cast<uint16_t>(names.size())).first;
                        names.push_back(n);
                    }
                    op.bits.push_back(it->second);
                }
                if (!ok) break;
            }
            if (ok) kept.push_back(std::move(r));
            else ++overflow;
        }
        return std::make_tuple(std::move(kept), std::move(names), overflow);
    };
    std::vector<Rule> rules = std::move(loaded.rules);
    {
        std::vector<std::string> init;
        bool continued = false;
        if (previous) {
            std::set<std::string, std::less<>> all(previous->flowbit_names_.begin(), previous->flowbit_names_.end());
            for (const auto& r : rules)
                for (const auto& op : r.flowbits) all.insert(op.names.begin(), op.names.end());
            continued = all.size() <= kMaxFlowbits;
            if (continued) init = previous->flowbit_names_;
        }
        auto [kept, names, overflow] = assign(rules, std::move(init));
        for (size_t i = 0; i < overflow; ++i) {
            rs->report_.skip(RuleError::too_many_flowbits, "flowbits: more than " + std::to_string(kMaxFlowbits) + " names in the rule set", SIZE_MAX);
            --rs->report_.loaded;
        }
        rules = std::move(kept);
        rs->flowbit_names_ = std::move(names);
        rs->flowbit_epoch_ = continued ? previous->flowbit_epoch_ : rs->generation_;
    }

    // Evaluation order: action order (pass first), flowbit setters before checkers, then file order.
    std::stable_sort(rules.begin(), rules.end(), [](const Rule& a, const Rule& b) {
        auto role = [](const Rule& r) { return r.has_flowbit_checks() ? (r.has_flowbit_sets() ? 1 : 2) : (r.has_flowbit_sets() ? 0 : 1); };
        if (a.action != b.action) return a.action < b.action;
        return role(a) < role(b);
    });

    std::vector<DbJob> jobs;
    // pcre through Hyperscan where the keyword's match end is not needed by a later relative element
    for (auto& r : rules) {
        for (auto& list : r.buffers) {
            for (size_t e = 0; e < list.elems.size(); ++e) {
                auto& el = list.elems[e];
                if (el.kind != ElemKind::pcre) continue;
                ++rs->stats_.pcre_pcre2;
                rs->max_captures_ = std::max<size_t>(rs->max_captures_, el.pcre->capture_count);
                if (!opts.pcre_hyperscan) continue;
                const auto& p = *el.pcre;
                if (p.anchored || p.dollar_endonly || p.extended) continue;
                bool later_relative = false;
                for (size_t k = e + 1; k < list.elems.size(); ++k)
                    if (list.elems[k].relative) later_relative = true;
                if (later_relative) continue;
                unsigned flags = HS_FLAG_ALLOWEMPTY | (p.caseless ? HS_FLAG_CASELESS : 0) | (p.dotall ? HS_FLAG_DOTALL : 0) |
                                 (p.multiline ? HS_FLAG_MULTILINE : 0);
                hs_expr_info_t* info = nullptr;
                hs_compile_error_t* err = nullptr;
                if (hs_expression_info(p.pattern.c_str(), flags, &info, &err) != HS_SUCCESS) {
                    hs_free_compile_error(err);
                    continue;
                }
                std::free(info);
                el.pcre_db = static_cast<int32_t>(rs->pcre_dbs_.size());
                rs->pcre_dbs_.emplace_back();
                DbJob j;
                j.kind = DbJob::Kind::pcre;
                j.pattern = p.pattern;
                j.pcre_flags = flags;
                j.pcre_index = el.pcre_db;
                jobs.push_back(std::move(j));
                --rs->stats_.pcre_pcre2;
                ++rs->stats_.pcre_hyperscan;
            }
        }
    }
    rs->rules_ = std::move(rules);
    for (auto& j : jobs)
        if (j.kind == DbJob::Kind::pcre) j.target = &rs->pcre_dbs_[static_cast<size_t>(j.pcre_index)];

    // Group the rules.
    std::array<std::array<GroupBuilder, 2>, static_cast<size_t>(PacketClass::count)> pkt;
    std::array<GroupBuilder, 2> stream;
    std::vector<std::array<GroupBuilder, 2>> tx(RuleSet::kTxBufferKeys);
    struct IpOnly { uint32_t rule; bool by_src; };
    std::vector<IpOnly> ip_only;
    auto coverage = [](const IpRangeSet& s) {
        long double sum = 0;
        for (const auto& r : s.ranges()) {
            long double a = static_cast<long double>(r.first.hi()) * 18446744073709551616.0L + static_cast<long double>(r.first.lo());
            long double b = static_cast<long double>(r.last.hi()) * 18446744073709551616.0L + static_cast<long double>(r.last.lo());
            sum += b - a + 1;
        }
        return sum / 340282366920938463463374607431768211456.0L;
    };
    for (uint32_t i = 0; i < rs->rules_.size(); ++i) {
        const Rule& r = rs->rules_[i];
        std::array<bool, 2> dirs{!(r.flow & flow_flag::to_client), !(r.flow & flow_flag::to_server)};
        switch (r.point) {
            case InspectPoint::packet: {
                if (r.ip_only && !r.bidirectional) {
                    long double cs = r.src_any ? 1.0L : coverage(r.src), cd = r.dst_any ? 1.0L : coverage(r.dst);
                    if (std::min(cs, cd) < 0.5L) {
                        ip_only.push_back({i, cs <= cd});
                        break;
                    }
                    rs->ip_plain_.push_back(i);
                    break;
                }
                if (r.ip_only) {
                    rs->ip_plain_.push_back(i);
                    break;
                }
                std::array<bool, 4> cls{};
                switch (r.proto) {
                    case RuleProto::tcp: cls[0] = true; break;
                    case RuleProto::udp: cls[1] = true; break;
                    case RuleProto::icmp: cls[2] = true; break;
                    case RuleProto::ip: cls = {true, true, true, true}; break;
                    case RuleProto::app: cls[0] = cls[1] = true; break;
                }
                auto fp = choose_fast_pattern(r);
                for (size_t c = 0; c < 4; ++c)
                    for (size_t d = 0; d < 2; ++d)
                        if (cls[c] && dirs[d]) pkt[c][d].add(i, fp);
                break;
            }
            case InspectPoint::stream: {
                auto fp = choose_fast_pattern(r);
                for (size_t d = 0; d < 2; ++d)
                    if (dirs[d]) stream[d].add(i, fp);
                break;
            }
            case InspectPoint::transaction: {
                if (r.buffers.empty()) {
                    for (size_t d = 0; d < 2; ++d)
                        if (dirs[d]) rs->tx_plain_[d].push_back(i);
                    break;
                }
                auto fp = choose_fast_pattern(r);
                const BufferMatch& list = r.buffers[fp ? fp->buffer : 0];
                size_t key = static_cast<size_t>(list.buffer) * 2 + (list.dotprefix ? 1 : 0);
                std::optional<FastPatternChoice> lit = fp;
                if (lit && list.dotprefix && lit->elem == 0 && !list.elems[0].relative) {
                    // inspected with the '.' in front: the literal still matches as written
                }
                for (size_t d = 0; d < 2; ++d)
                    if (dirs[d]) tx[key][d].add(i, lit);
                break;
            }
            case InspectPoint::record:
                rs->record_[static_cast<size_t>(r.app_proto)].push_back(i);
                break;
        }
    }
    for (size_t c = 0; c < 4; ++c)
        for (size_t d = 0; d < 2; ++d) pkt[c][d].finish(rs->packet_[c][d], HS_MODE_BLOCK, jobs);
    for (size_t d = 0; d < 2; ++d) stream[d].finish(rs->stream_[d], HS_MODE_STREAM, jobs);
    for (size_t k = 0; k < RuleSet::kTxBufferKeys; ++k)
        for (size_t d = 0; d < 2; ++d) {
            tx[k][d].finish(rs->tx_[k][d], HS_MODE_BLOCK, jobs);
            if (!rs->tx_[k][d].empty()) rs->tx_keys_[d].push_back(static_cast<uint16_t>(k));
        }

    // IP-only address index
    auto build_index = [&](AddressIndex& idx, bool by_src) {
        struct Ev { IpAddr at; bool open; uint32_t rule; };
        std::vector<Ev> evs;
        for (const auto& io : ip_only) {
            if (io.by_src != by_src) continue;
            const Rule& r = rs->rules_[io.rule];
            for (const auto& range : (by_src ? r.src : r.dst).ranges()) {
                evs.push_back({range.first, true, io.rule});
                IpAddr after = range.last;
                bool overflow = true;
                for (int b = 15; b >= 0; --b)
                    if (++after.b[static_cast<size_t>(b)] != 0) {
                        overflow = false;
                        break;
                    }
                if (!overflow) evs.push_back({after, false, io.rule});
            }
        }
        std::sort(evs.begin(), evs.end(), [](const Ev& a, const Ev& b) { return a.at < b.at; });
        std::vector<uint32_t> active;
        idx.begin.push_back(0);
        for (size_t i = 0; i < evs.size();) {
            IpAddr at = evs[i].at;
            for (; i < evs.size() && evs[i].at == at; ++i) {
                if (evs[i].open) active.push_back(evs[i].rule);
                else active.erase(std::find(active.begin(), active.end(), evs[i].rule));
            }
            idx.starts.push_back(at);
            std::vector<uint32_t> sorted = active;
            std::sort(sorted.begin(), sorted.end());
            sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
            idx.rules.insert(idx.rules.end(), sorted.begin(), sorted.end());
            idx.begin.push_back(static_cast<uint32_t>(idx.rules.size()));
        }
    };
    build_index(rs->ip_src_, true);
    build_index(rs->ip_dst_, false);
    rs->stats_.ip_only_rules = ip_only.size() + rs->ip_plain_.size();

    // Cache key: everything the databases are built from, plus the rule text hash and Hyperscan version.
    Sha256 h;
    h.add("sluice-rules");
    h.add_u64(kCacheFormat);
    h.add(hs_version());
    h.add(loaded.content_sha256);
    h.add(loaded.vars_fingerprint);
    for (const auto& j : jobs) hash_job(h, j);
    rs->key_ = h.hex();

    bool from_cache = false;
    if (!opts.cache_dir.empty() && !jobs.empty()) {
        rs->stats_.cache_file = opts.cache_dir + "/sluice-rules-" + rs->key_.substr(0, 32) + ".hsdb";
        from_cache = load_cache(rs->stats_.cache_file, jobs, rs->stats_.cache_note);
    }
    if (!from_cache) {
        for (auto& j : jobs) {
            hs_database_t* db = nullptr;
            Status st = compile_job(j, &db);
            if (!st) {
                if (j.kind == DbJob::Kind::pcre) {  // fall back to PCRE2 for this keyword
                    for (auto& r : rs->rules_)
                        for (auto& list : r.buffers)
                            for (auto& el : list.elems)
                                if (el.pcre_db == j.pcre_index) el.pcre_db = -1;
                    --rs->stats_.pcre_hyperscan;
                    ++rs->stats_.pcre_pcre2;
                    continue;
                }
                return make_error("hyperscan: " + st.message());
            }
            j.target->reset(db);
        }
        if (!opts.cache_dir.empty() && !jobs.empty()) {
            // databases that failed (pcre fallbacks) are absent: do not cache an incomplete set
            bool complete = std::all_of(jobs.begin(), jobs.end(), [](const DbJob& j) { return j.target->get() != nullptr; });
            if (complete) rs->stats_.cache_written = write_cache(rs->stats_.cache_file, jobs, rs->stats_.cache_note);
            else rs->stats_.cache_note = "not cached: a pcre fell back to PCRE2 at compile time";
        }
    }
    rs->stats_.cache_hit = from_cache;

    // PCRE2 JIT for the pcre keywords that stay on PCRE2.
    for (auto& r : rs->rules_)
        for (auto& list : r.buffers)
            for (auto& el : list.elems)
                if (el.kind == ElemKind::pcre && el.pcre_db < 0 && el.pcre->code)
                    pcre2_jit_compile(reinterpret_cast<pcre2_code*>(el.pcre->code), PCRE2_JIT_COMPLETE);

    // Prototype scratch for every database.
    hs_scratch_t* scratch = nullptr;
    auto grow = [&](const hs_database* db) -> Status {
        if (!db) return {};
        if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) return make_error("hs_alloc_scratch failed");
        ++rs->stats_.databases;
        return {};
    };
    for (auto& row : rs->packet_)
        for (auto& g : row)
            if (auto st = grow(g.db.get()); !st) return st.error();
    for (auto& g : rs->stream_)
        if (auto st = grow(g.db.get()); !st) return st.error();
    for (auto& row : rs->tx_)
        for (auto& g : row)
            if (auto st = grow(g.db.get()); !st) return st.error();
    for (auto& d : rs->pcre_dbs_)
        if (auto st = grow(d.get()); !st) return st.error();
    rs->scratch_.reset(scratch);
    if (scratch) {
        size_t sz = 0;
        hs_scratch_size(scratch, &sz);
        rs->stats_.scratch_bytes = sz;
    }
    size_t stream_bytes = 0;
    for (auto& g : rs->stream_)
        if (g.db) {
            size_t s = 0;
            hs_stream_size(g.db.get(), &s);
            stream_bytes = std::max(stream_bytes, s);
        }
    rs->stats_.stream_state_bytes = stream_bytes;

    auto account = [&](const RuleGroup& g) {
        rs->stats_.literals += g.literal_count;
        rs->stats_.always_rules += g.always.size();
        rs->max_group_rules_ = std::max(rs->max_group_rules_, g.rule_count);
    };
    for (auto& row : rs->packet_)
        for (auto& g : row) account(g);
    for (auto& g : rs->stream_) account(g);
    for (auto& row : rs->tx_)
        for (auto& g : row) account(g);
    rs->max_group_rules_ = std::max(rs->max_group_rules_, rs->rules_.size());
    rs->stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return std::shared_ptr<const RuleSet>(std::move(rs));
}

int check_rules(std::span<const std::string> files, const RuleVars& vars, const std::string& classification_file,
                std::FILE* out, size_t max_messages) {
    ClassificationTable classes;
    if (!classification_file.empty()) {
        if (auto st = classes.load_file(classification_file); !st) {
            std::fprintf(out, "classification: %s\n", st.message().c_str());
            return 1;
        }
    }
    RuleLoadOptions lo;
    lo.vars = &vars;
    lo.classes = classification_file.empty() ? nullptr : &classes;
    lo.max_messages = max_messages;
    LoadedRules lr = load_rules(files, lo);
    LoadReport rep = lr.report;
    std::fprintf(out, "rules: %zu loaded, %zu skipped (%zu malformed) from %zu files\n", rep.loaded, rep.skipped,
                 rep.malformed(), rep.files);
    for (size_t i = 0; i < rep.skipped_by_reason.size(); ++i)
        if (rep.skipped_by_reason[i])
            std::fprintf(out, "  skipped %s: %zu\n", std::string(counter_name(static_cast<RuleError>(i))).c_str(),
                         rep.skipped_by_reason[i]);
    for (const auto& m : rep.messages) std::fprintf(out, "%s\n", m.c_str());
    if (rep.messages_dropped) std::fprintf(out, "... %zu more messages\n", rep.messages_dropped);
    auto rs = RuleSet::compile(std::move(lr), classes, RuleSetOptions{});
    if (!rs) {
        std::fprintf(out, "compile failed: %s\n", rs.message().c_str());
        return 2;
    }
    const auto& s = (*rs)->stats();
    std::fprintf(out, "compiled: %zu databases, %zu literals, %zu always-evaluated, %zu ip-only, pcre %zu hyperscan / %zu pcre2, %.2f s\n",
                 s.databases, s.literals, s.always_rules, s.ip_only_rules, s.pcre_hyperscan, s.pcre_pcre2, s.seconds);
    if (rep.malformed() > 0 || rep.loaded == 0) return 1;
    return 0;
}

}  // namespace sluice
