package dev.rlhf.llama.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.llama.reference.ReferenceLlama.Dims;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ReferenceLlamaTest {

  private static final double EXACT = 1e-12;

  // ---------------------------------------------------------------------------------------------
  // Hand-computed cases
  // ---------------------------------------------------------------------------------------------

  /**
   * 1 layer, D=4, H=2, Hkv=1, hd=2, I=3, V=5, one token at position 0. At position 0 RoPE is the identity and
   * attention over a single token returns its v (softmax of one score is 1), so q_proj/k_proj do not matter.
   */
  @Test
  void handComputedLogitsAtPositionZero() {
    Dims dims = new Dims(4, 3, 2, 1, 1, 5, /* eps */ 3.0, 10000.0, false);
    Map<String, float[]> w = new HashMap<>();
    w.put(
        "model.embed_tokens.weight",
        new float[] {
          0.1f, 0.2f, 0.3f, 0.4f, //
          -0.5f, 0.5f, 0.25f, 0f, //
          1f, -1f, 1f, -1f, // token 2: the one we feed
          2f, 0f, 0f, 1f, //
          0f, 0f, 3f, 0f
        });
    w.put("model.layers.0.input_layernorm.weight", new float[] {1f, 2f, 1f, 2f});
    // q/k: arbitrary, irrelevant at a single position-0 token.
    w.put(
        "model.layers.0.self_attn.q_proj.weight",
        new float[] {0.3f, -0.7f, 1.1f, 0.2f, 0.5f, 0.5f, -0.4f, 0.9f, -1.3f, 0.8f, 0.1f, 0.6f, 0.2f, -0.2f, 0.7f, 1f});
    w.put("model.layers.0.self_attn.k_proj.weight", new float[] {0.4f, 0.1f, -0.6f, 0.3f, -0.9f, 0.2f, 0.5f, 0.7f});
    w.put("model.layers.0.self_attn.v_proj.weight", new float[] {1f, 0f, 0f, 0f, 0f, 1f, 0f, 0f});
    w.put(
        "model.layers.0.self_attn.o_proj.weight",
        new float[] {
          0f, 0f, 2f, -2f, //
          0f, -3f, 0f, 0f, //
          2f, 0f, 0f, 0f, //
          0f, 0f, 0f, -1f
        });
    w.put("model.layers.0.post_attention_layernorm.weight", new float[] {3f, 1.5f, 1.5f, 1f});
    w.put(
        "model.layers.0.mlp.gate_proj.weight",
        new float[] {
          0.5f, 0f, 0f, 0f, //
          0f, 1f, 0f, 0f, //
          0f, 0f, -1f, 0f
        });
    w.put(
        "model.layers.0.mlp.up_proj.weight",
        new float[] {
          0f, 1f, 0f, 0f, //
          0.5f, 0f, 0f, 0f, //
          0f, 1f, 2f, 0f
        });
    w.put(
        "model.layers.0.mlp.down_proj.weight",
        new float[] {
          1f, 0f, 0f, //
          0f, 1f, 0f, //
          0f, 0f, 1f, //
          1f, 1f, 1f
        });
    w.put("model.norm.weight", new float[] {1f, 2f, 1f, 0.5f});
    w.put(
        "lm_head.weight",
        new float[] {
          1f, 0f, 0f, 0f, //
          0f, 1f, 0f, 0f, //
          0f, 0f, 1f, 0f, //
          0f, 0f, 0f, 1f, //
          1f, -1f, 1f, -1f
        });

    // x = embed[2] = [1, -1, 1, -1]; mean(x^2) = 1; sqrt(1 + eps=3) = 2
    // n1 = [1, 2, 1, 2] * x / 2 = [0.5, -1, 0.5, -1]
    // v = v_proj n1 = [0.5, -1]; both query heads share kv head 0 -> concat = [0.5, -1, 0.5, -1]
    // attn = o_proj concat = [2*0.5 - 2*(-1), -3*(-1), 2*0.5, -1*(-1)] = [3, 3, 1, 1]
    // h = x + attn = [4, 2, 2, 0]; mean(h^2) = (16 + 4 + 4 + 0) / 4 = 6; sqrt(6 + 3) = 3
    // m = [3, 1.5, 1.5, 1] * h / 3 = [4, 1, 1, 0]
    // gate = [0.5*4, 1, -1] = [2, 1, -1]; up = [1, 0.5*4, 1 + 2*1] = [1, 2, 3]
    double a0 = silu(2) * 1;
    double a1 = silu(1) * 2;
    double a2 = silu(-1) * 3;
    // down: [a0, a1, a2, a0 + a1 + a2]; out = h + down
    double[] out = {4 + a0, 2 + a1, 2 + a2, 0 + a0 + a1 + a2};
    double r = Math.sqrt((out[0] * out[0] + out[1] * out[1] + out[2] * out[2] + out[3] * out[3]) / 4 + 3.0);
    // final norm weight [1, 2, 1, 0.5]
    double[] f = {out[0] / r, 2 * out[1] / r, out[2] / r, 0.5 * out[3] / r};
    // lm_head rows: e0, e1, e2, e3, [1, -1, 1, -1]
    double[] expected = {f[0], f[1], f[2], f[3], f[0] - f[1] + f[2] - f[3]};

    ReferenceLlama model = new ReferenceLlama(dims, w);
    double[][] logits = model.logits(new int[] {2});
    assertEquals(1, logits.length);
    assertArrayEquals(expected, logits[0], EXACT);
    assertArrayEquals(f, model.hiddenStates(new int[] {2})[0], EXACT);
  }

  /**
   * Two tokens, both at position id 0 (so RoPE is the identity), checks the softmax weighting and the 1/sqrt(hd)
   * scale. D=2, H=Hkv=1, hd=2, eps=0, all projections identity, MLP switched off by a zero down_proj.
   */
  @Test
  void handComputedTwoTokenAttention() {
    Dims dims = new Dims(2, 1, 1, 1, 1, 2, /* eps */ 0.0, 10000.0, true);
    Map<String, float[]> w = new HashMap<>();
    w.put("model.embed_tokens.weight", new float[] {1f, 1f, 1f, -1f}); // token 0 = [1, 1], token 1 = [1, -1]
    w.put("model.layers.0.input_layernorm.weight", new float[] {1f, 1f});
    float[] identity = {1f, 0f, 0f, 1f};
    w.put("model.layers.0.self_attn.q_proj.weight", identity);
    w.put("model.layers.0.self_attn.k_proj.weight", identity);
    w.put("model.layers.0.self_attn.v_proj.weight", identity);
    w.put("model.layers.0.self_attn.o_proj.weight", identity);
    w.put("model.layers.0.post_attention_layernorm.weight", new float[] {1f, 1f});
    w.put("model.layers.0.mlp.gate_proj.weight", new float[] {0.3f, 0.7f});
    w.put("model.layers.0.mlp.up_proj.weight", new float[] {-0.2f, 0.9f});
    w.put("model.layers.0.mlp.down_proj.weight", new float[] {0f, 0f});
    w.put("model.norm.weight", new float[] {1f, 1f});
    // tied: lm_head = embed_tokens = rows [1, 1], [1, -1]

    ReferenceLlama model = new ReferenceLlama(dims, w);
    double[][] logits = model.logits(new int[] {0, 1}, new int[] {0, 0});

    // Index 0: x = [1, 1], rms = 1, so n = q = k = v = [1, 1]; attention over itself returns v = [1, 1].
    // h = [2, 2]; final norm: [2, 2] / sqrt(4) = [1, 1]; logits = [1 + 1, 1 - 1] = [2, 0]
    assertArrayEquals(new double[] {2, 0}, logits[0], EXACT);

    // Index 1: x = [1, -1], rms = 1, n = q = [1, -1]. Keys: k0 = [1, 1], k1 = [1, -1].
    // scores = [q.k0, q.k1] / sqrt(2) = [0, 2 / sqrt(2)] = [0, sqrt(2)]
    double p0 = 1 / (1 + Math.exp(Math.sqrt(2)));
    double p1 = Math.exp(Math.sqrt(2)) / (1 + Math.exp(Math.sqrt(2)));
    // attn = p0 * [1, 1] + p1 * [1, -1] = [1, p0 - p1]; h = x + attn = [2, p0 - p1 - 1]
    double[] h = {2, p0 - p1 - 1};
    double rms = Math.sqrt((h[0] * h[0] + h[1] * h[1]) / 2);
    double[] f = {h[0] / rms, h[1] / rms};
    assertArrayEquals(new double[] {f[0] + f[1], f[0] - f[1]}, logits[1], EXACT);
  }

  // ---------------------------------------------------------------------------------------------
  // RoPE
  // ---------------------------------------------------------------------------------------------

  @Test
  void ropeDependsOnlyOnRelativeOffset() {
    Random rnd = new Random(7);
    double theta = 10000.0;
    double[] q = randomVector(rnd, 8);
    double[] k = randomVector(rnd, 8);
    int[][] pairs = {{0, 0}, {3, 1}, {1, 3}, {10, 2}, {7, 7}, {40, 13}};
    for (int[] pair : pairs) {
      int p = pair[0];
      int pk = pair[1];
      double base = dot(ReferenceLlama.applyRope(q, p, theta), ReferenceLlama.applyRope(k, pk, theta));
      double shifted = dot(ReferenceLlama.applyRope(q, p + 5, theta), ReferenceLlama.applyRope(k, pk + 5, theta));
      assertEquals(base, shifted, 1e-9, "positions " + p + ", " + pk);
    }
    // Not vacuous: a different relative offset gives a different score.
    double off2 = dot(ReferenceLlama.applyRope(q, 2, theta), ReferenceLlama.applyRope(k, 0, theta));
    double off3 = dot(ReferenceLlama.applyRope(q, 3, theta), ReferenceLlama.applyRope(k, 0, theta));
    assertTrue(Math.abs(off2 - off3) > 1e-3, "RoPE should change scores with the offset");
  }

  @Test
  void ropeIsRotateHalfWithExpectedDirectionAndFrequencies() {
    double theta = 10000.0;
    double[] x = {0.3, -1.2, 2.0, 0.7};
    // Position 0: identity.
    assertArrayEquals(x, ReferenceLlama.applyRope(x, 0, theta), EXACT);

    // hd = 4: inv_freq = [theta^0, theta^(-2/4)] = [1, 0.01]; position 3: angles [3, 0.03].
    // Pairs are (0, 2) and (1, 3) (rotate-half, not interleaved):
    // y[j]        = x[j] cos(a_j) - x[j + 2] sin(a_j)
    // y[j + 2]    = x[j + 2] cos(a_j) + x[j] sin(a_j)
    double a0 = 3.0;
    double a1 = 3.0 * 0.01;
    double[] expected = {
      0.3 * Math.cos(a0) - 2.0 * Math.sin(a0),
      -1.2 * Math.cos(a1) - 0.7 * Math.sin(a1),
      2.0 * Math.cos(a0) + 0.3 * Math.sin(a0),
      0.7 * Math.cos(a1) + -1.2 * Math.sin(a1)
    };
    assertArrayEquals(expected, ReferenceLlama.applyRope(x, 3, theta), EXACT);
  }

  // ---------------------------------------------------------------------------------------------
  // Model properties on random weights
  // ---------------------------------------------------------------------------------------------

  private static final Dims SMALL = new Dims(16, 24, 4, 2, 2, 11, 1e-5, 10000.0, false);

  @Test
  void causality() {
    ReferenceLlama model = new ReferenceLlama(SMALL, randomWeights(SMALL, 1));
    int[] a = {1, 2, 3, 4, 5, 6};
    int[] b = {1, 2, 3, 9, 8, 7};
    double[][] la = model.logits(a);
    double[][] lb = model.logits(b);
    for (int t = 0; t <= 2; t++) {
      assertArrayEquals(la[t], lb[t], EXACT, "position " + t + " must not see later tokens");
    }
    for (int t = 3; t < a.length; t++) {
      assertTrue(maxAbsDiff(la[t], lb[t]) > 1e-6, "position " + t + " has different inputs");
    }
  }

  @Test
  void groupedQueryAttentionEqualsRepeatedKvHeads() {
    // Hkv = 1 vs Hkv = H with the single kv head repeated per query head.
    checkGqaEquivalence(1);
    // Hkv = 2 vs Hkv = H: consecutive query heads (0,1) share kv head 0, (2,3) share kv head 1.
    checkGqaEquivalence(2);
  }

  private static void checkGqaEquivalence(int numKvHeads) {
    Dims grouped = new Dims(16, 24, 4, numKvHeads, 2, 11, 1e-5, 10000.0, false);
    Dims full = new Dims(16, 24, 4, 4, 2, 11, 1e-5, 10000.0, false);
    Map<String, float[]> w = randomWeights(grouped, 3);
    int headDim = 4;
    int group = 4 / numKvHeads;
    int[] consecutive = new int[4]; // full head h uses grouped kv head h / group
    int[] interleaved = new int[4]; // wrong mapping h % Hkv, to show the test can tell
    for (int h = 0; h < 4; h++) {
      consecutive[h] = h / group;
      interleaved[h] = h % numKvHeads;
    }

    int[] tokens = {3, 1, 4, 1, 5, 9, 2};
    double[][] expected = new ReferenceLlama(grouped, w).logits(tokens);
    double[][] repeated = new ReferenceLlama(full, repeatKv(w, 2, 16, headDim, consecutive)).logits(tokens);
    for (int t = 0; t < tokens.length; t++) {
      assertArrayEquals(expected[t], repeated[t], 1e-10, "Hkv=" + numKvHeads + " position " + t);
    }
    if (numKvHeads > 1) {
      double[][] wrong = new ReferenceLlama(full, repeatKv(w, 2, 16, headDim, interleaved)).logits(tokens);
      assertTrue(maxAbsDiff(expected[tokens.length - 1], wrong[tokens.length - 1]) > 1e-6);
    }
  }

  /** Builds Hkv=H k/v weights: block h of the new weight is block {@code source[h]} of the old one. */
  private static Map<String, float[]> repeatKv(
      Map<String, float[]> w, int numLayers, int hidden, int headDim, int[] source) {
    Map<String, float[]> out = new HashMap<>(w);
    int block = headDim * hidden;
    for (int i = 0; i < numLayers; i++) {
      for (String proj : new String[] {"k_proj", "v_proj"}) {
        String name = "model.layers." + i + ".self_attn." + proj + ".weight";
        float[] old = w.get(name);
        float[] repeated = new float[source.length * block];
        for (int h = 0; h < source.length; h++) {
          System.arraycopy(old, source[h] * block, repeated, h * block, block);
        }
        out.put(name, repeated);
      }
    }
    return out;
  }

  @Test
  void explicitDefaultPositionIdsMatchImplicitOnes() {
    ReferenceLlama model = new ReferenceLlama(SMALL, randomWeights(SMALL, 5));
    int[] tokens = {7, 0, 10, 3, 3, 8};
    double[][] implicit = model.logits(tokens);
    double[][] explicit = model.logits(tokens, new int[] {0, 1, 2, 3, 4, 5});
    for (int t = 0; t < tokens.length; t++) {
      assertArrayEquals(implicit[t], explicit[t], 0.0);
    }
    // A uniform shift keeps all relative offsets, so RoPE attention (and the logits) are unchanged.
    double[][] shifted = model.logits(tokens, new int[] {5, 6, 7, 8, 9, 10});
    for (int t = 0; t < tokens.length; t++) {
      assertArrayEquals(implicit[t], shifted[t], 1e-9);
    }
    // Not vacuous: a gap in the positions changes the later logits.
    double[][] gapped = model.logits(tokens, new int[] {0, 1, 2, 6, 7, 8});
    assertTrue(maxAbsDiff(implicit[3], gapped[3]) > 1e-6);
  }

  @Test
  void tiedEmbeddingsUseEmbedTokensAsHead() {
    Dims tied = new Dims(16, 24, 4, 2, 1, 11, 1e-5, 10000.0, true);
    Map<String, float[]> w = randomWeights(tied, 9);
    ReferenceLlama model = new ReferenceLlama(tied, w);
    int[] tokens = {2, 4, 6};
    double[][] hidden = model.hiddenStates(tokens);
    double[][] logits = model.logits(tokens);
    float[] embed = w.get("model.embed_tokens.weight");
    for (int t = 0; t < tokens.length; t++) {
      for (int v = 0; v < 11; v++) {
        double expected = 0;
        for (int j = 0; j < 16; j++) {
          expected += embed[v * 16 + j] * hidden[t][j];
        }
        assertEquals(expected, logits[t][v], EXACT);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Validation
  // ---------------------------------------------------------------------------------------------

  @Test
  void missingWeightIsNamed() {
    Map<String, float[]> w = randomWeights(SMALL, 2);
    w.remove("model.layers.1.mlp.up_proj.weight");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> new ReferenceLlama(SMALL, w));
    assertTrue(e.getMessage().contains("model.layers.1.mlp.up_proj.weight"), e.getMessage());

    Map<String, float[]> noHead = randomWeights(SMALL, 2);
    noHead.remove("lm_head.weight");
    e = assertThrows(IllegalArgumentException.class, () -> new ReferenceLlama(SMALL, noHead));
    assertTrue(e.getMessage().contains("lm_head.weight"), e.getMessage());
  }

  @Test
  void wrongLengthIsNamedWithExpectedLength() {
    Map<String, float[]> w = randomWeights(SMALL, 2);
    // k_proj must be [Hkv*hd, D] = [2*4, 16] = 128 values.
    w.put("model.layers.0.self_attn.k_proj.weight", new float[16 * 16]);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> new ReferenceLlama(SMALL, w));
    assertTrue(e.getMessage().contains("model.layers.0.self_attn.k_proj.weight"), e.getMessage());
    assertTrue(e.getMessage().contains("128"), e.getMessage());
  }

  @Test
  void badInputsAreRejected() {
    ReferenceLlama model = new ReferenceLlama(SMALL, randomWeights(SMALL, 4));
    assertThrows(IllegalArgumentException.class, () -> model.logits(new int[] {0, 11}));
    assertThrows(IllegalArgumentException.class, () -> model.logits(new int[] {-1}));
    assertThrows(IllegalArgumentException.class, () -> model.logits(new int[0]));
    assertThrows(IllegalArgumentException.class, () -> model.logits(new int[] {1, 2}, new int[] {0}));
    assertThrows(
        IllegalArgumentException.class,
        () -> new ReferenceLlama(new Dims(16, 24, 3, 1, 1, 11, 1e-5, 1e4, false), Map.of()));
    assertThrows(
        IllegalArgumentException.class,
        () -> new ReferenceLlama(new Dims(16, 24, 4, 3, 1, 11, 1e-5, 1e4, false), Map.of()));
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers
  // ---------------------------------------------------------------------------------------------

  /** Random weights for {@code dims}: projections uniform in [-0.5, 0.5), norm weights around 1. */
  static Map<String, float[]> randomWeights(Dims dims, long seed) {
    Random rnd = new Random(seed);
    int d = dims.hiddenSize();
    int inter = dims.intermediateSize();
    int hd = d / dims.numHeads();
    int q = dims.numHeads() * hd;
    int kv = dims.numKvHeads() * hd;
    Map<String, float[]> w = new HashMap<>();
    w.put("model.embed_tokens.weight", randomFloats(rnd, dims.vocabSize() * d, 0.0, 1.0));
    for (int i = 0; i < dims.numLayers(); i++) {
      String p = "model.layers." + i + ".";
      w.put(p + "input_layernorm.weight", randomFloats(rnd, d, 1.0, 0.4));
      w.put(p + "self_attn.q_proj.weight", randomFloats(rnd, q * d, 0.0, 1.0));
      w.put(p + "self_attn.k_proj.weight", randomFloats(rnd, kv * d, 0.0, 1.0));
      w.put(p + "self_attn.v_proj.weight", randomFloats(rnd, kv * d, 0.0, 1.0));
      w.put(p + "self_attn.o_proj.weight", randomFloats(rnd, d * q, 0.0, 1.0));
      w.put(p + "post_attention_layernorm.weight", randomFloats(rnd, d, 1.0, 0.4));
      w.put(p + "mlp.gate_proj.weight", randomFloats(rnd, inter * d, 0.0, 1.0));
      w.put(p + "mlp.up_proj.weight", randomFloats(rnd, inter * d, 0.0, 1.0));
      w.put(p + "mlp.down_proj.weight", randomFloats(rnd, d * inter, 0.0, 1.0));
    }
    w.put("model.norm.weight", randomFloats(rnd, d, 1.0, 0.4));
    if (!dims.tieWordEmbeddings()) {
      w.put("lm_head.weight", randomFloats(rnd, dims.vocabSize() * d, 0.0, 1.0));
    }
    return w;
  }

  private static float[] randomFloats(Random rnd, int n, double center, double width) {
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = (float) (center + (rnd.nextDouble() - 0.5) * width);
    }
    return out;
  }

  private static double[] randomVector(Random rnd, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = rnd.nextGaussian();
    }
    return v;
  }

  private static double silu(double z) {
    return z / (1 + Math.exp(-z));
  }

  private static double dot(double[] a, double[] b) {
    double acc = 0;
    for (int i = 0; i < a.length; i++) {
      acc += a[i] * b[i];
    }
    return acc;
  }

  private static double maxAbsDiff(double[] a, double[] b) {
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs(a[i] - b[i]));
    }
    return max;
  }
}
