// Stand-alone driver for the fuzz targets when no libFuzzer is at hand (GCC):
// replays every file of the seed folder given as argv[1], then runs bounded
// rounds of random inputs and mutations of the seeds (bit flips, truncations,
// splices, lying length bytes). Deterministic: the seed is fixed unless
// SLUICE_FUZZ_SEED is set; SLUICE_FUZZ_ROUNDS sets the number of rounds.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
    std::vector<std::vector<uint8_t>> seeds;
    if (argc > 1 && std::filesystem::is_directory(argv[1])) {
        for (const auto& e : std::filesystem::recursive_directory_iterator(argv[1])) {
            if (!e.is_regular_file()) continue;
            std::ifstream f(e.path(), std::ios::binary);
            seeds.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
        }
    }
    for (const auto& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());

    const char* seed_env = std::getenv("SLUICE_FUZZ_SEED");
    const char* rounds_env = std::getenv("SLUICE_FUZZ_ROUNDS");
    std::mt19937_64 rng(seed_env ? std::strtoull(seed_env, nullptr, 10) : 0x51CEull);
    const long rounds = rounds_env ? std::strtol(rounds_env, nullptr, 10) : 20000;
    std::vector<uint8_t> buf;
    for (long r = 0; r < rounds; ++r) {
        if (seeds.empty() || rng() % 4 == 0) {
            buf.resize(rng() % 1600);
            for (auto& b : buf) b = static_cast<uint8_t>(rng());
        } else {
            buf = seeds[rng() % seeds.size()];
            const unsigned edits = 1 + static_cast<unsigned>(rng() % 8);
            for (unsigned e = 0; e < edits && !buf.empty(); ++e) {
                const size_t at = rng() % buf.size();
                switch (rng() % 5) {
                    case 0: buf[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
                    case 1: buf[at] = static_cast<uint8_t>(rng()); break;
                    case 2: buf.resize(at); break;
                    case 3: buf[at] = (rng() & 1) ? 0xff : 0x00; break;
                    default: {
                        const auto& other = seeds[rng() % seeds.size()];
                        if (!other.empty()) {
                            const size_t from = rng() % other.size();
                            buf.insert(buf.begin() + static_cast<long>(at), other.begin() + static_cast<long>(from), other.end());
                        }
                    }
                }
            }
        }
        LLVMFuzzerTestOneInput(buf.data(), buf.size());
    }
    std::printf("%zu seeds, %ld rounds: no crash\n", seeds.size(), rounds);
    return 0;
}
