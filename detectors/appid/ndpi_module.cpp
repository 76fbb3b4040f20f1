#include "detectors/appid/ndpi_module.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>

extern "C" {
#include <ndpi_api.h>
}

namespace sluice {

namespace {

NdpiVerdict to_verdict(const ndpi_protocol& p, const ndpi_flow_struct* flow) {
    NdpiVerdict v;
    v.master = p.master_protocol;
    v.app = p.app_protocol;
    v.category = static_cast<uint16_t>(p.category);
    v.confidence = static_cast<uint8_t>(flow->confidence);
    // nDPI never hands out ids past its bit maps; keep them in range for the
    // per-protocol counters whatever a future library does.
    if (v.master >= NdpiModule::kMaxProtocols) v.master = 0;
    if (v.app >= NdpiModule::kMaxProtocols) v.app = 0;
    return v;
}

// nDPI: "all these calls MUST NOT run in parallel" (ndpi_init_detection_module).
std::mutex& init_mutex() {
    static std::mutex m;
    return m;
}

}  // namespace

Result<std::unique_ptr<NdpiModule>> NdpiModule::create(const std::string& protocols_file) {
    std::lock_guard lock(init_mutex());
    std::unique_ptr<NdpiModule> m(new NdpiModule());
    m->mod_ = ndpi_init_detection_module(ndpi_no_prefs);
    if (!m->mod_) return make_error("nDPI: cannot initialise a detection module (out of memory?)");
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(m->mod_, &all);
    if (!protocols_file.empty()) {
        // nDPI takes a mutable path; it only reads the file.
        std::string path = protocols_file;
        if (ndpi_load_protocols_file(m->mod_, path.data()) != 0) {
            // Freed here, under the lock already held (the destructor takes it too).
            ndpi_exit_detection_module(m->mod_);
            m->mod_ = nullptr;
            return make_error("appid.protocols-file " + protocols_file + ": nDPI cannot read it");
        }
    }
    ndpi_finalize_initialization(m->mod_);
    const size_t n = std::min<size_t>(ndpi_get_num_supported_protocols(m->mod_), kMaxProtocols);
    m->names_.reserve(n);
    for (size_t id = 0; id < n; ++id) {
        const char* s = ndpi_get_proto_name(m->mod_, static_cast<uint16_t>(id));
        m->names_.emplace_back(s ? s : "Unknown");
    }
    return m;
}

NdpiModule::~NdpiModule() {
    if (mod_) {
        std::lock_guard lock(init_mutex());
        ndpi_exit_detection_module(mod_);
    }
}

size_t NdpiModule::flow_struct_size() { return ndpi_detection_get_sizeof_ndpi_flow_struct(); }

NdpiVerdict NdpiModule::process(ndpi_flow_struct* flow, const uint8_t* l3, uint16_t len, uint64_t time_ms) {
    const ndpi_protocol p = ndpi_detection_process_packet(mod_, flow, l3, len, time_ms);
    return to_verdict(p, flow);
}

bool NdpiModule::extra_dissection_possible(ndpi_flow_struct* flow) {
    return ndpi_extra_dissection_possible(mod_, flow) != 0;
}

NdpiVerdict NdpiModule::give_up(ndpi_flow_struct* flow) {
    uint8_t guessed = 0;
    const ndpi_protocol p = ndpi_detection_giveup(mod_, flow, 1, &guessed);
    return to_verdict(p, flow);
}

std::string_view NdpiModule::name(uint16_t id) const {
    if (id < names_.size()) return names_[id];
    return names_.empty() ? std::string_view("Unknown") : std::string_view(names_[0]);
}

std::string_view NdpiModule::label(const NdpiVerdict& v, std::span<char> buf) const {
    // As ndpi_protocol2name: "master.app" when both are set and differ.
    std::string_view first, second;
    if (v.master != 0 && v.master != v.app) {
        first = name(v.master);
        if (v.app != 0) second = name(v.app);
    } else {
        first = name(v.app);
    }
    size_t len = 0;
    auto put = [&](std::string_view s) {
        const size_t n = std::min(s.size(), buf.size() - len);
        std::memcpy(buf.data() + len, s.data(), n);
        len += n;
    };
    put(first);
    if (!second.empty()) {
        put(".");
        put(second);
    }
    return {buf.data(), len};
}

std::string_view NdpiModule::confidence_name(uint8_t confidence) {
    if (confidence >= NDPI_CONFIDENCE_MAX) return "Unknown";
    const char* s = ndpi_confidence_get_name(static_cast<ndpi_confidence_t>(confidence));
    return s ? s : "Unknown";
}

std::string_view NdpiModule::category_name(uint16_t category) const {
    if (category >= NDPI_PROTOCOL_NUM_CATEGORIES) return "Unspecified";
    const char* s = ndpi_category_get_name(mod_, static_cast<ndpi_protocol_category_t>(category));
    return s ? s : "Unspecified";
}

// ---- NdpiFlowPool ------------------------------------------------------------

NdpiFlowPool::NdpiFlowPool(uint32_t max_blocks)
    : block_size_((NdpiModule::flow_struct_size() + 63) / 64 * 64), max_blocks_(std::max<uint32_t>(max_blocks, 1)) {}

NdpiFlowPool::~NdpiFlowPool() = default;

ndpi_flow_struct* NdpiFlowPool::acquire() {
    if (free_.empty()) {
        if (allocated_ >= max_blocks_) return nullptr;
        // A new chunk: per many flows, never per packet.
        const uint32_t n = std::min(kChunkBlocks, max_blocks_ - allocated_);
        std::unique_ptr<std::byte[]> chunk(new (std::nothrow) std::byte[block_size_ * n + 64]);
        if (!chunk) return nullptr;
        auto base = reinterpret_cast<uintptr_t>(chunk.get());
        base = (base + 63) & ~uintptr_t{63};
        free_.reserve(allocated_ + n);  // release() never allocates
        for (uint32_t i = n; i-- > 0;)
            free_.push_back(reinterpret_cast<ndpi_flow_struct*>(base + i * block_size_));
        chunks_.push_back(std::move(chunk));
        allocated_ += n;
    }
    ndpi_flow_struct* f = free_.back();
    free_.pop_back();
    std::memset(static_cast<void*>(f), 0, block_size_);
    ++in_use_;
    return f;
}

void NdpiFlowPool::release(ndpi_flow_struct* flow) {
    if (!flow) return;
    ndpi_free_flow_data(flow);
    free_.push_back(flow);
    --in_use_;
}

}  // namespace sluice
