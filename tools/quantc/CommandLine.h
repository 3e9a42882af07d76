//===- CommandLine.h - option parsing for quantc's subcommands --*- C++ -*-===//
//
// The shared shape of every subcommand's command line: `--name VALUE` or
// `--name=VALUE`, flags, one positional input; `--help` prints the
// command's text; bad usage exits 2 and bad input exits 1, each with a
// one-line message naming the command.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_TOOLS_QUANTC_COMMANDLINE_H
#define QUANTC_TOOLS_QUANTC_COMMANDLINE_H

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace quantc::tool {

class CommandLine {
public:
  CommandLine(std::string command, const char *help)
      : command(std::move(command)), help(help) {}

  /// `names` are alternatives, e.g. {"-o", "--output"}.
  void addString(std::vector<std::string> names, std::string &into);
  void addFlag(std::vector<std::string> names, bool &into);
  /// `--name` alone sets `into` to `implicitValue`; `--name=VALUE` to VALUE
  /// (the value is never taken from the next argument).
  void addOptionalValue(std::vector<std::string> names,
                        std::optional<std::string> &into,
                        std::string implicitValue);
  /// Any integer type; [min, max] must fit it.
  template <typename T>
  void addInteger(std::vector<std::string> names, T &into, int64_t min,
                  int64_t max) {
    addIntegerSetter(std::move(names), min, max,
                     [&into](int64_t value) { into = static_cast<T>(value); });
  }
  /// Any uint64_t, e.g. a seed.
  void addUnsigned(std::vector<std::string> names, uint64_t &into);
  void addReal(std::vector<std::string> names, double &into, double min,
               double max);
  /// The single positional argument; `what` names it in messages.
  void setPositional(std::string &into, std::string what);
  /// Appended to the error for a stray argument when there is no positional
  /// (e.g. "; the output is given with -o").
  void setStrayArgumentHint(std::string hint) { strayHint = std::move(hint); }

  /// Parses `args`; returns the exit code when the command should stop
  /// (after --help: 0; on bad usage: 2, with the message printed).
  std::optional<int> parse(const std::vector<std::string> &args);

  /// Prints "quantc COMMAND: MESSAGE (see --help)" and returns 2.
  int usageError(const std::string &message) const;
  /// Prints "quantc COMMAND: error: MESSAGE" and returns 1.
  int inputError(const std::string &message) const;

private:
  struct Option {
    std::vector<std::string> names;
    bool takesValue;
    /// Stores the value; returns an error message or "".
    std::function<std::string(const std::string &)> apply;
    /// With takesValue: the value is optional and only given inline.
    std::optional<std::string> implicitValue = std::nullopt;
  };
  const Option *find(const std::string &name) const;
  void addIntegerSetter(std::vector<std::string> names, int64_t min,
                        int64_t max, std::function<void(int64_t)> set);

  std::string command;
  const char *help;
  std::vector<Option> options;
  std::string *positional = nullptr;
  std::string positionalName;
  std::string strayHint;
};

} // namespace quantc::tool

#endif // QUANTC_TOOLS_QUANTC_COMMANDLINE_H
