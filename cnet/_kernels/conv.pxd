# Chapter 6's loops (conv.h); see the comments there for what each computes.
from libc.stdint cimport uint64_t
from cnet._kernels.real cimport real_t

cdef extern from "conv.h":
    void cnet_im2col(const real_t *inp, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t h,
                     Py_ssize_t w, real_t *col, Py_ssize_t ld) noexcept nogil
    void cnet_im2row(const real_t *inp, Py_ssize_t H, Py_ssize_t W, Py_ssize_t h, Py_ssize_t w,
                     Py_ssize_t k0, Py_ssize_t k1, real_t *colT, Py_ssize_t ld) noexcept nogil
    void cnet_col2im_add(const real_t *dcol, Py_ssize_t ld, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                         Py_ssize_t h, Py_ssize_t w, real_t *inp) noexcept nogil
    void cnet_flip(const real_t *filters, Py_ssize_t F, Py_ssize_t C, Py_ssize_t h, Py_ssize_t w,
                   int transposed, real_t *flipped) noexcept nogil
    void cnet_unflip(const real_t *sums, Py_ssize_t ld, Py_ssize_t k0, Py_ssize_t k1, Py_ssize_t F,
                     Py_ssize_t C, Py_ssize_t h, Py_ssize_t w, real_t *grad) noexcept nogil
    void cnet_maxpool(const real_t *a, Py_ssize_t F, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t ph,
                      Py_ssize_t pw, real_t *out) noexcept nogil
    void cnet_maxpool_grad(const real_t *a, const real_t *out, const real_t *dout, Py_ssize_t F,
                           Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t ph, Py_ssize_t pw, real_t *da) noexcept nogil
    void cnet_dropout_keep(uint64_t seed, uint64_t step, uint64_t example, Py_ssize_t units, double p,
                           unsigned char *keep) noexcept nogil
