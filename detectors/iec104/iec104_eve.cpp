// EVE rendering of IEC-104 records (Sluice's shape, documented in
// docs/ot-protocols.md): "iec104": {"apci": {...}, "asdu": {...}}.
#include "dataplane/json_writer.hpp"
#include "detectors/iec104/iec104_decoder.hpp"

namespace sluice {

void iec104_write_eve(JsonWriter& w, const void* record) {
    const auto& rec = *static_cast<const Iec104Record*>(record);
    w.begin_object("iec104");
    w.begin_object("apci");
    w.kv("format", rec.format == 'U' ? "U" : "I");
    w.kv("length", rec.length);
    if (rec.format == 'U') {
        w.kv("function", iec104_function_name(rec));
    } else {
        w.kv("send_seq", rec.send_seq);
        w.kv("recv_seq", rec.recv_seq);
    }
    w.end_object();
    if (rec.has_asdu) {
        w.begin_object("asdu");
        w.kv("type_id", rec.type_id);
        const auto name = iec104_type_name(rec.type_id);
        w.kv("type", name.empty() ? std::string_view("unknown") : name);
        w.kv("sq", rec.sq);
        w.kv("num_objects", rec.num_objects);
        w.kv("cause", rec.cause);
        w.kv("cause_name", iec104_cause_name(rec.cause));
        w.kv("negative", rec.negative);
        w.kv("test", rec.test);
        w.kv("originator", rec.originator);
        w.kv("common_address", rec.common_address);
        if (rec.has_ioa) {
            w.begin_array("ioa");
            for (size_t i = 0; i < rec.num_ioas; ++i) w.value(uint64_t{rec.ioas[i]});
            w.end_array();
            w.kv("ioa_first", rec.ioa_first);
            w.kv("ioa_last", rec.ioa_last);
        }
        w.kv("complete", rec.objects_ok);
        w.end_object();
    }
    w.end_object();
}

}  // namespace sluice
