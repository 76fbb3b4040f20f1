// NdpiModule: one nDPI 4.2 detection module (every protocol enabled, plus the
// custom protocols of an optional nDPI protocols file) and the calls the
// classification makes on it: process one packet of a flow, ask whether nDPI
// wants more packets after a verdict, give up. Protocol names are copied out of
// nDPI once at start, so they can be read from any thread afterwards.
//
// NdpiFlowPool: the per-flow nDPI state (ndpi_flow_struct, 688 bytes in Debian's
// libndpi 4.2) in fixed-size blocks, allocated in chunks as flows need them up
// to a cap, and reused: a block is zeroed when taken and nDPI's own per-flow
// allocations (TLS handshake buffer, host/URL strings) are freed when it is
// given back, so a flow holds nDPI memory only while it is being classified.
//
// Ownership: each worker owns one NdpiModule (about 9 MB: nDPI's automata and
// host tables) and one NdpiFlowPool. nDPI's headers stay out of this header.
// Thread rules: create() runs at start-up (nDPI forbids concurrent module
// initialisation; create() serialises it); everything else is used by the
// owning worker only, except name lookups, which only read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/result.hpp"

struct ndpi_detection_module_struct;
struct ndpi_flow_struct;

namespace sluice {

// What nDPI says about a flow.
struct NdpiVerdict {
    uint16_t master = 0;     // e.g. TLS in "TLS.Google"; 0 when there is none
    uint16_t app = 0;        // e.g. Google in "TLS.Google", TLS in "TLS"; 0 = unknown
    uint16_t category = 0;   // ndpi_protocol_category_t
    uint8_t confidence = 0;  // ndpi_confidence_t: 0 unknown, 1 port, 2 IP, 3 DPI cache, 4 DPI

    bool known() const { return app != 0 || master != 0; }
    // The protocol that carries the flow: TLS for "TLS.Google", Google for "Google".
    uint16_t master_key() const { return master != 0 ? master : app; }
    // The protocol ndpiReader's summary table counts the flow under: Google for "TLS.Google".
    uint16_t table_key() const { return app != 0 ? app : master; }
    // Found in the payload (or nDPI's cache of payload verdicts), not guessed from ports or addresses.
    bool by_dpi() const { return confidence >= kConfidenceDpiCache; }

    static constexpr uint8_t kConfidenceDpiCache = 3;
};

class NdpiModule {
public:
    // Protocol ids (built-in and custom) are below NDPI_NUM_BITS.
    static constexpr size_t kMaxProtocols = 512;

    // Builds a module with every protocol enabled; `protocols_file` ("" = none)
    // is an nDPI protocols file (ndpiReader -p) adding custom protocols.
    static Result<std::unique_ptr<NdpiModule>> create(const std::string& protocols_file);
    ~NdpiModule();
    NdpiModule(const NdpiModule&) = delete;
    NdpiModule& operator=(const NdpiModule&) = delete;

    // One packet of the flow, from its IP header; `time_ms` is the packet time.
    NdpiVerdict process(ndpi_flow_struct* flow, const uint8_t* l3, uint16_t len, uint64_t time_ms);
    // After a verdict: true while nDPI wants further packets for details (TLS
    // certificate, sub-protocol).
    bool extra_dissection_possible(ndpi_flow_struct* flow);
    // Ends detection: the verdict so far, or a guess from ports and addresses.
    NdpiVerdict give_up(ndpi_flow_struct* flow);

    // nDPI's name of a protocol id ("TLS", "Modbus"; "Unknown" for 0 and unused ids).
    std::string_view name(uint16_t id) const;
    // "TLS.Google", "Modbus", "Unknown": nDPI's own label (ndpi_protocol2name).
    std::string_view label(const NdpiVerdict& v, std::span<char> buf) const;
    static std::string_view confidence_name(uint8_t confidence);
    std::string_view category_name(uint16_t category) const;
    // Number of protocol ids in use (built-in plus custom).
    size_t protocol_count() const { return names_.size(); }

    static size_t flow_struct_size();

private:
    NdpiModule() = default;

    ndpi_detection_module_struct* mod_ = nullptr;
    std::vector<std::string> names_;
};

class NdpiFlowPool {
public:
    // Blocks of ndpi_flow_struct; at most `max_blocks` in use at once.
    explicit NdpiFlowPool(uint32_t max_blocks);
    ~NdpiFlowPool();
    NdpiFlowPool(const NdpiFlowPool&) = delete;
    NdpiFlowPool& operator=(const NdpiFlowPool&) = delete;

    // A zeroed flow state, or null when `max_blocks` are in use (or memory is out).
    ndpi_flow_struct* acquire();
    // Frees nDPI's allocations inside the state and keeps the block for reuse.
    void release(ndpi_flow_struct* flow);

    uint32_t in_use() const { return in_use_; }
    uint32_t allocated() const { return allocated_; }
    uint32_t max_blocks() const { return max_blocks_; }
    // Bytes of one block (the flow struct rounded up to a cache line).
    size_t block_size() const { return block_size_; }

private:
    static constexpr uint32_t kChunkBlocks = 256;

    size_t block_size_;
    uint32_t max_blocks_;
    uint32_t in_use_ = 0;
    uint32_t allocated_ = 0;
    std::vector<std::unique_ptr<std::byte[]>> chunks_;
    std::vector<ndpi_flow_struct*> free_;
};

}  // namespace sluice
