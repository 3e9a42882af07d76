//===- GPTQBench.cpp - GPTQ of one large layer against a 30 s bar ---------===//
//
// Quantizes one rows x cols projection (default 4096 x 4096, normal weights
// sigma 0.02) with GPTQ against a Hessian accumulated from `tokens`
// calibration tokens (default 128 x 2048 = 262144, gptq.py's run). Tokens
// are correlated like a transformer's activations (a rank-64 common part,
// per-channel noise, 1% outlier channels 20x louder) and generated in
// chunks, so memory stays near the layer's size; generating them is not
// timed. Reports, per target: Hessian accumulation seconds, GPTQ solve
// seconds, their total against the 30 s bar (ratio < 1 beats it), and the
// solve measured in dgemm-equivalents of the same shape (the lazy updates
// are at bottom one rows x cols x cols GEMM, so that is the floor); plus
// the layer output error of GPTQ against round-to-nearest. Markdown table
// on stdout, one JSON line after it (and in --json FILE); progress on
// stderr.
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/GPTQ.h"
#include "quantc/Numerics/WeightTarget.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

extern "C" int openblas_get_num_threads(void);

using namespace quantc;

namespace {

/// The bar GPTQ of a 4096 x 4096 layer (Hessian included) must beat.
constexpr double kBarSeconds = 30.0;

struct Options {
  int64_t rows = 4096;
  int64_t cols = 4096;
  int64_t tokens = 128 * 2048;
  int64_t blockSize = 128;
  bool actOrder = false;
  bool quality = true;
  std::vector<std::string> targets = {"ui4:g128", "q4_0"};
  std::string json;
};

[[noreturn]] void usage(int status) {
  std::fprintf(
      status ? stderr : stdout,
      "usage: quantc-bench-gptq [--rows N] [--cols N] [--tokens N]\n"
      "                         [--targets a,b,...] [--block N] [--act-order]\n"
      "                         [--no-quality] [--json FILE]\n"
      "  --rows N       output channels (default 4096)\n"
      "  --cols N       inputs (default 4096)\n"
      "  --tokens N     calibration tokens (default 262144 = 128 x 2048)\n"
      "  --targets L    e.g. ui4:g128,si8,q4_0,q4_K (default ui4:g128,q4_0)\n"
      "  --block N      GPTQ block size (default 128)\n"
      "  --act-order    visit columns by decreasing H_ii (static groups)\n"
      "  --no-quality   skip round-to-nearest and the output errors\n"
      "  --json FILE    also write the JSON line to FILE\n");
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
    if (arg == "--act-order") {
      options.actOrder = true;
      continue;
    }
    if (arg == "--no-quality") {
      options.quality = false;
      continue;
    }
    if (i + 1 >= argc)
      usage(2);
    const char *value = argv[++i];
    if (arg == "--rows") {
      options.rows = parsePositive("--rows", value);
    } else if (arg == "--cols") {
      options.cols = parsePositive("--cols", value);
    } else if (arg == "--tokens") {
      options.tokens = parsePositive("--tokens", value);
    } else if (arg == "--block") {
      options.blockSize = parsePositive("--block", value);
    } else if (arg == "--targets") {
      options.targets.clear();
      std::stringstream list(value);
      std::string name;
      while (std::getline(list, name, ','))
        if (!name.empty())
          options.targets.push_back(name);
    } else if (arg == "--json") {
      options.json = value;
    } else {
      std::fprintf(stderr, "error: unknown option '%s'\n", argv[i - 1]);
      usage(2);
    }
  }
  return options;
}

/// `ui4:g128`, `si8` (GroupedFormat::name) or a block format name.
std::optional<WeightTarget> parseTarget(const std::string &name) {
  if (name.size() >= 3 && (name[0] == 's' || name[0] == 'u') &&
      name[1] == 'i' && std::isdigit(static_cast<unsigned char>(name[2]))) {
    GroupedFormat format;
    format.isSigned = name[0] == 's';
    size_t colon = name.find(":g");
    format.bits = static_cast<unsigned>(
        std::atoi(name.substr(2, colon == std::string::npos ? std::string::npos
                                                            : colon - 2)
                      .c_str()));
    if (colon != std::string::npos)
      format.groupSize = std::atoll(name.c_str() + colon + 2);
    if (!format.isValid() || format.name() != name)
      return std::nullopt;
    return WeightTarget::ofGrouped(format);
  }
  std::optional<Format> format = lookupFormat(name);
  if (!format)
    return std::nullopt;
  return WeightTarget::ofBlock(*format);
}

/// splitmix64 and Box-Muller, so the data is the same with every library.
class NormalSource {
public:
  explicit NormalSource(uint64_t seed) : state(seed) {}
  float next() {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    double u1 = (static_cast<double>(bits() >> 11) + 1.0) * 0x1p-53;
    double u2 = static_cast<double>(bits() >> 11) * 0x1p-53;
    double radius = std::sqrt(-2.0 * std::log(u1));
    spare = static_cast<float>(radius * std::sin(2.0 * M_PI * u2));
    hasSpare = true;
    return static_cast<float>(radius * std::cos(2.0 * M_PI * u2));
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

/// Correlated activations, one chunk at a time: x = z A + s .* noise with
/// z ~ N(0, I_64), A a fixed random 64 x cols mixing and s a per-channel
/// scale (20 on 1% of the channels). The noise keeps H full rank; it is a
/// cheap counter hash, uniform in [-1, 1), as a normal source would
/// dominate the generation time.
class TokenSource {
public:
  static constexpr int64_t kRank = 64;
  TokenSource(int64_t cols, uint64_t seed)
      : cols(cols), normal(seed), mixing(kRank * cols), scale(cols) {
    for (float &value : mixing)
      value = normal.next() * 0.25f;
    for (int64_t c = 0; c < cols; ++c)
      scale[c] = (normal.bits() % 100 == 0 ? 20.0f : 1.0f) *
                 (0.5f + 0.5f * std::fabs(normal.next()));
  }

  void fill(float *out, int64_t tokens) {
    std::vector<float> z(static_cast<size_t>(tokens * kRank));
    for (float &value : z)
      value = normal.next();
    for (int64_t t = 0; t < tokens; ++t) {
      uint64_t base = counter++ * static_cast<uint64_t>(cols);
      float *row = out + t * cols;
      for (int64_t c = 0; c < cols; ++c) {
        uint64_t h = (base + static_cast<uint64_t>(c)) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
        h *= 0xBF58476D1CE4E5B9ull;
        h ^= h >> 32;
        auto uniform = static_cast<float>(static_cast<int32_t>(h)) * 0x1p-31f;
        row[c] = scale[c] * uniform;
      }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                static_cast<int>(tokens), static_cast<int>(cols),
                static_cast<int>(kRank), 1.0f, z.data(),
                static_cast<int>(kRank), mixing.data(), static_cast<int>(cols),
                1.0f, out, static_cast<int>(cols));
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t c = 0; c < cols; ++c)
        if (scale[c] > 10.0f)
          out[t * cols + c] *= 4.0f;
  }

private:
  int64_t cols;
  NormalSource normal;
  std::vector<float> mixing;
  std::vector<float> scale;
  uint64_t counter = 0;
};

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

struct Row {
  std::string target;
  double gptqSeconds = 0, totalSeconds = 0, dgemmEquivalents = 0;
  double loss = 0, errorGPTQ = NAN, errorRTN = NAN;
  int dampRetries = 0;
};

std::string number(double value, const char *format = "%.3g") {
  if (std::isnan(value))
    return "null";
  char text[48];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

} // namespace

int main(int argc, char **argv) {
  Options options = parseOptions(argc, argv);
  const int64_t rows = options.rows, cols = options.cols;
  const int threads = openblas_get_num_threads();
  std::vector<WeightTarget> targets;
  for (const std::string &name : options.targets) {
    std::optional<WeightTarget> target = parseTarget(name);
    std::string why;
    if (!target) {
      std::fprintf(stderr, "error: unknown target '%s'\n", name.c_str());
      return 2;
    }
    if (!supportsGPTQ(*target, &why) || !target->admits(cols)) {
      std::fprintf(stderr, "error: %s\n",
                   why.empty() ? ("target " + name + " cannot store " +
                                  std::to_string(cols) + " columns")
                                     .c_str()
                               : why.c_str());
      return 2;
    }
    targets.push_back(*target);
  }
  std::fprintf(stderr,
               "quantc-bench-gptq: %lld x %lld layer, %lld tokens, %d BLAS "
               "threads\n",
               static_cast<long long>(rows), static_cast<long long>(cols),
               static_cast<long long>(options.tokens), threads);

  // (a) Hessian: only add() and the final hessian() are timed.
  HessianAccumulator accumulator(cols);
  TokenSource source(cols, 7);
  const int64_t chunk = 4096;
  std::vector<float> tokens(static_cast<size_t>(chunk * cols));
  double hessianSeconds = 0, generateSeconds = 0;
  for (int64_t done = 0; done < options.tokens; done += chunk) {
    int64_t count = std::min(chunk, options.tokens - done);
    auto start = std::chrono::steady_clock::now();
    source.fill(tokens.data(), count);
    generateSeconds += secondsSince(start);
    start = std::chrono::steady_clock::now();
    accumulator.add(tokens.data(), count, cols);
    hessianSeconds += secondsSince(start);
    if (done / chunk % 16 == 15)
      std::fprintf(stderr, "  hessian: %lld tokens, %.1f s\n",
                   static_cast<long long>(done + count), hessianSeconds);
  }
  tokens = {};
  auto start = std::chrono::steady_clock::now();
  std::vector<double> hessian = accumulator.hessian();
  hessianSeconds += secondsSince(start);
  const double hessianGflops = static_cast<double>(options.tokens) * cols *
                               (cols + 1) / hessianSeconds / 1e9;
  std::fprintf(stderr, "  hessian: %.2f s (%.0f GFLOP/s), generation %.2f s\n",
               hessianSeconds, hessianGflops, generateSeconds);

  // The floor of the solve: one dgemm of the lazy updates' total shape.
  double dgemmSeconds;
  {
    std::vector<double> a(static_cast<size_t>(rows * cols), 0.5),
        b(static_cast<size_t>(cols * cols), 0.25),
        c(static_cast<size_t>(rows * cols), 0.0);
    start = std::chrono::steady_clock::now();
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                static_cast<int>(rows), static_cast<int>(cols),
                static_cast<int>(cols), 1.0, a.data(), static_cast<int>(cols),
                b.data(), static_cast<int>(cols), 0.0, c.data(),
                static_cast<int>(cols));
    dgemmSeconds = secondsSince(start);
  }
  std::fprintf(stderr, "  dgemm %lldx%lldx%lld: %.2f s\n",
               static_cast<long long>(rows), static_cast<long long>(cols),
               static_cast<long long>(cols), dgemmSeconds);

  NormalSource normal(20240601);
  std::vector<float> weights(static_cast<size_t>(rows * cols));
  for (float &value : weights)
    value = 0.02f * normal.next();

  GPTQOptions gptqOptions;
  gptqOptions.blockSize = options.blockSize;
  gptqOptions.actOrder = options.actOrder;
  std::vector<Row> results;
  for (const WeightTarget &target : targets) {
    Row row;
    row.target = target.name();
    std::fprintf(stderr, "  %s: GPTQ\n", row.target.c_str());
    std::string error;
    start = std::chrono::steady_clock::now();
    std::optional<GPTQResult> result =
        quantizeGPTQ(weights.data(), rows, cols, hessian.data(), target,
                     gptqOptions, &error);
    row.gptqSeconds = secondsSince(start);
    if (!result) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return 1;
    }
    row.totalSeconds = hessianSeconds + row.gptqSeconds;
    row.dgemmEquivalents = row.gptqSeconds / dgemmSeconds;
    row.loss = result->loss;
    row.dampRetries = result->dampRetries;
    if (options.quality) {
      std::fprintf(stderr, "  %s: output errors\n", row.target.c_str());
      std::vector<float> rtn(weights.size());
      fakeQuantize(target, weights.data(), rows, cols, rtn.data());
      row.errorGPTQ =
          layerOutputError(weights.data(), result->dequantized.data(), rows,
                           cols, hessian.data());
      row.errorRTN = layerOutputError(weights.data(), rtn.data(), rows, cols,
                                      hessian.data());
    }
    results.push_back(row);
  }

  std::printf("GPTQ of a %lld x %lld layer, %lld calibration tokens, %d "
              "threads; bar %.0f s (Hessian + solve)\n\n",
              static_cast<long long>(rows), static_cast<long long>(cols),
              static_cast<long long>(options.tokens), threads, kBarSeconds);
  std::printf("| target | hessian_s | gptq_s | total_s | total / bar | "
              "gptq / dgemm | ms per column | error GPTQ / RTN |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const Row &row : results)
    std::printf("| %s | %.2f | %.2f | %.2f | %.2fx | %.1fx | %.2f | %s |\n",
                row.target.c_str(), hessianSeconds, row.gptqSeconds,
                row.totalSeconds, row.totalSeconds / kBarSeconds,
                row.dgemmEquivalents, 1e3 * row.gptqSeconds / cols,
                number(row.errorGPTQ / row.errorRTN, "%.3f").c_str());

  std::ostringstream json;
  json << "{\"benchmark\": \"gptq\", \"rows\": " << rows
       << ", \"cols\": " << cols << ", \"tokens\": " << options.tokens
       << ", \"threads\": " << threads << ", \"block\": " << options.blockSize
       << ", \"act_order\": " << (options.actOrder ? "true" : "false")
       << ", \"bar_s\": " << kBarSeconds
       << ", \"hessian_s\": " << number(hessianSeconds, "%.4g")
       << ", \"hessian_gflops\": " << number(hessianGflops, "%.4g")
       << ", \"dgemm_s\": " << number(dgemmSeconds, "%.4g")
       << ", \"targets\": [";
  for (size_t i = 0; i < results.size(); ++i) {
    const Row &row = results[i];
    json << (i ? ", " : "") << "{\"target\": \"" << row.target
         << "\", \"gptq_s\": " << number(row.gptqSeconds, "%.4g")
         << ", \"total_s\": " << number(row.totalSeconds, "%.4g")
         << ", \"bar_ratio\": "
         << number(row.totalSeconds / kBarSeconds, "%.4g")
         << ", \"gptq_dgemm_ratio\": " << number(row.dgemmEquivalents, "%.4g")
         << ", \"loss\": " << number(row.loss, "%.6g")
         << ", \"damp_retries\": " << row.dampRetries
         << ", \"error_gptq\": " << number(row.errorGPTQ, "%.6g")
         << ", \"error_rtn\": " << number(row.errorRTN, "%.6g") << "}";
  }
  json << "]}";
  std::printf("\n%s\n", json.str().c_str());
  if (!options.json.empty()) {
    std::ofstream file(options.json);
    file << json.str() << "\n";
    if (!file) {
      std::fprintf(stderr, "error: cannot write %s\n", options.json.c_str());
      return 1;
    }
  }
  return 0;
}
