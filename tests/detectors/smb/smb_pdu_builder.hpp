// Test support: builds SMB1 and SMB2/3 messages byte by byte (MS-CIFS, MS-SMB,
// MS-SMB2 layouts) and NetBIOS framing, for the decoder unit tests and the fuzz
// seeds. Every field can be set to a lying value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::test {

struct Bytes : std::vector<uint8_t> {
    using std::vector<uint8_t>::vector;
    Bytes& u8(uint8_t v) {
        push_back(v);
        return *this;
    }
    Bytes& le16(uint16_t v) { return u8(static_cast<uint8_t>(v)).u8(static_cast<uint8_t>(v >> 8)); }
    Bytes& le32(uint32_t v) { return le16(static_cast<uint16_t>(v)).le16(static_cast<uint16_t>(v >> 16)); }
    Bytes& le64(uint64_t v) { return le32(static_cast<uint32_t>(v)).le32(static_cast<uint32_t>(v >> 32)); }
    Bytes& zeros(size_t n) {
        insert(end(), n, 0);
        return *this;
    }
    // Out of line: GCC 12 at -O3 reports a false -Wstringop-overflow for inlined inserts.
    [[gnu::noinline]] Bytes& raw(const std::vector<uint8_t>& b) {
        insert(end(), b.begin(), b.end());
        return *this;
    }
    [[gnu::noinline]] Bytes& str(const std::string& s) {
        insert(end(), s.begin(), s.end());
        return *this;
    }
    Bytes& utf16(const std::string& ascii) {
        for (char c : ascii) le16(static_cast<uint8_t>(c));
        return *this;
    }
    void put16(size_t at, uint16_t v) {
        (*this)[at] = static_cast<uint8_t>(v);
        (*this)[at + 1] = static_cast<uint8_t>(v >> 8);
    }
    void put32(size_t at, uint32_t v) {
        put16(at, static_cast<uint16_t>(v));
        put16(at + 2, static_cast<uint16_t>(v >> 16));
    }
};

inline Bytes pattern(size_t n, uint32_t seed) {
    Bytes b;
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b.push_back(static_cast<uint8_t>(x));
    }
    return b;
}

// Direct TCP / NetBIOS session message: type 0, 24-bit length.
inline Bytes nbss(const Bytes& msg, uint8_t type = 0x00) {
    Bytes b;
    b.u8(type).u8(static_cast<uint8_t>(msg.size() >> 16)).u8(static_cast<uint8_t>(msg.size() >> 8)).u8(static_cast<uint8_t>(msg.size()));
    b.raw(msg);
    return b;
}

// ------------------------------------------------------------------- SMB2

struct H2 {
    uint16_t cmd = 0;
    uint64_t mid = 0;
    bool resp = false;
    uint32_t status = 0;
    uint32_t flags = 0;  // extra flags (related 0x4, signed 0x8, async 0x2)
    uint32_t tree = 1;
    uint64_t session = 0x1000;
    uint64_t async_id = 0;
};

inline Bytes smb2(const H2& h, const Bytes& body) {
    Bytes b;
    b.u8(0xfe).str("SMB").le16(64).le16(1).le32(h.status).le16(h.cmd).le16(1);
    b.le32(h.flags | (h.resp ? 1u : 0u)).le32(0).le64(h.mid);
    if (h.flags & 0x2) b.le64(h.async_id);
    else b.le32(0).le32(h.tree);
    b.le64(h.session).zeros(16);
    b.raw(body);
    return b;
}

// Chains messages into one compound: each but the last padded to 8 bytes, with
// NextCommand set.
inline Bytes compound(std::vector<Bytes> msgs) {
    Bytes out;
    for (size_t i = 0; i < msgs.size(); ++i) {
        Bytes m = msgs[i];
        if (i + 1 < msgs.size()) {
            while (m.size() % 8) m.push_back(0);
            m.put32(20, static_cast<uint32_t>(m.size()));
        }
        out.raw(m);
    }
    return out;
}

struct Fid {
    uint64_t persistent = 0x11;
    uint64_t volatile_id = 0x22;
};
inline constexpr Fid kRelated{UINT64_MAX, UINT64_MAX};

inline Bytes negotiate_resp(uint16_t dialect) {
    Bytes b;
    b.le16(65).le16(1).le16(dialect).le16(0).zeros(16).le32(0).le32(1 << 20).le32(1 << 20).le32(1 << 20);
    b.zeros(16).le16(128).le16(0).le32(0).u8(0);
    return b;
}
inline Bytes session_setup_resp(uint16_t session_flags) {
    Bytes b;
    b.le16(9).le16(session_flags).le16(72).le16(0).u8(0);
    return b;
}
inline Bytes tree_connect_req(const std::string& path) {
    Bytes b;
    b.le16(9).le16(0).le16(72).le16(static_cast<uint16_t>(path.size() * 2)).utf16(path);
    return b;
}
inline Bytes tree_connect_resp(uint8_t share_type) {
    Bytes b;
    b.le16(16).u8(share_type).u8(0).le32(0).le32(0).le32(0x1f01ff);
    return b;
}
inline Bytes create_req(const std::string& name, uint32_t disposition = 1) {
    Bytes b;
    b.le16(57).u8(0).u8(0).le32(2).le64(0).le64(0).le32(0x12019f).le32(0x80).le32(7);
    b.le32(disposition).le32(0x40).le16(120).le16(static_cast<uint16_t>(name.size() * 2)).le32(0).le32(0);
    if (name.empty()) b.u8(0);
    else b.utf16(name);
    return b;
}
inline Bytes create_resp(Fid fid, uint64_t eof, uint32_t action = 1, uint32_t attrs = 0x80) {
    Bytes b;
    b.le16(89).u8(0).u8(0).le32(action).le64(1).le64(2).le64(3).le64(4).le64((eof + 4095) & ~4095ull).le64(eof);
    b.le32(attrs).le32(0).le64(fid.persistent).le64(fid.volatile_id).le32(0).le32(0).u8(0);
    return b;
}
inline Bytes write_req(Fid fid, uint64_t offset, const Bytes& data, uint16_t data_off = 112) {
    Bytes b;
    b.le16(49).le16(data_off).le32(static_cast<uint32_t>(data.size())).le64(offset).le64(fid.persistent);
    b.le64(fid.volatile_id).le32(0).le32(0).le16(0).le16(0).le32(0);
    b.raw(data);
    return b;
}
inline Bytes write_resp(uint32_t count) {
    Bytes b;
    b.le16(17).le16(0).le32(count).le32(0).le16(0).le16(0).u8(0);
    return b;
}
inline Bytes read_req(Fid fid, uint64_t offset, uint32_t length) {
    Bytes b;
    b.le16(49).u8(0).u8(0).le32(length).le64(offset).le64(fid.persistent).le64(fid.volatile_id);
    b.le32(1).le32(0).le32(0).le16(0).le16(0).u8(0);
    return b;
}
inline Bytes read_resp(const Bytes& data, uint8_t data_off = 80) {
    Bytes b;
    b.le16(17).u8(data_off).u8(0).le32(static_cast<uint32_t>(data.size())).le32(0).le32(0);
    b.raw(data);
    return b;
}
inline Bytes close_req(Fid fid) {
    Bytes b;
    b.le16(24).le16(0).le32(0).le64(fid.persistent).le64(fid.volatile_id);
    return b;
}
inline Bytes close_resp() {
    Bytes b;
    b.le16(60).le16(0).le32(0).zeros(32).le64(0).le64(0).le32(0);
    return b;
}
inline Bytes set_info_eof(Fid fid, uint64_t eof) {
    Bytes b;
    b.le16(33).u8(1).u8(20).le32(8).le16(96).le16(0).le32(0).le64(fid.persistent).le64(fid.volatile_id);
    b.le64(eof);
    return b;
}
inline Bytes error_resp() {
    Bytes b;
    b.le16(9).u8(0).u8(0).le32(0).u8(0);
    return b;
}
inline Bytes transform(uint64_t session, size_t cipher_len) {
    Bytes b;
    b.u8(0xfd).str("SMB").zeros(16).zeros(16).le32(static_cast<uint32_t>(cipher_len)).le16(0).le16(1).le64(session);
    b.raw(pattern(cipher_len, 7));
    return b;
}
inline Bytes compression_transform(size_t payload) {
    Bytes b;
    b.u8(0xfc).str("SMB").le32(static_cast<uint32_t>(payload * 2)).le16(1).le16(0).le32(0);
    b.raw(pattern(payload, 9));
    return b;
}

// ------------------------------------------------------------------- SMB1

struct H1 {
    uint8_t cmd = 0;
    bool resp = false;
    uint32_t status = 0;
    uint16_t flags2 = 0xc807;  // unicode, NT status, extended security, signatures supported...
    uint16_t tid = 0x800;
    uint16_t pid = 0xfeff;
    uint16_t uid = 0x64;
    uint16_t mid = 1;
    uint64_t signature = 0;
};

inline Bytes smb1_header(const H1& h) {
    Bytes b;
    b.u8(0xff).str("SMB").u8(h.cmd).le32(h.status).u8(h.resp ? 0x98 : 0x18).le16(h.flags2).le16(0);
    b.le64(h.signature).le16(0).le16(h.tid).le16(h.pid).le16(h.uid).le16(h.mid);
    return b;
}
// Appends one parameter block (word count, words, byte count, bytes).
inline void smb1_block(Bytes& b, const Bytes& words, const Bytes& bytes) {
    b.u8(static_cast<uint8_t>(words.size() / 2)).raw(words).le16(static_cast<uint16_t>(bytes.size())).raw(bytes);
}
inline Bytes andx(uint8_t next = 0xff, uint16_t offset = 0) {
    Bytes w;
    w.u8(next).u8(0).le16(offset);
    return w;
}

}  // namespace sluice::test
