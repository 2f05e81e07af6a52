// Runs BODY with `scalar_t` bound to the C++ type of a DType code (host or device code alike).
#pragma once
#include <stdexcept>

#include "hd.h"

#define VRN_DTYPE_CASE(CODE, TYPE, ...) \
  case ::vrn::DType::CODE: {            \
    using scalar_t = TYPE;              \
    __VA_ARGS__;                        \
    break;                              \
  }

#define VRN_DISPATCH_DTYPE(DTYPE, ...)                                       \
  switch (DTYPE) {                                                           \
    VRN_DTYPE_CASE(u8, uint8_t, __VA_ARGS__)                                 \
    VRN_DTYPE_CASE(i8, int8_t, __VA_ARGS__)                                  \
    VRN_DTYPE_CASE(u16, uint16_t, __VA_ARGS__)                               \
    VRN_DTYPE_CASE(i16, int16_t, __VA_ARGS__)                                \
    VRN_DTYPE_CASE(u32, uint32_t, __VA_ARGS__)                               \
    VRN_DTYPE_CASE(i32, int32_t, __VA_ARGS__)                                \
    VRN_DTYPE_CASE(u64, uint64_t, __VA_ARGS__)                               \
    VRN_DTYPE_CASE(i64, int64_t, __VA_ARGS__)                                \
    VRN_DTYPE_CASE(f16, ::vrn::half_bits, __VA_ARGS__)                       \
    VRN_DTYPE_CASE(bf16, ::vrn::bf16_bits, __VA_ARGS__)                      \
    VRN_DTYPE_CASE(f32, float, __VA_ARGS__)                                  \
    VRN_DTYPE_CASE(f64, double, __VA_ARGS__)                                 \
    default:                                                                 \
      throw std::invalid_argument("vrnfast: unsupported dtype code");        \
  }
