#!/usr/bin/python3
# Independent reference for the known answers in tests/unit/test_rng.c: the
# key mixing, xoshiro256** and the 256-layer ziggurat in big-integer and
# 40-digit arithmetic (mpmath; Debian's python3-mpmath).  Prints the values
# the unit test checks.
from mpmath import mp, mpf, exp, log, sqrt, erfc, pi, findroot
mp.dps = 40
M = (1 << 64) - 1
def sm(x):
    x = (x + 0x9e3779b97f4a7c15) & M; z = x
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    return x, z ^ (z >> 31)
def init(seed, a, b, c):
    x, h = sm(seed); x, h = sm(h ^ a); x, h = sm(h ^ b); x, h = sm(h ^ c)
    x = h; s = []
    for i in range(4): x, z = sm(x); s.append(z)
    return s
rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M
def nxt(s):
    out = (rotl((s[1] * 5) & M, 7) * 9) & M; t = (s[1] << 17) & M
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45)
    return out
f = lambda x: exp(-x * x / 2)
def resid(R):
    V = R * f(R) + sqrt(pi / 2) * erfc(R / sqrt(2)); x = R
    for i in range(254):
        y = f(x) + V / x
        if y >= 1: return mpf(-1) * (254 - i)
        x = sqrt(-2 * log(y))
    return x * (1 - f(x)) - V
R = findroot(resid, mpf('3.6541528853610088')); V = R * f(R) + sqrt(pi / 2) * erfc(R / sqrt(2))
X = [V / f(R), R]
for i in range(1, 255): X.append(sqrt(-2 * log(f(X[i]) + V / X[i])))
X.append(mpf(0)); F = [f(x) for x in X]
def unif(s): return (nxt(s) >> 11) / 2.0**53
def normal(s):
    while True:
        b = nxt(s); i = b & 0xff; u = b >> 11; sg = -1 if b & 0x100 else 1
        x = u * X[i] / 2**53
        if x < X[i + 1]: return sg * x
        if i == 0:
            while True:
                a = -log(1 - mpf(unif(s))) / R; bb = -log(1 - mpf(unif(s)))
                if 2 * bb >= a * a: return sg * (R + a)
        y = F[i] + mpf(unif(s)) * (F[i + 1] - F[i])
        if y < f(x): return sg * x
s = init(1, 2, 3, 4); print([mp.nstr(normal(s), 17) for i in range(8)])
s = init(5, 0, 0, 0); v = [normal(s) for i in range(5955)]; print(mp.nstr(v[5170], 17), mp.nstr(v[5954], 17))
