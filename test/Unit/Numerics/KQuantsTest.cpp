//===- KQuantsTest.cpp - Q2_K Q3_K Q4_K Q5_K Q6_K Q8_K --------------------===//

#include "quantc/Numerics/KQuants.h"

#include "BlockTesting.h"

#include <gtest/gtest.h>

using namespace quantc;
using namespace quantc::test;

namespace {

INSTANTIATE_TEST_SUITE_P(KQuants, BlockGolden,
                         testing::Values(GoldenCase{Format::Q2_K, "plain"},
                                         GoldenCase{Format::Q2_K, "imatrix"},
                                         GoldenCase{Format::Q3_K, "plain"},
                                         GoldenCase{Format::Q3_K, "imatrix"},
                                         GoldenCase{Format::Q4_K, "plain"},
                                         GoldenCase{Format::Q4_K, "imatrix"},
                                         GoldenCase{Format::Q5_K, "plain"},
                                         GoldenCase{Format::Q5_K, "imatrix"},
                                         GoldenCase{Format::Q6_K, "plain"},
                                         GoldenCase{Format::Q6_K, "imatrix"}),
                         goldenCaseName);

} // namespace
