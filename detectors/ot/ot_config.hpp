// OtConfig: settings of the OT protocol detector (the ot.*, modbus.*, dnp3.*
// and s7comm.* keys of app/config_schema.cpp). The detector copies the decoder
// limits into each protocol's per-worker context (ModbusConfig, Dnp3Config,
// S7commConfig), which clamp them to their fixed buffers.
// Thread rules: part of the immutable Config.
#pragma once

#include <cstdint>

namespace sluice {

struct OtConfig {
    bool enabled = true;                          // ot.enabled
    uint32_t modbus_max_pending_transactions = 16; // modbus.max-pending-transactions (1..32)
    uint32_t dnp3_max_fragment_size = 2048;       // dnp3.max-fragment-size (249..2048)
    uint32_t s7comm_max_pdu_size = 1024;          // s7comm.max-pdu-size (240..1024)
};

}  // namespace sluice
