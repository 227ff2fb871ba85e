package dev.rlhf.llama.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class LlamaConfigTest {
    /** The fields of meta-llama/Llama-3.2-1B's config.json, with the sizes shrunk (the fields are what matter). */
    static final String LLAMA_32 = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "attention_bias": false,
             "mlp_bias": false, "attention_dropout": 0.0, "hidden_act": "silu", "pretraining_tp": 1,
             "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
             "head_dim": 12, "num_hidden_layers": 2, "max_position_embeddings": 131072, "rms_norm_eps": 1e-05,
             "rope_theta": 500000.0, "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0,
             "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
             "vocab_size": 300, "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": [2, 5, 7],
             "torch_dtype": "bfloat16", "use_cache": true}""";

    @Test
    void aLlama32ConfigLoadsWithItsHeadDimRopeScalingAndEveryEosId() {
        LlamaConfig c = LlamaConfig.fromJson(LLAMA_32);
        assertEquals(12, c.headDim(), "head_dim is explicit, not hidden_size / heads = 8");
        assertEquals(48, c.attentionWidth());
        assertEquals(RopeScaling.llama3(32, 1, 4, 8192), c.ropeScaling());
        assertEquals(500000.0, c.ropeTheta());
        assertEquals(131072, c.maxPositionEmbeddings());
        assertTrue(c.tieWordEmbeddings());
        assertEquals(2, c.eosTokenId());
        assertEquals(List.of(2, 5, 7), c.eosTokenIds());
        assertTrue(c.isEos(5) && c.isEos(7) && !c.isEos(1));
        assertEquals(c, LlamaConfig.fromJson(c.toJson()), "written and read back unchanged");
        assertEquals(LlamaConfig.preset("tiny"), LlamaConfig.fromJson(LlamaConfig.preset("tiny").toJson()));
    }

    @Test
    void whatCannotBeComputedIsRefusedByNameNeverIgnored() {
        assertRefused("rope_scaling type 'yarn' is not supported", "\"rope_scaling\": {\"rope_type\": \"yarn\", "
                + "\"factor\": 4.0}");
        assertRefused("rope_scaling type 'dynamic' is not supported", "\"rope_scaling\": {\"type\": \"dynamic\", "
                + "\"factor\": 2.0}");
        assertRefused("rope_scaling: missing factor", "\"rope_scaling\": {\"rope_type\": \"linear\"}");
        assertRefused("attention_bias true is not supported", "\"attention_bias\": true");
        assertRefused("mlp_bias true is not supported", "\"mlp_bias\": true");
        assertRefused("architecture [\"MistralForCausalLM\"] is not supported",
                "\"architectures\": [\"MistralForCausalLM\"]");
        assertRefused("model_type 'qwen2' is not supported", "\"model_type\": \"qwen2\"");
        assertRefused("hidden_act 'gelu' is not supported", "\"hidden_act\": \"gelu\"");
        assertRefused("eos_token_id must be in [0, vocab_size), got 300", "\"eos_token_id\": [2, 300]");
        assertRefused("head_dim (7) must be even", "\"head_dim\": 7");
        // Absent or null rope_scaling, and HF's "default" type, mean no scaling.
        assertNull(LlamaConfig.fromJson(config("\"rope_scaling\": null")).ropeScaling());
        assertNull(LlamaConfig.fromJson(config("\"rope_scaling\": {\"rope_type\": \"default\"}")).ropeScaling());
    }

    private static String config(String extra) {
        return "{\"hidden_size\": 16, \"intermediate_size\": 32, \"num_attention_heads\": 2, "
                + "\"num_hidden_layers\": 1, \"vocab_size\": 300, " + extra + "}";
    }

    private static void assertRefused(String message, String extra) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LlamaConfig.fromJson(config(extra)));
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    /**
     * Hand-computed (head dim 8, theta 10^4: f = 1, 0.1, 0.01, 0.001, wavelengths 2 pi / f = 6.3, 63, 628, 6283): with
     * Llama 3.1's factors (32, low 1, high 4, original 8192) the first three are shorter than 8192 / 4 = 2048 and kept;
     * 6283 lies between 2048 and 8192, so s = (8192 / 6283.19 - 1) / 3 = 0.10127 and f' = (1 - s) 0.001 / 32 +
     * s 0.001 = 1.29351e-4. Linear scaling divides every frequency by its factor.
     */
    @Test
    void scaledFrequenciesMatchHandComputedValues() {
        assertArrayEquals(new double[] {1, 0.1, 0.01, 0.001}, RopeScaling.inverseFrequencies(8, 10000, null), 1e-15);
        assertArrayEquals(new double[] {1, 0.1, 0.01, 1.2935120945909383e-4},
                RopeScaling.inverseFrequencies(8, 10000, RopeScaling.llama3(32, 1, 4, 8192)), 1e-15);
        assertArrayEquals(new double[] {0.25, 0.025, 0.0025, 0.00025},
                RopeScaling.inverseFrequencies(8, 10000, RopeScaling.linear(4)), 1e-15);
        assertFalse(RopeScaling.llama3(32, 1, 4, 8192).equals(RopeScaling.linear(32)));
    }
}
