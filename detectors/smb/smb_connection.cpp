// NetBIOS framing, message buffering with the streamed file-data hole, tables,
// file delivery and the SmbDecoder / SmbWorkerContext facade.
#include "detectors/smb/smb_connection.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "detectors/smb/smb_proto.hpp"

namespace sluice {

using namespace smb;

// ------------------------------------------------------------ worker context

SmbWorkerContext::SmbWorkerContext(SmbConfig cfg) : cfg_(std::move(cfg)), files_(cfg_.files) {}

void SmbWorkerContext::set_config(SmbConfig cfg) {
    cfg_ = std::move(cfg);
    files_.set_config(cfg_.files);
}

// ------------------------------------------------------------------- decoder

SmbDecoder::SmbDecoder(SmbWorkerContext& ctx, SmbEventSink& sink, bool directions_known)
    : ctx_(ctx), sink_(sink), conn_(std::make_unique<SmbConnection>(ctx, sink, directions_known)) {}
SmbDecoder::~SmbDecoder() = default;

template <typename F>
void SmbDecoder::guarded(F&& f) {
    if (!conn_) return;
    try {
        f(*conn_);
    } catch (...) {
        ctx_.anomalies().inc(SmbAnomaly::internal_error);
        try {
            sink_.on_anomaly(SmbAnomaly::internal_error, Direction::to_server);
        } catch (...) {
        }
        conn_.reset();  // drops unfinished files (frees memory, removes spill files)
    }
}

void SmbDecoder::on_data(Direction dir, uint64_t /*offset*/, std::span<const uint8_t> data) {
    guarded([&](SmbConnection& c) { c.data(dir, data); });
}
void SmbDecoder::on_gap(Direction dir, uint64_t /*offset*/, uint64_t len) {
    guarded([&](SmbConnection& c) { c.gap(dir, len); });
}
void SmbDecoder::on_end() {
    guarded([&](SmbConnection& c) { c.end(); });
}
const SmbFeedResult& SmbDecoder::feed(Direction dir, std::span<const uint8_t> data) {
    on_data(dir, 0, data);
    return last_result();
}
const SmbFeedResult& SmbDecoder::last_result() const { return conn_ ? conn_->result : dead_; }
size_t SmbDecoder::open_files() const { return conn_ ? conn_->open_files() : 0; }
size_t SmbDecoder::state_bytes() const { return sizeof(*this) + (conn_ ? conn_->state_bytes() : 0); }

// ------------------------------------------------------------------ PduView

std::span<const uint8_t> SmbConnection::PduView::span(uint32_t from, uint32_t to) const {
    to = std::min(to, total);
    if (from >= to) return {};
    size_t lo = from;
    size_t hi = to;
    if (hole_len != 0) {
        const uint32_t hole_end = hole_start + hole_len;
        if (from >= hole_end) {
            lo = from - hole_len;
            hi = to - hole_len;
        } else if (from >= hole_start) {
            return {};
        } else if (to > hole_start) {
            hi = hole_start;
        }
    }
    hi = std::min(hi, buf_len);
    if (lo >= hi) return {};
    return {buf + lo, hi - lo};
}

// --------------------------------------------------------------- connection

SmbConnection::SmbConnection(SmbWorkerContext& ctx, SmbEventSink& sink, bool directions_known)
    : ctx_(ctx), sink_(sink), directions_known_(directions_known), oriented_(directions_known) {
    count(SmbCounter::flows);
}

bool SmbConnection::orient(Direction wire, bool response, Direction* dir, bool count_wrong) {
    if (!oriented_) {
        oriented_ = true;
        swapped_ = response != (wire == Direction::to_client);
    }
    *dir = swapped_ ? opposite(wire) : wire;
    if (response == (*dir == Direction::to_client)) return true;
    if (count_wrong) anomaly(SmbAnomaly::wrong_direction, *dir);
    return false;
}

SmbConnection::~SmbConnection() = default;

void SmbConnection::anomaly(SmbAnomaly a, Direction d) {
    ctx_.anomalies().inc(a);
    sink_.on_anomaly(a, d);
}

size_t SmbConnection::open_files() const { return open_count_; }

size_t SmbConnection::state_bytes() const {
    size_t n = sizeof(*this);
    for (const auto& s : dir_) n += s.buf.capacity();
    n += trees_.capacity() * sizeof(Tree) + opens_.capacity() * sizeof(OpenFile) +
         pending_.capacity() * sizeof(Pending) + sessions_.capacity() * sizeof(Session) +
         free_opens_.capacity() * sizeof(uint32_t);
    for (const auto& t : trees_) n += t.path.capacity();
    for (const auto& f : opens_) n += f.name.capacity() + f.share.capacity();
    n += smb1_dialects_.capacity() + smb1_dialect_.capacity();
    return n;
}

// ------------------------------------------------------------------ framing

inline void SmbConnection::check_complete(OpenFile& f, FileDirection fdir) {
    const size_t fd = static_cast<size_t>(fdir);
    if (!f.file[fd]) return;
    const uint64_t known = known_size(f, fdir);
    if (known > 0 && f.file[fd]->covers(known)) finish_file(f, fdir, true);
}

// The body of deliver(), inline for the framing's short way: the next bytes
// of an open file go to its assembler; anything else to deliver_other().
inline void SmbConnection::deliver_inline(Direction d, const FileTarget& t, uint64_t offset,
                                          std::span<const uint8_t> data) {
    if (t.slot == kNone || data.empty()) return;
    OpenFile* f = open_at(t.slot, t.gen);
    if (!f) return;
    touch(*f);
    if (f->is_pipe) {
        count(SmbCounter::pipe_data_bytes, data.size());
        return;
    }
    count(SmbCounter::file_bytes, data.size());
    if (!ctx_.config().carve_files) return;
    const size_t fd = static_cast<size_t>(t.fdir);
    if (!f->file[fd] || f->finished[fd] || f->closing) {
        deliver_other(d, *f, t, offset, data);
        return;
    }
    f->file[fd]->write(offset, data);
    check_complete(*f, t.fdir);
}

void SmbConnection::data(Direction d, std::span<const uint8_t> bytes) {
    result.clear();
    count(SmbCounter::bytes, bytes.size());
    DirState& s = dir_[index(d)];
    // Most chunks of a transfer lie inside the file data of a WRITE or READ
    // message and end neither it nor its message: straight to the file.
    if (s.phase == Phase::body && s.hole_set && s.pdu_got >= s.hole_start) {
        const uint32_t into = s.pdu_got - s.hole_start;
        if (into < s.hole_len && bytes.size() < s.hole_len - into) {
            deliver_inline(d, s.hole_target, s.hole_target.offset + into, bytes);
            s.pdu_got += static_cast<uint32_t>(bytes.size());
            return;
        }
    }
    frame(d, s, bytes);
}

void SmbConnection::frame(Direction d, DirState& s, std::span<const uint8_t> bytes) {
    while (!bytes.empty()) {
        size_t used = 0;
        switch (s.phase) {
            case Phase::header: {
                used = std::min<size_t>(4u - s.hdr_have, bytes.size());
                std::memcpy(s.hdr + s.hdr_have, bytes.data(), used);
                s.hdr_have = static_cast<uint8_t>(s.hdr_have + used);
                if (s.hdr_have == 4) start_message(d, s);
                break;
            }
            case Phase::skip: {
                used = static_cast<size_t>(std::min<uint64_t>(s.skip_left, bytes.size()));
                s.skip_left -= used;
                if (s.skip_left == 0) reset_message(s);
                break;
            }
            case Phase::resync: used = resync_bytes(d, s, bytes); break;
            case Phase::body: used = body_bytes(d, s, bytes); break;
        }
        bytes = bytes.subspan(used);
    }
}

void SmbConnection::reset_message(DirState& s) {
    s.phase = Phase::header;
    s.hdr_have = 0;
    s.pdu_len = 0;
    s.pdu_got = 0;
    s.skip_left = 0;
    s.damaged = false;
    s.probe_done = false;
    s.probe_need = 0;
    s.hole_set = false;
    s.hole_start = 0;
    s.hole_len = 0;
    s.hole_target = FileTarget{};
    s.buf.clear();
}

void SmbConnection::start_message(Direction d, DirState& s) {
    const uint8_t type = s.hdr[0];
    if (type == kNbssMessage) {
        count(SmbCounter::nbss_messages);
        // Direct TCP (445) uses a 24-bit length; NetBIOS (139) a 17-bit one
        // whose other flag bits are zero, so the 24-bit reading covers both.
        const uint32_t len = (static_cast<uint32_t>(s.hdr[1]) << 16) | (static_cast<uint32_t>(s.hdr[2]) << 8) | s.hdr[3];
        reset_message(s);
        if (len == 0) return;
        if (len > ctx_.config().max_pdu_size) {
            anomaly(SmbAnomaly::pdu_too_large, d);
            count(SmbCounter::pdus_skipped);
            s.phase = Phase::skip;
            s.skip_left = len;
            return;
        }
        s.phase = Phase::body;
        s.pdu_len = len;
        return;
    }
    if (type >= kNbssSessionRequest && type <= kNbssKeepalive && (s.hdr[1] & 0xfe) == 0) {
        const uint32_t len = (static_cast<uint32_t>(s.hdr[1] & 1) << 16) | (static_cast<uint32_t>(s.hdr[2]) << 8) | s.hdr[3];
        count(type == kNbssKeepalive ? SmbCounter::nbss_keepalives : SmbCounter::nbss_session_control);
        reset_message(s);
        if (len > 0) {
            s.phase = Phase::skip;
            s.skip_left = len;
        }
        return;
    }
    anomaly((type >= kNbssSessionRequest && type <= kNbssKeepalive) ? SmbAnomaly::nbss_bad_length
                                                                     : SmbAnomaly::nbss_bad_type,
            d);
    // Look for the next plausible header, starting inside these four bytes.
    uint8_t saved[4];
    std::memcpy(saved, s.hdr, 4);
    reset_message(s);
    s.phase = Phase::resync;
    s.win_have = 0;
    std::memcpy(s.win, saved + 1, 3);
    s.win_have = 3;
}

size_t SmbConnection::resync_bytes(Direction d, DirState& s, std::span<const uint8_t> p) {
    const uint32_t max_pdu = ctx_.config().max_pdu_size;
    for (size_t i = 0; i < p.size(); ++i) {
        if (s.win_have == 8) {
            std::memmove(s.win, s.win + 1, 7);
            s.win_have = 7;
        }
        s.win[s.win_have++] = p[i];
        if (s.win_have < 8) continue;
        const uint8_t* w = s.win;
        if (w[0] != kNbssMessage || w[5] != 'S' || w[6] != 'M' || w[7] != 'B') continue;
        const uint32_t len = (static_cast<uint32_t>(w[1]) << 16) | (static_cast<uint32_t>(w[2]) << 8) | w[3];
        uint32_t min_len = 0;
        switch (w[4]) {
            case kSmb1: min_len = kSmb1HeaderSize + 3; break;
            case kSmb2: min_len = kSmb2HeaderSize; break;
            case kSmb3Transform: min_len = kTransformHeaderSize; break;
            case kSmb3Compression: min_len = kCompressionHeaderSize; break;
            default: continue;
        }
        if (len < min_len || len > max_pdu) continue;
        count(SmbCounter::resyncs);
        uint8_t magic[4];
        std::memcpy(magic, w + 4, 4);
        std::memcpy(s.hdr, w, 4);
        s.hdr_have = 4;
        s.win_have = 0;
        start_message(d, s);  // a message of len >= min_len: phase body
        body_bytes(d, s, std::span<const uint8_t>(magic, 4));
        return i + 1;
    }
    return p.size();
}

bool SmbConnection::append(Direction d, DirState& s, std::span<const uint8_t> p) {
    if (s.buf.size() + p.size() > ctx_.config().pdu_buffer_size) {
        anomaly(SmbAnomaly::pdu_buffer_full, d);
        count(SmbCounter::pdus_skipped);
        return false;
    }
    s.buf.insert(s.buf.end(), p.begin(), p.end());
    return true;
}

size_t SmbConnection::body_bytes(Direction d, DirState& s, std::span<const uint8_t> p) {
    // The whole message is in this chunk: parse it in place, no copy.
    if (s.pdu_got == 0 && s.buf.empty() && !s.hole_set && p.size() >= s.pdu_len) {
        const uint32_t len = s.pdu_len;
        PduView v{p.data(), len, len, 0, 0};
        s.pdu_got = len;
        process(d, v);
        reset_message(s);
        return len;
    }
    size_t used = 0;
    while (used < p.size() && s.pdu_got < s.pdu_len) {
        const size_t avail = std::min<size_t>(p.size() - used, s.pdu_len - s.pdu_got);
        if (s.hole_set && s.pdu_got >= s.hole_start && s.pdu_got - s.hole_start < s.hole_len) {
            const size_t n = std::min<size_t>(avail, s.hole_start + s.hole_len - s.pdu_got);
            deliver(d, s.hole_target, s.hole_target.offset + (s.pdu_got - s.hole_start), p.subspan(used, n));
            s.pdu_got += static_cast<uint32_t>(n);
            used += n;
            continue;
        }
        if (!s.hole_set && !s.probe_done && s.buf.size() >= s.probe_need) {
            run_probe(d, s);
            continue;
        }
        size_t n = avail;
        if (s.hole_set) {
            if (s.pdu_got < s.hole_start) n = std::min<size_t>(avail, s.hole_start - s.pdu_got);
        } else if (!s.probe_done) {
            n = std::min<size_t>(avail, s.probe_need - s.buf.size());
        }
        if (!append(d, s, p.subspan(used, n))) {
            const uint64_t rest = s.pdu_len - s.pdu_got;
            reset_message(s);
            s.phase = Phase::skip;
            s.skip_left = rest;
            return used;
        }
        s.pdu_got += static_cast<uint32_t>(n);
        used += n;
    }
    if (s.pdu_got == s.pdu_len) message_done(d, s);
    return used;
}

void SmbConnection::run_probe(Direction d, DirState& s) {
    const std::span<const uint8_t> b(s.buf.data(), s.buf.size());
    if (b.size() < 4) {
        s.probe_need = std::min<uint32_t>(4, s.pdu_len);
        if (b.size() >= s.probe_need) s.probe_done = true;
        return;
    }
    Probe pr;
    if (b[1] == 'S' && b[2] == 'M' && b[3] == 'B') {
        switch (b[0]) {
            case kSmb1: pr = probe_smb1(d, b, s.pdu_len); break;
            case kSmb2: pr = probe_smb2(d, b, s.pdu_len); break;
            case kSmb3Transform:
            case kSmb3Compression: {
                // Only the header is read: the rest is opaque and is skipped unbuffered.
                const uint32_t hdr = b[0] == kSmb3Transform ? kTransformHeaderSize : kCompressionHeaderSize;
                if (s.pdu_len > hdr) {
                    pr.kind = b.size() < hdr ? Probe::need : Probe::hole;
                    pr.need_bytes = hdr;
                    pr.start = hdr;
                    pr.len = s.pdu_len - hdr;
                }
                break;
            }
            default: break;
        }
    }
    switch (pr.kind) {
        case Probe::need:
            if (pr.need_bytes > s.pdu_len || pr.need_bytes <= b.size()) s.probe_done = true;
            else s.probe_need = pr.need_bytes;
            break;
        case Probe::none: s.probe_done = true; break;
        case Probe::hole:
            s.probe_done = true;
            if (pr.len == 0 || pr.start < b.size() || pr.start > s.pdu_len || pr.len > s.pdu_len - pr.start) break;
            s.hole_set = true;
            s.hole_start = pr.start;
            s.hole_len = pr.len;
            s.hole_target = pr.target;
            if (pr.target.slot != kNone) count(SmbCounter::pdus_streamed);
            break;
    }
}

void SmbConnection::message_done(Direction d, DirState& s) {
    if (!s.damaged) {
        PduView v{s.buf.data(), s.buf.size(), s.pdu_len, s.hole_set ? s.hole_start : 0u, s.hole_set ? s.hole_len : 0u};
        process(d, v);
    }
    reset_message(s);
}

void SmbConnection::gap(Direction d, uint64_t len) {
    result.clear();
    count(SmbCounter::gaps);
    DirState& s = dir_[index(d)];
    while (len > 0) {
        switch (s.phase) {
            case Phase::header:
            case Phase::resync:
                reset_message(s);
                s.phase = Phase::resync;
                s.win_have = 0;
                len = 0;
                break;
            case Phase::skip: {
                const uint64_t n = std::min(len, s.skip_left);
                s.skip_left -= n;
                len -= n;
                if (s.skip_left == 0) reset_message(s);
                break;
            }
            case Phase::body: {
                const uint32_t remaining = s.pdu_len - s.pdu_got;
                const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(len, remaining));
                len -= n;
                if (s.hole_set && s.pdu_got >= s.hole_start && s.pdu_got + n <= s.hole_start + s.hole_len) {
                    // Lost file data only: the file gets a hole, the message is intact.
                    s.pdu_got += n;
                    if (s.pdu_got == s.pdu_len) message_done(d, s);
                } else {
                    anomaly(SmbAnomaly::pdu_lost_in_gap, d);
                    const uint32_t rest = remaining - n;
                    reset_message(s);
                    if (rest > 0) {
                        s.phase = Phase::skip;
                        s.skip_left = rest;
                    }
                }
                break;
            }
        }
    }
}

void SmbConnection::end() {
    result.clear();
    for (auto& f : opens_) {
        if (!f.used) continue;
        finish_file(f, FileDirection::upload, false);
        finish_file(f, FileDirection::download, false);
    }
}

void SmbConnection::process(Direction d, const PduView& v) {
    const auto b = v.span(0, 4);
    if (b.size() < 4 || b[1] != 'S' || b[2] != 'M' || b[3] != 'B') {
        anomaly(b.size() < 4 ? SmbAnomaly::truncated_header : SmbAnomaly::bad_protocol_id, d);
        return;
    }
    switch (b[0]) {
        case kSmb1:
            count(SmbCounter::pdus_smb1);
            process_smb1(d, v);
            break;
        case kSmb2:
            count(SmbCounter::pdus_smb2);
            process_smb2(d, v);
            break;
        case kSmb3Transform:
            count(SmbCounter::pdus_encrypted);
            process_transform(swapped_ ? opposite(d) : d, v);
            break;
        case kSmb3Compression:
            // Compressed messages (SMB 3.1.1) are recognised and counted, not decompressed.
            count(SmbCounter::pdus_compressed);
            break;
        default: anomaly(SmbAnomaly::bad_protocol_id, d); break;
    }
}

void SmbConnection::process_transform(Direction d, const PduView& v) {
    const auto b = v.span(0, kTransformHeaderSize);
    if (b.size() < kTransformHeaderSize) {
        anomaly(SmbAnomaly::bad_transform, d);
        return;
    }
    ByteReader r(b);
    r.skip(4 + 16 + 16);
    const uint32_t original_size = r.le32();
    r.skip(2);
    const uint16_t flags = r.le16();
    const uint64_t session_id = r.le64();
    if (original_size == 0 || flags == 0) anomaly(SmbAnomaly::bad_transform, d);
    result.encrypted = true;
    note_encrypted(d, session_id);
}

// ------------------------------------------------------------------ strings

namespace {

void put_utf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
        out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
        out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
}

}  // namespace

void SmbConnection::utf16_to_utf8(std::span<const uint8_t> in, std::string* out, Direction d) {
    out->clear();
    const size_t cap = ctx_.config().max_name_bytes;
    const size_t units = in.size() / 2;
    for (size_t i = 0; i < units; ++i) {
        uint32_t cp = static_cast<uint32_t>(in[2 * i]) | (static_cast<uint32_t>(in[2 * i + 1]) << 8);
        if (cp == 0) break;
        if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < units) {
            const uint32_t lo = static_cast<uint32_t>(in[2 * i + 2]) | (static_cast<uint32_t>(in[2 * i + 3]) << 8);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                ++i;
            } else {
                cp = 0xfffd;
            }
        } else if (cp >= 0xd800 && cp <= 0xdfff) {
            cp = 0xfffd;
        }
        if (out->size() + 4 > cap) {
            anomaly(SmbAnomaly::name_too_long, d);
            break;
        }
        put_utf8(out, cp);
    }
}

void SmbConnection::ascii_string(std::span<const uint8_t> in, std::string* out, Direction d) {
    out->clear();
    const size_t cap = ctx_.config().max_name_bytes;
    for (uint8_t c : in) {
        if (c == 0) break;
        if (out->size() >= cap) {
            anomaly(SmbAnomaly::name_too_long, d);
            break;
        }
        out->push_back(static_cast<char>(c));
    }
}

void SmbConnection::smb1_string(const PduView& v, uint32_t at, uint32_t end, bool unicode, std::string* out,
                                Direction d, uint32_t* consumed) {
    const uint32_t start = at;
    if (unicode && (at & 1u)) ++at;  // UTF-16 strings are aligned to 2 from the SMB header
    const auto s = v.span(at, end);
    size_t n = 0;
    if (unicode) {
        while (n + 1 < s.size() && (s[n] != 0 || s[n + 1] != 0)) n += 2;
        utf16_to_utf8(s.first(n), out, d);
        n = std::min(n + 2, s.size());
    } else {
        while (n < s.size() && s[n] != 0) ++n;
        ascii_string(s.first(n), out, d);
        n = std::min(n + 1, s.size());
    }
    if (consumed) *consumed = (at - start) + static_cast<uint32_t>(n);
}

// ------------------------------------------------------------------- tables

SmbConnection::Tree* SmbConnection::find_tree(uint8_t version, uint64_t session, uint32_t tree_id) {
    for (auto& t : trees_) {
        if (!t.used || t.pending || t.version != version || t.tree_id != tree_id) continue;
        if (version == 2 && t.session_id != session) continue;
        return &t;
    }
    return nullptr;
}

uint32_t SmbConnection::new_tree(Direction d) {
    for (uint32_t i = 0; i < trees_.size(); ++i)
        if (!trees_[i].used) return i;
    if (trees_.size() < std::max<uint32_t>(1, ctx_.config().max_trees)) {
        trees_.emplace_back();
        return static_cast<uint32_t>(trees_.size() - 1);
    }
    anomaly(SmbAnomaly::tree_table_full, d);
    // Reuse the oldest (first) entry; pending requests referring to it find it changed.
    trees_.erase(trees_.begin());
    for (auto& p : pending_)
        if (p.tree_slot != kNone) p.tree_slot = p.tree_slot == 0 ? kNone : p.tree_slot - 1;
    trees_.emplace_back();
    return static_cast<uint32_t>(trees_.size() - 1);
}

namespace {

// SMB2 file ids are unique on the connection; SMB1 FIDs are qualified by tree.
bool same_file(const SmbFileId& a, const SmbFileId& b) {
    return a.version == b.version && a.persistent == b.persistent && a.volatile_id == b.volatile_id &&
           (a.version == 2 || a.tree_id == b.tree_id);
}

}  // namespace

uint32_t SmbConnection::find_open(const SmbFileId& id) {
    if (last_open_hit_ != kNone && last_open_hit_ < opens_.size()) {
        const auto& f = opens_[last_open_hit_];
        if (f.used && !f.pending && same_file(f.id, id)) return last_open_hit_;
    }
    for (uint32_t i = 0; i < opens_.size(); ++i) {
        const auto& f = opens_[i];
        if (f.used && !f.pending && same_file(f.id, id)) {
            last_open_hit_ = i;
            return i;
        }
    }
    return kNone;
}

uint32_t SmbConnection::new_open(Direction d) {
    uint32_t slot = kNone;
    if (!free_opens_.empty()) {
        slot = free_opens_.back();
        free_opens_.pop_back();
    } else if (opens_.size() < std::max<uint32_t>(1, ctx_.config().max_open_files)) {
        opens_.emplace_back();
        slot = static_cast<uint32_t>(opens_.size() - 1);
    } else {
        // Full: the least recently used open file is finished and its slot reused.
        anomaly(SmbAnomaly::file_table_full, d);
        uint64_t oldest = UINT64_MAX;
        for (uint32_t i = 0; i < opens_.size(); ++i) {
            if (opens_[i].used && opens_[i].last_use < oldest) {
                oldest = opens_[i].last_use;
                slot = i;
            }
        }
        OpenFile& f = opens_[slot];
        finish_file(f, FileDirection::upload, false);
        finish_file(f, FileDirection::download, false);
        free_open(slot);
        free_opens_.pop_back();  // free_open pushed it
    }
    OpenFile& f = opens_[slot];
    f.used = true;
    touch(f);
    ++open_count_;
    return slot;
}

void SmbConnection::free_open(uint32_t slot) {
    OpenFile& f = opens_[slot];
    if (!f.used) return;
    const uint32_t gen = f.gen + 1;
    std::string name = std::move(f.name);
    std::string share = std::move(f.share);
    f = OpenFile{};
    name.clear();
    share.clear();
    f.name = std::move(name);  // keep the capacity: no allocation when the slot is reused
    f.share = std::move(share);
    f.gen = gen;
    free_opens_.push_back(slot);
    if (last_open_hit_ == slot) last_open_hit_ = kNone;
    --open_count_;
}

uint32_t SmbConnection::open_or_anonymous(Direction d, const SmbFileId& id, uint64_t session) {
    uint32_t slot = find_open(id);
    if (slot != kNone) return slot;
    // Data for a file whose open was not seen (capture started late, table
    // eviction): carve it anyway, without a name.
    anomaly(SmbAnomaly::unknown_file_id, d);
    slot = new_open(d);
    OpenFile& f = opens_[slot];
    f.version = id.version;
    f.id = id;
    f.session_id = session;
    if (const Tree* t = find_tree(id.version, session, id.tree_id)) {
        f.share = t->path;
        f.is_pipe = t->is_pipe;
    }
    last_open_hit_ = slot;
    return slot;
}

SmbConnection::Pending* SmbConnection::add_pending(Direction d, uint8_t version, uint64_t key, uint16_t command) {
    if (pending_.size() >= std::max<uint32_t>(1, ctx_.config().max_pending)) {
        anomaly(SmbAnomaly::pending_table_full, d);
        auto oldest = std::min_element(pending_.begin(), pending_.end(),
                                       [](const Pending& a, const Pending& b) { return a.seq < b.seq; });
        drop_pending(&*oldest);
    }
    Pending& p = pending_.emplace_back();
    p.version = version;
    p.key = key;
    p.command = command;
    p.seq = ++pending_seq_;
    return &p;
}

SmbConnection::Pending* SmbConnection::find_pending(uint8_t version, uint64_t key, int command) {
    for (auto& p : pending_)
        if (p.key == key && p.version == version && (command < 0 || p.command == command)) return &p;
    return nullptr;
}

void SmbConnection::drop_pending(Pending* p) {
    const bool is_read = p->is_read;
    const uint32_t slot = p->slot;
    const uint32_t gen = p->gen;
    *p = pending_.back();
    pending_.pop_back();
    if (!is_read) return;
    OpenFile* f = open_at(slot, gen);
    if (!f || f->pending_reads == 0) return;
    if (--f->pending_reads == 0 && f->close_deferred) {
        f->close_deferred = false;
        finish_file(*f, FileDirection::upload, true);
        finish_file(*f, FileDirection::download, true);
    }
}

SmbConnection::Session* SmbConnection::session(Direction d, uint64_t id) {
    for (auto& s : sessions_)
        if (s.id == id) return &s;
    if (sessions_.size() >= std::max<uint32_t>(1, ctx_.config().max_sessions)) {
        anomaly(SmbAnomaly::session_table_full, d);
        return nullptr;
    }
    Session& s = sessions_.emplace_back();
    s.id = id;
    return &s;
}

void SmbConnection::note_signed(Direction d, uint64_t session_id) {
    Session* s = session(d, session_id);
    bool* reported = s ? &s->signed_reported : &overflow_signed_reported_;
    if (*reported) return;
    *reported = true;
    count(SmbCounter::signed_sessions);
    SmbSessionEvent e;
    e.kind = SmbSessionKind::signed_only;
    e.session_id = session_id;
    e.dialect = dialect_;
    e.policy = EncryptedPolicy::allow;
    e.dir = d;
    sink_.on_session(e);
}

void SmbConnection::note_encrypted(Direction d, uint64_t session_id) {
    Session* s = session(d, session_id);
    bool* reported = s ? &s->encrypted_reported : &overflow_encrypted_reported_;
    if (*reported) return;
    *reported = true;
    count(SmbCounter::encrypted_sessions);
    SmbSessionEvent e;
    e.kind = SmbSessionKind::encrypted;
    e.session_id = session_id;
    e.dialect = dialect_;
    e.policy = ctx_.config().encrypted_policy;
    e.dir = d;
    sink_.on_session(e);
}

void SmbConnection::fill_tx(SmbTransaction& tx, uint32_t slot, uint32_t gen) {
    const OpenFile* f = open_at(slot, gen);
    if (!f) return;
    tx.filename = f->name;
    tx.share = f->share;
    tx.share_is_pipe = f->is_pipe;
    if (!f->pending) {
        tx.has_file_id = true;
        tx.file_id = f->id;
    }
}

// -------------------------------------------------------------------- files

void SmbConnection::deliver(Direction d, const FileTarget& t, uint64_t offset, std::span<const uint8_t> data) {
    deliver_inline(d, t, offset, data);
}

// deliver() past its common case: the first bytes of a file (its assembler is
// made here), bytes for a finished file, or for one whose CLOSE is held.
void SmbConnection::deliver_other(Direction d, OpenFile& f, const FileTarget& t, uint64_t offset,
                                  std::span<const uint8_t> data) {
    const size_t fd = static_cast<size_t>(t.fdir);
    if (f.finished[fd] || (f.closing && !f.close_deferred)) {
        // Re-reads of a file already complete are normal; data past its end is not.
        if (f.closing || offset + data.size() > f.finished_size[fd]) anomaly(SmbAnomaly::data_after_finish, d);
        return;
    }
    if (!f.file[fd]) {
        const uint64_t known = known_size(f, t.fdir);
        f.file[fd] = std::make_unique<FileAssembler>(ctx_.files(), known);
        f.tx_id[fd] = next_file_tx_++;
        count(SmbCounter::files_opened);
        SmbFileOpened e;
        e.file_uid = f.file[fd]->file_uid();
        e.tx_id = f.tx_id[fd];
        e.direction = t.fdir;
        e.share = f.share;
        e.filename = f.name;
        e.file_id = f.id;
        e.session_id = f.session_id;
        e.known_size = known;
        sink_.on_file_opened(e);
    }
    f.file[fd]->write(offset, data);
    check_complete(f, t.fdir);
}

void SmbConnection::finish_file(OpenFile& f, FileDirection fdir, bool closed) {
    const size_t fd = static_cast<size_t>(fdir);
    if (!f.file[fd]) return;
    const uint64_t known = known_size(f, fdir);
    FileInfo info;
    info.file = f.file[fd]->finish(known);
    f.file[fd].reset();
    // Not closed and no known size: nothing says the file is whole.
    if (!closed && known == 0) info.file.state = FileState::truncated;
    info.tx_id = f.tx_id[fd];
    info.direction = fdir;
    info.share = f.share;
    info.filename = f.name;
    info.file_id = f.id;
    info.session_id = f.session_id;
    f.finished[fd] = true;
    f.finished_size[fd] = info.file.size;
    count(info.file.state == FileState::complete ? SmbCounter::files_complete : SmbCounter::files_truncated);
    ++result.files_finished;
    if (info.file.content.size() > 0) {
        if (result.uids_listed < SmbFeedResult::kMaxUids) result.file_uids[result.uids_listed++] = info.file.file_uid;
        ++result.files_with_content;
    }
    sink_.on_file_finished(info);
}

void SmbConnection::close_file(Direction /*d*/, uint32_t slot) {
    OpenFile& f = opens_[slot];
    f.closing = true;
    if (f.pending_reads > 0) {
        // A compound CREATE+READ+CLOSE: the data comes in the responses.
        f.close_deferred = true;
        return;
    }
    finish_file(f, FileDirection::upload, true);
    finish_file(f, FileDirection::download, true);
}

void SmbConnection::set_upload_size(Direction /*d*/, uint32_t slot, uint64_t eof) {
    OpenFile& f = opens_[slot];
    f.set_eof = eof;
    f.set_eof_known = true;
    check_complete(f, FileDirection::upload);
}

}  // namespace sluice
