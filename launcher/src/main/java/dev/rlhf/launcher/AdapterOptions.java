package dev.rlhf.launcher;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.AdapterCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.lora.LoraConfig;
import dev.rlhf.llama.model.LlamaWeights;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * {@code --adapter DIR} for the commands that load a model, and {@code --lora SPEC} for the learners: the same
 * flags, and the same loading rules, everywhere.
 */
final class AdapterOptions {
    @Option(names = "--adapter", paramLabel = "DIR", description = "A LoRA adapter in PEFT's format "
            + "(adapter_config.json + adapter_model.safetensors) applied to --model; refused when it was made for "
            + "another base. A learner continues training it.")
    Path adapter;

    /** Loads {@code model}, with the adapter when one was given. */
    LlamaWeights load(Path model, NDManager manager, ScoreHead scoreHead) {
        return LlamaCheckpoint.load(model, adapter, manager, scoreHead);
    }

    /** The learners' flag: train a new adapter instead of every weight. */
    static final class Lora {
        @Option(names = "--lora", paramLabel = "SPEC", description = "Train a new LoRA adapter instead of every "
                + "weight: r=16,alpha=32,targets=q_proj,v_proj (alpha defaults to 2r, targets to all seven "
                + "projections, all-linear). Checkpoints are PEFT adapter directories naming the starting model as their base.")
        String spec;

        /** The parsed --lora, or null without one (every weight trains). */
        LoraConfig config() {
            return spec == null ? null : LoraConfig.parse(spec);
        }

        /**
         * Attaches a new adapter for {@code base} to {@code weights} when {@code --lora} was given; refuses it on
         * weights that already carry one (an --adapter to continue, or an adapter directory as --model).
         */
        void attachIfAsked(LlamaWeights weights, Path base, long seed) {
            if (spec == null) {
                return;
            }
            LoraConfig config = LoraConfig.parse(spec);
            if (weights.adapter() != null) {
                throw new IllegalArgumentException("--lora trains a new adapter, but the model already carries one "
                        + "(to continue training it, drop --lora; to start afresh on top of it, rlhf merge-adapter "
                        + "first)");
            }
            weights.attachNewAdapter(AdapterCheckpoint.newAdapter(base, config), seed);
        }
    }
}
