// The parsers on real captures, read with tests/support/pcap_streams.hpp and
// dispatched by AppLayerFlow (protocol found by probe_app_proto, any port):
//  - nDPI 4.2's regression captures, compared with tshark 4.0's view of the
//    same files (HTTP Host and URI per request, TLS SNI and JA3 per ClientHello,
//    DNS query name and type per query);
//  - Suricata's verification cases, compared with the EVE values and rule
//    matches their test.yaml expects.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "detectors/applayer/app_flow.hpp"
#include "tests/detectors/applayer/applayer_test_support.hpp"
#include "tests/support/pcap_streams.hpp"

namespace sluice {
namespace {

using test::RecordingSink;
using test::TxCopy;

// Every flow of a capture through AppLayerFlow.
struct CaptureRun {
    AppLayerConfig cfg;
    AppLayerContext ctx{cfg};
    RecordingSink sink;
    std::map<size_t, std::unique_ptr<AppLayerFlow>> tcp;
    std::map<size_t, std::array<uint64_t, 2>> offsets;
    std::map<std::tuple<IpAddr, IpAddr, uint16_t, uint16_t>, std::unique_ptr<AppLayerFlow>> udp;

    bool run(const std::string& path) {
        test::CaptureStreams h;
        h.on_tcp = [&](size_t conn, const test::Endpoints&, Direction d, std::span<const uint8_t> data) {
            auto& f = tcp[conn];
            if (!f) f = std::make_unique<AppLayerFlow>(ctx, sink, 6);
            auto& off = offsets[conn];
            f->on_data(d, off[index(d)], data);
            off[index(d)] += data.size();
        };
        h.on_tcp_end = [&](size_t conn, const test::Endpoints&) {
            if (auto it = tcp.find(conn); it != tcp.end()) it->second->on_end();
        };
        h.on_udp = [&](const test::Endpoints& ep, Direction d, std::span<const uint8_t> data) {
            auto& f = udp[{ep.client, ep.server, ep.client_port, ep.server_port}];
            if (!f) f = std::make_unique<AppLayerFlow>(ctx, sink, 17);
            f->on_datagram(d, data);
        };
        std::string err;
        const bool ok = test::read_capture(path, h, &err);
        EXPECT_TRUE(ok) << path << ": " << err;
        return ok;
    }
    std::vector<TxCopy> txs(AppProto p, Direction d) const {
        std::vector<TxCopy> out;
        for (const auto& t : sink.txs)
            if (t.proto == p && t.dir == d && t.stage != AppTxStage::body) out.push_back(t);
        return out;
    }
};

struct CaptureTruth {
    const char* file;
    size_t count;
    uint64_t fnv;                     // of the sorted rows joined by '\n', when not listed
    std::vector<const char*> rows;    // sorted
};

uint64_t fnv1a(const std::vector<std::string>& rows) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < rows.size(); ++i) {
        if (i) h = (h ^ '\n') * 0x100000001b3ull;
        for (unsigned char c : rows[i]) h = (h ^ c) * 0x100000001b3ull;
    }
    return h;
}

std::string corpus_or_skip() {
    const std::string dir = test::corpus_dir();
    return dir;
}

#define SKIP_WITHOUT_CORPUS(dir)                                                        \
    const std::string dir = corpus_or_skip();                                          \
    if (dir.empty()) GTEST_SKIP() << "SLUICE_CORPUS not set or missing: corpus tests skipped"

void expect_rows(const CaptureTruth& t, std::vector<std::string> got) {
    std::sort(got.begin(), got.end());
    std::string listing;
    for (const auto& g : got) listing += "  " + g + "\n";
    ASSERT_EQ(got.size(), t.count) << t.file << " gave:\n" << listing;
    if (t.rows.empty()) {
        EXPECT_EQ(fnv1a(got), t.fnv) << t.file << " gave:\n" << listing;
    } else {
        for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], t.rows[i]) << t.file;
    }
}

// Generated with tshark 4.0.17 on ../shared/corpus/ndpi-4.2/pcap:
//   HTTP: tshark -r F -Y 'tcp && http.request' -T fields -e http.host -e http.request.uri
//   TLS:  tshark -r F -Y 'tcp && tls.handshake.type==1' -T fields
//           -e tls.handshake.extensions_server_name -e tls.handshake.ja3
//   DNS:  tshark -r F -Y 'udp && dns.flags.response==0' -T fields -e dns.qry.name -e dns.qry.type
// (rows "a|b", sorted; DNS types by name). One deliberate difference: in
// http-manipulated.pcap tshark reads "GET <17 spaces>/aaa..._very_long_uri" as an
// empty URI; Sluice, like libhtp, skips the run of spaces.
const CaptureTruth kHttpTruth[] = {
    {"http-lines-split.pcap", 1, 0, {"toni.lan:31337|/"}},
    {"http-manipulated.pcap", 4, 0, {"www.lan:8080|/aaaaaaaaaaaaaaaaaaaaaaaa_very_long_uri", "www.lan:8080|/favicon.ico", "www.lan:8080|/rick.gif", "wwww.lan:8080|/"}},
    {"WebattackSQLinj.pcap", 9, 0, {"205.174.165.68|/dv/vulnerabilities/sqli/?id=1%27&Submit=Submit", "205.174.165.68|/dv/vulnerabilities/sqli/?id=1%27&Submit=Submit", "205.174.165.68|/dv/vulnerabilities/sqli/?id=1%27+and+1%3D1%23&Submit=Submit", "205.174.165.68|/dv/vulnerabilities/sqli/?id=1%27+and+1%3D1%23&Submit=Submit", "205.174.165.68|/dv/vulnerabilities/sqli/?id=1%27+and+1%3D1+union+select+database%28%29%2C+user%28%29%23&Submit=Submit", "205.174.165.68|/dv/vulnerabilities/sqli/?id=1%27+and+1%3D1+union+select+database%28%29%2C+user%28%29%23&Submit=Submit", "205.174.165.68|/dv/vulnerabilities/sqli/?id=1%27+and+1%3D1+union+select+null%2C+table_name+from+information_schema.tables%23&Submit=Submit", "205.174.165.68|/dv/vulnerabilities/sqli/?id=1%27+and+1%3D1+union+select+null%2C+table_name+from+information_schema.tables%23&Submit=Submit", "205.174.165.68|/dv/vulnerabilities/sqli/?id=1%27+and+1%3D1+union+select+user%2C+password+from+users%23&Submit=Submit"}},
    {"exe_download.pcap", 1, 0, {"144.91.69.195|/solar.php"}},
    {"aimini-http.pcap", 6, 0, {"www.aimini.com|/webcounter/w.php?___hm=.net_Search_&_lh_=http://www.aimini.net/search/?q=pictures&sca=&__Refer_=http://www.aimini.net/", "www.aimini.com|/webcounter/w.php?___hm=.net_SignUp_&_lh_=http://www.aimini.net/member/signup/&__Refer_=http://www.aimini.net/", "www.aimini.com|/webcounter/w.php?___hm=.net_SignUp_Result_&_lh_=http://www.aimini.net/member/signup/result/&__Refer_=http://www.aimini.net/member/signup/", "www.aimini.net|/member/signup/", "www.aimini.net|/member/signup/result/", "www.aimini.net|/search/?q=pictures&sca="}},
    {"http_auth.pcap", 1, 0, {"browserspy.dk|/password-ok.php"}},
    {"1kxun.pcap", 24, 0, {"183.131.48.144|/vlive.qqvideo.tc.qq.com/u0020mkrnds.p1203.1.mp4?vkey=7AB139BF6B32F53747E8FF192E6FE557B3A3D644C034E34BF6EAEB4E0774F2A92EF3AC5C007520BB925E5C8A18E6D302C2DAE0A295B26AA8FD1DC8069D47CE1B4A16A56870BD1ACA3E86ABE4C079659DB2182FC71217AB68CCD344CE65694457E3F53549CD617D5C9F671A26C70DC68F93F1D7BCD017762F&guid=F5EB01CC01A8E08CD83630828DE17C2B02162FD8&locid=a06f98fd-fa26-44e5-acc5-0d83f9df03af&size=9418655&ocid=253564332", "183.131.48.145|/vlive.qqvideo.tc.qq.com/u0020mkrnds.p1203.1.mp4?vkey=7AB139BF6B32F53747E8FF192E6FE557B3A3D644C034E34BF6EAEB4E0774F2A92EF3AC5C007520BB925E5C8A18E6D302C2DAE0A295B26AA8FD1DC8069D47CE1B4A16A56870BD1ACA3E86ABE4C079659DB2182FC71217AB68CCD344CE65694457E3F53549CD617D5C9F671A26C70DC68F93F1D7BCD017762F&guid=F5EB01CC01A8E08CD83630828DE17C2B02162FD8", "218.244.135.170:9099|/api/qqlive_ckey/get?vid=y0013xaeeyo&platform=10902", "42.120.51.152:8080|/api/proxy?url=http%3A%2F%2Fvv.video.qq.com%2Fgetvinfo", "42.120.51.152:8080|/api/proxy?url=http%3A%2F%2Fvv.video.qq.com%2Fgetvkey", "api.magicansoft.com|/comMagicanApi/composite/app.php/Global/Index/ip", "api.magicansoft.com|/comMagicanApi/index.php/ToolBox/version", "dl-obs.official.line.naver.jp|/r/talk/m/4697716954688/preview", "dl-obs.official.line.naver.jp|/r/talk/m/4697716971500/preview", "jp.kankan.1kxun.mobi|/api/movies/mp4script/10410?definition=true", "jp.kankan.1kxun.mobi|/api/videos/10410.json", "jp.kankan.1kxun.mobi|/api/videos/10410.json?callback=jQuery18306855657112319022_1470103242123&_=1470104377698", "kankan.1kxun.com|/api/videos/alsolikes/10410.json?callback=jQuery18306855657112319022_1470103242123&_=1470104377899", "pic.1kxun.com|/video_kankan/images/videos/10663-jtwj.jpg", "pic.1kxun.com|/video_kankan/images/videos/13480-alps.jpg", "pic.1kxun.com|/video_kankan/images/videos/16649-ljdz.jpg", "pic.1kxun.com|/video_kankan/images/videos/18132-wptg.jpg", "pic.1kxun.com|/video_kankan/images/videos/18283-jfyj3.jpg", "pic.1kxun.com|/video_kankan/images/videos/1948-4c447fb7208d3.jpg", "pic.1kxun.com|/video_kankan/images/videos/3578-ywzj.jpg", "pic.1kxun.com|/video_kankan/images/videos/3713-ydm.jpg", "pic.1kxun.com|/video_kankan/images/videos/4657-jfyj.jpg", "vv.video.qq.com|/getvinfo", "vv.video.qq.com|/getvkey"}},
};
const CaptureTruth kTlsTruth[] = {
    {"443-curl.pcap", 1, 0, {"www.ntop.org|2a26b1a62e40d25d4de3babc9d532f30"}},
    {"443-firefox.pcap", 1, 0, {"www.ntop.org|b20b44b18b853ef29ab773e921b03422"}},
    {"443-safari.pcap", 1, 0, {"www.ntop.org|a69708a64f853c3bcc214c2c5faf84f3"}},
    {"443-git.pcap", 1, 0, {"github.com|2a26b1a62e40d25d4de3babc9d532f30"}},
    {"tls_long_cert.pcap", 1, 0, {"www.repubblica.it|66918128f1b9b03303d77c6f2eefd128"}},
    {"ja3_lots_of_cipher_suites.pcap", 1, 0, {"|b2498734f22ddc9be05c39837ac8ac54"}},
    {"tls-rdn-extract.pcap", 1, 0, {"ads1.msads.net|2201d8e006f8f005a6b415f61e677532"}},
    {"selfsigned.pcap", 1, 0, {"localhost|2a26b1a62e40d25d4de3babc9d532f30"}},
    {"long_tls_certificate.pcap", 1, 0, {"beacon-api.aliyuncs.com|2a26b1a62e40d25d4de3babc9d532f30"}},
    {"tls_verylong_certificate.pcap", 1, 0, {"feodotracker.abuse.ch|2a26b1a62e40d25d4de3babc9d532f30"}},
    {"tls_certificate_too_long.pcap", 8, 0, {"wdcp.microsoft.com|656b9a2f4de6ed4909e157482860ab3d", "wdcp.microsoft.com|656b9a2f4de6ed4909e157482860ab3d", "wdcp.microsoft.com|656b9a2f4de6ed4909e157482860ab3d", "wdcp.microsoft.com|656b9a2f4de6ed4909e157482860ab3d", "wdcp.microsoft.com|656b9a2f4de6ed4909e157482860ab3d", "wdcp.microsoft.com|656b9a2f4de6ed4909e157482860ab3d", "wdcp.microsoft.com|656b9a2f4de6ed4909e157482860ab3d", "wdcp.microsoft.com|656b9a2f4de6ed4909e157482860ab3d"}},
};
const CaptureTruth kDnsTruth[] = {
    {"dns_ambiguous_names.pcap", 10, 0, {"*.teams.microsoft.com|A", "41-courier.push.apple.com|A", "alt2-mtalk.google.com|A", "android.clients.google.com|A", "api.teams.skype.com|A", "guzzoni.apple.com|A", "instagram.faae1-1.fna.fbcdn.net|A", "short.weixin.qq.com|A", "teams.skype.com|A", "wide-youtube.l.google.com|A"}},
    {"android.pcap", 23, 0, {"_spotify-connect._tcp.local|PTR", "_spotify-connect._tcp.local|PTR", "accounts.google.com|A", "accounts.google.com|A", "android.clients.google.com|A", "android.googleapis.com|A", "app-measurement.com|A", "captive.apple.com|A", "check.googlezip.net|A", "check.googlezip.net|A", "clients1.google.com|A", "connectivitycheck.gstatic.com|A", "datasaver.googleapis.com|A", "datasaver.googleapis.com|A", "mtalk.google.com|A", "play.googleapis.com|A", "proxy.googlezip.net|A", "proxy.googlezip.net|A", "proxy.googlezip.net|A", "semanticlocation-pa.googleapis.com|A", "time.android.com|A", "www.google.com|A", "www.google.com|A"}},
    {"malformed_dns.pcap", 2, 0, {"www.xt.com|A", "www.xt.com|A"}},
    {"dns_long_domainname.pcap", 1, 0, {"gmr02c.16.0.fhkfhsdkfhsk.tunnel.example.com|A"}},
    {"bad-dns-traffic.pcap", 220, 0x886e0dfefe2eda7dull, {}},
};


std::string path_of(const std::string& dir, const char* file) { return dir + "/ndpi-4.2/pcap/" + file; }

TEST(AppLayerCaptures, HttpHostsAndUrisMatchTshark) {
    SKIP_WITHOUT_CORPUS(dir);
    for (const auto& t : kHttpTruth) {
        CaptureRun r;
        ASSERT_TRUE(r.run(path_of(dir, t.file)));
        std::vector<std::string> got;
        for (const auto& tx : r.txs(AppProto::http, Direction::to_server))
            got.push_back(tx.get(AppBuffer::http_raw_host) + "|" + tx.get(AppBuffer::http_raw_uri));
        expect_rows(t, got);
        EXPECT_EQ(r.ctx.counters.http.get(HttpCounter::flows_failed), 0u) << t.file;
    }
}

TEST(AppLayerCaptures, TlsSniAndJa3MatchTshark) {
    SKIP_WITHOUT_CORPUS(dir);
    for (const auto& t : kTlsTruth) {
        CaptureRun r;
        ASSERT_TRUE(r.run(path_of(dir, t.file)));
        std::vector<std::string> got;
        for (const auto& tx : r.txs(AppProto::tls, Direction::to_server)) {
            const std::string sni = tx.has(AppBuffer::tls_sni) ? tx.get(AppBuffer::tls_sni) : "";
            got.push_back(sni + "|" + tx.get(AppBuffer::ja3_hash));
            // The hash is the MD5 of the string, as in the EVE record.
            const auto eve = nlohmann::json::parse(tx.eve)["tls"]["ja3"];
            EXPECT_EQ(eve["hash"], tx.get(AppBuffer::ja3_hash));
            EXPECT_EQ(eve["string"], tx.get(AppBuffer::ja3_string));
        }
        expect_rows(t, got);
    }
}

TEST(AppLayerCaptures, DnsQueriesMatchTshark) {
    SKIP_WITHOUT_CORPUS(dir);
    for (const auto& t : kDnsTruth) {
        CaptureRun r;
        ASSERT_TRUE(r.run(path_of(dir, t.file)));
        std::vector<std::string> got;
        for (const auto& tx : r.sink.txs) {
            if (tx.proto != AppProto::dns) continue;
            const auto eve = nlohmann::json::parse(tx.eve)["dns"];
            if (eve["type"] != "query") continue;
            EXPECT_EQ(tx.get(AppBuffer::dns_query), eve["rrname"].get<std::string>());
            got.push_back(tx.get(AppBuffer::dns_query) + "|" + eve["rrtype"].get<std::string>());
        }
        expect_rows(t, got);
    }
}

TEST(AppLayerCaptures, DnsAnswersMatchTshark) {
    SKIP_WITHOUT_CORPUS(dir);
    // tshark -r dns_ambiguous_names.pcap -Y 'dns.id==0x6631 && dns.flags.response==1'
    //   -T fields -e dns.a -e dns.cname -e dns.resp.ttl
    CaptureRun r;
    ASSERT_TRUE(r.run(path_of(dir, "dns_ambiguous_names.pcap")));
    bool found = false;
    for (const auto& tx : r.sink.txs) {
        const auto eve = nlohmann::json::parse(tx.eve)["dns"];
        if (eve["type"] != "answer" || eve["id"] != 0x6631) continue;
        found = true;
        EXPECT_EQ(eve["rrname"], "41-courier.push.apple.com");
        EXPECT_EQ(eve["rcode"], "NOERROR");
        std::vector<std::string> a, cname;
        std::vector<uint64_t> ttl;
        for (const auto& ans : eve["answers"]) {
            if (ans["rrtype"] == "A") a.push_back(ans["rdata"]);
            if (ans["rrtype"] == "CNAME") cname.push_back(ans["rdata"]);
            ttl.push_back(ans["ttl"]);
        }
        EXPECT_EQ(a, (std::vector<std::string>{"17.57.146.139", "17.57.146.138", "17.57.146.135", "17.57.146.136",
                                               "17.57.146.137", "17.57.146.132", "17.57.146.134", "17.57.146.133"}));
        EXPECT_EQ(cname, (std::vector<std::string>{"41.courier-push-apple.com.akadns.net",
                                                   "eu-north-courier-4.push-apple.com.akadns.net"}));
        EXPECT_EQ(ttl, (std::vector<uint64_t>{9431, 59, 17, 17, 17, 17, 17, 17, 17, 17}));
        // The response shares its query's tx_id.
        for (const auto& q : r.sink.txs) {
            const auto qe = nlohmann::json::parse(q.eve)["dns"];
            if (qe["type"] == "query" && qe["id"] == 0x6631) {
                EXPECT_EQ(q.tx_id, tx.tx_id);
            }
        }
    }
    EXPECT_TRUE(found);
}

// ---- suricata-verify cases ----

std::string sv(const std::string& dir, const char* rel) { return dir + "/suricata-verify/tests/" + rel; }

bool contains(const std::string& hay, std::string_view needle) { return hay.find(needle) != std::string::npos; }

TEST(SuricataVerify, TlsClientHelloFragmentedAcrossRecords) {
    SKIP_WITHOUT_CORPUS(dir);
    // tls/tls-client-hello-frag-01: event_type tls, tls.sni www.google.com; tls.sni content "google".
    CaptureRun r;
    ASSERT_TRUE(r.run(sv(dir, "tls/tls-client-hello-frag-01/dump_mtu300.pcap")));
    const auto hellos = r.txs(AppProto::tls, Direction::to_server);
    ASSERT_EQ(hellos.size(), 1u);
    EXPECT_EQ(hellos[0].get(AppBuffer::tls_sni), "www.google.com");
    EXPECT_EQ(nlohmann::json::parse(hellos[0].eve)["tls"]["sni"], "www.google.com");
}

TEST(SuricataVerify, TlsCertificateFieldsAsSuricataLogsThem) {
    SKIP_WITHOUT_CORPUS(dir);
    CaptureRun r;
    ASSERT_TRUE(r.run(sv(dir, "bug-2646-01/input.pcap")));
    const auto server = r.txs(AppProto::tls, Direction::to_client);
    ASSERT_EQ(server.size(), 1u);
    const auto eve = nlohmann::json::parse(server[0].eve)["tls"];
    EXPECT_EQ(eve["fingerprint"], "cc:aa:48:48:66:46:0e:91:53:2c:9c:7c:23:2a:b1:74:4d:29:9d:33");
    EXPECT_EQ(eve["issuerdn"], "C=US, O=DigiCert Inc, OU=www.digicert.com, CN=DigiCert SHA2 High Assurance Server CA");
    EXPECT_EQ(eve["notafter"], "2020-05-13T12:00:00");
    EXPECT_EQ(eve["notbefore"], "2017-03-23T00:00:00");
    EXPECT_EQ(eve["serial"], "08:3A:84:59:2F:77:F2:E7:95:1B:F8:87:CE:DE:C9:66");
    EXPECT_EQ(eve["sni"], "raw.githubusercontent.com");
    EXPECT_EQ(eve["subject"], "C=US, ST=California, L=San Francisco, O=GitHub, Inc., CN=www.github.com");
    EXPECT_EQ(eve["version"], "TLS 1.2");
    EXPECT_EQ(server[0].get(AppBuffer::tls_cert_subject), eve["subject"].get<std::string>());
    EXPECT_EQ(server[0].get(AppBuffer::tls_cert_issuer), eve["issuerdn"].get<std::string>());
    EXPECT_EQ(server[0].get(AppBuffer::tls_version), "TLS 1.2");
}

TEST(SuricataVerify, Ja3sAndJa3String) {
    SKIP_WITHOUT_CORPUS(dir);
    // detect-bidir-ja3 on tls/tls-certs-alert: ja3s.hash 5d79edf64e03689ff559a54e9d9487bc,
    // ja3.string contains "771,49196-49200".
    CaptureRun r;
    ASSERT_TRUE(r.run(sv(dir, "tls/tls-certs-alert/input.pcap")));
    const auto server = r.txs(AppProto::tls, Direction::to_client);
    ASSERT_EQ(server.size(), 1u);
    const auto eve = nlohmann::json::parse(server[0].eve)["tls"];
    EXPECT_EQ(eve["ja3s"]["hash"], "5d79edf64e03689ff559a54e9d9487bc");
    EXPECT_TRUE(contains(eve["ja3"]["string"].get<std::string>(), "771,49196-49200"));
}

TEST(SuricataVerify, HttpEveFields) {
    SKIP_WITHOUT_CORPUS(dir);
    struct Case {
        const char* pcap;
        const char* key;
        nlohmann::json value;
    };
    const Case cases[] = {
        {"http-options-method/input.pcap", "http_method", "OPTIONS"},
        {"http-options-method/input.pcap", "hostname", "example.com"},
        {"http-ipv6/input.pcap", "hostname", "[::1]"},
        {"http1-noint-status/input.pcap", "status_string", "2XX"},
        {"http-not09/input.pcap", "http_user_agent", "myscript"},
        {"http-multiple100/input.pcap", "status", 200},
        {"http-all-headers/input.pcap", "hostname", "www.ethereal.com"},
    };
    for (const auto& c : cases) {
        CaptureRun r;
        ASSERT_TRUE(r.run(sv(dir, c.pcap)));
        // Suricata logs one "http" event per transaction once its response is done.
        size_t matches = 0;
        for (const auto& tx : r.sink.txs) {
            if (tx.proto != AppProto::http || tx.dir != Direction::to_client || tx.stage != AppTxStage::body) continue;
            const auto eve = nlohmann::json::parse(tx.eve)["http"];
            if (eve.contains(c.key) && eve[c.key] == c.value) ++matches;
        }
        EXPECT_EQ(matches, 1u) << c.pcap << " " << c.key;
    }
}

TEST(SuricataVerify, HttpStickyBuffers) {
    SKIP_WITHOUT_CORPUS(dir);
    auto any = [](const std::vector<TxCopy>& txs, AppBuffer b, std::string_view needle) {
        return std::any_of(txs.begin(), txs.end(), [&](const TxCopy& t) { return contains(t.get(b), needle); });
    };
    {  // http-chunked: http.header has these names but not Cookie; http.header.raw has Cookie too.
        CaptureRun r;
        ASSERT_TRUE(r.run(sv(dir, "http-chunked/input.pcap")));
        const auto req = r.txs(AppProto::http, Direction::to_server);
        ASSERT_FALSE(req.empty());
        for (const char* n : {"Host", "X-Qlik-User", "User-Agent", "Content-Length", "Transfer-Encoding"}) {
            EXPECT_TRUE(any(req, AppBuffer::http_header, n)) << n;
            EXPECT_TRUE(any(req, AppBuffer::http_raw_header, n)) << n;
        }
        EXPECT_FALSE(any(req, AppBuffer::http_header, "Cookie"));
        EXPECT_TRUE(any(req, AppBuffer::http_raw_header, "Cookie"));
    }
    {  // http-raw-header: the raw buffer keeps the server's spacing.
        CaptureRun r;
        ASSERT_TRUE(r.run(sv(dir, "http-raw-header/input.pcap")));
        EXPECT_TRUE(any(r.txs(AppProto::http, Direction::to_client), AppBuffer::http_raw_header, "Server:       Yx("));
    }
    {
        CaptureRun r;
        ASSERT_TRUE(r.run(sv(dir, "http-request-line/input.pcap")));
        EXPECT_TRUE(any(r.txs(AppProto::http, Direction::to_server), AppBuffer::http_request_line,
                        "GET /index.html HTTP/1.0"));
    }
    {
        CaptureRun r;
        ASSERT_TRUE(r.run(sv(dir, "http-response-line/input.pcap")));
        EXPECT_TRUE(any(r.txs(AppProto::http, Direction::to_client), AppBuffer::http_response_line, "HTTP/1.0 200 OK"));
    }
    {
        CaptureRun r;
        ASSERT_TRUE(r.run(sv(dir, "http-uri-spaces/input.pcap")));
        EXPECT_TRUE(any(r.txs(AppProto::http, Direction::to_server), AppBuffer::http_uri, " afterspace"));
    }
    {
        CaptureRun r;
        ASSERT_TRUE(r.run(sv(dir, "http-request-header/input.pcap")));
        const auto req = r.txs(AppProto::http, Direction::to_server);
        const auto resp = r.txs(AppProto::http, Direction::to_client);
        EXPECT_TRUE(any(req, AppBuffer::http_header, "Connection: "));
        EXPECT_TRUE(any(req, AppBuffer::http_header, "User-Agent: "));
        EXPECT_TRUE(any(resp, AppBuffer::http_header, "Connection: "));
        EXPECT_TRUE(any(resp, AppBuffer::http_header, "Date: "));
    }
}

}  // namespace
}  // namespace sluice
