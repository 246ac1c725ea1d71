package io.gemmaserving.runtime.engine.backend;

import static io.gemmaserving.runtime.engine.tensor.Simd.F;
import static io.gemmaserving.runtime.engine.tensor.Simd.L;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The Vector API kernels of blocked attention ({@link Backend#attentionScores}, {@link Backend#softmaxTile},
 * {@link Backend#attentionValues}). Queries run along the lanes: with the block's queries as columns, each kernel
 * broadcasts one key or value element and multiplies it into {@code L} queries at once, so no product needs a
 * horizontal sum. The two products work in register blocks of 4 rows by 4 vectors of queries (16 accumulators, 4
 * loads and 4 broadcasts per 16 fused multiply-adds); edges go one row by one vector, and queries past the last whole
 * vector lane by lane as the scalar reference does.
 */
final class VectorAttention {

    private VectorAttention() {
    }

    static void scores(float[] qT, int nq, float[] k, int nk, int n, float[] s) {
        int whole = nq - nq % L;
        int j = 0;
        for (; j + 4 <= nk; j += 4) {
            int i = 0;
            for (; i + 4 * L <= whole; i += 4 * L) {
                scores4x4(qT, nq, k, j, n, s, i);
            }
            for (int r = j; r < j + 4; r++) {
                scoresEdge(qT, nq, k, r, n, s, i, whole);
            }
        }
        for (; j < nk; j++) {
            scoresEdge(qT, nq, k, j, n, s, 0, whole);
        }
    }

    /** Keys j .. j+3 against queries i .. i+4L. */
    private static void scores4x4(float[] qT, int nq, float[] k, int j, int n, float[] s, int i) {
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int k0 = j * n, k1 = k0 + n, k2 = k1 + n, k3 = k2 + n;
        for (int d = 0; d < n; d++) {
            int o = d * nq + i;
            FloatVector q0 = FloatVector.fromArray(F, qT, o);
            FloatVector q1 = FloatVector.fromArray(F, qT, o + L);
            FloatVector q2 = FloatVector.fromArray(F, qT, o + 2 * L);
            FloatVector q3 = FloatVector.fromArray(F, qT, o + 3 * L);
            FloatVector b = FloatVector.broadcast(F, k[k0 + d]);
            a00 = q0.fma(b, a00);
            a01 = q1.fma(b, a01);
            a02 = q2.fma(b, a02);
            a03 = q3.fma(b, a03);
            b = FloatVector.broadcast(F, k[k1 + d]);
            a10 = q0.fma(b, a10);
            a11 = q1.fma(b, a11);
            a12 = q2.fma(b, a12);
            a13 = q3.fma(b, a13);
            b = FloatVector.broadcast(F, k[k2 + d]);
            a20 = q0.fma(b, a20);
            a21 = q1.fma(b, a21);
            a22 = q2.fma(b, a22);
            a23 = q3.fma(b, a23);
            b = FloatVector.broadcast(F, k[k3 + d]);
            a30 = q0.fma(b, a30);
            a31 = q1.fma(b, a31);
            a32 = q2.fma(b, a32);
            a33 = q3.fma(b, a33);
        }
        store4(s, j * nq + i, a00, a01, a02, a03);
        store4(s, (j + 1) * nq + i, a10, a11, a12, a13);
        store4(s, (j + 2) * nq + i, a20, a21, a22, a23);
        store4(s, (j + 3) * nq + i, a30, a31, a32, a33);
    }

    /** Key j against queries from i on: whole vectors up to {@code whole}, then lane by lane. */
    private static void scoresEdge(float[] qT, int nq, float[] k, int j, int n, float[] s, int i, int whole) {
        int k0 = j * n;
        for (; i < whole; i += L) {
            FloatVector a = FloatVector.zero(F);
            for (int d = 0; d < n; d++) {
                a = FloatVector.fromArray(F, qT, d * nq + i).fma(FloatVector.broadcast(F, k[k0 + d]), a);
            }
            a.intoArray(s, j * nq + i);
        }
        for (; i < nq; i++) {
            float a = 0f;
            for (int d = 0; d < n; d++) {
                a = Math.fma(k[k0 + d], qT[d * nq + i], a);
            }
            s[j * nq + i] = a;
        }
    }

    static void softmax(float[] s, int nq, int nk, float[] max, float[] sum, float[] scale) {
        int i = 0;
        for (; i + L <= nq; i += L) {
            FloatVector m0 = FloatVector.fromArray(F, max, i);
            FloatVector m = m0;
            for (int j = 0; j < nk; j++) {
                m = m.max(FloatVector.fromArray(F, s, j * nq + i));
            }
            FloatVector total = FloatVector.zero(F);
            for (int j = 0; j < nk; j++) {
                FloatVector e = FloatVector.fromArray(F, s, j * nq + i).sub(m).lanewise(VectorOperators.EXP);
                e.intoArray(s, j * nq + i);
                total = total.add(e);
            }
            FloatVector sc = m0.sub(m).lanewise(VectorOperators.EXP);
            sc.intoArray(scale, i);
            FloatVector.fromArray(F, sum, i).fma(sc, total).intoArray(sum, i);
            m.intoArray(max, i);
        }
        Backend.softmaxColumns(s, nq, nk, max, sum, scale, i);
    }

    static void values(float[] p, int nq, float[] v, int nk, int n, float[] scale, float[] oT) {
        int whole = nq - nq % L;
        int d = 0;
        for (; d + 4 <= n; d += 4) {
            int i = 0;
            for (; i + 4 * L <= whole; i += 4 * L) {
                values4x4(p, nq, v, nk, n, scale, oT, d, i);
            }
            for (int r = d; r < d + 4; r++) {
                valuesEdge(p, nq, v, nk, n, scale, oT, r, i, whole);
            }
        }
        for (; d < n; d++) {
            valuesEdge(p, nq, v, nk, n, scale, oT, d, 0, whole);
        }
    }

    /** Output elements d .. d+3 of queries i .. i+4L. */
    private static void values4x4(float[] p, int nq, float[] v, int nk, int n, float[] scale, float[] oT, int d,
                                  int i) {
        // zero accumulators, the old output scaled in at the store (loaded and scaled up front through a helper,
        // they were boxed: C2 of JDK 25 ran the loop at 2.5 GFLOP/s instead of 55-75)
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int j = 0; j < nk; j++) {
            int o = j * nq + i;
            FloatVector p0 = FloatVector.fromArray(F, p, o);
            FloatVector p1 = FloatVector.fromArray(F, p, o + L);
            FloatVector p2 = FloatVector.fromArray(F, p, o + 2 * L);
            FloatVector p3 = FloatVector.fromArray(F, p, o + 3 * L);
            int vo = j * n + d;
            FloatVector b = FloatVector.broadcast(F, v[vo]);
            a00 = p0.fma(b, a00);
            a01 = p1.fma(b, a01);
            a02 = p2.fma(b, a02);
            a03 = p3.fma(b, a03);
            b = FloatVector.broadcast(F, v[vo + 1]);
            a10 = p0.fma(b, a10);
            a11 = p1.fma(b, a11);
            a12 = p2.fma(b, a12);
            a13 = p3.fma(b, a13);
            b = FloatVector.broadcast(F, v[vo + 2]);
            a20 = p0.fma(b, a20);
            a21 = p1.fma(b, a21);
            a22 = p2.fma(b, a22);
            a23 = p3.fma(b, a23);
            b = FloatVector.broadcast(F, v[vo + 3]);
            a30 = p0.fma(b, a30);
            a31 = p1.fma(b, a31);
            a32 = p2.fma(b, a32);
            a33 = p3.fma(b, a33);
        }
        int o0 = d * nq + i, o1 = o0 + nq, o2 = o1 + nq, o3 = o2 + nq;
        FloatVector s0 = FloatVector.fromArray(F, scale, i);
        FloatVector s1 = FloatVector.fromArray(F, scale, i + L);
        FloatVector s2 = FloatVector.fromArray(F, scale, i + 2 * L);
        FloatVector s3 = FloatVector.fromArray(F, scale, i + 3 * L);
        FloatVector.fromArray(F, oT, o0).fma(s0, a00).intoArray(oT, o0);
        FloatVector.fromArray(F, oT, o0 + L).fma(s1, a01).intoArray(oT, o0 + L);
        FloatVector.fromArray(F, oT, o0 + 2 * L).fma(s2, a02).intoArray(oT, o0 + 2 * L);
        FloatVector.fromArray(F, oT, o0 + 3 * L).fma(s3, a03).intoArray(oT, o0 + 3 * L);
        FloatVector.fromArray(F, oT, o1).fma(s0, a10).intoArray(oT, o1);
        FloatVector.fromArray(F, oT, o1 + L).fma(s1, a11).intoArray(oT, o1 + L);
        FloatVector.fromArray(F, oT, o1 + 2 * L).fma(s2, a12).intoArray(oT, o1 + 2 * L);
        FloatVector.fromArray(F, oT, o1 + 3 * L).fma(s3, a13).intoArray(oT, o1 + 3 * L);
        FloatVector.fromArray(F, oT, o2).fma(s0, a20).intoArray(oT, o2);
        FloatVector.fromArray(F, oT, o2 + L).fma(s1, a21).intoArray(oT, o2 + L);
        FloatVector.fromArray(F, oT, o2 + 2 * L).fma(s2, a22).intoArray(oT, o2 + 2 * L);
        FloatVector.fromArray(F, oT, o2 + 3 * L).fma(s3, a23).intoArray(oT, o2 + 3 * L);
        FloatVector.fromArray(F, oT, o3).fma(s0, a30).intoArray(oT, o3);
        FloatVector.fromArray(F, oT, o3 + L).fma(s1, a31).intoArray(oT, o3 + L);
        FloatVector.fromArray(F, oT, o3 + 2 * L).fma(s2, a32).intoArray(oT, o3 + 2 * L);
        FloatVector.fromArray(F, oT, o3 + 3 * L).fma(s3, a33).intoArray(oT, o3 + 3 * L);
    }

    /** Output element d of queries from i on: whole vectors up to {@code whole}, then lane by lane. */
    private static void valuesEdge(float[] p, int nq, float[] v, int nk, int n, float[] scale, float[] oT, int d,
                                   int i, int whole) {
        for (; i < whole; i += L) {
            FloatVector a = FloatVector.zero(F);
            for (int j = 0; j < nk; j++) {
                a = FloatVector.fromArray(F, p, j * nq + i).fma(FloatVector.broadcast(F, v[j * n + d]), a);
            }
            FloatVector.fromArray(F, oT, d * nq + i).fma(FloatVector.fromArray(F, scale, i), a).intoArray(oT, d * nq + i);
        }
        for (; i < nq; i++) {
            float a = oT[d * nq + i] * scale[i];
            for (int j = 0; j < nk; j++) {
                a = Math.fma(p[j * nq + i], v[j * n + d], a);
            }
            oT[d * nq + i] = a;
        }
    }

    private static void store4(float[] a, int off, FloatVector v0, FloatVector v1, FloatVector v2, FloatVector v3) {
        v0.intoArray(a, off);
        v1.intoArray(a, off + L);
        v2.intoArray(a, off + 2 * L);
        v3.intoArray(a, off + 3 * L);
    }
}
