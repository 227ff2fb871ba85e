package dev.rlhf.llama.cpu;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.config.RopeScaling;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The LLaMA forward pass for one sequence, one position per call, in Java with the Vector API over float copies
 * of the weights. Per position p with input token t (LLaMA 2 §2.2; the same functions as
 * {@link LlamaModel}):
 * <pre>
 * x = E[t]
 * per layer:  a = rms(x) * w_in;  q = Wq a, k = Wk a, v = Wv a;  q, k = rope(q, k, p)   (rotate-half form)
 *             K[p] = k, V[p] = v;  head h reads KV head h / (heads / kvHeads):
 *             o_h = sum_{s<=p} softmax_s(q_h . K[s] / sqrt(hd)) V[s];   x = x + Wo o
 *             b = rms(x) * w_post;  x = x + Wd (silu(Wg b) * (Wu b))
 * logits = W_lm (rms(x) * w_final),   rms(x) = x / sqrt(mean(x^2) + eps)
 * </pre>
 * Every matrix-vector product is a row of dot products, split by rows across a {@link Team}; each row's sum is
 * taken in a fixed order, so logits do not depend on the thread count.
 */
final class VectorDecoder implements SequenceDecoder {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = F.length();

    private final int dim;
    private final int qDim;
    private final int kvDim;
    private final int ffn;
    private final int heads;
    private final int groups;
    private final int headDim;
    private final int layers;
    private final int vocab;
    private final int maxPositions;
    private final float eps;
    private final double[] inverseFrequencies;

    private final float[] embed;
    private final float[][] attnNorm;
    private final float[][] wq;
    private final float[][] wk;
    private final float[][] wv;
    private final float[][] wo;
    private final float[][] ffnNorm;
    private final float[][] wGate;
    private final float[][] wUp;
    private final float[][] wDown;
    private final float[] finalNorm;
    private final float[] lmHead;
    private final Team team;

    private VectorDecoder(LlamaConfig c, LlamaWeights w, int threads) {
        this.dim = c.hiddenSize();
        this.qDim = c.attentionWidth();
        this.kvDim = c.numKeyValueHeads() * c.headDim();
        this.ffn = c.intermediateSize();
        this.heads = c.numAttentionHeads();
        this.groups = c.kvGroups();
        this.headDim = c.headDim();
        this.layers = c.numHiddenLayers();
        this.vocab = c.vocabSize();
        this.maxPositions = c.maxPositionEmbeddings();
        this.eps = (float) c.rmsNormEps();
        this.inverseFrequencies = RopeScaling.inverseFrequencies(headDim, c.ropeTheta(), c.ropeScaling());
        this.embed = CpuDecoding.floats(w.get(LlamaWeights.EMBED));
        this.attnNorm = new float[layers][];
        this.wq = new float[layers][];
        this.wk = new float[layers][];
        this.wv = new float[layers][];
        this.wo = new float[layers][];
        this.ffnNorm = new float[layers][];
        this.wGate = new float[layers][];
        this.wUp = new float[layers][];
        this.wDown = new float[layers][];
        for (int i = 0; i < layers; i++) {
            attnNorm[i] = CpuDecoding.floats(w.get(LlamaWeights.layer(i, "input_layernorm.weight")));
            ffnNorm[i] = CpuDecoding.floats(w.get(LlamaWeights.layer(i, "post_attention_layernorm.weight")));
            wq[i] = CpuDecoding.floats(w.get(LlamaWeights.projection(i, "q_proj")));
            wk[i] = CpuDecoding.floats(w.get(LlamaWeights.projection(i, "k_proj")));
            wv[i] = CpuDecoding.floats(w.get(LlamaWeights.projection(i, "v_proj")));
            wo[i] = CpuDecoding.floats(w.get(LlamaWeights.projection(i, "o_proj")));
            wGate[i] = CpuDecoding.floats(w.get(LlamaWeights.projection(i, "gate_proj")));
            wUp[i] = CpuDecoding.floats(w.get(LlamaWeights.projection(i, "up_proj")));
            wDown[i] = CpuDecoding.floats(w.get(LlamaWeights.projection(i, "down_proj")));
        }
        this.finalNorm = CpuDecoding.floats(w.get(LlamaWeights.FINAL_NORM));
        this.lmHead = c.tieWordEmbeddings() ? embed : CpuDecoding.floats(w.lmHead());
        this.team = new Team(threads, "cpu-decode");
    }

    /** A decoder over the model's weights as they are now, with an active adapter folded in (W + (alpha/r) B A). */
    static VectorDecoder create(LlamaModel model, int threads) {
        LlamaWeights w = model.weights();
        if (!model.adapterActive()) {
            return new VectorDecoder(model.config(), w, threads);
        }
        try (NDManager scratch = w.manager().newSubManager()) {
            return new VectorDecoder(model.config(), w.mergedCopy(scratch), threads);
        }
    }

    int threads() {
        return team.size();
    }

    @Override
    public Sequence newSequence(int capacity) {
        if (capacity < 1 || capacity > maxPositions) {
            throw new IllegalArgumentException("capacity " + capacity + " outside [1, " + maxPositions + "]");
        }
        return new State(capacity);
    }

    @Override
    public void close() {
        team.close();
    }

    /** One sequence: its KV cache and scratch buffers. */
    private final class State implements Sequence {
        private final int capacity;
        private final float[][] keys;
        private final float[][] values;
        private final float[] x = new float[dim];
        private final float[] normed = new float[dim];
        private final float[] q = new float[qDim];
        private final float[] k = new float[kvDim];
        private final float[] v = new float[kvDim];
        private final float[] attended = new float[qDim];
        private final float[] hidden = new float[ffn];
        private final float[] scores;
        private final float[] cos;
        private final float[] sin;
        private final float[] logits = new float[vocab];
        private int length;

        State(int capacity) {
            this.capacity = capacity;
            this.keys = new float[layers][Math.multiplyExact(capacity, kvDim)];
            this.values = new float[layers][Math.multiplyExact(capacity, kvDim)];
            this.scores = new float[Math.multiplyExact(heads, capacity)];
            this.cos = new float[headDim / 2];
            this.sin = new float[headDim / 2];
        }

        @Override
        public int length() {
            return length;
        }

        @Override
        public float[] next(int token) {
            if (token < 0 || token >= vocab) {
                throw new IllegalArgumentException("token id " + token + " out of range [0, " + vocab + ")");
            }
            if (length == capacity) {
                throw new IllegalStateException("sequence full: capacity " + capacity);
            }
            int pos = length;
            System.arraycopy(embed, token * dim, x, 0, dim);
            for (int j = 0; j < cos.length; j++) {
                // The same float values as RotaryEmbedding's tables: angle in double, then rounded.
                double angle = pos * inverseFrequencies[j];
                cos[j] = (float) Math.cos(angle);
                sin[j] = (float) Math.sin(angle);
            }
            for (int i = 0; i < layers; i++) {
                layer(i, pos);
            }
            rmsNorm(x, finalNorm, normed);
            float[] head = lmHead;
            team.run(vocab, (from, to) -> {
                for (int r = from; r < to; r++) {
                    logits[r] = dot(head, r * dim, normed, dim);
                }
            });
            length++;
            return logits;
        }

        private void layer(int i, int pos) {
            rmsNorm(x, attnNorm[i], normed);
            float[] mq = wq[i];
            float[] mk = wk[i];
            float[] mv = wv[i];
            // q, k and v in one region: rows [0, qDim) of Wq, then Wk, then Wv.
            team.run(qDim + 2 * kvDim, (from, to) -> {
                for (int r = from; r < to; r++) {
                    if (r < qDim) {
                        q[r] = dot(mq, r * dim, normed, dim);
                    } else if (r < qDim + kvDim) {
                        k[r - qDim] = dot(mk, (r - qDim) * dim, normed, dim);
                    } else {
                        v[r - qDim - kvDim] = dot(mv, (r - qDim - kvDim) * dim, normed, dim);
                    }
                }
            });
            for (int h = 0; h < heads; h++) {
                rope(q, h * headDim);
            }
            for (int h = 0; h < kvDim / headDim; h++) {
                rope(k, h * headDim);
            }
            System.arraycopy(k, 0, keys[i], pos * kvDim, kvDim);
            System.arraycopy(v, 0, values[i], pos * kvDim, kvDim);
            float[] kc = keys[i];
            float[] vc = values[i];
            team.run(heads, (from, to) -> {
                for (int h = from; h < to; h++) {
                    attend(h, pos, kc, vc);
                }
            });
            float[] mo = wo[i];
            team.run(dim, (from, to) -> {
                for (int r = from; r < to; r++) {
                    x[r] += dot(mo, r * qDim, attended, qDim);
                }
            });
            rmsNorm(x, ffnNorm[i], normed);
            float[] mg = wGate[i];
            float[] mu = wUp[i];
            team.run(ffn, (from, to) -> {
                for (int r = from; r < to; r++) {
                    float g = dot(mg, r * dim, normed, dim);
                    float u = dot(mu, r * dim, normed, dim);
                    hidden[r] = (float) (g / (1 + Math.exp(-g))) * u; // silu(g) * u
                }
            });
            float[] md = wDown[i];
            team.run(dim, (from, to) -> {
                for (int r = from; r < to; r++) {
                    x[r] += dot(md, r * ffn, hidden, ffn);
                }
            });
        }

        /** Head h attends over positions [0, pos] of its KV head; writes attended[h * hd, (h + 1) * hd). */
        private void attend(int h, int pos, float[] kc, float[] vc) {
            int qOff = h * headDim;
            int kvOff = (h / groups) * headDim;
            int sOff = h * capacity;
            float scale = (float) (1 / Math.sqrt(headDim));
            float max = Float.NEGATIVE_INFINITY;
            for (int s = 0; s <= pos; s++) {
                float score = dot(kc, s * kvDim + kvOff, q, qOff, headDim) * scale;
                scores[sOff + s] = score;
                max = Math.max(max, score);
            }
            float sum = 0;
            for (int s = 0; s <= pos; s++) {
                float e = (float) Math.exp(scores[sOff + s] - max);
                scores[sOff + s] = e;
                sum += e;
            }
            float inv = 1 / sum;
            java.util.Arrays.fill(attended, qOff, qOff + headDim, 0f);
            for (int s = 0; s <= pos; s++) {
                axpy(scores[sOff + s] * inv, vc, s * kvDim + kvOff, attended, qOff, headDim);
            }
        }

        /** Rotate-half RoPE on one head at vec[off, off + hd). */
        private void rope(float[] vec, int off) {
            int half = headDim / 2;
            for (int j = 0; j < half; j++) {
                float a = vec[off + j];
                float b = vec[off + j + half];
                vec[off + j] = a * cos[j] - b * sin[j];
                vec[off + j + half] = b * cos[j] + a * sin[j];
            }
        }

        private void rmsNorm(float[] in, float[] weight, float[] out) {
            float ss = dot(in, 0, in, 0, dim);
            float inv = (float) (1 / Math.sqrt(ss / dim + eps));
            for (int j = 0; j < dim; j++) {
                out[j] = in[j] * inv * weight[j];
            }
        }
    }

    /** sum_j a[aOff + j] * b[j], j < n. */
    static float dot(float[] a, int aOff, float[] b, int n) {
        return dot(a, aOff, b, 0, n);
    }

    /** sum_j a[aOff + j] * b[bOff + j], j < n: two vector accumulators, then the scalar tail. */
    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int j = 0;
        for (int bound = n - 2 * LANES; j <= bound; j += 2 * LANES) {
            acc0 = FloatVector.fromArray(F, a, aOff + j).fma(FloatVector.fromArray(F, b, bOff + j), acc0);
            acc1 = FloatVector.fromArray(F, a, aOff + j + LANES)
                    .fma(FloatVector.fromArray(F, b, bOff + j + LANES), acc1);
        }
        for (int bound = n - LANES; j <= bound; j += LANES) {
            acc0 = FloatVector.fromArray(F, a, aOff + j).fma(FloatVector.fromArray(F, b, bOff + j), acc0);
        }
        float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; j < n; j++) {
            sum += a[aOff + j] * b[bOff + j];
        }
        return sum;
    }

    /** y[yOff + j] += alpha * x[xOff + j], j < n. */
    static void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        int j = 0;
        FloatVector a = FloatVector.broadcast(F, alpha);
        for (int bound = n - LANES; j <= bound; j += LANES) {
            FloatVector.fromArray(F, x, xOff + j).fma(a, FloatVector.fromArray(F, y, yOff + j))
                    .intoArray(y, yOff + j);
        }
        for (; j < n; j++) {
            y[yOff + j] += alpha * x[xOff + j];
        }
    }
}
