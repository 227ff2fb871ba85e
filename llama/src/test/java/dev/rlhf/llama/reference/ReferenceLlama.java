package dev.rlhf.llama.reference;

import java.util.Map;
import java.util.Objects;

/**
 * A deliberately naive reference forward pass of LLaMA-2 ({@code LlamaForCausalLM} as in Hugging Face
 * transformers), written directly from the formulas in plain Java with {@code double} arithmetic. It exists only so
 * tests can check the real (DJL) implementation against an independent computation; it is slow, allocates freely and
 * is meant for tiny models.
 *
 * <p>One sequence at a time, no padding, no KV cache. Attention is causal by index within the sequence: the token at
 * index {@code t} attends to indices {@code 0..t}. Position ids only feed RoPE.
 *
 * <p>Weights are Hugging Face tensor names mapped to row-major {@code float} values ({@code torch.nn.Linear} weights
 * are {@code [out, in]}). The arrays are used as given, not copied; names this class does not need are ignored.
 */
public final class ReferenceLlama {

  /** Model hyper-parameters, named as in Hugging Face {@code LlamaConfig}. */
  public record Dims(
      int hiddenSize,
      int intermediateSize,
      int numHeads,
      int numKvHeads,
      int numLayers,
      int vocabSize,
      double rmsNormEps,
      double ropeTheta,
      boolean tieWordEmbeddings,
      int headDimOverride,
      double[] inverseFrequencies) {

    /** A LLaMA 2 model: head dim {@code hiddenSize / numHeads}, frequencies {@code theta^(-2j/hd)}. */
    public Dims(
        int hiddenSize,
        int intermediateSize,
        int numHeads,
        int numKvHeads,
        int numLayers,
        int vocabSize,
        double rmsNormEps,
        double ropeTheta,
        boolean tieWordEmbeddings) {
      this(hiddenSize, intermediateSize, numHeads, numKvHeads, numLayers, vocabSize, rmsNormEps, ropeTheta,
          tieWordEmbeddings, 0, null);
    }

    /** Per-head dimension: {@code head_dim} when given (Llama 3.x), else {@code hiddenSize / numHeads}. */
    public int headDim() {
      return headDimOverride > 0 ? headDimOverride : hiddenSize / numHeads;
    }
  }

  /** The weights of one decoder layer. */
  private record Layer(
      float[] inputNorm,
      float[] qProj,
      float[] kProj,
      float[] vProj,
      float[] oProj,
      float[] postAttentionNorm,
      float[] gateProj,
      float[] upProj,
      float[] downProj) {}

  private final Dims dims;
  private final int headDim;
  private final float[] embedTokens;
  private final Layer[] layers;
  private final float[] finalNorm;
  private final float[] lmHead;

  /**
   * @param dims model hyper-parameters
   * @param weights Hugging Face {@code LlamaForCausalLM} tensor names to row-major float values
   * @throws IllegalArgumentException if the dims are inconsistent, a needed weight is missing, or has the wrong length
   */
  public ReferenceLlama(Dims dims, Map<String, float[]> weights) {
    this.dims = Objects.requireNonNull(dims, "dims");
    Objects.requireNonNull(weights, "weights");
    validateDims(dims);
    this.headDim = dims.headDim();

    int d = dims.hiddenSize();
    int inter = dims.intermediateSize();
    int qOut = dims.numHeads() * headDim;
    int kvOut = dims.numKvHeads() * headDim;

    this.embedTokens = weight(weights, "model.embed_tokens.weight", (long) dims.vocabSize() * d);
    this.layers = new Layer[dims.numLayers()];
    for (int i = 0; i < dims.numLayers(); i++) {
      String p = "model.layers." + i + ".";
      layers[i] =
          new Layer(
              weight(weights, p + "input_layernorm.weight", d),
              weight(weights, p + "self_attn.q_proj.weight", (long) qOut * d),
              weight(weights, p + "self_attn.k_proj.weight", (long) kvOut * d),
              weight(weights, p + "self_attn.v_proj.weight", (long) kvOut * d),
              weight(weights, p + "self_attn.o_proj.weight", (long) d * qOut),
              weight(weights, p + "post_attention_layernorm.weight", d),
              weight(weights, p + "mlp.gate_proj.weight", (long) inter * d),
              weight(weights, p + "mlp.up_proj.weight", (long) inter * d),
              weight(weights, p + "mlp.down_proj.weight", (long) d * inter));
    }
    this.finalNorm = weight(weights, "model.norm.weight", d);
    this.lmHead =
        dims.tieWordEmbeddings()
            ? embedTokens
            : weight(weights, "lm_head.weight", (long) dims.vocabSize() * d);
  }

  public Dims dims() {
    return dims;
  }

  /** Logits for every position of one sequence: {@code result[t][v]}, positions {@code 0..T-1}. */
  public double[][] logits(int[] tokens) {
    return logits(tokens, defaultPositions(tokens));
  }

  /** Logits with explicit RoPE position ids (one per token); attention stays causal by index. */
  public double[][] logits(int[] tokens, int[] positionIds) {
    double[][] hidden = hiddenStates(tokens, positionIds);
    double[][] out = new double[hidden.length][];
    for (int t = 0; t < hidden.length; t++) {
      out[t] = matVec(lmHead, dims.vocabSize(), dims.hiddenSize(), hidden[t]);
    }
    return out;
  }

  /** Final hidden states after the final norm, {@code [T][hiddenSize]}, positions {@code 0..T-1}. */
  public double[][] hiddenStates(int[] tokens) {
    return hiddenStates(tokens, defaultPositions(tokens));
  }

  /** Final hidden states after the final norm, {@code [T][hiddenSize]}, with explicit RoPE position ids. */
  public double[][] hiddenStates(int[] tokens, int[] positionIds) {
    validateInputs(tokens, positionIds);
    int d = dims.hiddenSize();

    // Embedding lookup.
    double[][] x = new double[tokens.length][d];
    for (int t = 0; t < tokens.length; t++) {
      for (int j = 0; j < d; j++) {
        x[t][j] = embedTokens[tokens[t] * d + j];
      }
    }

    // Decoder layers: h = x + attn(norm(x)); out = h + mlp(norm(h)).
    for (Layer layer : layers) {
      double[][] normed = new double[x.length][];
      for (int t = 0; t < x.length; t++) {
        normed[t] = rmsNorm(x[t], layer.inputNorm(), dims.rmsNormEps());
      }
      double[][] attn = attention(layer, normed, positionIds);
      double[][] h = add(x, attn);

      double[][] out = new double[h.length][];
      for (int t = 0; t < h.length; t++) {
        double[] m = mlp(layer, rmsNorm(h[t], layer.postAttentionNorm(), dims.rmsNormEps()));
        out[t] = add(h[t], m);
      }
      x = out;
    }

    // Final norm.
    double[][] result = new double[x.length][];
    for (int t = 0; t < x.length; t++) {
      result[t] = rmsNorm(x[t], finalNorm, dims.rmsNormEps());
    }
    return result;
  }

  // ---------------------------------------------------------------------------------------------
  // Building blocks
  // ---------------------------------------------------------------------------------------------

  /** RMSNorm: {@code y = w * x / sqrt(mean(x^2) + eps)}. */
  private static double[] rmsNorm(double[] x, float[] weight, double eps) {
    double sumSq = 0;
    for (double v : x) {
      sumSq += v * v;
    }
    double inv = 1.0 / Math.sqrt(sumSq / x.length + eps);
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      y[i] = weight[i] * (x[i] * inv);
    }
    return y;
  }

  /**
   * Rotary embedding of ONE head's vector (rotate-half form): {@code x' = x * cos + rotate_half(x) * sin} with
   * {@code inv_freq[j] = theta^(-2j/hd)}, {@code angle[j] = position * inv_freq[j]}, cos/sin of length {@code hd} being
   * {@code [cos(angle), cos(angle)]} and {@code rotate_half(x) = [-x[hd/2:], x[:hd/2]]}.
   */
  static double[] applyRope(double[] x, int position, double ropeTheta) {
    int hd = x.length;
    double[] invFreq = new double[hd / 2];
    for (int j = 0; j < invFreq.length; j++) {
      invFreq[j] = Math.pow(ropeTheta, -(2.0 * j) / hd);
    }
    return applyRope(x, position, invFreq);
  }

  /** As above with the inverse frequencies given (a scaled RoPE: the caller computes them). */
  static double[] applyRope(double[] x, int position, double[] inverseFrequencies) {
    int hd = x.length;
    if (hd % 2 != 0) {
      throw new IllegalArgumentException("RoPE needs an even head dimension, got " + hd);
    }
    int half = hd / 2;
    double[] y = new double[hd];
    for (int j = 0; j < half; j++) {
      double invFreq = inverseFrequencies[j];
      double angle = position * invFreq;
      double cos = Math.cos(angle);
      double sin = Math.sin(angle);
      // first half:  x[j] * cos + (-x[j + half]) * sin
      y[j] = x[j] * cos - x[j + half] * sin;
      // second half: x[j + half] * cos + x[j] * sin
      y[j + half] = x[j + half] * cos + x[j] * sin;
    }
    return y;
  }

  /**
   * Causal multi-head self-attention with grouped-query heads over the whole sequence. Query head {@code h} uses kv
   * head {@code h / (numHeads / numKvHeads)}. Returns {@code o_proj(concat(heads))} for every position.
   */
  private double[][] attention(Layer layer, double[][] normed, int[] positionIds) {
    int seqLen = normed.length;
    int d = dims.hiddenSize();
    int numHeads = dims.numHeads();
    int numKvHeads = dims.numKvHeads();
    int groupSize = numHeads / numKvHeads;

    // Projections, split into heads, RoPE on q and k: q[t][h][i], k[t][kvh][i], v[t][kvh][i].
    double[][][] q = new double[seqLen][][];
    double[][][] k = new double[seqLen][][];
    double[][][] v = new double[seqLen][][];
    for (int t = 0; t < seqLen; t++) {
      q[t] = splitHeads(matVec(layer.qProj(), numHeads * headDim, d, normed[t]), numHeads);
      k[t] = splitHeads(matVec(layer.kProj(), numKvHeads * headDim, d, normed[t]), numKvHeads);
      v[t] = splitHeads(matVec(layer.vProj(), numKvHeads * headDim, d, normed[t]), numKvHeads);
      for (int h = 0; h < numHeads; h++) {
        q[t][h] = rope(q[t][h], positionIds[t]);
      }
      for (int h = 0; h < numKvHeads; h++) {
        k[t][h] = rope(k[t][h], positionIds[t]);
      }
    }

    double scale = 1.0 / Math.sqrt(headDim);
    double[][] out = new double[seqLen][];
    for (int t = 0; t < seqLen; t++) {
      double[] concat = new double[numHeads * headDim];
      for (int h = 0; h < numHeads; h++) {
        int kvh = h / groupSize;
        // Scores against keys 0..t only (causal mask).
        double[] scores = new double[t + 1];
        for (int s = 0; s <= t; s++) {
          scores[s] = dot(q[t][h], k[s][kvh]) * scale;
        }
        double[] probs = softmax(scores);
        for (int s = 0; s <= t; s++) {
          for (int i = 0; i < headDim; i++) {
            concat[h * headDim + i] += probs[s] * v[s][kvh][i];
          }
        }
      }
      out[t] = matVec(layer.oProj(), d, numHeads * headDim, concat);
    }
    return out;
  }

  /** SwiGLU MLP: {@code down(silu(gate(x)) * up(x))}, {@code silu(z) = z * sigmoid(z)}. */
  private double[] mlp(Layer layer, double[] x) {
    int d = dims.hiddenSize();
    int inter = dims.intermediateSize();
    double[] gate = matVec(layer.gateProj(), inter, d, x);
    double[] up = matVec(layer.upProj(), inter, d, x);
    double[] act = new double[inter];
    for (int i = 0; i < inter; i++) {
      double z = gate[i];
      double silu = z / (1.0 + Math.exp(-z));
      act[i] = silu * up[i];
    }
    return matVec(layer.downProj(), d, inter, act);
  }

  /** {@code y = W x} for a row-major {@code W} of shape {@code [rows, cols]}. */
  private static double[] matVec(float[] w, int rows, int cols, double[] x) {
    double[] y = new double[rows];
    for (int r = 0; r < rows; r++) {
      double acc = 0;
      int base = r * cols;
      for (int c = 0; c < cols; c++) {
        acc += w[base + c] * x[c];
      }
      y[r] = acc;
    }
    return y;
  }

  // ---------------------------------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------------------------------

  private double[][] splitHeads(double[] flat, int heads) {
    double[][] out = new double[heads][headDim];
    for (int h = 0; h < heads; h++) {
      System.arraycopy(flat, h * headDim, out[h], 0, headDim);
    }
    return out;
  }

  private static double[] softmax(double[] scores) {
    double max = Double.NEGATIVE_INFINITY;
    for (double s : scores) {
      max = Math.max(max, s);
    }
    double sum = 0;
    double[] p = new double[scores.length];
    for (int i = 0; i < scores.length; i++) {
      p[i] = Math.exp(scores[i] - max);
      sum += p[i];
    }
    for (int i = 0; i < p.length; i++) {
      p[i] /= sum;
    }
    return p;
  }

  private static double dot(double[] a, double[] b) {
    double acc = 0;
    for (int i = 0; i < a.length; i++) {
      acc += a[i] * b[i];
    }
    return acc;
  }

  private static double[] add(double[] a, double[] b) {
    double[] c = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      c[i] = a[i] + b[i];
    }
    return c;
  }

  private static double[][] add(double[][] a, double[][] b) {
    double[][] c = new double[a.length][];
    for (int t = 0; t < a.length; t++) {
      c[t] = add(a[t], b[t]);
    }
    return c;
  }

  private static int[] defaultPositions(int[] tokens) {
    Objects.requireNonNull(tokens, "tokens");
    int[] positions = new int[tokens.length];
    for (int t = 0; t < positions.length; t++) {
      positions[t] = t;
    }
    return positions;
  }

  // ---------------------------------------------------------------------------------------------
  // Validation
  // ---------------------------------------------------------------------------------------------

  private double[] rope(double[] x, int position) {
    return dims.inverseFrequencies() == null
        ? applyRope(x, position, dims.ropeTheta())
        : applyRope(x, position, dims.inverseFrequencies());
  }

  private static void validateDims(Dims dims) {
    if (dims.hiddenSize() <= 0
        || dims.intermediateSize() <= 0
        || dims.numHeads() <= 0
        || dims.numKvHeads() <= 0
        || dims.numLayers() < 0
        || dims.vocabSize() <= 0) {
      throw new IllegalArgumentException("sizes must be positive (numLayers >= 0): " + dims);
    }
    if (dims.headDimOverride() <= 0 && dims.hiddenSize() % dims.numHeads() != 0) {
      throw new IllegalArgumentException(
          "hiddenSize " + dims.hiddenSize() + " is not divisible by numHeads " + dims.numHeads());
    }
    if (dims.numHeads() % dims.numKvHeads() != 0) {
      throw new IllegalArgumentException(
          "numHeads " + dims.numHeads() + " is not divisible by numKvHeads " + dims.numKvHeads());
    }
    if (dims.headDim() % 2 != 0) {
      throw new IllegalArgumentException("head dim " + dims.headDim() + " must be even for RoPE");
    }
    if (!(dims.rmsNormEps() >= 0) || !(dims.ropeTheta() > 0)) {
      throw new IllegalArgumentException("rmsNormEps must be >= 0 and ropeTheta > 0: " + dims);
    }
  }

  private static float[] weight(Map<String, float[]> weights, String name, long expectedLength) {
    float[] w = weights.get(name);
    if (w == null) {
      throw new IllegalArgumentException("missing weight " + name);
    }
    if (w.length != expectedLength) {
      throw new IllegalArgumentException(
          "weight " + name + " has length " + w.length + ", expected " + expectedLength);
    }
    return w;
  }

  private void validateInputs(int[] tokens, int[] positionIds) {
    Objects.requireNonNull(tokens, "tokens");
    Objects.requireNonNull(positionIds, "positionIds");
    if (tokens.length == 0) {
      throw new IllegalArgumentException("tokens must not be empty");
    }
    if (positionIds.length != tokens.length) {
      throw new IllegalArgumentException(
          "positionIds has length " + positionIds.length + ", expected " + tokens.length);
    }
    for (int t = 0; t < tokens.length; t++) {
      if (tokens[t] < 0 || tokens[t] >= dims.vocabSize()) {
        throw new IllegalArgumentException(
            "token " + tokens[t] + " at index " + t + " is outside [0, " + dims.vocabSize() + ")");
      }
      if (positionIds[t] < 0) {
        throw new IllegalArgumentException("position id " + positionIds[t] + " at index " + t + " is negative");
      }
    }
  }
}
