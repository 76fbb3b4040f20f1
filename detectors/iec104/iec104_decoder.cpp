#include "detectors/iec104/iec104_decoder.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "dataplane/byte_reader.hpp"

namespace sluice {

namespace {

struct TypeInfo {
    uint8_t id;
    std::string_view name;
    std::string_view function;  // lower-case name
    uint8_t element;            // bytes per information element, without the address
};

// IEC 60870-5-101/104 type identifications with the size of one element.
constexpr TypeInfo kTypes[] = {
    {1, "M_SP_NA_1", "m_sp_na_1", 1},   {2, "M_SP_TA_1", "m_sp_ta_1", 4},   {3, "M_DP_NA_1", "m_dp_na_1", 1},
    {4, "M_DP_TA_1", "m_dp_ta_1", 4},   {5, "M_ST_NA_1", "m_st_na_1", 2},   {6, "M_ST_TA_1", "m_st_ta_1", 5},
    {7, "M_BO_NA_1", "m_bo_na_1", 5},   {8, "M_BO_TA_1", "m_bo_ta_1", 8},   {9, "M_ME_NA_1", "m_me_na_1", 3},
    {10, "M_ME_TA_1", "m_me_ta_1", 6},  {11, "M_ME_NB_1", "m_me_nb_1", 3},  {12, "M_ME_TB_1", "m_me_tb_1", 6},
    {13, "M_ME_NC_1", "m_me_nc_1", 5},  {14, "M_ME_TC_1", "m_me_tc_1", 8},  {15, "M_IT_NA_1", "m_it_na_1", 5},
    {16, "M_IT_TA_1", "m_it_ta_1", 8},  {17, "M_EP_TA_1", "m_ep_ta_1", 6},  {18, "M_EP_TB_1", "m_ep_tb_1", 7},
    {19, "M_EP_TC_1", "m_ep_tc_1", 7},  {20, "M_PS_NA_1", "m_ps_na_1", 5},  {21, "M_ME_ND_1", "m_me_nd_1", 2},
    {30, "M_SP_TB_1", "m_sp_tb_1", 8},  {31, "M_DP_TB_1", "m_dp_tb_1", 8},  {32, "M_ST_TB_1", "m_st_tb_1", 9},
    {33, "M_BO_TB_1", "m_bo_tb_1", 12}, {34, "M_ME_TD_1", "m_me_td_1", 10}, {35, "M_ME_TE_1", "m_me_te_1", 10},
    {36, "M_ME_TF_1", "m_me_tf_1", 12}, {37, "M_IT_TB_1", "m_it_tb_1", 12}, {38, "M_EP_TD_1", "m_ep_td_1", 10},
    {39, "M_EP_TE_1", "m_ep_te_1", 11}, {40, "M_EP_TF_1", "m_ep_tf_1", 11}, {45, "C_SC_NA_1", "c_sc_na_1", 1},
    {46, "C_DC_NA_1", "c_dc_na_1", 1},  {47, "C_RC_NA_1", "c_rc_na_1", 1},  {48, "C_SE_NA_1", "c_se_na_1", 3},
    {49, "C_SE_NB_1", "c_se_nb_1", 3},  {50, "C_SE_NC_1", "c_se_nc_1", 5},  {51, "C_BO_NA_1", "c_bo_na_1", 4},
    {58, "C_SC_TA_1", "c_sc_ta_1", 8},  {59, "C_DC_TA_1", "c_dc_ta_1", 8},  {60, "C_RC_TA_1", "c_rc_ta_1", 8},
    {61, "C_SE_TA_1", "c_se_ta_1", 10}, {62, "C_SE_TB_1", "c_se_tb_1", 10}, {63, "C_SE_TC_1", "c_se_tc_1", 12},
    {64, "C_BO_TA_1", "c_bo_ta_1", 11}, {70, "M_EI_NA_1", "m_ei_na_1", 1},  {100, "C_IC_NA_1", "c_ic_na_1", 1},
    {101, "C_CI_NA_1", "c_ci_na_1", 1}, {102, "C_RD_NA_1", "c_rd_na_1", 0}, {103, "C_CS_NA_1", "c_cs_na_1", 7},
    {104, "C_TS_NA_1", "c_ts_na_1", 2}, {105, "C_RP_NA_1", "c_rp_na_1", 1}, {106, "C_CD_NA_1", "c_cd_na_1", 2},
    {107, "C_TS_TA_1", "c_ts_ta_1", 9}, {110, "P_ME_NA_1", "p_me_na_1", 3}, {111, "P_ME_NB_1", "p_me_nb_1", 3},
    {112, "P_ME_NC_1", "p_me_nc_1", 5}, {113, "P_AC_NA_1", "p_ac_na_1", 1}, {120, "F_FR_NA_1", "f_fr_na_1", 6},
    {121, "F_SR_NA_1", "f_sr_na_1", 7}, {122, "F_SC_NA_1", "f_sc_na_1", 4}, {123, "F_LS_NA_1", "f_ls_na_1", 5},
    {124, "F_AF_NA_1", "f_af_na_1", 4}, {125, "F_SG_NA_1", "f_sg_na_1", 4}, {126, "F_DR_TA_1", "f_dr_ta_1", 13},
    {127, "F_SC_NB_1", "f_sc_nb_1", 16},
};

const TypeInfo* type_info(uint8_t id) {
    for (const auto& t : kTypes)
        if (t.id == id) return &t;
    return nullptr;
}

uint32_t le24(const uint8_t* p) { return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16); }

}  // namespace

std::string_view iec104_type_name(uint8_t type_id) {
    const TypeInfo* t = type_info(type_id);
    return t != nullptr ? t->name : std::string_view{};
}

size_t iec104_element_size(uint8_t type_id) {
    const TypeInfo* t = type_info(type_id);
    return t != nullptr ? t->element : 0;
}

std::string_view iec104_function_name(const Iec104Record& rec) {
    if (rec.format == 'U') {
        switch (rec.u_function) {
            case iec104_u::startdt_act: return "startdt_act";
            case iec104_u::startdt_con: return "startdt_con";
            case iec104_u::stopdt_act: return "stopdt_act";
            case iec104_u::stopdt_con: return "stopdt_con";
            case iec104_u::testfr_act: return "testfr_act";
            case iec104_u::testfr_con: return "testfr_con";
            default: return "invalid_u_function";
        }
    }
    if (!rec.has_asdu) return "invalid_asdu";
    const TypeInfo* t = type_info(rec.type_id);
    return t != nullptr ? t->function : "unknown_type";
}

std::string_view iec104_cause_name(uint8_t cause) {
    switch (cause) {
        case 1: return "per_cyc";
        case 2: return "back";
        case 3: return "spont";
        case 4: return "init";
        case 5: return "req";
        case 6: return "act";
        case 7: return "actcon";
        case 8: return "deact";
        case 9: return "deactcon";
        case 10: return "actterm";
        case 11: return "retrem";
        case 12: return "retloc";
        case 13: return "file";
        case 20: return "inrogen";
        case 37: return "reqcogen";
        case 44: return "unknown_type";
        case 45: return "unknown_cause";
        case 46: return "unknown_asdu_address";
        case 47: return "unknown_object_address";
        default:
            if (cause >= 21 && cause <= 36) return "inro";
            if (cause >= 38 && cause <= 41) return "reqco";
            return "unknown";
    }
}

OtAccess iec104_ot_access(uint8_t t) {
    if (t >= 1 && t <= 44) return OtAccess::read;  // monitor direction: process information
    if ((t >= 45 && t <= 47) || (t >= 58 && t <= 60) || t == 105) return OtAccess::control;
    if ((t >= 48 && t <= 51) || (t >= 61 && t <= 64) || t == 103 || (t >= 110 && t <= 113)) return OtAccess::write;
    if (t >= 100 && t <= 102) return OtAccess::read;
    if (t == 104 || t == 106 || t == 107) return OtAccess::diagnostic;
    if (t >= 120 && t <= 127) return OtAccess::program;
    return OtAccess::other;
}

size_t Iec104Decoder::apdu_length(const uint8_t* h, bool strict, Iec104Counter* why) {
    if (h[0] != 0x68) {
        *why = Iec104Counter::bad_start;
        return 0;
    }
    const uint8_t len = h[1];
    if (len < 4 || len > 253) {
        *why = Iec104Counter::bad_length;
        return 0;
    }
    if (strict) {
        // After an error, a gap or at the start of a flow: only a clean APCI counts.
        const uint8_t cf1 = h[2];
        bool ok = false;
        if ((cf1 & 0x01) == 0) ok = len >= 10;
        else if ((cf1 & 0x03) == 0x01) ok = len == 4 && cf1 == 0x01 && h[3] == 0;
        else ok = len == 4 && std::popcount(static_cast<unsigned>(cf1 & 0xfc)) == 1 && h[3] == 0 && h[4] == 0 && h[5] == 0;
        if (!ok) {
            *why = Iec104Counter::bad_control;
            return 0;
        }
    }
    return size_t{len} + 2;
}

bool Iec104Decoder::accept_first(bool valid) {
    if (verdict_ != Verdict::probing) return verdict_ == Verdict::iec104;
    if (valid) {
        verdict_ = Verdict::iec104;
        return true;
    }
    verdict_ = Verdict::not_iec104;
    ctx_->counters.inc(Iec104Counter::not_iec104_flows);
    return false;
}

void Iec104Decoder::on_data(Direction dir, std::span<const uint8_t> data, AppRecordSink& sink) {
    Framer& f = framer_[index(dir)];
    auto& counters = ctx_->counters;
    while (!data.empty() && verdict_ != Verdict::not_iec104) {
        if (f.skip_left > 0) {
            const size_t n = std::min<size_t>(f.skip_left, data.size());
            f.skip_left = static_cast<uint16_t>(f.skip_left - n);
            data = data.subspan(n);
            continue;
        }
        const bool strict = f.resync || verdict_ == Verdict::probing;
        Iec104Counter why = Iec104Counter::bad_start;
        if (f.have == 0 && data.size() >= kProbe) {
            const size_t len = apdu_length(data.data(), strict, &why);
            if (len != 0 && data.size() >= len) {
                accept_first(true);
                f.resync = false;
                decode_apdu(dir, data.first(len), sink);
                data = data.subspan(len);
                continue;
            }
        }
        if (f.have == 0 && data[0] != 0x68 && verdict_ == Verdict::iec104) {
            const auto* p = static_cast<const uint8_t*>(std::memchr(data.data(), 0x68, data.size()));
            const size_t skip = p == nullptr ? data.size() : static_cast<size_t>(p - data.data());
            if (!f.resync) counters.inc(Iec104Counter::bad_start);
            f.resync = true;
            counters.inc(Iec104Counter::resync_bytes, skip);
            data = data.subspan(skip);
            continue;
        }
        if (f.need == 0) {
            const size_t n = std::min(kProbe - f.have, data.size());
            std::memcpy(f.buf.data() + f.have, data.data(), n);
            f.have = static_cast<uint16_t>(f.have + n);
            data = data.subspan(n);
            if (f.have < kProbe) continue;
            const size_t len = apdu_length(f.buf.data(), strict, &why);
            if (!accept_first(len != 0)) return;
            if (len == 0) {
                if (!f.resync) counters.inc(why);
                f.resync = true;
                size_t drop = 1;
                while (drop < f.have && f.buf[drop] != 0x68) ++drop;
                std::memmove(f.buf.data(), f.buf.data() + drop, f.have - drop);
                f.have = static_cast<uint16_t>(f.have - drop);
                counters.inc(Iec104Counter::resync_bytes, drop);
                continue;
            }
            f.resync = false;
            f.need = static_cast<uint16_t>(len);
        }
        const size_t n = std::min<size_t>(f.need - f.have, data.size());
        std::memcpy(f.buf.data() + f.have, data.data(), n);
        f.have = static_cast<uint16_t>(f.have + n);
        data = data.subspan(n);
        if (f.have == f.need) {
            decode_apdu(dir, std::span<const uint8_t>(f.buf.data(), f.need), sink);
            f.have = 0;
            f.need = 0;
        }
    }
}

void Iec104Decoder::on_gap(Direction dir, uint64_t len) {
    Framer& f = framer_[index(dir)];
    f.seq_known = false;  // APDUs were lost: their numbers too
    if (f.have > 0) ctx_->counters.inc(Iec104Counter::gap_dropped_apdu);
    if (f.skip_left > 0) {
        if (len < f.skip_left) {
            f.skip_left = static_cast<uint16_t>(f.skip_left - len);
            return;
        }
        f.skip_left = 0;
    } else if (f.need > 0 && len < uint64_t{f.need} - f.have) {
        f.skip_left = static_cast<uint16_t>(f.need - f.have - len);
        f.have = f.need = 0;
        return;
    }
    f.have = f.need = 0;
    f.resync = true;
}

void Iec104Decoder::decode_apdu(Direction dir, std::span<const uint8_t> apdu, AppRecordSink& sink) {
    auto& counters = ctx_->counters;
    Framer& f = framer_[index(dir)];
    Iec104Record rec;
    rec.length = apdu[1];
    const uint8_t cf1 = apdu[2], cf2 = apdu[3], cf3 = apdu[4], cf4 = apdu[5];
    if ((cf1 & 0x03) == 0x01) {  // S format: acknowledgement only
        counters.inc(Iec104Counter::s_frames);
        if (rec.length != 4) counters.inc(Iec104Counter::bad_control);
        return;
    }
    if ((cf1 & 0x03) == 0x03) {  // U format
        counters.inc(Iec104Counter::u_frames);
        rec.format = 'U';
        rec.u_function = cf1 & 0xfc;
        if (rec.length != 4 || std::popcount(static_cast<unsigned>(rec.u_function)) != 1) {
            counters.inc(Iec104Counter::bad_control);
            rec.u_function = 0;
        }
        if (rec.u_function == iec104_u::startdt_act || rec.u_function == iec104_u::startdt_con) f.seq_known = false;
    } else {
        counters.inc(Iec104Counter::i_frames);
        rec.format = 'I';
        rec.send_seq = static_cast<uint16_t>((cf1 >> 1) | (cf2 << 7));
        rec.recv_seq = static_cast<uint16_t>((cf3 >> 1) | (cf4 << 7));
        if (f.seq_known && rec.send_seq != f.next_send) counters.inc(Iec104Counter::sequence_error);
        f.seq_known = true;
        f.next_send = static_cast<uint16_t>((rec.send_seq + 1) & 0x7fff);
        const auto asdu = apdu.subspan(6);
        rec.asdu = asdu;
        if (asdu.size() < 6) {
            counters.inc(Iec104Counter::asdu_too_short);
        } else {
            rec.has_asdu = true;
            rec.type_id = asdu[0];
            rec.sq = (asdu[1] & 0x80) != 0;
            rec.num_objects = asdu[1] & 0x7f;
            rec.cause = asdu[2] & 0x3f;
            rec.negative = (asdu[2] & 0x40) != 0;
            rec.test = (asdu[2] & 0x80) != 0;
            rec.originator = asdu[3];
            rec.common_address = static_cast<uint16_t>(asdu[4] | (asdu[5] << 8));
            auto note = [&rec](uint32_t ioa) {
                if (rec.num_ioas < Iec104Record::kMaxIoas) rec.ioas[rec.num_ioas++] = ioa;
                if (!rec.has_ioa) {
                    rec.has_ioa = true;
                    rec.ioa_first = rec.ioa_last = ioa;
                } else {
                    rec.ioa_first = std::min(rec.ioa_first, ioa);
                    rec.ioa_last = std::max(rec.ioa_last, ioa);
                }
            };
            ByteReader r(asdu.subspan(6));
            const TypeInfo* t = type_info(rec.type_id);
            if (rec.num_objects == 0) counters.inc(Iec104Counter::zero_objects);
            if (t == nullptr) {
                counters.inc(Iec104Counter::unknown_type_id);
                if (r.has(3)) note(le24(r.bytes(3).data()));
            } else {
                // F_SG_NA_1 elements carry their own segment length (4th octet).
                auto element = [&]() {
                    if (rec.type_id != 125) {
                        r.skip(t->element);
                        return;
                    }
                    const auto head = r.bytes(4);
                    if (!r.failed()) r.skip(head[3]);
                };
                if (rec.sq && rec.num_objects > 0) {
                    const auto a = r.bytes(3);
                    if (!r.failed()) {
                        const uint32_t first = le24(a.data());
                        note(first);
                        for (uint32_t i = 1; i < rec.num_objects && i < Iec104Record::kMaxIoas; ++i) note(first + i);
                        rec.ioa_last = std::max(rec.ioa_last, first + rec.num_objects - 1);
                    }
                    for (uint32_t i = 0; i < rec.num_objects && !r.failed(); ++i) element();
                } else {
                    for (uint32_t i = 0; i < rec.num_objects && !r.failed(); ++i) {
                        const auto a = r.bytes(3);
                        if (r.failed()) break;
                        note(le24(a.data()));
                        element();
                    }
                }
                rec.objects_ok = !r.failed() && r.remaining() == 0 && rec.num_objects > 0;
                if (!rec.objects_ok && rec.num_objects > 0) counters.inc(Iec104Counter::asdu_length_mismatch);
            }
        }
    }

    AppRecord out;
    out.proto = AppProto::iec104;
    out.dir = dir;
    out.op.function = iec104_function_name(rec);
    out.op.function_code = rec.format == 'U' ? rec.u_function : rec.type_id;
    out.op.access = rec.format == 'U' ? (rec.u_function == iec104_u::testfr_act || rec.u_function == iec104_u::testfr_con
                                             ? OtAccess::diagnostic
                                             : OtAccess::other)
                                      : rec.has_asdu ? iec104_ot_access(rec.type_id) : OtAccess::other;
    // The controlling station (the connection's client) sends commands.
    out.op.is_request = dir == Direction::to_server;
    out.op.is_exception = rec.has_asdu && rec.is_exception();
    out.op.has_unit = rec.has_asdu;
    out.op.unit = rec.common_address;
    out.op.has_address = rec.has_ioa;
    out.op.address_first = rec.ioa_first;
    out.op.address_last = rec.ioa_last;
    out.data = &rec;
    out.write_eve = &iec104_write_eve;
    sink.on_record(out);
}

}  // namespace sluice
