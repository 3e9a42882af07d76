//===- GeneratedCode.h - warnings policy for TableGen'd code ----*- C++ -*-===//
//
// quantc builds with -Wall -Wextra. TableGen emits code with parameters it
// does not use (adaptors, property hooks); wrap each .inc include in these
// so our own code keeps the full warning set.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_SUPPORT_GENERATEDCODE_H
#define QUANTC_SUPPORT_GENERATEDCODE_H

#define QUANTC_BEGIN_GENERATED_CODE                                            \
  _Pragma("GCC diagnostic push")                                               \
      _Pragma("GCC diagnostic ignored \"-Wunused-parameter\"")
#define QUANTC_END_GENERATED_CODE _Pragma("GCC diagnostic pop")

#endif // QUANTC_SUPPORT_GENERATEDCODE_H
