"""Print the tables of 2^(k/N) that cnet/_kernels/vexp.h holds: cnet_exp_tab (N = 128,
double precision) and cnet_expf_tab (N = 32, single precision).

exp's: for k = 0 ... 127, with H_k the double nearest 2^(k/128) and T_k the double
nearest 2^(k/128) / H_k - 1 (so that 2^(k/128) = H_k (1 + T_k) far beyond a double's
precision), tab[2k] is the bits of T_k and tab[2k+1] the bits of H_k minus k * 2^45
(k/128 in the exponent field's units, which the exponential adds back).  expf's: for
k = 0 ... 31, the bits of the double nearest 2^(k/32) minus k * 2^47.  These are the
tables of glibc's exp and expf (since 2.28 and 2.27) and of Arm's optimized-routines,
computed here from their definitions; tests/test_vexp.py checks the header against them.

    python tools/exp_table.py
"""
import struct
from decimal import Decimal, getcontext


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def exp_table():
    """exp's 256 64-bit words, in order."""
    getcontext().prec = 60
    words = []
    for k in range(128):
        exact = Decimal(2) ** (Decimal(k) / 128)
        head = float(exact)
        tail = float((exact - Decimal(head)) / Decimal(head))
        words += [bits(tail), bits(head) - (k << 45)]
    return words


def expf_table():
    """expf's 32 64-bit words, in order."""
    getcontext().prec = 60
    return [bits(float(Decimal(2) ** (Decimal(k) / 32))) - (k << 47) for k in range(32)]


def rows(words):
    return "\n".join("    " + ", ".join("0x%016xull" % w for w in words[i:i + 4]) + ","
                     for i in range(0, len(words), 4))


if __name__ == "__main__":
    print("cnet_exp_tab:\n" + rows(exp_table()) + "\ncnet_expf_tab:\n" + rows(expf_table()))
