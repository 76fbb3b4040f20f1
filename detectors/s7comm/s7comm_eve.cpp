// EVE rendering of S7comm records (Sluice's shape, documented in
// docs/ot-protocols.md): "s7comm": {"rosctr", "pdu_ref", "function", "items",
// "block", "pi_service", "userdata", ...}.
#include "dataplane/json_writer.hpp"
#include "detectors/s7comm/s7comm_decoder.hpp"

namespace sluice {

void s7comm_write_eve(JsonWriter& w, const void* record) {
    const auto& rec = *static_cast<const S7commRecord*>(record);
    w.begin_object("s7comm");
    if (rec.src_tsap != 0 || rec.dst_tsap != 0) {
        w.begin_object("tsap").kv("src", rec.src_tsap).kv("dst", rec.dst_tsap).end_object();
    }
    if (rec.plus) {
        w.kv("protocol_id", uint8_t{0x72});
        w.begin_object("plus").kv("version", rec.plus_version).kv("opcode", rec.plus_opcode);
        if (rec.plus_opcode == 0x31 || rec.plus_opcode == 0x32) w.kv("function", rec.plus_function);
        w.end_object();
        w.end_object();
        return;
    }
    w.kv("rosctr", s7_rosctr_name(rec.rosctr));
    w.kv("pdu_ref", rec.pdu_ref);
    w.kv("param_length", rec.param_length);
    w.kv("data_length", rec.data_length);
    if (rec.has_error) w.kv("error_class", rec.error_class).kv("error_code", rec.error_code);
    if (!rec.lengths_ok) w.kv("length_mismatch", true);
    w.kv("function", s7_operation_name(rec));
    if (rec.has_function) w.kv("function_code", rec.function);
    if (rec.function == 0xf0 && rec.has_function) {
        w.begin_object("setup").kv("max_amq_calling", rec.max_amq_calling).kv("max_amq_called", rec.max_amq_called);
        w.kv("pdu_length", rec.pdu_size).end_object();
    }
    if (rec.item_count > 0 || rec.num_items > 0) {
        w.kv("item_count", rec.item_count);
        if (rec.item_index >= 0) w.kv("item_index", rec.item_index);
        w.begin_array("items");
        for (size_t i = 0; i < rec.num_items; ++i) {
            const S7Item& it = rec.items[i];
            w.begin_object();
            if (it.has_address) {
                w.kv("area", s7_area_name(it.area));
                if (it.area == s7_area::db || it.area == s7_area::di) w.kv("db", it.db);
                w.kv("address", it.byte_address);
                if (it.transport_size == 0x01) w.kv("bit", it.bit);
                w.kv("transport_size", it.transport_size).kv("length", it.length);
            } else if (it.syntax_id != 0) {
                w.kv("syntax_id", it.syntax_id);
            }
            if (it.has_return_code) w.kv("return_code", it.return_code);
            w.end_object();
        }
        w.end_array();
    }
    if (!rec.filename.empty()) {
        w.begin_object("block");
        w.kv_bytes("filename", rec.filename);
        if (rec.has_block) {
            w.kv("type", std::string_view(rec.block_type)).kv("number", rec.block_number);
            w.kv("filesystem", std::string_view(&rec.filesystem, 1));
        }
        w.end_object();
    }
    if (rec.has_upload_id) w.kv("upload_id", rec.upload_id);
    if (!rec.pi_service.empty()) {
        w.kv_bytes("pi_service", rec.pi_service);
        if (rec.function == 0x28) {
            w.kv_bytes("pi_parameter", rec.pi_parameter);
            if (s7_operation_name(rec) == "plc_start") w.kv("restart", rec.cold_restart ? "cold" : "warm");
        }
    }
    if (rec.has_userdata) {
        w.begin_object("userdata");
        w.kv("method", rec.ud_method);
        w.kv("type", rec.ud_type == 0x4 ? "request" : rec.ud_type == 0x8 ? "response" : rec.ud_type == 0x0 ? "push" : "unknown");
        w.kv("group", rec.ud_group).kv("group_name", s7_userdata_group_name(rec.ud_group));
        w.kv("subfunction", rec.ud_subfunction).kv("sequence", rec.ud_sequence);
        if (rec.ud_has_error) w.kv("error_code", rec.ud_error);
        w.end_object();
    }
    w.end_object();
}

}  // namespace sluice
