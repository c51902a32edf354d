"""``Reducer.*`` algorithms, the reducer tree (primitives, combinators) and its kernels."""
