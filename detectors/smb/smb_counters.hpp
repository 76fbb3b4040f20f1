// Counters of SMB decoding (habit 5): SmbCounter for what was seen, SmbAnomaly
// for malformed or hostile input counted by reason. Both live in the worker's
// SmbWorkerContext (one writer: the worker) and are exported as labelled metrics
// by the names below (stable, snake_case).
// Thread rules: written only by the owning worker; read by the management thread.
#pragma once

#include <cstddef>
#include <string_view>

namespace sluice {

#define SLUICE_SMB_COUNTERS(X)                                                          \
    X(flows, "flows")                               /* decoders created */              \
    X(bytes, "bytes")                               /* stream bytes fed */              \
    X(nbss_messages, "nbss_messages")               /* NetBIOS session messages */      \
    X(nbss_session_control, "nbss_session_control") /* session request/response */      \
    X(nbss_keepalives, "nbss_keepalives")                                               \
    X(pdus_smb1, "pdus_smb1")                                                           \
    X(pdus_smb2, "pdus_smb2")                                                           \
    X(pdus_encrypted, "pdus_encrypted")             /* SMB3 transform header 0xFD */    \
    X(pdus_compressed, "pdus_compressed")           /* SMB3 compression header 0xFC */  \
    X(commands_smb1, "commands_smb1")               /* incl. AndX-chained ones */       \
    X(commands_smb2, "commands_smb2")               /* incl. compounded ones */         \
    X(async_interim, "async_interim")               /* STATUS_PENDING interim responses */ \
    X(pdus_streamed, "pdus_streamed")               /* file data fed without buffering */ \
    X(pdus_skipped, "pdus_skipped")                 /* over a cap, skipped by length */ \
    X(trans2_requests, "trans2_requests")                                               \
    X(trans2_file_data, "trans2_file_data")         /* TRANS2 carrying file data/info */ \
    X(pipe_data_bytes, "pipe_data_bytes")           /* named-pipe (IPC$) data, not carved */ \
    X(files_opened, "files_opened")                 /* file transfers started */        \
    X(files_complete, "files_complete")                                                 \
    X(files_truncated, "files_truncated")                                               \
    X(file_bytes, "file_bytes")                     /* file data bytes seen (reads + writes) */ \
    X(encrypted_sessions, "encrypted_sessions")                                         \
    X(signed_sessions, "signed_sessions")                                               \
    X(gaps, "gaps")                                 /* stream gaps seen */              \
    X(resyncs, "resyncs")                           /* NetBIOS framing found again */   \
    X(transactions, "transactions")                 /* responses reported to the sink */

enum class SmbCounter : unsigned {
#define SLUICE_X(id, name) id,
    SLUICE_SMB_COUNTERS(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(SmbCounter c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_SMB_COUNTERS(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

#define SLUICE_SMB_ANOMALIES(X)                                                    \
    X(nbss_bad_type, "nbss_bad_type")                                              \
    X(nbss_bad_length, "nbss_bad_length")                                          \
    X(pdu_too_large, "pdu_too_large")               /* over smb.max_pdu_size */    \
    X(pdu_buffer_full, "pdu_buffer_full")           /* over smb.pdu_buffer_size */ \
    X(pdu_lost_in_gap, "pdu_lost_in_gap")                                          \
    X(bad_protocol_id, "bad_protocol_id")                                          \
    X(truncated_header, "truncated_header")                                        \
    X(smb1_bad_word_count, "smb1_bad_word_count")                                  \
    X(smb1_bad_byte_count, "smb1_bad_byte_count")                                  \
    X(andx_loop, "andx_loop")                       /* offset not advancing */     \
    X(andx_chain_too_long, "andx_chain_too_long")                                  \
    X(andx_bad_offset, "andx_bad_offset")                                          \
    X(smb2_bad_structure_size, "smb2_bad_structure_size")                          \
    X(smb2_bad_next_command, "smb2_bad_next_command")                              \
    X(smb2_compound_too_long, "smb2_compound_too_long")                            \
    X(bad_data_offset, "bad_data_offset")           /* data outside the message */ \
    X(bad_name, "bad_name")                         /* name outside the message */ \
    X(name_too_long, "name_too_long")                                              \
    X(response_without_request, "response_without_request")                        \
    X(pending_table_full, "pending_table_full")                                    \
    X(file_table_full, "file_table_full")                                          \
    X(tree_table_full, "tree_table_full")                                          \
    X(session_table_full, "session_table_full")                                    \
    X(unknown_file_id, "unknown_file_id")           /* data for a file never opened */ \
    X(data_after_finish, "data_after_finish")       /* data for a file already finished */ \
    X(offset_overflow, "offset_overflow")                                          \
    X(bad_transform, "bad_transform")                                              \
    X(wrong_direction, "wrong_direction")           /* request to the client or response to the server */ \
    X(internal_error, "internal_error")             /* allocation failure: flow's SMB state dropped */

enum class SmbAnomaly : unsigned {
#define SLUICE_X(id, name) id,
    SLUICE_SMB_ANOMALIES(SLUICE_X)
#undef SLUICE_X
        count
};

constexpr std::string_view counter_name(SmbAnomaly c) {
    constexpr std::string_view names[] = {
#define SLUICE_X(id, name) name,
        SLUICE_SMB_ANOMALIES(SLUICE_X)
#undef SLUICE_X
    };
    return names[static_cast<size_t>(c)];
}

}  // namespace sluice
