// SMB2/3 (MS-SMB2): the hole probe and the command handlers.
#include <algorithm>

#include "detectors/smb/smb_connection.hpp"
#include "detectors/smb/smb_proto.hpp"

namespace sluice {

using namespace smb;

namespace {

constexpr uint32_t kWriteFixed = 48;   // WRITE request body before its data
constexpr uint32_t kReadRespFixed = 16;

bool parse_header(std::span<const uint8_t> b, uint16_t* structure_size, uint16_t* command, uint32_t* status,
                  uint32_t* flags, uint32_t* next, uint64_t* message_id, uint32_t* tree_id, uint64_t* session_id) {
    if (b.size() < kSmb2HeaderSize || b[0] != kSmb2 || b[1] != 'S' || b[2] != 'M' || b[3] != 'B') return false;
    ByteReader r(b);
    r.skip(4);
    *structure_size = r.le16();
    r.skip(2);  // credit charge
    *status = r.le32();
    *command = r.le16();
    r.skip(2);  // credits
    *flags = r.le32();
    *next = r.le32();
    *message_id = r.le64();
    if (*flags & kSmb2FlagAsync) {
        r.skip(8);  // async id
        *tree_id = 0;
    } else {
        r.skip(4);
        *tree_id = r.le32();
    }
    *session_id = r.le64();
    return !r.failed();
}

bool is_related_sentinel(uint64_t persistent, uint64_t volatile_id) {
    return persistent == UINT64_MAX && volatile_id == UINT64_MAX;
}

}  // namespace

bool SmbConnection::Smb2Header::response() const { return (flags & kSmb2FlagResponse) != 0; }

// Finds the file data of a WRITE request or READ response in the buffered start
// `b` of a message of `total` bytes, so that it can stream past the buffer.
SmbConnection::Probe SmbConnection::probe_smb2(Direction wire, std::span<const uint8_t> b, uint32_t total) {
    Probe pr;
    uint32_t at = 0;
    for (uint32_t chain = 0; chain < ctx_.config().max_chain; ++chain) {
        if (b.size() < at + kSmb2HeaderSize) {
            pr.kind = Probe::need;
            pr.need_bytes = at + kSmb2HeaderSize;
            return pr;
        }
        uint16_t ss = 0, cmd = 0;
        uint32_t status = 0, flags = 0, next = 0, tree_id = 0;
        uint64_t msg_id = 0, session_id = 0;
        if (!parse_header(b.subspan(at), &ss, &cmd, &status, &flags, &next, &msg_id, &tree_id, &session_id))
            return pr;
        if (next != 0 && (next < kSmb2HeaderSize || next > total - at)) return pr;
        const uint32_t end = next ? at + next : total;
        const bool response = flags & kSmb2FlagResponse;
        const uint32_t body = at + kSmb2HeaderSize;
        Direction dir;
        if (!orient(wire, response, &dir, false)) return pr;  // counted when the message is processed

        if (cmd == smb2_write && !response) {
            if (b.size() < body + kWriteFixed) {
                pr.kind = Probe::need;
                pr.need_bytes = body + kWriteFixed;
                return pr;
            }
            ByteReader r(b.subspan(body, kWriteFixed));
            r.skip(2);
            const uint16_t data_off = r.le16();
            const uint32_t len = r.le32();
            const uint64_t offset = r.le64();
            const uint64_t persistent = r.le64();
            const uint64_t volatile_id = r.le64();
            const uint32_t start = at + data_off;
            if (data_off >= kSmb2HeaderSize + kWriteFixed && len > 0 && start <= end && len <= end - start &&
                !is_related_sentinel(persistent, volatile_id)) {
                if (b.size() > start) return pr;  // data partly buffered already: no hole
                const SmbFileId id{2, persistent, volatile_id, tree_id};
                const uint32_t slot = open_or_anonymous(dir, id, session_id);
                pr.kind = Probe::hole;
                pr.start = start;
                pr.len = len;
                pr.target = FileTarget{slot, opens_[slot].gen, FileDirection::upload, offset};
                return pr;
            }
        } else if (cmd == smb2_read && response && !(flags & kSmb2FlagAsync && status == kStatusPending) &&
                   (status == kStatusSuccess || status == kStatusBufferOverflow)) {
            if (b.size() < body + kReadRespFixed) {
                pr.kind = Probe::need;
                pr.need_bytes = body + kReadRespFixed;
                return pr;
            }
            ByteReader r(b.subspan(body, kReadRespFixed));
            r.skip(2);
            const uint8_t data_off = r.u8();
            r.skip(1);
            const uint32_t len = r.le32();
            const uint32_t start = at + data_off;
            if (data_off >= kSmb2HeaderSize + kReadRespFixed && len > 0 && start <= end && len <= end - start) {
                if (b.size() > start) return pr;
                pr.kind = Probe::hole;
                pr.start = start;
                pr.len = len;
                if (const Pending* p = find_pending(2, msg_id, smb2_read); p && p->is_read)
                    pr.target = FileTarget{p->slot, p->gen, FileDirection::download, p->offset};
                return pr;  // without a request: the data is skipped unbuffered
            }
        } else if (next == 0 && cmd != smb2_create && cmd != smb2_tree_connect && cmd != smb2_set_info &&
                   cmd != smb2_negotiate && end - body > kDiscardThreshold) {
            // A large body the decoder does not read (directory listings, IOCTL,
            // security blobs, error data): keep only its fixed part.
            if (b.size() < body + 2) {
                pr.kind = Probe::need;
                pr.need_bytes = body + 2;
                return pr;
            }
            const uint32_t fixed = (static_cast<uint32_t>(b[body]) | (static_cast<uint32_t>(b[body + 1]) << 8)) & ~1u;
            const uint32_t keep = body + std::min<uint32_t>(fixed, 64);
            if (b.size() < keep) {
                pr.kind = Probe::need;
                pr.need_bytes = keep;
                return pr;
            }
            if (keep < end && b.size() <= keep) {
                pr.kind = Probe::hole;
                pr.start = keep;
                pr.len = end - keep;
            }
            return pr;
        }
        if (next == 0) return pr;
        at += next;
    }
    return pr;
}

void SmbConnection::process_smb2(Direction wire, const PduView& v) {
    Direction d = wire;
    uint32_t at = 0;
    uint32_t chain_create = kNone;
    for (uint32_t chain = 0;; ++chain) {
        if (chain >= ctx_.config().max_chain) {
            anomaly(SmbAnomaly::smb2_compound_too_long, d);
            return;
        }
        const auto hb = v.span(at, at + kSmb2HeaderSize);
        Smb2Header h;
        uint16_t ss = 0;
        if (hb.size() < kSmb2HeaderSize) {
            anomaly(SmbAnomaly::truncated_header, d);
            return;
        }
        if (!parse_header(hb, &ss, &h.command, &h.status, &h.flags, &h.next, &h.message_id, &h.tree_id,
                          &h.session_id)) {
            anomaly(SmbAnomaly::bad_protocol_id, d);
            return;
        }
        if (!orient(wire, h.response(), &d)) return;
        if (ss != kSmb2HeaderSize) anomaly(SmbAnomaly::smb2_bad_structure_size, d);
        count(SmbCounter::commands_smb2);
        bool last = h.next == 0;
        uint32_t end = v.total;
        if (!last) {
            if (h.next < kSmb2HeaderSize || h.next > v.total - at) {
                anomaly(SmbAnomaly::smb2_bad_next_command, d);
                last = true;
            } else {
                end = at + h.next;
            }
        }
        if ((h.flags & kSmb2FlagSigned) && h.session_id != 0) note_signed(d, h.session_id);
        if (h.response()) smb2_response(d, h, v, at, end);
        else smb2_request(d, h, v, at, end, &chain_create);
        if (last) return;
        at = end;
    }
}

void SmbConnection::smb2_request(Direction d, const Smb2Header& h, const PduView& v, uint32_t at, uint32_t end,
                                 uint32_t* chain_create) {
    const uint32_t body = at + kSmb2HeaderSize;
    ByteReader r(v.span(body, end));
    const uint16_t ss = r.le16();
    const bool related = h.flags & kSmb2FlagRelated;
    // Resolves a FileId; the all-ones id of a related compound request means
    // "the file the previous CREATE of this compound opened".
    auto resolve = [&](uint64_t persistent, uint64_t volatile_id, bool create_anonymous) -> uint32_t {
        if (is_related_sentinel(persistent, volatile_id)) return related ? *chain_create : kNone;
        const SmbFileId id{2, persistent, volatile_id, h.tree_id};
        if (create_anonymous) return open_or_anonymous(d, id, h.session_id);
        return find_open(id);
    };
    auto gen_of = [&](uint32_t slot) { return slot == kNone ? 0u : opens_[slot].gen; };

    if (h.command == smb2_cancel) return;  // no response of its own
    Pending* p = nullptr;
    switch (h.command) {
        case smb2_tree_connect: {
            if (ss != 9) anomaly(SmbAnomaly::smb2_bad_structure_size, d);
            r.skip(2);
            const uint16_t path_off = r.le16();
            const uint16_t path_len = r.le16();
            if (r.failed()) break;
            const uint32_t slot = new_tree(d);
            Tree& t = trees_[slot];
            t = Tree{};
            t.used = true;
            t.pending = true;
            t.version = 2;
            t.key = h.message_id;
            t.session_id = h.session_id;
            const auto path = v.span(at + path_off, at + path_off + path_len);
            if (path.size() != path_len) anomaly(SmbAnomaly::bad_name, d);
            utf16_to_utf8(path, &t.path, d);
            p = add_pending(d, 2, h.message_id, h.command);
            p->tree_slot = slot;
            break;
        }
        case smb2_create: {
            if (ss != 57) anomaly(SmbAnomaly::smb2_bad_structure_size, d);
            r.skip(34);
            const uint32_t disposition = r.le32();
            const uint32_t options = r.le32();
            const uint16_t name_off = r.le16();
            const uint16_t name_len = r.le16();
            if (r.failed()) {
                anomaly(SmbAnomaly::truncated_header, d);
                break;
            }
            const uint32_t slot = new_open(d);
            OpenFile& f = opens_[slot];
            f.pending = true;
            f.version = 2;
            f.key = h.message_id;
            f.id.tree_id = h.tree_id;  // responses may be async (no tree id)
            f.session_id = h.session_id;
            f.name_known = true;
            f.is_directory = options & 0x1;  // FILE_DIRECTORY_FILE
            if (name_len > 0) {
                const auto name = v.span(at + name_off, at + name_off + name_len);
                if (name.size() != name_len) anomaly(SmbAnomaly::bad_name, d);
                utf16_to_utf8(name, &f.name, d);
            }
            if (const Tree* t = find_tree(2, h.session_id, h.tree_id)) {
                f.share = t->path;
                f.is_pipe = t->is_pipe;
            }
            p = add_pending(d, 2, h.message_id, h.command);
            p->slot = slot;
            p->gen = f.gen;
            p->disposition = disposition;
            *chain_create = slot;
            break;
        }
        case smb2_close: {
            r.skip(6);
            const uint64_t persistent = r.le64();
            const uint64_t volatile_id = r.le64();
            const uint32_t slot = r.failed() ? kNone : resolve(persistent, volatile_id, false);
            p = add_pending(d, 2, h.message_id, h.command);
            p->slot = slot;
            p->gen = gen_of(slot);
            if (slot != kNone) close_file(d, slot);
            break;
        }
        case smb2_read: {
            r.skip(2);
            const uint32_t len = r.le32();
            const uint64_t offset = r.le64();
            const uint64_t persistent = r.le64();
            const uint64_t volatile_id = r.le64();
            if (r.failed()) {
                anomaly(SmbAnomaly::truncated_header, d);
                break;
            }
            const uint32_t slot = resolve(persistent, volatile_id, true);
            p = add_pending(d, 2, h.message_id, h.command);
            p->slot = slot;
            p->gen = gen_of(slot);
            p->offset = offset;
            p->size = len;
            if (slot != kNone) {
                p->is_read = true;
                ++opens_[slot].pending_reads;
            }
            break;
        }
        case smb2_write: {
            const uint16_t data_off = r.le16();
            const uint32_t len = r.le32();
            const uint64_t offset = r.le64();
            const uint64_t persistent = r.le64();
            const uint64_t volatile_id = r.le64();
            if (r.failed()) {
                anomaly(SmbAnomaly::truncated_header, d);
                break;
            }
            const uint32_t slot = resolve(persistent, volatile_id, true);
            p = add_pending(d, 2, h.message_id, h.command);
            p->slot = slot;
            p->gen = gen_of(slot);
            p->size = len;
            if (len == 0) break;
            const uint32_t start = at + data_off;
            if (data_off < kSmb2HeaderSize + kWriteFixed || start > end || len > end - start) {
                anomaly(SmbAnomaly::bad_data_offset, d);
                break;
            }
            if (v.is_hole(start, len)) break;  // streamed into the file already
            const auto data = v.span(start, start + len);
            if (data.size() != len) {
                anomaly(SmbAnomaly::bad_data_offset, d);
                break;
            }
            deliver(d, FileTarget{slot, gen_of(slot), FileDirection::upload, offset}, offset, data);
            break;
        }
        case smb2_set_info: {
            const uint8_t info_type = r.u8();
            const uint8_t info_class = r.u8();
            const uint32_t buf_len = r.le32();
            const uint16_t buf_off = r.le16();
            r.skip(6);
            const uint64_t persistent = r.le64();
            const uint64_t volatile_id = r.le64();
            if (r.failed()) break;
            const uint32_t slot = resolve(persistent, volatile_id, false);
            p = add_pending(d, 2, h.message_id, h.command);
            p->slot = slot;
            p->gen = gen_of(slot);
            if (info_type == kSmb2InfoFile && info_class == kFileEndOfFileInformation && buf_len >= 8 && slot != kNone) {
                ByteReader br(v.span(at + buf_off, at + buf_off + 8));
                const uint64_t eof = br.le64();
                if (!br.failed()) set_upload_size(d, slot, eof);
            }
            break;
        }
        default: p = add_pending(d, 2, h.message_id, h.command); break;
    }
    (void)p;
}

void SmbConnection::smb2_response(Direction d, const Smb2Header& h, const PduView& v, uint32_t at, uint32_t end) {
    if ((h.flags & kSmb2FlagAsync) && h.status == kStatusPending) {
        count(SmbCounter::async_interim);  // the final response follows with the same message id
        return;
    }
    if (h.command == smb2_oplock_break && h.message_id == UINT64_MAX) return;  // server notification
    Pending* p = find_pending(2, h.message_id, -1);
    if (!p && h.command != smb2_negotiate && h.command != smb2_session_setup) {
        anomaly(SmbAnomaly::response_without_request, d);
    }
    const uint32_t body = at + kSmb2HeaderSize;
    ByteReader r(v.span(body, end));
    const uint16_t ss = r.le16();
    const bool ok = h.status == kStatusSuccess;
    uint32_t free_slot = kNone;  // freed after the transaction is reported (it names the file)

    SmbTransaction tx;
    tx.id = next_tx_++;
    tx.version = 2;
    tx.command = h.command;
    tx.status = h.status;
    tx.dialect = dialect_;
    tx.session_id = h.session_id;
    tx.tree_id = h.tree_id;
    if (p) fill_tx(tx, p->slot, p->gen);
    if (p && p->disposition != 0xffffffff) {
        tx.has_disposition = true;
        tx.disposition = p->disposition;
    }

    switch (h.command) {
        case smb2_negotiate:
            if (ok && ss == 65) {
                r.skip(2);
                dialect_ = r.le16();
                tx.dialect = dialect_;
            }
            break;
        case smb2_session_setup:
            if (ok && ss == 9) {
                const uint16_t session_flags = r.le16();
                if (session_flags & kSmb2SessionFlagEncrypt)
                    if (Session* s = session(d, h.session_id)) s->encrypt_required = true;
            }
            break;
        case smb2_tree_connect:
            if (p && p->tree_slot != kNone && p->tree_slot < trees_.size()) {
                Tree& t = trees_[p->tree_slot];
                if (t.used && t.pending && t.key == h.message_id) {
                    if (ok) {
                        const uint8_t share_type = r.u8();
                        t.pending = false;
                        t.tree_id = h.tree_id;
                        t.session_id = h.session_id;
                        t.is_pipe = share_type == kSmb2ShareTypePipe;
                    } else {
                        t = Tree{};
                    }
                    tx.share = t.path;
                    tx.share_is_pipe = t.is_pipe;
                }
            }
            break;
        case smb2_create: {
            OpenFile* f = p ? open_at(p->slot, p->gen) : nullptr;
            if (!f) break;
            if (ok && ss == 89) {
                r.skip(2);
                const uint32_t action = r.le32();
                r.skip(32);
                r.skip(8);  // allocation size
                const uint64_t eof = r.le64();
                const uint32_t attrs = r.le32();
                r.skip(4);
                const uint64_t persistent = r.le64();
                const uint64_t volatile_id = r.le64();
                if (!r.failed()) {
                    f->pending = false;
                    f->id = SmbFileId{2, persistent, volatile_id, f->id.tree_id ? f->id.tree_id : h.tree_id};
                    f->eof = eof;
                    f->eof_known = true;
                    f->is_directory = attrs & kFileAttributeDirectory;
                    tx.has_create_action = true;
                    tx.create_action = action;
                    tx.has_size = true;
                    tx.size = eof;
                    tx.has_file_id = true;
                    tx.file_id = f->id;
                    break;
                }
                anomaly(SmbAnomaly::truncated_header, d);
            }
            // Failed open: nothing was opened. Data of related writes (if any) is finished.
            finish_file(*f, FileDirection::upload, false);
            finish_file(*f, FileDirection::download, false);
            free_slot = p->slot;
            break;
        }
        case smb2_read:
            if (p && p->is_read && (ok || h.status == kStatusBufferOverflow) && ss == 17) {
                const uint8_t data_off = r.u8();
                r.skip(1);
                const uint32_t len = r.le32();
                if (r.failed() || len == 0) break;
                tx.has_size = true;
                tx.size = len;
                const uint32_t start = at + data_off;
                if (data_off < kSmb2HeaderSize + kReadRespFixed || start > end || len > end - start) {
                    anomaly(SmbAnomaly::bad_data_offset, d);
                    break;
                }
                if (v.is_hole(start, len)) break;
                const auto data = v.span(start, start + len);
                if (data.size() != len) {
                    anomaly(SmbAnomaly::bad_data_offset, d);
                    break;
                }
                deliver(d, FileTarget{p->slot, p->gen, FileDirection::download, p->offset}, p->offset, data);
            }
            break;
        case smb2_write:
            if (p) {
                tx.has_size = true;
                tx.size = p->size;
            }
            break;
        case smb2_close:
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
        case smb2_tree_disconnect:
            if (ok)
                if (Tree* t = find_tree(2, h.session_id, h.tree_id)) *t = Tree{};
            break;
        case smb2_logoff:
            break;
        default: break;
    }
    count(SmbCounter::transactions);
    sink_.on_smb_transaction(tx);
    if (p) drop_pending(p);
    if (free_slot != kNone) free_open(free_slot);
}

}  // namespace sluice
