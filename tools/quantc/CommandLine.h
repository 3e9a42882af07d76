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
  void addInteger(std::vector<std::string> names, int64_t &into, int64_t min,
                  int64_t max);
  void addReal(std::vector<std::string> names, double &into, double min,
               double max);
  /// The single positional argument; `what` names it in messages.
  void setPositional(std::string &into, std::string what);

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
  };
  const Option *find(const std::string &name) const;

  std::string command;
  const char *help;
  std::vector<Option> options;
  std::string *positional = nullptr;
  std::string positionalName;
};

} // namespace quantc::tool

#endif // QUANTC_TOOLS_QUANTC_COMMANDLINE_H
