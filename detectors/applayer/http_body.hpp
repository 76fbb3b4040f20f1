// BodyInflater: bounded gzip/deflate decompression of one HTTP body
// (Content-Encoding: gzip, x-gzip, deflate), with zlib. Output is appended to a
// caller buffer and stops at the caller's limit, so a decompression bomb costs
// at most `limit` bytes; input after that is ignored. "deflate" accepts both
// the zlib-wrapped form (RFC 9110) and raw deflate (what some servers send);
// the first two bytes choose the form.
// Ownership: one per HTTP message direction of a flow, reused across the
// flow's messages (zlib state, about 45 KiB, is allocated on the first
// compressed body and kept until the parser is destroyed).
// Thread rules: owned by the flow's worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace sluice {

class BodyInflater {
public:
    BodyInflater();
    ~BodyInflater();
    BodyInflater(BodyInflater&&) noexcept;
    BodyInflater& operator=(BodyInflater&&) noexcept;
    BodyInflater(const BodyInflater&) = delete;
    BodyInflater& operator=(const BodyInflater&) = delete;

    // Starts a new body (zlib state is reset, not reallocated, on the first data).
    void start();
    // Inflates `in`, appending to `out` while out.size() < limit. False on a
    // data error or when zlib cannot get memory (the body is not what its
    // Content-Encoding says): the caller keeps what was produced and stops.
    bool feed(std::span<const uint8_t> in, std::vector<uint8_t>& out, size_t limit);
    bool finished() const { return finished_; }
    // Heap bytes held (zlib state and window), for memory accounting.
    size_t memory_bytes() const;

private:
    struct Stream;
    bool reinit(int window_bits);
    bool choose_mode();
    bool inflate_some(std::span<const uint8_t> in, std::vector<uint8_t>& out, size_t limit);
    std::unique_ptr<Stream> z_;
    bool finished_ = false;
    bool failed_ = false;
    bool mode_chosen_ = false;
    uint8_t lead_[2] = {};  // first two input bytes: they choose gzip, zlib or raw deflate
    size_t lead_len_ = 0;
};

}  // namespace sluice
