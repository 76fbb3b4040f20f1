#include "detectors/files/file_gates.hpp"

namespace sluice {

FileGates::FileGates(uint32_t capacity) : gates_(capacity) {
    free_.reserve(capacity);
    for (uint32_t i = capacity; i > 0; --i) free_.push_back(i - 1);
}

uint32_t FileGates::open(Flow* flow, uint64_t deadline_ns) {
    if (free_.empty()) return 0;
    const uint32_t i = free_.back();
    free_.pop_back();
    FileGate& g = gates_[i];
    g = FileGate{};
    g.token = kFileHoldTokenTag | (++next_seq_ & 0xFFFFFFFFFFFFull);
    g.flow = flow;
    g.deadline_ns = deadline_ns;
    ++unsettled_;
    ++in_use_;
    return i + 1;
}

void FileGates::free(uint32_t index) {
    FileGate& g = gates_[index - 1];
    if (!g.token) return;
    if (!g.settled) --unsettled_;
    g = FileGate{};
    free_.push_back(index - 1);
    --in_use_;
}

PendingFiles::PendingFiles(uint32_t capacity) : entries_(capacity) {
    free_.reserve(capacity);
    for (uint32_t i = capacity; i > 0; --i) free_.push_back(i - 1);
}

uint32_t PendingFiles::take() {
    if (free_.empty()) return UINT32_MAX;
    const uint32_t i = free_.back();
    free_.pop_back();
    entries_[i].used = true;
    ++in_use_;
    return i;
}

PendingFile* PendingFiles::find(uint64_t cookie) {
    if (cookie >= entries_.size() || !entries_[cookie].used) return nullptr;
    return &entries_[cookie];
}

void PendingFiles::release(uint64_t cookie) {
    if (cookie >= entries_.size() || !entries_[cookie].used) return;
    entries_[cookie] = PendingFile{};
    free_.push_back(static_cast<uint32_t>(cookie));
    --in_use_;
}

}  // namespace sluice
