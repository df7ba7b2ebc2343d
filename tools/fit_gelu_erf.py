#!/usr/bin/env python3
"""Fits the polynomials of kernels/cpu/fast_math.h (the CPU erf GELU).

  small |x| < 1:  Phi(x) = 0.5 + x * P(x^2),            P of degree 5
  tail  |x| >= 1: Phi(-t) = exp(-t^2/2) * u * R(u),     u = 4 / (4 + t), R of degree 7

Each fit minimises relative error by iteratively reweighted least squares on
Chebyshev nodes (close to minimax). Run without arguments to survey degrees and
ranges; with --emit to print the coefficients of the configuration the kernel
uses (small: T1 = 1, degree 5; tail: T1 = 1, k = 1/4, degree 7, up to t = 14).
Needs numpy and scipy (Debian: python3-numpy python3-scipy); never run by CI.
"""
import numpy as np
from scipy.special import erfc, erf
import sys
def R(t): return 0.5*erfc(t/np.sqrt(2))*np.exp(t*t/2)
def fit_tail(T1, T2, k, deg, iters=30):
    # u in [u2, u1]
    u1 = 1/(1+k*T1); u2 = 1/(1+k*T2)
    m = 4000
    th = np.cos(np.pi*(np.arange(m)+0.5)/m)
    u = 0.5*(u1+u2) + 0.5*(u1-u2)*th
    t = (1/u - 1)/k
    f = R(t)/u
    w = np.ones(m)
    for it in range(iters):
        A = np.vander(u, deg+1, increasing=True) / f[:,None]
        c, *_ = np.linalg.lstsq(A*w[:,None], w*np.ones(m), rcond=None)
        err = A@c - 1
        w = w*np.sqrt(np.abs(err)/np.abs(err).max()+1e-3)
        w /= w.max()
    return c, np.abs(err).max()
def fit_small(T1, deg, iters=30):
    m=4000
    th = np.cos(np.pi*(np.arange(m)+0.5)/m)
    x = 0.5*T1 + 0.5*T1*th  # x in [0,T1]
    s = x*x
    f = np.where(x>1e-8, (0.5*erf(x/np.sqrt(2)))/np.maximum(x,1e-300), 1/np.sqrt(2*np.pi))
    w=np.ones(m)
    for it in range(iters):
        A = np.vander(s, deg+1, increasing=True)/f[:,None]
        c,*_ = np.linalg.lstsq(A*w[:,None], w*np.ones(m), rcond=None)
        err = A@c-1
        w = w*np.sqrt(np.abs(err)/np.abs(err).max()+1e-3); w/=w.max()
    return c, np.abs(err).max()
if __name__ == "__main__":
    if "--emit" in sys.argv:
        c, e = fit_small(1.0, 5)
        print("small (P, increasing powers of x^2), max rel err %.3g:" % e)
        print(", ".join("%.17g" % v for v in c))
        c, e = fit_tail(1.0, 14, 0.25, 7)
        print("tail (R, increasing powers of u), max rel err %.3g:" % e)
        print(", ".join("%.17g" % v for v in c))
        sys.exit(0)
    for T1 in [0.75, 1.0, 1.25]:
        for deg in [4,5,6]:
            c,e = fit_small(T1,deg); print("small",T1,deg,e)
    for T1 in [0.75,1.0]:
        for k in [0.25,0.5,1.0]:
            for deg in [7,8,9,10,11]:
                c,e = fit_tail(T1,14,k,deg); print("tail",T1,k,deg,"%.3g"%e)
