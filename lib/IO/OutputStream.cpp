//===- OutputStream.cpp - byte sinks for the writers ----------------------===//

#include "quantc/IO/OutputStream.h"

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

namespace quantc::io {

OutputStream::~OutputStream() = default;

Status OutputStream::writeZeros(size_t count) {
  static const uint8_t zeros[256] = {};
  while (count != 0) {
    size_t chunk = count < sizeof(zeros) ? count : sizeof(zeros);
    if (Status status = write(zeros, chunk); !status)
      return status;
    count -= chunk;
  }
  return Status::success();
}

Status MemoryOutputStream::write(const void *data, size_t size) {
  const auto *bytes = static_cast<const uint8_t *>(data);
  buffer.insert(buffer.end(), bytes, bytes + size);
  written += size;
  return Status::success();
}

namespace {

//===----------------------------------------------------------------------===//
// Temporary files that an interrupt must not leave behind
//===----------------------------------------------------------------------===//

// A signal handler may only call async-signal-safe functions, so pending
// temporary paths live in fixed buffers the handler can unlink from.
constexpr int kMaxPendingTemps = 16;
struct PendingTemp {
  volatile sig_atomic_t inUse;
  char path[PATH_MAX];
};
PendingTemp pendingTemps[kMaxPendingTemps];
std::mutex pendingSlotsMutex;
constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void removePendingTempsAndDie(int signal) {
  for (PendingTemp &temp : pendingTemps)
    if (temp.inUse)
      ::unlink(temp.path);
  // Die of the same signal, so that the caller sees how we ended.
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

/// Installs the cleanup for signals whose action is still the default (one
/// the embedding program ignores or handles itself is left alone).
void installCleanupHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int signal : kCleanupSignals) {
      struct sigaction current;
      if (::sigaction(signal, nullptr, &current) != 0 ||
          current.sa_handler != SIG_DFL)
        continue;
      struct sigaction action = {};
      action.sa_handler = removePendingTempsAndDie;
      sigemptyset(&action.sa_mask);
      ::sigaction(signal, &action, nullptr);
    }
  });
}

/// The slot now holding `path`, or -1 when none is free (the file is then
/// still removed on every path except a fatal signal).
int registerPendingTemp(const std::string &path) {
  installCleanupHandlers();
  if (path.size() >= PATH_MAX)
    return -1;
  std::lock_guard<std::mutex> lock(pendingSlotsMutex);
  for (int slot = 0; slot < kMaxPendingTemps; ++slot) {
    PendingTemp &temp = pendingTemps[slot];
    if (temp.inUse)
      continue;
    std::memcpy(temp.path, path.c_str(), path.size() + 1);
    temp.inUse = 1;
    return slot;
  }
  return -1;
}

void unregisterPendingTemp(int slot) {
  if (slot >= 0)
    pendingTemps[slot].inUse = 0;
}

std::string directoryOf(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}
} // namespace

Result<std::unique_ptr<AtomicFileOutputStream>>
AtomicFileOutputStream::create(const std::string &path) {
  if (path.empty())
    return makeError("empty output path");
  // mkstemp in the destination's directory keeps the final rename on one
  // file system, which is what makes it atomic.
  std::string tempPath = path + ".tmp.XXXXXX";
  int fd = ::mkstemp(tempPath.data());
  if (fd < 0)
    return makeError(path, ": cannot create a temporary file in ",
                     directoryOf(path), ": ", std::strerror(errno));
  // mkstemp makes the file 0600; give it the mode a plain open would.
  mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, 0666 & ~mask) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tempPath.c_str());
    return makeError(tempPath,
                     ": cannot set permissions: ", std::strerror(err));
  }
  auto stream = std::unique_ptr<AtomicFileOutputStream>(
      new AtomicFileOutputStream(path, tempPath, fd));
  stream->pendingSlot = registerPendingTemp(tempPath);
  return stream;
}

AtomicFileOutputStream::~AtomicFileOutputStream() {
  if (!committed)
    discard();
}

void AtomicFileOutputStream::discard() {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
  ::unlink(tempPath.c_str());
  unregisterPendingTemp(pendingSlot);
  pendingSlot = -1;
}

Status AtomicFileOutputStream::write(const void *data, size_t size) {
  if (fd < 0)
    return makeError(path, ": write after the file was closed");
  const auto *bytes = static_cast<const uint8_t *>(data);
  while (size != 0) {
    ssize_t n = ::write(fd, bytes, size);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return makeError(tempPath, ": write failed: ", std::strerror(errno));
    }
    bytes += n;
    size -= static_cast<size_t>(n);
    written += static_cast<uint64_t>(n);
  }
  return Status::success();
}

Status AtomicFileOutputStream::commit() {
  if (fd < 0)
    return makeError(path, ": commit after the file was closed");
  if (::fsync(fd) != 0)
    return makeError(tempPath, ": fsync failed: ", std::strerror(errno));
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0)
    return makeError(tempPath, ": close failed: ", std::strerror(errno));
  if (::rename(tempPath.c_str(), path.c_str()) != 0)
    return makeError("cannot rename ", tempPath, " to ", path, ": ",
                     std::strerror(errno));
  committed = true;
  unregisterPendingTemp(pendingSlot);
  pendingSlot = -1;
  // Durability of the rename; the output is complete either way, so a
  // directory that cannot be opened or synced is not an error.
  int dir = ::open(directoryOf(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::success();
}

} // namespace quantc::io
