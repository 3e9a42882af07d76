//===- Commands.h - the quantc driver's subcommands -------------*- C++ -*-===//

#ifndef QUANTC_TOOLS_QUANTC_COMMANDS_H
#define QUANTC_TOOLS_QUANTC_COMMANDS_H

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace quantc::tool {

/// Each takes the arguments after the subcommand's name and returns the
/// process exit code: 0 on success, 1 on bad input, 2 on bad usage.
int runConvert(const std::vector<std::string> &args);
int runInfo(const std::vector<std::string> &args);
int runImport(const std::vector<std::string> &args);
int runCompile(const std::vector<std::string> &args);
int runRun(const std::vector<std::string> &args);
int runEval(const std::vector<std::string> &args);
int runSynth(const std::vector<std::string> &args);
int runQuantize(const std::vector<std::string> &args);

/// "1.50 MiB", "12.0 KiB", "900 B".
std::string formatBytes(uint64_t bytes);
/// "64x512": dimensions joined by x.
std::string formatShape(const std::vector<int64_t> &shape);
/// Whether `text` ends with `suffix` (file extensions).
bool hasSuffix(std::string_view text, std::string_view suffix);
/// Seconds elapsed since `start`, for progress and summary lines.
double secondsSince(std::chrono::steady_clock::time_point start);

} // namespace quantc::tool

#endif // QUANTC_TOOLS_QUANTC_COMMANDS_H
