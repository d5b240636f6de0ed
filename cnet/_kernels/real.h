/* The precision of the compiled kernels: cnet_real is double or float.

   Set per extension by one define, CNET_PRECISION = 64 or 32 (setup.py's
   define_macros); nothing else in the kernels depends on which. */
#ifndef CNET_REAL_H
#define CNET_REAL_H

#include <Python.h>   /* Py_ssize_t */
#include <math.h>
#include <stdint.h>

#if CNET_PRECISION == 64
typedef double cnet_real;
typedef uint64_t cnet_real_bits;      /* an unsigned integer of a real's size */
static inline cnet_real cnet_exp(cnet_real x) { return exp(x); }
static inline cnet_real cnet_tanh(cnet_real x) { return tanh(x); }
#elif CNET_PRECISION == 32
typedef float cnet_real;
typedef uint32_t cnet_real_bits;
static inline cnet_real cnet_exp(cnet_real x) { return expf(x); }
static inline cnet_real cnet_tanh(cnet_real x) { return tanhf(x); }
#else
#error "compile with -DCNET_PRECISION=64 or -DCNET_PRECISION=32 (setup.py sets it per extension)"
#endif

/* V: the reals in one 32-byte vector (4 doubles, 8 floats) */
#define CNET_V ((Py_ssize_t) (32 / sizeof(cnet_real)))
/* Layers after the input are stored in whole blocks of two vectors: 64 bytes, a
   cache line, and one AVX-512 vector */
#define CNET_BLOCK (2 * CNET_V)

#endif
