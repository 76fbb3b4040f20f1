// EVE rendering of DNP3 records with Suricata's field names:
// "dnp3": {"type", "control", "src", "dst", "application": {...}, "iin": {...}}.
#include "dataplane/json_writer.hpp"
#include "detectors/dnp3/dnp3_decoder.hpp"

namespace sluice {

void dnp3_write_eve(JsonWriter& w, const void* record) {
    const auto& rec = *static_cast<const Dnp3Record*>(record);
    w.begin_object("dnp3");
    w.kv("type", rec.type());
    w.begin_object("control");
    w.kv("dir", (rec.link_control & 0x80) != 0);
    w.kv("pri", (rec.link_control & 0x40) != 0);
    w.kv("fcb", (rec.link_control & 0x20) != 0);
    w.kv("fcv", (rec.link_control & 0x10) != 0);
    w.kv("function_code", static_cast<uint8_t>(rec.link_control & 0x0f));
    w.end_object();
    w.kv("src", rec.src);
    w.kv("dst", rec.dst);
    w.begin_object("application");
    w.begin_object("control");
    w.kv("fir", (rec.app_control & 0x80) != 0);
    w.kv("fin", (rec.app_control & 0x40) != 0);
    w.kv("con", (rec.app_control & 0x20) != 0);
    w.kv("uns", (rec.app_control & 0x10) != 0);
    w.kv("sequence", static_cast<uint8_t>(rec.app_control & 0x0f));
    w.end_object();
    w.kv("function_code", rec.function);
    w.kv("function", dnp3_function_name(rec.function));
    if (rec.num_objects > 0) {
        w.begin_array("objects");
        for (size_t i = 0; i < rec.num_objects; ++i) {
            const Dnp3Object& o = rec.objects[i];
            w.begin_object();
            w.kv("group", o.group).kv("variation", o.variation).kv("qualifier", o.qualifier);
            w.kv("prefix_code", o.prefix_code).kv("range_code", o.range_code);
            w.kv("start", o.start).kv("stop", o.stop).kv("count", o.count);
            w.end_object();
        }
        w.end_array();
    }
    w.kv("complete", rec.complete);
    w.end_object();
    if (rec.has_iin) {
        w.begin_object("iin");
        w.begin_array("indicators");
        for (uint16_t bit = 0x8000; bit != 0; bit = static_cast<uint16_t>(bit >> 1))
            if ((rec.iin & bit) != 0) w.value(dnp3_iin_name(bit));
        w.end_array();
        w.end_object();
    }
    w.end_object();
}

}  // namespace sluice
