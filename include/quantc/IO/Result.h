//===- Result.h - errors as values for the file readers ---------*- C++ -*-===//
//
// The readers face hostile files, so every failure is a value carrying a
// message for a person (path, what was wrong, where), never an abort or an
// exception. A tiny `llvm::Expected`-like pair without LLVM, so that lib/IO
// stays MLIR- and LLVM-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_IO_RESULT_H
#define QUANTC_IO_RESULT_H

#include <cassert>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <variant>

namespace quantc::io {

/// A failure, described for a person.
class Error {
public:
  explicit Error(std::string message) : message(std::move(message)) {}
  const std::string &getMessage() const { return message; }

private:
  std::string message;
};

/// An Error whose message is the concatenation of `parts` (anything an
/// std::ostream prints).
template <typename... Parts> Error makeError(const Parts &...parts) {
  std::ostringstream os;
  (os << ... << parts);
  return Error(os.str());
}

/// A value or an Error.
template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : storage(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : storage(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return storage.index() == 0; }
  explicit operator bool() const { return ok(); }

  T &operator*() & {
    assert(ok() && "dereferencing a failed Result");
    return std::get<0>(storage);
  }
  const T &operator*() const & {
    assert(ok() && "dereferencing a failed Result");
    return std::get<0>(storage);
  }
  T &&operator*() && {
    assert(ok() && "dereferencing a failed Result");
    return std::get<0>(std::move(storage));
  }
  T *operator->() { return &**this; }
  const T *operator->() const { return &**this; }

  const std::string &error() const {
    assert(!ok() && "no error in a successful Result");
    return std::get<1>(storage).getMessage();
  }
  Error takeError() {
    assert(!ok() && "no error in a successful Result");
    return std::get<1>(std::move(storage));
  }

private:
  std::variant<T, Error> storage;
};

/// Success, or an Error.
class [[nodiscard]] Status {
public:
  Status() = default;
  Status(Error error) : failure(std::move(error)) {}
  static Status success() { return Status(); }

  bool ok() const { return !failure; }
  explicit operator bool() const { return ok(); }
  const std::string &error() const {
    assert(failure && "no error in a successful Status");
    return failure->getMessage();
  }
  Error takeError() {
    assert(failure && "no error in a successful Status");
    return std::move(*failure);
  }

private:
  std::optional<Error> failure;
};

} // namespace quantc::io

#endif // QUANTC_IO_RESULT_H
