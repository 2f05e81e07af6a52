// Shared by every vrnfast kernel, host and device: qualifiers, dtype codes, element loads and
// bit tricks. Everything here compiles with a plain C++17 compiler and with nvcc.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define VRN_HD __host__ __device__ __forceinline__
#else
#define VRN_HD inline
#endif

// Code under VRN_ISA_BEGIN/END lives in an inline namespace named by VRN_ISA, so that a translation
// unit compiled for another instruction set (mc_cpu_x86v3.cpp) gets its own copies of these inline
// functions instead of sharing, at link time, one compiled for a CPU the machine may not have.
#ifndef VRN_ISA
#define VRN_ISA generic
#endif
#define VRN_ISA_BEGIN namespace vrn { inline namespace VRN_ISA {
#define VRN_ISA_END } }
#define VRN_STRINGIFY_(x) #x
#define VRN_STRINGIFY(x) VRN_STRINGIFY_(x)

VRN_ISA_BEGIN

// Element types the extensions read. The codes are part of the Python <-> C++ contract
// (vrnfast/_backend.py maps array dtypes to them through the extension's `dtypes` dict).
enum class DType : int {
  u8 = 0,  // also bool
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  u64 = 6,
  i64 = 7,
  f16 = 8,
  bf16 = 9,
  f32 = 10,
  f64 = 11,
};

// 16-bit floats travel as their raw bits; these wrappers give them a type to dispatch on.
struct half_bits { uint16_t bits; };
struct bf16_bits { uint16_t bits; };

VRN_HD float bits_to_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// IEEE binary16 -> binary32, exact (subnormals, infinities and NaN included).
VRN_HD float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1fu) return bits_to_float(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    if (mant == 0) return bits_to_float(sign);
    // subnormal: value = mant * 2^-24, exact in float
    const float mag = static_cast<float>(mant) * 5.9604644775390625e-08f;
    return sign ? -mag : mag;
  }
  return bits_to_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

VRN_HD float bf16_to_float(uint16_t b) { return bits_to_float(static_cast<uint32_t>(b) << 16); }

// Value of an element as a double (exact for every supported type but 64-bit integers
// beyond 2^53).
template <class T> VRN_HD double to_double(T v) { return static_cast<double>(v); }
template <> VRN_HD double to_double<half_bits>(half_bits v) { return half_to_float(v.bits); }
template <> VRN_HD double to_double<bf16_bits>(bf16_bits v) { return bf16_to_float(v.bits); }

VRN_HD uint32_t float_to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

// binary32 -> bfloat16 bits, round to nearest even; NaN stays NaN.
VRN_HD uint16_t float_to_bf16(float f) {
  const uint32_t u = float_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// binary32 -> binary16 bits, round to nearest even (subnormals, overflow to inf, NaN kept).
VRN_HD uint16_t float_to_half(float f) {
  const uint32_t u = float_to_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (a < 0x38800000u) {  // below 2^-14: subnormal half (or zero)
    if (a < 0x33000000u) return static_cast<uint16_t>(sign);  // below half the smallest subnormal
    const uint32_t mant = (a & 0x7fffffu) | 0x800000u;
    const int shift = 126 - static_cast<int>(a >> 23);  // 14..24 for this range
    const uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
    return static_cast<uint16_t>(sign | (q + (rem > halfway || (rem == halfway && (q & 1u)))));
  }
  const uint32_t r = a - 0x38000000u;  // rebias exponent 127 -> 15
  return static_cast<uint16_t>(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
}

// Value of an element as a float (exact for 8- and 16-bit types, rounded for wider ones).
template <class T> VRN_HD float to_float(T v) { return static_cast<float>(v); }
template <> VRN_HD float to_float<half_bits>(half_bits v) { return half_to_float(v.bits); }
template <> VRN_HD float to_float<bf16_bits>(bf16_bits v) { return bf16_to_float(v.bits); }

VRN_HD int popcount32(uint32_t x) {
#if defined(__CUDA_ARCH__)
  return __popc(x);
#else
  return __builtin_popcount(x);
#endif
}

VRN_HD int ctz32(uint32_t x) {  // x != 0
#if defined(__CUDA_ARCH__)
  return __ffs(static_cast<int>(x)) - 1;
#else
  return __builtin_ctz(x);
#endif
}

// Number of set bits of m strictly below bit position j, 0 <= j <= 32.
VRN_HD int popcount_below(uint32_t m, int j) {
  return j >= 32 ? popcount32(m) : popcount32(m & ((1u << j) - 1u));
}

VRN_ISA_END
