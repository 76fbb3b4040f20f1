#include "detectors/appid/appid_map.hpp"

extern "C" {
#include <ndpi_api.h>
}

namespace sluice {

AppProto app_proto_of_ndpi_id(uint16_t id) {
    switch (id) {
        case NDPI_PROTOCOL_HTTP:
        case NDPI_PROTOCOL_HTTP_CONNECT:
        case NDPI_PROTOCOL_HTTP_PROXY: return AppProto::http;
        // nDPI names TLS on the mail ports after the mail protocol; Suricata calls it tls.
        case NDPI_PROTOCOL_TLS:
        case NDPI_PROTOCOL_MAIL_IMAPS:
        case NDPI_PROTOCOL_MAIL_POPS:
        case NDPI_PROTOCOL_MAIL_SMTPS: return AppProto::tls;
        case NDPI_PROTOCOL_DNS: return AppProto::dns;
        case NDPI_PROTOCOL_SMBV1:
        case NDPI_PROTOCOL_SMBV23: return AppProto::smb;
        case NDPI_PROTOCOL_DCERPC: return AppProto::dcerpc;
        case NDPI_PROTOCOL_NETBIOS: return AppProto::netbios;
        case NDPI_PROTOCOL_FTP_CONTROL: return AppProto::ftp;
        case NDPI_PROTOCOL_SSH: return AppProto::ssh;
        case NDPI_PROTOCOL_MAIL_SMTP: return AppProto::smtp;
        case NDPI_PROTOCOL_MAIL_IMAP: return AppProto::imap;
        case NDPI_PROTOCOL_MAIL_POP: return AppProto::pop3;
        case NDPI_PROTOCOL_TELNET: return AppProto::telnet;
        case NDPI_PROTOCOL_RDP: return AppProto::rdp;
        case NDPI_PROTOCOL_VNC: return AppProto::vnc;
        case NDPI_PROTOCOL_NTP: return AppProto::ntp;
        case NDPI_PROTOCOL_DHCP: return AppProto::dhcp;
        case NDPI_PROTOCOL_SNMP: return AppProto::snmp;
        case NDPI_PROTOCOL_SIP: return AppProto::sip;
        case NDPI_PROTOCOL_KERBEROS: return AppProto::krb5;
        case NDPI_PROTOCOL_LDAP: return AppProto::ldap;
        case NDPI_PROTOCOL_NFS: return AppProto::nfs;
        case NDPI_PROTOCOL_TFTP: return AppProto::tftp;
        case NDPI_PROTOCOL_MQTT: return AppProto::mqtt;
        case NDPI_PROTOCOL_QUIC: return AppProto::quic;
        case NDPI_PROTOCOL_IP_ICMP:
        case NDPI_PROTOCOL_IP_ICMPV6: return AppProto::icmp;
        case NDPI_PROTOCOL_MODBUS: return AppProto::modbus;
        case NDPI_PROTOCOL_DNP3: return AppProto::dnp3;
        case NDPI_PROTOCOL_ETHERNET_IP: return AppProto::enip;
        case NDPI_PROTOCOL_S7COMM: return AppProto::s7comm;
        case NDPI_PROTOCOL_IEC60870: return AppProto::iec104;
        default: return AppProto::unknown;
    }
}

AppProto app_proto_of_ndpi(uint16_t master, uint16_t app) {
    const AppProto a = app_proto_of_ndpi_id(app);
    if (a != AppProto::unknown) return a;
    const AppProto m = app_proto_of_ndpi_id(master);
    if (m != AppProto::unknown) return m;
    return (master != NDPI_PROTOCOL_UNKNOWN || app != NDPI_PROTOCOL_UNKNOWN) ? AppProto::other : AppProto::unknown;
}

}  // namespace sluice
