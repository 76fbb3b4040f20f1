// SmbConnection: the per-flow state behind SmbDecoder (internal to detectors/smb).
// NetBIOS framing per direction with a bounded message buffer, a "hole" through
// which the file data of one READ response or WRITE request per message streams
// straight into the file's assembler, the SMB1 and SMB2/3 command handlers, and
// bounded tables of trees, open files, pending requests and sessions.
// Thread rules: one worker; not for use outside detectors/smb.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/byte_reader.hpp"
#include "dataplane/stream.hpp"
#include "detectors/smb/smb_decoder.hpp"

namespace sluice {

class SmbConnection {
public:
    SmbConnection(SmbWorkerContext& ctx, SmbEventSink& sink, bool directions_known);
    ~SmbConnection();

    void data(Direction dir, std::span<const uint8_t> bytes);
    void gap(Direction dir, uint64_t len);
    void end();

    SmbFeedResult result;
    size_t open_files() const;
    size_t state_bytes() const;

    // A message with at most one region (the hole) whose bytes went elsewhere:
    // prefix and tail are stored back to back in `buf`.
    struct PduView {
        const uint8_t* buf = nullptr;
        size_t buf_len = 0;
        uint32_t total = 0;
        uint32_t hole_start = 0;
        uint32_t hole_len = 0;
        // The available bytes of [from, to): cut short at the hole, empty inside it.
        std::span<const uint8_t> span(uint32_t from, uint32_t to) const;
        bool is_hole(uint32_t from, uint32_t len) const {
            return hole_len != 0 && from == hole_start && len == hole_len;
        }
    };

private:
    static constexpr uint32_t kNone = 0xffffffff;

    // Where streamed or parsed file data goes.
    struct FileTarget {
        uint32_t slot = kNone;  // open-file slot, kNone: discard
        uint32_t gen = 0;
        FileDirection fdir = FileDirection::upload;
        uint64_t offset = 0;    // file offset of the first data byte
    };

    enum class Phase : uint8_t { header, body, skip, resync };

    struct DirState {
        Phase phase = Phase::header;
        uint8_t hdr[4] = {};
        uint8_t hdr_have = 0;
        uint32_t pdu_len = 0;
        uint32_t pdu_got = 0;       // bytes of the message consumed (buffered, streamed or lost)
        uint64_t skip_left = 0;
        bool damaged = false;       // part of the message was lost: not processed
        bool probe_done = false;
        uint32_t probe_need = 0;
        bool hole_set = false;
        uint32_t hole_start = 0;
        uint32_t hole_len = 0;
        FileTarget hole_target;
        std::vector<uint8_t> buf;
        uint8_t win[8] = {};        // resync window
        uint8_t win_have = 0;
    };

    struct Tree {
        bool used = false;
        bool pending = false;       // request seen, response not yet
        uint8_t version = 2;
        uint64_t key = 0;           // request's message id (SMB2) / mid|pid (SMB1) while pending
        uint64_t session_id = 0;
        uint32_t tree_id = 0;
        bool is_pipe = false;
        std::string path;
    };

    struct OpenFile {
        bool used = false;
        uint32_t gen = 0;
        bool pending = false;       // CREATE request seen, file id not yet known
        bool closing = false;       // CLOSE request seen
        bool close_deferred = false;// CLOSE seen while reads were outstanding
        uint8_t version = 2;
        uint64_t key = 0;           // CREATE request key while pending
        SmbFileId id;
        uint64_t session_id = 0;
        bool is_pipe = false;
        bool is_directory = false;
        bool name_known = false;
        uint64_t eof = 0;           // end of file from the open response (download size)
        bool eof_known = false;
        uint64_t set_eof = 0;       // end of file set by the client (upload size)
        bool set_eof_known = false;
        uint32_t pending_reads = 0;
        uint64_t last_use = 0;
        std::string name;
        std::string share;
        std::unique_ptr<FileAssembler> file[2];
        bool finished[2] = {false, false};
        uint64_t finished_size[2] = {0, 0};
        uint64_t tx_id[2] = {0, 0};
    };

    struct Pending {
        uint8_t version = 2;
        uint64_t key = 0;
        uint16_t command = 0;
        uint64_t seq = 0;
        uint32_t slot = kNone;      // open file (CREATE, READ, WRITE, CLOSE, ...)
        uint32_t gen = 0;
        uint32_t tree_slot = kNone; // TREE_CONNECT
        uint64_t offset = 0;        // READ offset
        bool is_read = false;
        uint32_t disposition = 0xffffffff;
        uint64_t size = 0;          // bytes requested/written
    };

    struct Session {
        uint64_t id = 0;
        bool encrypted_reported = false;
        bool signed_reported = false;
        bool encrypt_required = false;
    };

    struct Smb1Header {
        uint8_t command = 0;
        uint32_t status = 0;
        uint8_t flags = 0;
        uint16_t flags2 = 0;
        uint16_t tid = 0;
        uint16_t pid = 0;
        uint16_t uid = 0;
        uint16_t mid = 0;
        bool response() const;
        bool unicode() const;
        uint64_t key() const { return static_cast<uint64_t>(mid) | (static_cast<uint64_t>(pid) << 16); }
    };

    struct Smb2Header {
        uint16_t command = 0;
        uint32_t status = 0;
        uint32_t flags = 0;
        uint32_t next = 0;
        uint64_t message_id = 0;
        uint32_t tree_id = 0;
        uint64_t session_id = 0;
        bool response() const;
    };

    // Framing (smb_connection.cpp).
    void start_message(Direction d, DirState& s);
    size_t body_bytes(Direction d, DirState& s, std::span<const uint8_t> p);
    bool append(Direction d, DirState& s, std::span<const uint8_t> p);
    // The framing loop: headers, message bodies, skips and resyncs.
    [[gnu::noinline]] void frame(Direction d, DirState& s, std::span<const uint8_t> bytes);
    void run_probe(Direction d, DirState& s);
    void message_done(Direction d, DirState& s);
    void reset_message(DirState& s);
    size_t resync_bytes(Direction d, DirState& s, std::span<const uint8_t> p);
    void process(Direction d, const PduView& v);
    void anomaly(SmbAnomaly a, Direction d);
    // Maps the wire direction of a message to the client/server one and checks
    // it against the message's request/response flag (counted when wrong).
    bool orient(Direction wire, bool response, Direction* dir, bool count_wrong = true);
    void count(SmbCounter c, uint64_t n = 1) { ctx_.counters().inc(c, n); }

    // Hole probes: where the file data of this message lies (smb1.cpp / smb2.cpp).
    struct Probe {
        enum Kind : uint8_t { need, none, hole } kind = none;
        uint32_t need_bytes = 0;
        uint32_t start = 0;
        uint32_t len = 0;
        FileTarget target;
    };
    Probe probe_smb1(Direction wire, std::span<const uint8_t> b, uint32_t total);
    Probe probe_smb2(Direction wire, std::span<const uint8_t> b, uint32_t total);

    // Message handlers.
    void process_smb1(Direction d, const PduView& v);
    void process_smb2(Direction d, const PduView& v);
    void process_transform(Direction d, const PduView& v);
    void smb1_command(Direction d, const Smb1Header& h, uint8_t cmd, const PduView& v, uint32_t off, uint8_t wct,
                      ByteReader words, uint32_t bytes_off, uint32_t bytes_len);
    void smb1_request(Direction d, const Smb1Header& h, uint8_t cmd, const PduView& v, ByteReader words,
                      uint8_t wct, uint32_t bytes_off, uint32_t bytes_len);
    void smb1_response(Direction d, const Smb1Header& h, uint8_t cmd, const PduView& v, ByteReader words,
                       uint8_t wct, uint32_t bytes_off, uint32_t bytes_len);
    void smb2_request(Direction d, const Smb2Header& h, const PduView& v, uint32_t at, uint32_t end,
                      uint32_t* chain_create);
    void smb2_response(Direction d, const Smb2Header& h, const PduView& v, uint32_t at, uint32_t end);

    // Strings.
    void utf16_to_utf8(std::span<const uint8_t> in, std::string* out, Direction d);
    void ascii_string(std::span<const uint8_t> in, std::string* out, Direction d);
    // SMB1 string in the byte area at absolute offset `at` (unicode: aligned to 2).
    void smb1_string(const PduView& v, uint32_t at, uint32_t end, bool unicode, std::string* out, Direction d,
                     uint32_t* consumed = nullptr);

    // Tables.
    Tree* find_tree(uint8_t version, uint64_t session, uint32_t tree_id);
    uint32_t new_tree(Direction d);
    uint32_t find_open(const SmbFileId& id);
    uint32_t new_open(Direction d);
    uint32_t open_or_anonymous(Direction d, const SmbFileId& id, uint64_t session);
    OpenFile* open_at(uint32_t slot, uint32_t gen) {
        if (slot >= opens_.size()) return nullptr;
        OpenFile& f = opens_[slot];
        return (f.used && f.gen == gen) ? &f : nullptr;
    }
    void free_open(uint32_t slot);
    void touch(OpenFile& f) { f.last_use = ++clock_; }
    Pending* add_pending(Direction d, uint8_t version, uint64_t key, uint16_t command);
    Pending* find_pending(uint8_t version, uint64_t key, int command);  // command -1: any
    void drop_pending(Pending* p);
    Session* session(Direction d, uint64_t id);
    void note_signed(Direction d, uint64_t session_id);
    void note_encrypted(Direction d, uint64_t session_id);
    void fill_tx(SmbTransaction& tx, uint32_t slot, uint32_t gen);

    // Files.
    void deliver(Direction d, const FileTarget& t, uint64_t offset, std::span<const uint8_t> data);
    void deliver_inline(Direction d, const FileTarget& t, uint64_t offset, std::span<const uint8_t> data);
    [[gnu::noinline]] void deliver_other(Direction d, OpenFile& f, const FileTarget& t, uint64_t offset,
                                         std::span<const uint8_t> data);
    void check_complete(OpenFile& f, FileDirection fd);
    // The file's size when the protocol told it (a download's end of file, an
    // upload's SET_INFO end of file), else 0.
    static uint64_t known_size(const OpenFile& f, FileDirection fdir) {
        if (fdir == FileDirection::download) return f.eof_known ? f.eof : 0;
        return f.set_eof_known ? f.set_eof : 0;
    }
    void finish_file(OpenFile& f, FileDirection fd, bool closed);
    void close_file(Direction d, uint32_t slot);
    void set_upload_size(Direction d, uint32_t slot, uint64_t eof);

    SmbWorkerContext& ctx_;
    SmbEventSink& sink_;
    DirState dir_[2];
    std::vector<Tree> trees_;
    std::vector<OpenFile> opens_;
    std::vector<uint32_t> free_opens_;
    std::vector<Pending> pending_;
    std::vector<Session> sessions_;
    uint32_t open_count_ = 0;
    uint32_t last_open_hit_ = kNone;
    uint64_t clock_ = 0;
    uint64_t pending_seq_ = 0;
    uint64_t next_tx_ = 0;
    uint64_t next_file_tx_ = 0;
    uint16_t dialect_ = 0;           // SMB2 dialect revision
    std::string smb1_dialects_;      // the client's NEGOTIATE list, NUL-separated
    std::string smb1_dialect_;       // the one the server chose
    bool directions_known_ = true;
    bool oriented_ = false;
    bool swapped_ = false;           // wire to_server carries the server's messages
    bool overflow_encrypted_reported_ = false;
    bool overflow_signed_reported_ = false;
};

}  // namespace sluice
