/* What the CPU can run. */
#ifndef CNET_CPU_H
#define CNET_CPU_H

/* 1 when this CPU runs AVX2 and FMA instructions */
static int cnet_cpu_has_avx2(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* 1 when this CPU also runs the AVX-512 instructions the wide build uses (F, VL, DQ) */
static int cnet_cpu_has_avx512(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    return cnet_cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
           && __builtin_cpu_supports("avx512dq");
#else
    return 0;
#endif
}

#endif
