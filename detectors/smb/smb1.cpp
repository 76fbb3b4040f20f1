// SMB1 / CIFS (MS-CIFS, MS-SMB): the hole probe, AndX chains and the command handlers.
#include <algorithm>
#include <cstring>

#include "detectors/smb/smb_connection.hpp"
#include "detectors/smb/smb_proto.hpp"

namespace sluice {

using namespace smb;

namespace {


uint16_t le16_at(std::span<const uint8_t> b, size_t at) {
    return static_cast<uint16_t>(b[at] | (b[at + 1] << 8));
}
uint32_t le32_at(std::span<const uint8_t> b, size_t at) {
    return static_cast<uint32_t>(b[at]) | (static_cast<uint32_t>(b[at + 1]) << 8) |
           (static_cast<uint32_t>(b[at + 2]) << 16) | (static_cast<uint32_t>(b[at + 3]) << 24);
}

bool parse_header(std::span<const uint8_t> b, uint8_t* command, uint32_t* status, uint8_t* flags, uint16_t* flags2,
                  uint16_t* tid, uint16_t* pid, uint16_t* uid, uint16_t* mid, bool* signature_set) {
    if (b.size() < kSmb1HeaderSize || b[0] != kSmb1 || b[1] != 'S' || b[2] != 'M' || b[3] != 'B') return false;
    ByteReader r(b);
    r.skip(4);
    *command = r.u8();
    *status = r.le32();
    *flags = r.u8();
    *flags2 = r.le16();
    r.skip(2);  // pid high
    const auto sig = r.bytes(8);
    *signature_set = std::any_of(sig.begin(), sig.end(), [](uint8_t c) { return c != 0; });
    r.skip(2);
    *tid = r.le16();
    *pid = r.le16();
    *uid = r.le16();
    *mid = r.le16();
    return !r.failed();
}

// Data length of WRITE_ANDX / READ_ANDX: the high 16 bits count only when the
// whole length fits the message (CAP_LARGE_WRITEX/READX), as servers do.
uint32_t andx_data_len(uint16_t low, uint16_t high, uint32_t data_off, uint32_t total) {
    const uint32_t full = static_cast<uint32_t>(low) | (static_cast<uint32_t>(high) << 16);
    if (data_off <= total && full <= total - data_off) return full;
    return low;
}

// Transaction responses (TRANS, TRANS2, NT_TRANS) may come in several parts:
// an interim response (no words) to a request with secondaries to follow, then
// parts carrying displaced parameter and data bytes. True for the last part.
bool trans_response_final(uint8_t cmd, uint32_t status, uint8_t wct, std::span<const uint8_t> w) {
    if (status != 0) return true;
    if (cmd == smb1_trans || cmd == smb1_trans2) {
        if (wct < 10 || w.size() < 20) return wct != 0;
        const uint32_t total_param = le16_at(w, 0), total_data = le16_at(w, 2);
        const uint32_t param_count = le16_at(w, 6), param_disp = le16_at(w, 10);
        const uint32_t data_count = le16_at(w, 12), data_disp = le16_at(w, 16);
        return param_disp + param_count >= total_param && data_disp + data_count >= total_data;
    }
    if (cmd == smb1_nt_trans) {
        if (wct < 18 || w.size() < 36) return wct != 0;
        const uint64_t total_param = le32_at(w, 3), total_data = le32_at(w, 7);
        const uint64_t param_count = le32_at(w, 11), param_disp = le32_at(w, 19);
        const uint64_t data_count = le32_at(w, 23), data_disp = le32_at(w, 31);
        return param_disp + param_count >= total_param && data_disp + data_count >= total_data;
    }
    return true;
}

}  // namespace

bool SmbConnection::Smb1Header::response() const { return (flags & kSmb1FlagReply) != 0; }
bool SmbConnection::Smb1Header::unicode() const { return (flags2 & kSmb1Flags2Unicode) != 0; }

SmbConnection::Probe SmbConnection::probe_smb1(Direction wire, std::span<const uint8_t> b, uint32_t total) {
    Probe pr;
    if (b.size() < kSmb1HeaderSize + 1) {
        pr.kind = Probe::need;
        pr.need_bytes = kSmb1HeaderSize + 1;
        return pr;
    }
    Smb1Header h;
    bool sig = false;
    if (!parse_header(b, &h.command, &h.status, &h.flags, &h.flags2, &h.tid, &h.pid, &h.uid, &h.mid, &sig)) return pr;
    Direction dir;
    if (!orient(wire, h.response(), &dir, false)) return pr;  // counted when the message is processed
    uint8_t cmd = h.command;
    uint32_t off = kSmb1HeaderSize;
    for (uint32_t chain = 0; chain < ctx_.config().max_chain; ++chain) {
        if (b.size() < off + 1) {
            pr.kind = Probe::need;
            pr.need_bytes = off + 1;
            return pr;
        }
        const uint8_t wct = b[off];
        const uint32_t words = off + 1;
        const uint32_t bytes_off = words + 2u * wct + 2;
        if (bytes_off > total) return pr;
        if (b.size() < bytes_off) {
            pr.kind = Probe::need;
            pr.need_bytes = bytes_off;
            return pr;
        }
        const auto w = b.subspan(words, 2u * wct);
        if (cmd == smb1_write_andx && !h.response() && (wct == 12 || wct == 14)) {
            const uint16_t fid = le16_at(w, 4);
            uint64_t offset = le32_at(w, 6);
            const uint16_t data_off = le16_at(w, 22);
            const uint32_t len = andx_data_len(le16_at(w, 20), le16_at(w, 18), data_off, total);
            if (wct == 14) offset |= static_cast<uint64_t>(le32_at(w, 24)) << 32;
            if (len > 0 && data_off >= bytes_off && data_off <= total && len <= total - data_off) {
                if (b.size() > data_off) return pr;
                const uint32_t slot = open_or_anonymous(dir, SmbFileId{1, 0, fid, h.tid}, h.uid);
                pr.kind = Probe::hole;
                pr.start = data_off;
                pr.len = len;
                pr.target = FileTarget{slot, opens_[slot].gen, FileDirection::upload, offset};
                return pr;
            }
        } else if (cmd == smb1_write && !h.response() && wct == 5) {
            if (b.size() < bytes_off + 3) {
                pr.kind = Probe::need;
                pr.need_bytes = bytes_off + 3;
                return pr;
            }
            const uint32_t len = le16_at(b, bytes_off + 1);
            const uint32_t start = bytes_off + 3;
            if (len > 0 && start <= total && len <= total - start) {
                if (b.size() > start) return pr;
                const uint32_t slot = open_or_anonymous(dir, SmbFileId{1, 0, le16_at(w, 0), h.tid}, h.uid);
                pr.kind = Probe::hole;
                pr.start = start;
                pr.len = len;
                pr.target = FileTarget{slot, opens_[slot].gen, FileDirection::upload, le32_at(w, 4)};
                return pr;
            }
        } else if (cmd == smb1_read_andx && h.response() && wct == 12 && h.status == kStatusSuccess) {
            const uint16_t data_off = le16_at(w, 12);
            const uint32_t len = andx_data_len(le16_at(w, 10), le16_at(w, 14), data_off, total);
            if (len > 0 && data_off >= bytes_off && data_off <= total && len <= total - data_off) {
                if (b.size() > data_off) return pr;
                pr.kind = Probe::hole;
                pr.start = data_off;
                pr.len = len;
                if (const Pending* p = find_pending(1, h.key(), smb1_read_andx); p && p->is_read)
                    pr.target = FileTarget{p->slot, p->gen, FileDirection::download, p->offset};
                return pr;
            }
        }
        if (smb1_is_andx(cmd) && wct >= 2 && w[0] != smb1_no_andx) {
            const uint16_t next = le16_at(w, 2);
            if (next <= off || next >= total) return pr;
            cmd = w[0];
            off = next;
            continue;
        }
        // The last command: a large byte area the decoder does not read
        // (transaction data, directory listings) is skipped unbuffered.
        const bool reads_bytes = cmd == smb1_negotiate || cmd == smb1_tree_connect_andx ||
                                 cmd == smb1_nt_create_andx || cmd == smb1_open_andx || cmd == smb1_trans2;
        if (!reads_bytes && total - bytes_off > kDiscardThreshold && b.size() <= bytes_off) {
            pr.kind = Probe::hole;
            pr.start = bytes_off;
            pr.len = total - bytes_off;
        }
        return pr;
    }
    return pr;
}

void SmbConnection::process_smb1(Direction wire, const PduView& v) {
    const auto hb = v.span(0, kSmb1HeaderSize);
    Smb1Header h;
    bool sig = false;
    if (!parse_header(hb, &h.command, &h.status, &h.flags, &h.flags2, &h.tid, &h.pid, &h.uid, &h.mid, &sig)) {
        anomaly(SmbAnomaly::truncated_header, wire);
        return;
    }
    Direction d;
    if (!orient(wire, h.response(), &d)) return;
    if ((h.flags2 & kSmb1Flags2Signature) && sig) note_signed(d, h.uid);
    uint8_t cmd = h.command;
    uint32_t off = kSmb1HeaderSize;
    for (uint32_t chain = 0;; ++chain) {
        const auto wb = v.span(off, off + 1);
        if (wb.empty()) {
            anomaly(SmbAnomaly::truncated_header, d);
            return;
        }
        const uint8_t wct = wb[0];
        const uint32_t words_end = off + 1 + 2u * wct;
        if (words_end + 2 > v.total) {
            anomaly(SmbAnomaly::smb1_bad_word_count, d);
            return;
        }
        const auto words = v.span(off + 1, words_end);
        const auto bcc_b = v.span(words_end, words_end + 2);
        if (words.size() != 2u * wct || bcc_b.size() != 2) {
            anomaly(SmbAnomaly::smb1_bad_word_count, d);
            return;
        }
        const uint32_t bytes_off = words_end + 2;
        uint32_t bytes_len = le16_at(bcc_b, 0);
        if (bytes_len > v.total - bytes_off) {
            // Large writes/reads cannot express their length in the byte count.
            if (cmd != smb1_write_andx && cmd != smb1_read_andx) anomaly(SmbAnomaly::smb1_bad_byte_count, d);
            bytes_len = v.total - bytes_off;
        }
        count(SmbCounter::commands_smb1);
        if (h.response()) smb1_response(d, h, cmd, v, ByteReader(words), wct, bytes_off, bytes_len);
        else smb1_request(d, h, cmd, v, ByteReader(words), wct, bytes_off, bytes_len);

        if (!smb1_is_andx(cmd) || wct < 2 || words[0] == smb1_no_andx) return;
        const uint16_t next = le16_at(words, 2);
        if (next <= off) {
            anomaly(SmbAnomaly::andx_loop, d);
            return;
        }
        if (next >= v.total) {
            anomaly(SmbAnomaly::andx_bad_offset, d);
            return;
        }
        if (chain + 1 >= ctx_.config().max_chain) {
            anomaly(SmbAnomaly::andx_chain_too_long, d);
            return;
        }
        cmd = words[0];
        off = next;
    }
}

void SmbConnection::smb1_request(Direction d, const Smb1Header& h, uint8_t cmd, const PduView& v, ByteReader w,
                                 uint8_t wct, uint32_t bytes_off, uint32_t bytes_len) {
    const uint32_t bytes_end = bytes_off + bytes_len;
    Pending* p = nullptr;
    switch (cmd) {
        case smb1_negotiate: {
            // Dialect list: 0x02 "name" NUL ...; remembered to name the server's choice.
            smb1_dialects_.clear();
            const auto b = v.span(bytes_off, bytes_end);
            size_t i = 0;
            while (i < b.size() && b[i] == 0x02 && smb1_dialects_.size() < 1024) {
                const size_t start = ++i;
                while (i < b.size() && b[i] != 0) ++i;
                smb1_dialects_.append(reinterpret_cast<const char*>(b.data() + start), i - start);
                smb1_dialects_.push_back('\0');
                ++i;
            }
            p = add_pending(d, 1, h.key(), cmd);
            break;
        }
        case smb1_tree_connect_andx: {
            if (wct != 4) {
                anomaly(SmbAnomaly::smb1_bad_word_count, d);
                break;
            }
            w.skip(6);
            const uint16_t pw_len = w.le16();
            const uint32_t slot = new_tree(d);
            Tree& t = trees_[slot];
            t = Tree{};
            t.used = true;
            t.pending = true;
            t.version = 1;
            t.key = h.key();
            if (pw_len > bytes_len) anomaly(SmbAnomaly::bad_name, d);
            else smb1_string(v, bytes_off + pw_len, bytes_end, h.unicode(), &t.path, d);
            p = add_pending(d, 1, h.key(), cmd);
            p->tree_slot = slot;
            break;
        }
        case smb1_nt_create_andx:
        case smb1_open_andx: {
            uint32_t disposition = 0xffffffff;
            if (cmd == smb1_nt_create_andx) {
                if (wct != 24) {
                    anomaly(SmbAnomaly::smb1_bad_word_count, d);
                    break;
                }
                w.skip(4 + 1 + 2 + 4 + 4 + 4 + 8 + 4 + 4);
                disposition = w.le32();
            } else if (wct != 15) {
                anomaly(SmbAnomaly::smb1_bad_word_count, d);
                break;
            }
            const uint32_t slot = new_open(d);
            OpenFile& f = opens_[slot];
            f.pending = true;
            f.version = 1;
            f.key = h.key();
            f.session_id = h.uid;
            f.name_known = true;
            smb1_string(v, bytes_off, bytes_end, h.unicode(), &f.name, d);
            if (const Tree* t = find_tree(1, 0, h.tid)) {
                f.share = t->path;
                f.is_pipe = t->is_pipe;
            }
            p = add_pending(d, 1, h.key(), cmd);
            p->slot = slot;
            p->gen = f.gen;
            p->disposition = disposition;
            break;
        }
        case smb1_write_andx: {
            if (wct != 12 && wct != 14) {
                anomaly(SmbAnomaly::smb1_bad_word_count, d);
                break;
            }
            w.skip(4);
            const uint16_t fid = w.le16();
            uint64_t offset = w.le32();
            w.skip(4 + 2 + 2);
            const uint16_t len_high = w.le16();
            const uint16_t len_low = w.le16();
            const uint16_t data_off = w.le16();
            if (wct == 14) offset |= static_cast<uint64_t>(w.le32()) << 32;
            const uint32_t len = andx_data_len(len_low, len_high, data_off, v.total);
            const uint32_t slot = open_or_anonymous(d, SmbFileId{1, 0, fid, h.tid}, h.uid);
            p = add_pending(d, 1, h.key(), cmd);
            p->slot = slot;
            p->gen = opens_[slot].gen;
            p->size = len;
            if (len == 0) break;
            if (data_off < bytes_off || data_off > v.total || len > v.total - data_off) {
                anomaly(SmbAnomaly::bad_data_offset, d);
                break;
            }
            if (v.is_hole(data_off, len)) break;
            const auto data = v.span(data_off, data_off + len);
            if (data.size() != len) {
                anomaly(SmbAnomaly::bad_data_offset, d);
                break;
            }
            deliver(d, FileTarget{slot, opens_[slot].gen, FileDirection::upload, offset}, offset, data);
            break;
        }
        case smb1_write: {
            if (wct != 5) {
                anomaly(SmbAnomaly::smb1_bad_word_count, d);
                break;
            }
            const uint16_t fid = w.le16();
            const uint16_t count_bytes = w.le16();
            const uint32_t offset = w.le32();
            const uint32_t slot = open_or_anonymous(d, SmbFileId{1, 0, fid, h.tid}, h.uid);
            p = add_pending(d, 1, h.key(), cmd);
            p->slot = slot;
            p->gen = opens_[slot].gen;
            if (count_bytes == 0) {  // a zero-length WRITE sets the end of file
                set_upload_size(d, slot, offset);
                break;
            }
            ByteReader br(v.span(bytes_off, bytes_end));
            const uint8_t format = br.u8();
            const uint16_t len = br.le16();
            const uint32_t start = bytes_off + 3;
            if (br.failed() || format != 0x01 || start > v.total || len > v.total - start) {
                anomaly(SmbAnomaly::bad_data_offset, d);
                break;
            }
            p->size = len;
            if (v.is_hole(start, len)) break;
            const auto data = v.span(start, start + len);
            if (data.size() != len) {
                anomaly(SmbAnomaly::bad_data_offset, d);
                break;
            }
            deliver(d, FileTarget{slot, opens_[slot].gen, FileDirection::upload, offset}, offset, data);
            break;
        }
        case smb1_read_andx: {
            if (wct != 10 && wct != 12) {
                anomaly(SmbAnomaly::smb1_bad_word_count, d);
                break;
            }
            w.skip(4);
            const uint16_t fid = w.le16();
            uint64_t offset = w.le32();
            const uint16_t max_count = w.le16();
            w.skip(2 + 4 + 2);
            if (wct == 12) offset |= static_cast<uint64_t>(w.le32()) << 32;
            const uint32_t slot = open_or_anonymous(d, SmbFileId{1, 0, fid, h.tid}, h.uid);
            p = add_pending(d, 1, h.key(), cmd);
            p->slot = slot;
            p->gen = opens_[slot].gen;
            p->offset = offset;
            p->size = max_count;
            p->is_read = true;
            ++opens_[slot].pending_reads;
            break;
        }
        case smb1_close: {
            if (wct != 3) {
                anomaly(SmbAnomaly::smb1_bad_word_count, d);
                break;
            }
            const uint16_t fid = w.le16();
            const uint32_t slot = find_open(SmbFileId{1, 0, fid, h.tid});
            p = add_pending(d, 1, h.key(), cmd);
            p->slot = slot;
            p->gen = slot == kNone ? 0 : opens_[slot].gen;
            if (slot != kNone) close_file(d, slot);
            break;
        }
        case smb1_trans2: {
            count(SmbCounter::trans2_requests);
            p = add_pending(d, 1, h.key(), cmd);
            if (wct < 15) break;
            w.skip(18);
            const uint16_t param_count = w.le16();
            const uint16_t param_off = w.le16();
            const uint16_t data_count = w.le16();
            const uint16_t data_off = w.le16();
            const uint8_t setup_count = w.u8();
            w.skip(1);
            if (setup_count < 1 || w.failed()) break;
            const uint16_t sub = w.le16();
            if (sub == kTrans2Open2 || sub == kTrans2SetFileInformation || sub == kTrans2SetPathInformation)
                count(SmbCounter::trans2_file_data);
            if (sub != kTrans2SetFileInformation || param_count < 4) break;
            ByteReader pr(v.span(param_off, param_off + param_count));
            const uint16_t fid = pr.le16();
            const uint16_t level = pr.le16();
            if (pr.failed()) break;
            const uint32_t slot = find_open(SmbFileId{1, 0, fid, h.tid});
            p->slot = slot;
            p->gen = slot == kNone ? 0 : opens_[slot].gen;
            if ((level == kSmbSetFileEndOfFileInfo || level == kPassthroughFileEndOfFileInformation) &&
                data_count >= 8 && slot != kNone) {
                ByteReader dr(v.span(data_off, data_off + 8));
                const uint64_t eof = dr.le64();
                if (!dr.failed()) set_upload_size(d, slot, eof);
            }
            break;
        }
        case smb1_trans2_secondary:
            count(SmbCounter::trans2_requests);
            break;  // no response of its own
        case smb1_trans_secondary:
        case smb1_nt_trans_secondary:
        case 0xa4:  // NT_CANCEL
            break;  // no response of their own
        case smb1_tree_disconnect: {
            for (uint32_t i = 0; i < opens_.size(); ++i) {
                OpenFile& f = opens_[i];
                if (!f.used || f.version != 1 || f.pending || f.id.tree_id != h.tid) continue;
                finish_file(f, FileDirection::upload, false);
                finish_file(f, FileDirection::download, false);
                free_open(i);
            }
            p = add_pending(d, 1, h.key(), cmd);
            break;
        }
        default: p = add_pending(d, 1, h.key(), cmd); break;
    }
    (void)p;
}

void SmbConnection::smb1_response(Direction d, const Smb1Header& h, uint8_t cmd, const PduView& v, ByteReader w,
                                  uint8_t wct, uint32_t bytes_off, uint32_t bytes_len) {
    Pending* p = find_pending(1, h.key(), cmd);
    if (!p && cmd != smb1_echo) anomaly(SmbAnomaly::response_without_request, d);
    const bool ok = h.status == 0;
    const bool final_part = trans_response_final(cmd, h.status, wct, w.data());
    if (!final_part) return;  // more parts of this transaction's response follow
    uint32_t free_slot = kNone;

    SmbTransaction tx;
    tx.id = next_tx_++;
    tx.version = 1;
    tx.command = cmd;
    tx.status = h.status;
    tx.smb1_dialect = smb1_dialect_;
    tx.session_id = h.uid;
    tx.tree_id = h.tid;
    if (p) fill_tx(tx, p->slot, p->gen);
    if (p && p->disposition != 0xffffffff) {
        tx.has_disposition = true;
        tx.disposition = p->disposition;
    }

    switch (cmd) {
        case smb1_negotiate:
            if (ok && wct >= 1) {
                const uint16_t index = w.le16();
                size_t at = 0;
                for (uint16_t i = 0; i < index && at < smb1_dialects_.size(); ++i) {
                    const size_t z = smb1_dialects_.find('\0', at);
                    at = z == std::string::npos ? smb1_dialects_.size() : z + 1;
                }
                const size_t z = smb1_dialects_.find('\0', at);
                smb1_dialect_.assign(smb1_dialects_, std::min(at, smb1_dialects_.size()),
                                     z == std::string::npos ? std::string::npos : z - at);
                tx.smb1_dialect = smb1_dialect_;
            }
            break;
        case smb1_tree_connect_andx:
            if (p && p->tree_slot != kNone && p->tree_slot < trees_.size()) {
                Tree& t = trees_[p->tree_slot];
                if (t.used && t.pending && t.version == 1 && t.key == h.key()) {
                    if (ok && wct >= 3) {
                        const auto svc = v.span(bytes_off, bytes_off + bytes_len);
                        t.pending = false;
                        t.tree_id = h.tid;
                        t.is_pipe = svc.size() >= 3 && std::memcmp(svc.data(), "IPC", 3) == 0;
                    } else {
                        t = Tree{};
                    }
                    tx.share = t.path;
                    tx.share_is_pipe = t.is_pipe;
                }
            }
            break;
        case smb1_nt_create_andx:
        case smb1_open_andx: {
            OpenFile* f = p ? open_at(p->slot, p->gen) : nullptr;
            if (!f) break;
            if (ok && cmd == smb1_nt_create_andx && wct >= 34) {
                w.skip(4 + 1);
                const uint16_t fid = w.le16();
                const uint32_t action = w.le32();
                w.skip(32);
                const uint32_t attrs = w.le32();
                w.skip(8);
                const uint64_t eof = w.le64();
                const uint16_t file_type = w.le16();
                w.skip(2);
                const uint8_t is_dir = w.u8();
                f->pending = false;
                f->id = SmbFileId{1, 0, fid, h.tid};
                f->eof = eof;
                f->eof_known = true;
                f->is_pipe = f->is_pipe || file_type == 1 || file_type == 2;
                f->is_directory = is_dir != 0 || (attrs & kFileAttributeDirectory);
                tx.has_create_action = true;
                tx.create_action = action;
                tx.has_size = true;
                tx.size = eof;
                tx.has_file_id = true;
                tx.file_id = f->id;
                break;
            }
            if (ok && cmd == smb1_open_andx && wct >= 15) {
                w.skip(4);
                const uint16_t fid = w.le16();
                w.skip(2 + 4);
                const uint32_t size = w.le32();
                w.skip(2);
                const uint16_t resource_type = w.le16();
                f->pending = false;
                f->id = SmbFileId{1, 0, fid, h.tid};
                f->eof = size;
                f->eof_known = true;
                f->is_pipe = f->is_pipe || resource_type == 1 || resource_type == 2;
                tx.has_size = true;
                tx.size = size;
                tx.has_file_id = true;
                tx.file_id = f->id;
                break;
            }
            finish_file(*f, FileDirection::upload, false);
            finish_file(*f, FileDirection::download, false);
            free_slot = p->slot;
            break;
        }
        case smb1_read_andx:
            if (p && p->is_read && ok && wct == 12) {
                w.skip(4 + 2 + 2 + 2);
                const uint16_t len_low = w.le16();
                const uint16_t data_off = w.le16();
                const uint16_t len_high = w.le16();
                const uint32_t len = andx_data_len(len_low, len_high, data_off, v.total);
                tx.has_size = true;
                tx.size = len;
                if (len == 0) break;
                if (data_off < bytes_off || data_off > v.total || len > v.total - data_off) {
                    anomaly(SmbAnomaly::bad_data_offset, d);
                    break;
                }
                if (v.is_hole(data_off, len)) break;
                const auto data = v.span(data_off, data_off + len);
                if (data.size() != len) {
                    anomaly(SmbAnomaly::bad_data_offset, d);
                    break;
                }
                deliver(d, FileTarget{p->slot, p->gen, FileDirection::download, p->offset}, p->offset, data);
            }
            break;
        case smb1_write_andx:
        case smb1_write:
            if (p) {
                tx.has_size = true;
                tx.size = p->size;
            }
            break;
        case smb1_close:
            if (p) {
                if (OpenFile* f = open_at(p->slot, p->gen)) {
                    if (f->close_deferred) {
                        f->close_deferred = false;
                        finish_file(*f, FileDirection::upload, true);
                        finish_file(*f, FileDirection::download, true);
                    }
                    free_slot = p->slot;
                }
            }
            break;
        case smb1_tree_disconnect:
            if (Tree* t = find_tree(1, 0, h.tid)) *t = Tree{};
            break;
        default: break;
    }
    count(SmbCounter::transactions);
    sink_.on_smb_transaction(tx);
    if (p) drop_pending(p);
    if (free_slot != kNone) free_open(free_slot);
}

}  // namespace sluice
