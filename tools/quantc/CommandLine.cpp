//===- CommandLine.cpp - option parsing for quantc's subcommands ----------===//

#include "CommandLine.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace quantc::tool {

void CommandLine::addString(std::vector<std::string> names, std::string &into) {
  options.push_back({std::move(names), true, [&into](const std::string &value) {
                       into = value;
                       return std::string();
                     }});
}

void CommandLine::addFlag(std::vector<std::string> names, bool &into) {
  options.push_back({std::move(names), false, [&into](const std::string &) {
                       into = true;
                       return std::string();
                     }});
}

void CommandLine::addOptionalValue(std::vector<std::string> names,
                                   std::optional<std::string> &into,
                                   std::string implicitValue) {
  Option option{std::move(names), true, [&into](const std::string &value) {
                  into = value;
                  return std::string();
                }};
  option.implicitValue = std::move(implicitValue);
  options.push_back(std::move(option));
}

void CommandLine::addIntegerSetter(std::vector<std::string> names, int64_t min,
                                   int64_t max,
                                   std::function<void(int64_t)> set) {
  options.push_back(
      {std::move(names), true, [set, min, max](const std::string &value) {
         char *end = nullptr;
         errno = 0;
         long long parsed = std::strtoll(value.c_str(), &end, 10);
         if (value.empty() || *end != '\0' || errno != 0 || parsed < min ||
             parsed > max)
           return "takes a number from " + std::to_string(min) + " to " +
                  std::to_string(max) + ", not '" + value + "'";
         set(parsed);
         return std::string();
       }});
}

void CommandLine::addUnsigned(std::vector<std::string> names, uint64_t &into) {
  options.push_back(
      {std::move(names), true, [&into](const std::string &value) {
         char *end = nullptr;
         errno = 0;
         unsigned long long parsed = std::strtoull(value.c_str(), &end, 10);
         // strtoull accepts a sign; a seed written -1 is a typo.
         if (value.empty() || *end != '\0' || errno != 0 || value[0] == '-' ||
             value[0] == '+')
           return "takes a number from 0 to 2^64-1, not '" + value + "'";
         into = parsed;
         return std::string();
       }});
}

void CommandLine::addReal(std::vector<std::string> names, double &into,
                          double min, double max) {
  options.push_back(
      {std::move(names), true, [&into, min, max](const std::string &value) {
         char *end = nullptr;
         double parsed = std::strtod(value.c_str(), &end);
         if (value.empty() || *end != '\0' || !std::isfinite(parsed) ||
             parsed < min || parsed > max) {
           char range[96];
           std::snprintf(range, sizeof(range), "takes a number from %g to %g",
                         min, max);
           return std::string(range) + ", not '" + value + "'";
         }
         into = parsed;
         return std::string();
       }});
}

void CommandLine::setPositional(std::string &into, std::string what) {
  positional = &into;
  positionalName = std::move(what);
}

const CommandLine::Option *CommandLine::find(const std::string &name) const {
  for (const Option &option : options)
    for (const std::string &candidate : option.names)
      if (candidate == name)
        return &option;
  return nullptr;
}

std::optional<int> CommandLine::parse(const std::vector<std::string> &args) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(help, stdout);
      return 0;
    }
    std::optional<std::string> inlineValue;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      inlineValue = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
    }
    if (arg.size() > 1 && arg[0] == '-') {
      const Option *option = find(arg);
      if (!option)
        return usageError("unknown option '" + arg + "'");
      std::string value;
      if (option->takesValue) {
        if (inlineValue) {
          value = *inlineValue;
        } else if (option->implicitValue) {
          value = *option->implicitValue;
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          return usageError(arg + " needs a value");
        }
      } else if (inlineValue) {
        return usageError(arg + " takes no value");
      }
      if (std::string problem = option->apply(value); !problem.empty())
        return usageError(arg + " " + problem);
      continue;
    }
    if (!positional)
      return usageError("unexpected argument '" + arg + "'" + strayHint);
    if (!positional->empty())
      return usageError("one " + positionalName + " only; got '" + *positional +
                        "' and '" + arg + "'");
    *positional = arg;
  }
  if (positional && positional->empty())
    return usageError("no " + positionalName);
  return std::nullopt;
}

int CommandLine::usageError(const std::string &message) const {
  std::fprintf(stderr, "quantc %s: %s\n(see quantc %s --help)\n",
               command.c_str(), message.c_str(), command.c_str());
  return 2;
}

int CommandLine::inputError(const std::string &message) const {
  std::fprintf(stderr, "quantc %s: error: %s\n", command.c_str(),
               message.c_str());
  return 1;
}

} // namespace quantc::tool
