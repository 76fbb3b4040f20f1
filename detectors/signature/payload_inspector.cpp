#include "detectors/signature/payload_inspector.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>

#include <algorithm>
#include <cstring>

#include "signatures/rule_set.hpp"

namespace sluice {

namespace {

struct LowerTable {
    std::array<uint8_t, 256> t{};
    constexpr LowerTable() {
        for (int i = 0; i < 256; ++i) t[static_cast<size_t>(i)] = static_cast<uint8_t>(i >= 'A' && i <= 'Z' ? i + 32 : i);
    }
};
constexpr LowerTable kLower;

// First start p in [from, limit - n] of pattern in data, or SIZE_MAX.
size_t find_bytes(const uint8_t* data, size_t from, size_t limit, const std::string& pat, const std::string& lower, bool nocase) {
    const size_t n = pat.size();
    if (limit < n || from > limit - n) return SIZE_MAX;
    if (!nocase) {
        const void* r = memmem(data + from, limit - from, pat.data(), n);
        return r ? static_cast<size_t>(static_cast<const uint8_t*>(r) - data) : SIZE_MAX;
    }
    const auto* lp = reinterpret_cast<const uint8_t*>(lower.data());
    const uint8_t first = lp[0];
    for (size_t p = from; p + n <= limit; ++p) {
        if (kLower.t[data[p]] != first) continue;
        size_t k = 1;
        while (k < n && kLower.t[data[p + k]] == lp[k]) ++k;
        if (k == n) return p;
    }
    return SIZE_MAX;
}

struct HsFind {
    unsigned long long need;
    bool found;
    unsigned long long end;
};

int on_pcre_match(unsigned, unsigned long long, unsigned long long to, unsigned, void* ctx) {
    auto* f = static_cast<HsFind*>(ctx);
    if (to > f->need || (f->need == 0 && to == 0)) {
        f->found = true;
        f->end = to;
        return 1;  // stop
    }
    return 0;
}

}  // namespace

PayloadInspector::PayloadInspector(const PayloadInspectorLimits& limits) : limits_(limits) {
    auto* mctx = pcre2_match_context_create(nullptr);
    pcre2_set_match_limit(mctx, limits.pcre_match_limit);
    pcre2_set_depth_limit(mctx, limits.pcre_depth_limit);
    auto* jit = pcre2_jit_stack_create(32 * 1024, 512 * 1024, nullptr);
    if (jit) pcre2_jit_stack_assign(mctx, nullptr, jit);
    mctx_ = reinterpret_cast<pcre2_real_match_context_8*>(mctx);
    jit_ = reinterpret_cast<pcre2_real_jit_stack_8*>(jit);
    reserve_captures(16);
}

PayloadInspector::~PayloadInspector() {
    pcre2_match_data_free(reinterpret_cast<pcre2_match_data*>(md_));
    pcre2_match_context_free(reinterpret_cast<pcre2_match_context*>(mctx_));
    pcre2_jit_stack_free(reinterpret_cast<pcre2_jit_stack*>(jit_));
}

void PayloadInspector::reserve_captures(size_t captures) {
    if (md_ && captures <= md_captures_) return;
    pcre2_match_data_free(reinterpret_cast<pcre2_match_data*>(md_));
    md_captures_ = std::max<size_t>(captures, 16);
    md_ = reinterpret_cast<pcre2_real_match_data_8*>(pcre2_match_data_create(static_cast<uint32_t>(md_captures_ + 1), nullptr));
}

bool PayloadInspector::match(const BufferMatch& list, const InspectBuffer& buf, MatchSpan* span) {
    if (list.bsize && !list.bsize->match(buf.data.size())) return false;
    if (list.urilen && !list.urilen->match(buf.data.size())) return false;
    buf_ = buf;
    budget_ = limits_.backtrack_budget;
    span_ = {SIZE_MAX, 0};
    last_positive_ = SIZE_MAX;
    for (size_t i = 0; i < list.elems.size(); ++i) {
        const auto& e = list.elems[i];
        if (!e.negated && (e.kind == ElemKind::content || e.kind == ElemKind::pcre)) last_positive_ = i;
    }
    bool ok = step(list, 0, 0, 0, 0);
    if (ok && span) {
        *span = span_;
        if (span->start == SIZE_MAX) *span = {0, 0};
    }
    return ok;
}

bool PayloadInspector::read_number(const ByteOp& op, size_t pos, uint64_t& out) const {
    const size_t len = buf_.data.size();
    const uint8_t* d = buf_.data.data();
    size_t n = op.nbytes;
    if (op.string && n == 0) n = std::min<size_t>(len > pos ? len - pos : 0, 23);
    if (n == 0 || pos > len || n > len - pos) return false;
    if (op.string) {
        uint64_t v = 0;
        size_t digits = 0;
        for (size_t i = 0; i < n; ++i) {
            int c = d[pos + i], dv;
            if (c >= '0' && c <= '9') dv = c - '0';
            else if (c >= 'a' && c <= 'f') dv = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') dv = c - 'A' + 10;
            else break;
            if (dv >= op.base) break;
            if (v > (UINT64_MAX - static_cast<uint64_t>(dv)) / op.base) return false;
            v = v * op.base + static_cast<uint64_t>(dv);
            ++digits;
        }
        if (digits == 0) return false;
        out = v;
    } else {
        uint64_t v = 0;
        if (op.little)
            for (size_t i = 0; i < n; ++i) v |= uint64_t{d[pos + i]} << (8 * i);
        else
            for (size_t i = 0; i < n; ++i) v = (v << 8) | d[pos + i];
        out = v;
    }
    if (op.bitmask) {
        out &= op.bitmask;
        out >>= __builtin_ctzll(op.bitmask);
    }
    return true;
}

bool PayloadInspector::find_pcre(const PayloadElem& e, size_t from, size_t need_end, size_t& start, size_t& end) {
    const size_t len = buf_.data.size();
    if (from > len) return false;
    const uint8_t* subject = buf_.data.data() + from;
    const size_t sublen = len - from;
    const size_t need = need_end > from ? need_end - from : 0;  // end (subject coords) must be > need when need > 0
    if (e.pcre_db >= 0 && rules_ && scratch_) {
        ++stats_.pcre_hyperscan;
        HsFind f{need, false, 0};
        hs_error_t rc = hs_scan(rules_->pcre_db(e.pcre_db), reinterpret_cast<const char*>(subject), static_cast<unsigned>(sublen), 0,
                                scratch_, on_pcre_match, &f);
        if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) {
            ++stats_.pcre_errors;
            return false;
        }
        if (!f.found) return false;
        end = from + f.end;
        start = end;  // Hyperscan reports ends only; the span is the match end
        return true;
    }
    ++stats_.pcre_pcre2;
    auto* code = reinterpret_cast<const pcre2_code*>(e.pcre->code);
    auto* md = reinterpret_cast<pcre2_match_data*>(md_);
    auto* mctx = reinterpret_cast<pcre2_match_context*>(mctx_);
    size_t offset = 0;
    while (offset <= sublen) {
        int rc = pcre2_match(code, subject, sublen, offset, 0, md, mctx);
        if (rc < 0) {
            if (rc != PCRE2_ERROR_NOMATCH) ++stats_.pcre_errors;
            return false;
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        if (need == 0 || ov[1] > need) {
            start = from + ov[0];
            end = from + ov[1];
            return true;
        }
        if (e.pcre->anchored) return false;
        if (--budget_ == 0) {
            ++stats_.budget_exhausted;
            return false;
        }
        offset = ov[0] + 1;
    }
    return false;
}

bool PayloadInspector::step(const BufferMatch& list, size_t i, size_t cursor, size_t max_end, size_t min_start) {
    const size_t len = buf_.data.size();
    if (i == list.elems.size()) {
        if (last_positive_ != SIZE_MAX && max_end <= buf_.min_end) return false;
        return true;
    }
    const PayloadElem& e = list.elems[i];
    const uint8_t* d = buf_.data.data();
    const int64_t base = static_cast<int64_t>(buf_.base);
    auto record = [&](size_t s, size_t t) {
        if (s < span_.start) span_.start = s;
        if (t > span_.end) span_.end = t;
    };
    switch (e.kind) {
        case ElemKind::content: {
            const size_t plen = e.bytes.size();
            int64_t lo = 0, hi = static_cast<int64_t>(len);
            if (e.startswith) {
                lo = -base;
                hi = -base + static_cast<int64_t>(plen);
            } else if (e.relative) {
                const int64_t dist = e.has_distance ? value_of(e.distance_var, e.distance) : 0;
                lo = static_cast<int64_t>(cursor) + dist;
                if (e.has_within) hi = static_cast<int64_t>(cursor) + value_of(e.within_var, e.within) + (e.has_distance ? dist : 0);
            } else {
                const int64_t off = e.has_offset ? value_of(e.offset_var, e.offset) : 0;
                lo = off - base;
                if (e.has_depth) hi = off + value_of(e.depth_var, e.depth) - base;
            }
            if (lo < 0) lo = 0;
            if (hi > static_cast<int64_t>(len)) hi = static_cast<int64_t>(len);
            if (e.endswith) {
                if (static_cast<int64_t>(plen) > hi) return e.negated ? step(list, i + 1, cursor, max_end, min_start) : false;
                lo = std::max<int64_t>(lo, static_cast<int64_t>(len) - static_cast<int64_t>(plen));
                if (hi < static_cast<int64_t>(len)) return e.negated ? step(list, i + 1, cursor, max_end, min_start) : false;
            }
            if (hi - lo < static_cast<int64_t>(plen)) {
                if (e.negated) return step(list, i + 1, cursor, max_end, min_start);
                return false;
            }
            const size_t ulo = static_cast<size_t>(lo), uhi = static_cast<size_t>(hi);
            if (e.negated) {
                if (find_bytes(d, ulo, uhi, e.bytes, e.lower, e.nocase) != SIZE_MAX) return false;
                return step(list, i + 1, cursor, max_end, min_start);
            }
            size_t from = ulo;
            // the last positive element must end in the new bytes (past min_end)
            if (i == last_positive_ && buf_.min_end + 1 > plen) from = std::max(from, buf_.min_end + 1 - plen);
            for (size_t p = find_bytes(d, from, uhi, e.bytes, e.lower, e.nocase); p != SIZE_MAX;
                 p = find_bytes(d, p + 1, uhi, e.bytes, e.lower, e.nocase)) {
                const size_t end = p + plen;
                const size_t saved_start = span_.start, saved_end = span_.end;
                record(p, end);
                if (step(list, i + 1, end, i == last_positive_ ? end : max_end, min_start)) return true;
                span_.start = saved_start;
                span_.end = saved_end;
                if (!list.needs_backtrack) return false;  // nothing later depends on where this one is
                if (--budget_ == 0) {
                    ++stats_.budget_exhausted;
                    return false;
                }
            }
            return false;
        }
        case ElemKind::pcre: {
            const size_t from = e.relative ? cursor : 0;
            size_t s = 0, t = 0;
            if (e.negated) {
                if (find_pcre(e, from, 0, s, t)) return false;
                return step(list, i + 1, cursor, max_end, min_start);
            }
            size_t need = i == last_positive_ ? buf_.min_end : 0;
            size_t at = from;
            while (true) {
                if (!find_pcre(e, at, need, s, t)) return false;
                const size_t saved_start = span_.start, saved_end = span_.end;
                record(s, t);
                if (step(list, i + 1, t, i == last_positive_ ? t : max_end, min_start)) return true;
                span_.start = saved_start;
                span_.end = saved_end;
                if (e.pcre_db >= 0 || !list.needs_backtrack || e.pcre->anchored) return false;
                if (--budget_ == 0) {
                    ++stats_.budget_exhausted;
                    return false;
                }
                // retry from one past this match's start (within the same subject start for relative)
                at = s + 1;
                if (at > len) return false;
            }
        }
        case ElemKind::byte_test: {
            const ByteOp& b = e.byte;
            const int64_t off = value_of(b.offset_var, b.offset);
            const int64_t pos = b.relative ? static_cast<int64_t>(cursor) + off : off - base;
            uint64_t v;
            if (pos < 0 || !read_number(b, static_cast<size_t>(pos), v)) return false;
            const uint64_t want = b.value_var == kNoVar ? b.value : vars_[b.value_var];
            bool ok;
            switch (b.op) {
                case '<': ok = v < want; break;
                case '>': ok = v > want; break;
                case '&': ok = (v & want) != 0; break;
                case '^': ok = (v ^ want) != 0; break;
                case 'l': ok = v <= want; break;
                case 'g': ok = v >= want; break;
                default: ok = v == want; break;
            }
            if (b.op_negated) ok = !ok;
            if (!ok) return false;
            return step(list, i + 1, cursor, max_end, min_start);
        }
        case ElemKind::byte_jump: {
            const ByteOp& b = e.byte;
            const int64_t off = value_of(b.offset_var, b.offset);
            const int64_t pos = b.relative ? static_cast<int64_t>(cursor) + off : off - base;
            uint64_t v;
            if (pos < 0 || !read_number(b, static_cast<size_t>(pos), v)) return false;
            if (v > (uint64_t{1} << 40)) return false;
            int64_t jump = static_cast<int64_t>(v) * b.multiplier;
            if (b.align && (jump % 4) != 0) jump += 4 - jump % 4;
            int64_t target;
            if (b.from_beginning) target = jump;
            else if (b.from_end) target = static_cast<int64_t>(len) + jump;
            else target = pos + (b.nbytes ? b.nbytes : 0) + jump;
            target += b.post_offset;
            if (target < 0 || target > static_cast<int64_t>(len)) return false;
            return step(list, i + 1, static_cast<size_t>(target), max_end, min_start);
        }
        case ElemKind::byte_extract: {
            const ByteOp& b = e.byte;
            const int64_t off = value_of(b.offset_var, b.offset);
            const int64_t pos = b.relative ? static_cast<int64_t>(cursor) + off : off - base;
            uint64_t v;
            if (pos < 0 || !read_number(b, static_cast<size_t>(pos), v)) return false;
            v *= b.multiplier;
            if (b.align_to && (v % b.align_to) != 0) v += b.align_to - v % b.align_to;
            if (b.store_var != kNoVar) vars_[b.store_var] = v;
            return step(list, i + 1, static_cast<size_t>(pos) + b.nbytes, max_end, min_start);
        }
        case ElemKind::isdataat: {
            const int64_t n = value_of(e.byte.offset_var, static_cast<int64_t>(e.isdataat));
            bool present;
            if (e.relative) present = static_cast<int64_t>(cursor) + n <= static_cast<int64_t>(len);  // as Suricata
            else present = n - base < static_cast<int64_t>(len) && n - base >= 0;
            if (present == e.negated) return false;
            return step(list, i + 1, cursor, max_end, min_start);
        }
    }
    return false;
}

}  // namespace sluice
