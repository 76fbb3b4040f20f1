#include "dataplane/defrag.hpp"

#include <cstring>

namespace sluice {

namespace {

uint32_t frag_id(const DecodedPacket& p) { return p.ip_id; }

}  // namespace

Defragmenter::Defragmenter(uint32_t max_datagrams, uint64_t timeout_ns)
    : timeout_ns_(timeout_ns),
      slots_(max_datagrams ? max_datagrams : 1),
      payload_(new uint8_t[static_cast<size_t>(slots_.size()) * kMaxPayload]) {
    out_.reserve(kMaxHeader + kMaxPayload);
}

Defragmenter::Datagram* Defragmenter::find(const DecodedPacket& p) {
    if (in_use_ == 0) return nullptr;
    const bool v6 = p.ip_version == 6;
    for (auto& d : slots_)
        if (d.used && d.v6 == v6 && d.id == frag_id(p) && d.src == p.src && d.dst == p.dst && (v6 || d.proto == p.ip_proto))
            return &d;
    return nullptr;
}

void Defragmenter::release(Datagram& d) {
    d.used = false;
    --in_use_;
}

Defragmenter::Datagram* Defragmenter::allocate(const DecodedPacket& p, uint64_t now_ns) {
    Datagram* slot = nullptr;
    Datagram* oldest = nullptr;
    for (auto& d : slots_) {
        if (!d.used) { slot = &d; break; }
        if (!oldest || d.first_ns < oldest->first_ns) oldest = &d;
    }
    if (!slot) {
        counters_.inc(DefragCounter::evicted);
        release(*oldest);
        slot = oldest;
    }
    slot->used = true;
    slot->v6 = p.ip_version == 6;
    slot->proto = p.ip_proto;
    slot->id = frag_id(p);
    slot->src = p.src;
    slot->dst = p.dst;
    slot->first_ns = now_ns;
    slot->total = 0;
    slot->have_last = slot->have_first = false;
    slot->header_len = 0;
    std::memset(slot->blocks, 0, sizeof slot->blocks);
    ++in_use_;
    return slot;
}

bool Defragmenter::complete(const Datagram& d) const {
    if (!d.have_last || !d.have_first) return false;
    const uint32_t nblocks = (d.total + 7) / 8;
    for (uint32_t b = 0; b < nblocks; ++b)
        if (!(d.blocks[b / 8] & (1u << (b % 8)))) return false;
    return true;
}

void Defragmenter::expire(uint64_t now_ns) {
    if (in_use_ == 0) return;
    for (auto& d : slots_)
        if (d.used && now_ns > d.first_ns + timeout_ns_) {
            counters_.inc(DefragCounter::timeouts);
            release(d);
        }
}

std::span<const uint8_t> Defragmenter::add(const uint8_t* frame, const DecodedPacket& p, uint64_t now_ns) {
    counters_.inc(DefragCounter::fragments);
    expire(now_ns);
    Datagram* d = find(p);
    if (!d) d = allocate(p, now_ns);
    const uint32_t off = p.frag_offset;
    const uint32_t len = p.payload_len;
    if (off + len > kMaxPayload) {
        counters_.inc(DefragCounter::too_large);
        release(*d);
        return {};
    }
    if (d->have_last && off + len > d->total) {
        counters_.inc(DefragCounter::inconsistent);
        release(*d);
        return {};
    }
    if (!p.more_fragments) {
        if (d->have_last && d->total != off + len) {
            counters_.inc(DefragCounter::inconsistent);
            release(*d);
            return {};
        }
        d->have_last = true;
        d->total = off + len;
    }
    if (off == 0 && !d->have_first) {
        // Keep the header of the first fragment for the reassembled datagram.
        const uint32_t hlen = static_cast<uint32_t>(p.payload_offset - p.l3_offset);
        if (hlen > kMaxHeader) {
            counters_.inc(DefragCounter::too_large);
            release(*d);
            return {};
        }
        d->have_first = true;
        std::memcpy(d->header, frame + p.l3_offset, hlen);
        d->header_len = static_cast<uint16_t>(hlen);
        d->proto = p.ip_proto;
        if (d->v6) {
            // Drop the fragment header: the byte that named it (in the fixed
            // header or the previous extension) now names what followed it.
            const uint32_t fh = p.ipv6_frag_hdr_offset - p.l3_offset;
            const uint8_t next = frame[p.ipv6_frag_hdr_offset];
            uint32_t nh_pos = 6;  // next header field of the fixed IPv6 header
            uint32_t pos = 40;
            uint8_t nh = d->header[6];
            while (pos < fh) {  // walk extensions before the fragment header
                nh_pos = pos;
                const uint32_t size = (nh == 51) ? (d->header[pos + 1] + 2u) * 4u : (d->header[pos + 1] + 1u) * 8u;
                nh = d->header[pos];
                pos += size;
            }
            std::memmove(d->header + fh, d->header + fh + 8, hlen - fh - 8);
            d->header_len = static_cast<uint16_t>(hlen - 8);
            d->header[nh_pos] = next;
        }
    }
    // Copy the blocks not present yet (first wins).
    uint8_t* buf = payload_.get() + static_cast<size_t>(d - slots_.data()) * kMaxPayload;
    const uint8_t* src = frame + p.payload_offset;
    for (uint32_t pos = 0; pos < len;) {
        const uint32_t abs = off + pos;
        const uint32_t b = abs / 8;
        const uint32_t n = std::min<uint32_t>(8 - abs % 8, len - pos);
        if (d->blocks[b / 8] & (1u << (b % 8))) {
            counters_.inc(DefragCounter::overlaps);
            if (std::memcmp(buf + abs, src + pos, n) != 0) counters_.inc(DefragCounter::overlap_conflicts);
        } else {
            std::memcpy(buf + abs, src + pos, n);
            if (abs % 8 + n == 8 || abs + n == off + len) d->blocks[b / 8] |= static_cast<uint8_t>(1u << (b % 8));
        }
        pos += n;
    }
    if (!complete(*d)) return {};

    // Build the datagram: header (with lengths and fragment fields fixed) + payload.
    out_.assign(d->header, d->header + d->header_len);
    out_.insert(out_.end(), buf, buf + d->total);
    if (!d->v6) {
        const uint32_t total = d->header_len + d->total;
        out_[2] = static_cast<uint8_t>(total >> 8);
        out_[3] = static_cast<uint8_t>(total);
        out_[6] = 0;
        out_[7] = 0;
    } else {
        const uint32_t plen = d->header_len - 40u + d->total;
        out_[4] = static_cast<uint8_t>(plen >> 8);
        out_[5] = static_cast<uint8_t>(plen);
    }
    counters_.inc(DefragCounter::reassembled);
    release(*d);
    return out_;
}

}  // namespace sluice
