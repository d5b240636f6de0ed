"""Print the table of 2^(k/128) that cnet/_kernels/vexp.h holds (cnet_exp_tab).

For k = 0 ... 127, with H_k the double nearest 2^(k/128) and T_k the double nearest
2^(k/128) / H_k - 1 (so that 2^(k/128) = H_k (1 + T_k) to far beyond a double's
precision): tab[2k] is the bits of T_k, tab[2k+1] the bits of H_k minus k * 2^45
(k/128 in the exponent field's units, which the exponential adds back).  This is
the table of glibc's exp (since 2.28) and of Arm's optimized-routines, computed
here from its definition; tests/test_vexp.py checks the header against it.

    python tools/exp_table.py > table.txt
"""
import struct
from decimal import Decimal, getcontext


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def exp_table():
    """The 256 64-bit words of the table, in order."""
    getcontext().prec = 60
    words = []
    for k in range(128):
        exact = Decimal(2) ** (Decimal(k) / 128)
        head = float(exact)
        tail = float((exact - Decimal(head)) / Decimal(head))
        words += [bits(tail), bits(head) - (k << 45)]
    return words


if __name__ == "__main__":
    words = exp_table()
    for i in range(0, len(words), 4):
        print("    " + ", ".join("0x%016xull" % w for w in words[i:i + 4]) + ",")
