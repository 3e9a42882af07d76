//===- QuantizeBench.cpp - quantization throughput against llama.cpp ------===//
//
// Quantizes a square float32 matrix (normal, sigma 0.02, like weights) into
// every storage format that has a row codec: single-threaded, with all
// threads (rows split in contiguous chunks, as callers of llama.cpp's
// ggml_quantize_chunk do), and single-threaded with an importance matrix
// where the format takes one; then dequantizes single-threaded. Prints the
// median throughput beside llama.cpp's on this machine kind as a Markdown
// table, optionally writes JSON; progress goes to stderr.
//
// Throughput is MB/s of float32 (1 MB = 10^6 bytes): quantizer input,
// dequantizer output.
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/BlockCodecs.h"
#include "quantc/Numerics/Formats.h"
#include "quantc/Numerics/Isa.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace quantc;

namespace {

constexpr double kNone = std::numeric_limits<double>::quiet_NaN();

/// llama.cpp's figures, copied from ../shared/data/golden/ggml/README.md
/// ("Speed to beat"): ggml_quantize_chunk on a 4096 x 4096 float32 matrix,
/// llama.cpp commit c392e5094deaf2d1a7c18683214f007fad3fe42b, CPU build, on
/// this project's machine kind (2-core AMD EPYC, Zen 4 class, AVX-512);
/// MB/s of float32 input, median of 3-5 runs. kNone where it has none.
struct PeerFigures {
  std::string_view format;
  double oneThread;
  double twoThreads;
  double imatrix;
};
constexpr std::string_view kPeerName = "llama.cpp";
constexpr std::string_view kPeerCommit =
    "c392e5094deaf2d1a7c18683214f007fad3fe42b";
constexpr int kPeerThreads = 2;
constexpr PeerFigures kPeer[] = {
    {"q4_0", 3906, 6201, 158.5},  {"q4_1", 4182, 8209, 37.5},
    {"q5_0", 2215, 4337, 157.6},  {"q5_1", 2469, 4887, 37.5},
    {"q8_0", 957, 1525, kNone},   {"q2_K", 73.0, 145.5, 32.1},
    {"q3_K", 347, 689, 112.5},    {"q4_K", 62.4, 124.6, 36.6},
    {"q5_K", 75.1, 149.3, 35.4},  {"q6_K", 143.6, 285.9, 140.2},
    {"iq4_nl", 22.6, 44.8, 22.5}, {"iq4_xs", 22.5, 45.0, 22.4},
    {"f16", 2446, 4836, kNone},   {"bf16", 11817, 22684, kNone},
};

const PeerFigures *findPeer(std::string_view format) {
  for (const PeerFigures &peer : kPeer)
    if (peer.format == format)
      return &peer;
  return nullptr;
}

struct Options {
  int64_t size = 4096;
  int reps = 5;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::string> formats; // empty: all
  std::string json;
  std::string isa;
};

[[noreturn]] void usage(int status) {
  std::fprintf(
      status ? stderr : stdout,
      "usage: quantc-bench-quantize [--size N] [--reps N] [--threads N]\n"
      "                             [--formats a,b,...] [--isa NAME]\n"
      "                             [--json FILE]\n"
      "  --size N      quantize an N x N matrix (default 4096)\n"
      "  --reps N      median of N repetitions (default 5)\n"
      "  --threads N   threads of the multi-threaded run (default: all)\n"
      "  --formats L   only these formats (default: every one with a codec)\n"
      "  --isa NAME    scalar, avx2 or avx512 (default: the best available)\n"
      "  --json FILE   also write the results as JSON\n");
  std::exit(status);
}

int64_t parsePositive(const char *flag, const char *text) {
  char *end = nullptr;
  long long value = std::strtoll(text, &end, 10);
  if (*text == '\0' || *end != '\0' || value <= 0) {
    std::fprintf(stderr, "error: %s wants a positive integer, got '%s'\n", flag,
                 text);
    std::exit(2);
  }
  return value;
}

Options parseOptions(int argc, char **argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h")
      usage(0);
    if (i + 1 >= argc)
      usage(2);
    const char *value = argv[++i];
    if (arg == "--size") {
      options.size = parsePositive("--size", value);
    } else if (arg == "--reps") {
      options.reps = static_cast<int>(parsePositive("--reps", value));
    } else if (arg == "--threads") {
      options.threads =
          static_cast<unsigned>(parsePositive("--threads", value));
    } else if (arg == "--formats") {
      std::stringstream list(value);
      std::string name;
      while (std::getline(list, name, ','))
        if (!name.empty())
          options.formats.push_back(name);
    } else if (arg == "--json") {
      options.json = value;
    } else if (arg == "--isa") {
      options.isa = value;
    } else {
      std::fprintf(stderr, "error: unknown option '%s'\n", argv[i - 1]);
      usage(2);
    }
  }
  return options;
}

/// splitmix64 and Box-Muller: the same matrix with every standard library.
class NormalSource {
public:
  explicit NormalSource(uint64_t seed) : state(seed) {}

  float next(float sigma) {
    if (hasSpare) {
      hasSpare = false;
      return sigma * spare;
    }
    double u1 = (static_cast<double>(bits() >> 11) + 1.0) * 0x1p-53;
    double u2 = static_cast<double>(bits() >> 11) * 0x1p-53;
    double radius = std::sqrt(-2.0 * std::log(u1));
    double angle = 2.0 * M_PI * u2;
    spare = static_cast<float>(radius * std::sin(angle));
    hasSpare = true;
    return sigma * static_cast<float>(radius * std::cos(angle));
  }

  uint64_t bits() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

private:
  uint64_t state;
  float spare = 0;
  bool hasSpare = false;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid]
                           : 0.5 * (values[mid - 1] + values[mid]);
}

/// Median wall-clock seconds of `reps` runs of `body`.
double medianSeconds(int reps, const std::function<void()> &body) {
  std::vector<double> seconds;
  for (int rep = 0; rep < reps; ++rep) {
    auto start = std::chrono::steady_clock::now();
    body();
    std::chrono::duration<double> elapsed =
        std::chrono::steady_clock::now() - start;
    seconds.push_back(elapsed.count());
  }
  return median(seconds);
}

/// Quantizes `rows` rows on `threads` threads, each taking a contiguous
/// chunk of rows.
void quantizeChunks(Format format, const float *src, uint8_t *dst, int64_t rows,
                    int64_t cols, uint64_t rowBytes, const float *importance,
                    unsigned threads) {
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    int64_t first = rows * t / threads, last = rows * (t + 1) / threads;
    workers.emplace_back([=] {
      quantizeRows(format, src + first * cols, dst + first * rowBytes,
                   last - first, cols, importance);
    });
  }
  for (std::thread &worker : workers)
    worker.join();
}

struct Result {
  const FormatInfo *info;
  const PeerFigures *peer; // null: llama.cpp has no figure
  double oneThread = kNone, threads = kNone, imatrix = kNone,
         dequantize = kNone;
};

double ratio(double ours, double peer) {
  return std::isnan(ours) || std::isnan(peer) ? kNone : ours / peer;
}

std::string cell(double value, const char *unit = "") {
  if (std::isnan(value))
    return "—";
  char text[32];
  std::snprintf(text, sizeof(text), value < 100 ? "%.1f%s" : "%.0f%s", value,
                unit);
  return text;
}

std::string ratioCell(double value) {
  if (std::isnan(value))
    return "—";
  char text[32];
  std::snprintf(text, sizeof(text), "%.2fx", value);
  return text;
}

void printTable(const std::vector<Result> &results, unsigned threads) {
  std::string nt = "ours " + std::to_string(threads) + "T";
  std::string peerNt =
      std::string(kPeerName) + " " + std::to_string(kPeerThreads) + "T";
  std::vector<std::vector<std::string>> rows = {
      {"format", "ours 1T", "llama.cpp 1T", "ratio", nt, peerNt, "ratio",
       "ours imatrix", "llama.cpp", "ratio", "dequant MB/s"}};
  for (const Result &r : results) {
    double p1 = r.peer ? r.peer->oneThread : kNone;
    double p2 = r.peer ? r.peer->twoThreads : kNone;
    double pi = r.peer ? r.peer->imatrix : kNone;
    rows.push_back({std::string(r.info->name), cell(r.oneThread), cell(p1),
                    ratioCell(ratio(r.oneThread, p1)), cell(r.threads),
                    cell(p2), ratioCell(ratio(r.threads, p2)), cell(r.imatrix),
                    cell(pi), ratioCell(ratio(r.imatrix, pi)),
                    cell(r.dequantize)});
  }
  // Pad by code points so that the dashes line up.
  auto width = [](const std::string &s) {
    return std::count_if(s.begin(), s.end(),
                         [](char c) { return (c & 0xC0) != 0x80; });
  };
  std::vector<long> widths(rows[0].size(), 0);
  for (const auto &row : rows)
    for (size_t c = 0; c < row.size(); ++c)
      widths[c] = std::max<long>(widths[c], width(row[c]));
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string line = "|";
    for (size_t c = 0; c < rows[r].size(); ++c) {
      std::string pad(widths[c] - width(rows[r][c]), ' ');
      // Names left-aligned, numbers right-aligned.
      line += " " + (c == 0 ? rows[r][c] + pad : pad + rows[r][c]) + " |";
    }
    std::printf("%s\n", line.c_str());
    if (r == 0) {
      std::string rule = "|";
      for (size_t c = 0; c < widths.size(); ++c)
        rule += (c == 0 ? " " + std::string(widths[c] - 1, '-') + "- |"
                        : " " + std::string(widths[c] - 1, '-') + ": |");
      std::printf("%s\n", rule.c_str());
    }
  }
}

std::string jsonNumber(double value) {
  if (std::isnan(value))
    return "null";
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", value);
  return text;
}

std::string jsonMeasure(double ours, double peer) {
  return "{\"ours\": " + jsonNumber(ours) + ", \"peer\": " + jsonNumber(peer) +
         ", \"ratio\": " + jsonNumber(ratio(ours, peer)) + "}";
}

bool writeJson(const std::string &path, const std::vector<Result> &results,
               const Options &options, std::string_view isa) {
  std::ostringstream out;
  out << "{\n  \"benchmark\": \"quantize\",\n"
      << "  \"unit\": \"MB/s of float32 (1 MB = 10^6 bytes)\",\n"
      << "  \"rows\": " << options.size << ",\n  \"cols\": " << options.size
      << ",\n  \"reps\": " << options.reps
      << ",\n  \"threads\": " << options.threads << ",\n  \"isa\": \"" << isa
      << "\",\n  \"peer\": {\"name\": \"" << kPeerName << "\", \"commit\": \""
      << kPeerCommit << "\", \"threads\": " << kPeerThreads << "},\n"
      << "  \"formats\": [";
  for (size_t i = 0; i < results.size(); ++i) {
    const Result &r = results[i];
    double p1 = r.peer ? r.peer->oneThread : kNone;
    double p2 = r.peer ? r.peer->twoThreads : kNone;
    double pi = r.peer ? r.peer->imatrix : kNone;
    out << (i ? "," : "") << "\n    {\"format\": \"" << r.info->name
        << "\",\n     \"quantize_1t\": " << jsonMeasure(r.oneThread, p1)
        << ",\n     \"quantize_threads\": " << jsonMeasure(r.threads, p2)
        << ",\n     \"quantize_imatrix\": "
        << (r.info->acceptsImportance ? jsonMeasure(r.imatrix, pi) : "null")
        << ",\n     \"dequantize_1t\": {\"ours\": " << jsonNumber(r.dequantize)
        << "}}";
  }
  out << "\n  ]\n}\n";
  std::ofstream file(path);
  file << out.str();
  return static_cast<bool>(file);
}

} // namespace

int main(int argc, char **argv) {
  Options options = parseOptions(argc, argv);
  if (!options.isa.empty()) {
    std::optional<Isa> isa = lookupIsa(options.isa);
    if (!isa) {
      std::fprintf(stderr, "error: unknown ISA '%s'\n", options.isa.c_str());
      return 2;
    }
    if (setNumericsIsa(*isa) != *isa)
      std::fprintf(stderr, "note: this CPU lacks %s; using %s\n",
                   options.isa.c_str(),
                   std::string(isaName(getNumericsIsa())).c_str());
  }
  const std::string_view isa = isaName(getNumericsIsa());

  size_t count = 0;
  const FormatInfo *formats = allFormats(count);
  std::vector<const FormatInfo *> selected;
  for (const std::string &name : options.formats) {
    std::optional<Format> format = lookupFormat(name);
    if (!format || !getRowCodec(*format)) {
      std::fprintf(stderr, "error: no codec for format '%s'\n", name.c_str());
      return 2;
    }
  }
  for (size_t i = 0; i < count; ++i) {
    const FormatInfo &info = formats[i];
    bool wanted = options.formats.empty() ||
                  std::find(options.formats.begin(), options.formats.end(),
                            info.name) != options.formats.end();
    if (!wanted || !getRowCodec(info.format))
      continue;
    if (options.size % info.blockSize != 0) {
      std::fprintf(stderr, "skip %s: size %lld is not a multiple of %u\n",
                   std::string(info.name).c_str(),
                   static_cast<long long>(options.size), info.blockSize);
      continue;
    }
    selected.push_back(&info);
  }

  const int64_t rows = options.size, cols = options.size;
  std::fprintf(stderr,
               "quantc-bench-quantize: %lld x %lld float32, %d reps, %u "
               "threads, %s kernels\n",
               static_cast<long long>(rows), static_cast<long long>(cols),
               options.reps, options.threads, std::string(isa).c_str());
  NormalSource normal(20240601);
  std::vector<float> src(rows * cols);
  for (float &v : src)
    v = normal.next(0.02f);
  // Like llama-imatrix output: positive mean squared activations, a few
  // columns two orders of magnitude above the rest.
  std::vector<float> importance(cols);
  for (int64_t c = 0; c < cols; ++c) {
    float a = normal.next(1.0f);
    importance[c] = (a * a + 0.05f) * (c % 97 == 0 ? 100.0f : 1.0f);
  }
  const double megabytes = static_cast<double>(rows * cols) * 4 / 1e6;
  std::vector<float> back(rows * cols);

  std::vector<Result> results;
  for (const FormatInfo *info : selected) {
    const std::string name(info->name);
    Result result{info, findPeer(info->name)};
    const uint64_t rowBytes = *info->rowBytes(cols);
    // Touch every page up front so page faults are not timed.
    std::vector<uint8_t> single(rows * rowBytes, 0), multi(rows * rowBytes, 0);

    std::fprintf(stderr, "%s: quantize 1T\n", name.c_str());
    result.oneThread = megabytes / medianSeconds(options.reps, [&] {
                         quantizeRows(info->format, src.data(), single.data(),
                                      rows, cols, nullptr);
                       });
    std::fprintf(stderr, "%s: quantize %uT\n", name.c_str(), options.threads);
    result.threads =
        megabytes / medianSeconds(options.reps, [&] {
          quantizeChunks(info->format, src.data(), multi.data(), rows, cols,
                         rowBytes, nullptr, options.threads);
        });
    if (single != multi) {
      std::fprintf(stderr, "error: %s: threaded output differs\n",
                   name.c_str());
      return 1;
    }
    if (info->acceptsImportance) {
      std::fprintf(stderr, "%s: quantize 1T with imatrix\n", name.c_str());
      result.imatrix = megabytes / medianSeconds(options.reps, [&] {
                         quantizeRows(info->format, src.data(), multi.data(),
                                      rows, cols, importance.data());
                       });
    }
    std::fprintf(stderr, "%s: dequantize 1T\n", name.c_str());
    result.dequantize =
        megabytes / medianSeconds(options.reps, [&] {
          dequantizeRows(info->format, single.data(), back.data(), rows, cols);
        });
    results.push_back(result);
  }

  std::printf("quantize %lld x %lld float32, MB/s of float32 (median of "
              "%d), %s kernels; peer: %s %.12s\n\n",
              static_cast<long long>(rows), static_cast<long long>(cols),
              options.reps, std::string(isa).c_str(),
              std::string(kPeerName).c_str(), std::string(kPeerCommit).c_str());
  printTable(results, options.threads);
  if (!options.json.empty() &&
      !writeJson(options.json, results, options, isa)) {
    std::fprintf(stderr, "error: cannot write %s\n", options.json.c_str());
    return 1;
  }
  return 0;
}
