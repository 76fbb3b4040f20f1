// AppProto: the application protocol of a flow, as Sluice names it in EVE
// (`app_proto`), in rule headers (`alert modbus ...`) and in `app-layer-protocol:`.
// Names follow Suricata's where Suricata has the protocol; the OT protocols it
// lacks (s7comm, iec104, bacnet, profinet) get the names Wireshark uses.
// nDPI's protocol ids are mapped onto this list by detectors/appid.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice {

#define SLUICE_APP_PROTOS(X) \
    X(unknown, "unknown")    \
    X(failed, "failed")      \
    X(http, "http")          \
    X(http2, "http2")        \
    X(tls, "tls")            \
    X(dns, "dns")            \
    X(smb, "smb")            \
    X(dcerpc, "dcerpc")      \
    X(netbios, "netbios")    \
    X(ftp, "ftp")            \
    X(ssh, "ssh")            \
    X(smtp, "smtp")          \
    X(imap, "imap")          \
    X(pop3, "pop3")          \
    X(telnet, "telnet")      \
    X(rdp, "rdp")            \
    X(vnc, "rfb")            \
    X(ntp, "ntp")            \
    X(dhcp, "dhcp")          \
    X(snmp, "snmp")          \
    X(sip, "sip")            \
    X(krb5, "krb5")          \
    X(ldap, "ldap")          \
    X(nfs, "nfs")            \
    X(tftp, "tftp")          \
    X(mqtt, "mqtt")          \
    X(quic, "quic")          \
    X(ike, "ike")            \
    X(icmp, "icmp")          \
    X(modbus, "modbus")      \
    X(dnp3, "dnp3")          \
    X(enip, "enip")          \
    X(s7comm, "s7comm")      \
    X(iec104, "iec104")      \
    X(bacnet, "bacnet")      \
    X(profinet, "profinet")  \
    X(other, "other")

enum class AppProto : uint8_t {
#define SLUICE_X(id, name) id,
    SLUICE_APP_PROTOS(SLUICE_X)
#undef SLUICE_X
        count
};

inline constexpr std::array<std::string_view, static_cast<size_t>(AppProto::count)> kAppProtoNames = {
#define SLUICE_X(id, name) name,
    SLUICE_APP_PROTOS(SLUICE_X)
#undef SLUICE_X
};

constexpr std::string_view to_string(AppProto p) { return kAppProtoNames[static_cast<size_t>(p)]; }

// Accepts Sluice's names plus the usual aliases in rule sets ("smb2", "cip").
constexpr std::optional<AppProto> app_proto_from_name(std::string_view name) {
    for (size_t i = 0; i < kAppProtoNames.size(); ++i)
        if (kAppProtoNames[i] == name) return static_cast<AppProto>(i);
    if (name == "smb2" || name == "smb1") return AppProto::smb;
    if (name == "cip") return AppProto::enip;
    if (name == "vnc") return AppProto::vnc;
    if (name == "iec-104" || name == "iec60870") return AppProto::iec104;
    return std::nullopt;
}

}  // namespace sluice
